import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse, type DocumentNode } from 'graphql';

/** The four domains of the canonical schema, one SDL file each in schema/. */
export const SUBGRAPH_NAMES = ['identity', 'accounts', 'payments', 'consents'] as const;
export type SubgraphName = (typeof SUBGRAPH_NAMES)[number];

const schemaDir = fileURLToPath(new URL('../schema/', import.meta.url));

/**
 * A subgraph's SDL: the shared scalars and value types (schema/shared.graphql) followed by the
 * domain file. Keeping the shared part in one file guarantees every subgraph declares shared
 * types identically, which composition requires.
 */
export function subgraphSdl(name: SubgraphName): string {
  return `${readFileSync(`${schemaDir}shared.graphql`, 'utf8')}\n${readFileSync(`${schemaDir}${name}.graphql`, 'utf8')}`;
}

export function subgraphTypeDefs(name: SubgraphName): DocumentNode {
  return parse(subgraphSdl(name));
}

export const SUPERGRAPH_PATH = `${schemaDir}supergraph.graphql`;
export const PUBLIC_SCHEMA_PATH = `${schemaDir}public.graphql`;
