import type { BaseSubgraphContext } from '../../lib/subgraph-server.ts';

/** Per-request context of the payments subgraph. */
export interface PaymentsContext extends BaseSubgraphContext {}
