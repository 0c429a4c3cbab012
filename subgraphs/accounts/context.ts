import type { BaseSubgraphContext } from '../../lib/subgraph-server.ts';
import type { AccountsLoaders } from './loaders.ts';

/** Per-request context of the accounts subgraph. */
export interface AccountsContext extends BaseSubgraphContext {
  /** Per-request DataLoaders, bound to the principal's customer (loaders.ts). */
  loaders: AccountsLoaders;
}
