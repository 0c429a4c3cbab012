import type { BaseSubgraphContext } from '../../lib/subgraph-server.ts';
import type { AccountsLoaders } from './domain/ports.ts';
import { createAccountsService, type AccountsService, type AccountsServiceDeps } from './domain/service.ts';
import { createAccountsLoaders } from './loaders.ts';
import { withLastKnownValues, type LastKnownValuesOptions } from './partners/last-known-values.ts';

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
export type AccountsPorts = Omit<AccountsServiceDeps, 'principal' | 'loaders'> & {
  /** The banks' last known values (FALLBACK_CACHE); null: a failing bank's data is unavailable. */
  lastKnown: LastKnownValuesOptions | null;
};

export function createAccountsContext(base: BaseSubgraphContext, ports: AccountsPorts): AccountsContext {
  const { lastKnown, ...deps } = ports;
  const loaders = createAccountsLoaders(deps.repo);
  // The bank adapters of this request keep and recall last known values under its principal.
  const adapters = lastKnown ? withLastKnownValues(deps.adapters, base.principal, lastKnown) : deps.adapters;
  return {
    ...base,
    loaders,
    service: createAccountsService({ ...deps, adapters, principal: base.principal, loaders }),
    readAt: deps.now().toISOString(),
  };
}
