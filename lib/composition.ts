import { composeServices } from '@theguild/federation-composition';
import { SUBGRAPH_NAMES, subgraphTypeDefs, type SubgraphName } from './schema-files.ts';

/** Default subgraph URLs recorded in the checked-in supergraph; the gateway's configuration overrides them. */
export const DEFAULT_SUBGRAPH_PORTS: Record<SubgraphName, number> = { identity: 4001, accounts: 4002, payments: 4003, consents: 4004 };

export interface ComposedSchema {
  /** Supergraph SDL with join__ metadata, served by the gateway. */
  supergraphSdl: string;
  /** The client-facing schema: what frontends and partner developers see. */
  publicSdl: string;
}

/** Composes the four domain SDLs with @theguild/federation-composition; throws listing every composition error. */
export function composeSupergraph(): ComposedSchema {
  const result = composeServices(
    SUBGRAPH_NAMES.map((name) => ({ name, typeDefs: subgraphTypeDefs(name), url: `http://localhost:${DEFAULT_SUBGRAPH_PORTS[name]}/graphql` })),
  );
  if (result.errors) {
    throw new Error(`Composition failed:\n${result.errors.map((e) => `  - ${e.message}`).join('\n')}`);
  }
  return { supergraphSdl: result.supergraphSdl, publicSdl: result.publicSdl };
}
