import type { BaseSubgraphContext } from '../../lib/subgraph-server.ts';

/** Per-request context of the accounts subgraph. */
export interface AccountsContext extends BaseSubgraphContext {}
