import type { BaseSubgraphContext } from '../../lib/subgraph-server.ts';

/** Per-request context of the consents subgraph. */
export interface ConsentsContext extends BaseSubgraphContext {}
