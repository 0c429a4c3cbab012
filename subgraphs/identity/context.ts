import type { BaseSubgraphContext } from '../../lib/subgraph-server.ts';

/** Per-request context of the identity subgraph. */
export interface IdentityContext extends BaseSubgraphContext {}
