import type { BaseSubgraphContext } from '../../lib/subgraph-server.ts';
import { createAccountsService, type AccountsLoaders, type AccountsService } from './domain/service.ts';
import { createAccountsLoaders, type AccountsPorts } from './loaders.ts';

export type { AccountsPorts };

/**
 * Per-request context of the accounts subgraph, the same shape in every subgraph: the base
 * (principal, request id, logger), the request's DataLoaders and the domain service bound to the
 * principal. Resolvers call only `service`.
 */
export interface AccountsContext extends BaseSubgraphContext {
  loaders: AccountsLoaders;
  service: AccountsService;
}

export function createAccountsContext(base: BaseSubgraphContext, ports: AccountsPorts): AccountsContext {
  const loaders = createAccountsLoaders(ports, base.principal?.customerId ?? null);
  return { ...base, loaders, service: createAccountsService(base.principal, loaders) };
}
