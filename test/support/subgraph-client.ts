import { randomUUID } from 'node:crypto';
import { DEV_INTERNAL_SECRET } from '../../lib/config.ts';
import { INTERNAL_AUTH_HEADER, signInternalContext } from '../../lib/internal-auth.ts';
import type { Principal } from '../../lib/principal.ts';
import type { SubgraphName } from '../../lib/schema-files.ts';

/** A subgraph's answer: the HTTP status and the GraphQL body. */
export interface SubgraphResult<T = Record<string, any>> {
  status: number;
  data?: T | null;
  errors?: { message: string; path?: (string | number)[]; extensions?: Record<string, unknown> }[];
  extensions?: Record<string, any>;
}

export interface SubgraphCallOptions {
  principal?: Principal | null;
  variables?: Record<string, unknown>;
  /** false sends no x-internal-auth header at all (default: signed). */
  signed?: boolean;
  /** The subgraph the context is signed for, when it is not the one called (a wrong audience). */
  audience?: SubgraphName;
  /** Signing secret; the development secret the subgraphs accept by default. */
  secret?: string;
}

/**
 * Calls a subgraph's /graphql the way the gateway does: an x-internal-auth context signed for
 * the subgraph and the principal, and a fresh x-request-id.
 */
export async function callSubgraph<T = Record<string, any>>(
  url: string,
  subgraph: SubgraphName,
  query: string,
  opts: SubgraphCallOptions = {},
): Promise<SubgraphResult<T>> {
  const requestId = randomUUID();
  const headers: Record<string, string> = { 'content-type': 'application/json', 'x-request-id': requestId };
  const body = JSON.stringify({ query, variables: opts.variables ?? {} });
  if (opts.signed !== false) {
    headers[INTERNAL_AUTH_HEADER] = await signInternalContext(
      opts.secret ?? DEV_INTERNAL_SECRET,
      opts.audience ?? subgraph,
      opts.principal ?? null,
      requestId,
      body,
    );
  }
  const res = await fetch(url, { method: 'POST', headers, body });
  return { status: res.status, ...((await res.json()) as Omit<SubgraphResult<T>, 'status'>) };
}
