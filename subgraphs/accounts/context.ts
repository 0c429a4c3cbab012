import type { BaseSubgraphContext } from '../../lib/subgraph-server.ts';
import type { AccountsLoaders } from './domain/ports.ts';
import { createAccountsService, type AccountsService, type AccountsServiceDeps } from './domain/service.ts';
import { createAccountsLoaders } from './loaders.ts';

/**
 * Per-request context of the accounts subgraph, the same shape in every subgraph: the base
 * (principal, request id, logger), the request's DataLoaders and the domain service bound to the
 * principal. Resolvers call only `service`.
 */
export interface AccountsContext extends BaseSubgraphContext {
  loaders: AccountsLoaders;
  service: AccountsService;
  /** When this request reads from the banks (RFC 3339): the `asOf` of what it answers live. */
  readAt: string;
}

/** What the context is made from: the long-lived ports (server.ts builds them once). */
export type AccountsPorts = Omit<AccountsServiceDeps, 'principal' | 'loaders'>;

export function createAccountsContext(base: BaseSubgraphContext, ports: AccountsPorts): AccountsContext {
  const loaders = createAccountsLoaders(ports.repo);
  return {
    ...base,
    loaders,
    service: createAccountsService({ ...ports, principal: base.principal, loaders }),
    readAt: ports.now().toISOString(),
  };
}
