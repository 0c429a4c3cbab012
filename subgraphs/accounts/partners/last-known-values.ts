import { preserveDates, reviveDates } from '../../../lib/dated-json.ts';
import type { FallbackCache } from '../../../lib/fallback-cache.ts';
import { DependencyUnavailableError } from '../../../lib/http-client.ts';
import type { Logger } from '../../../lib/logger.ts';
import { principalKey, type Principal } from '../../../lib/principal.ts';
import { resilienceMetricsOf } from '../../../lib/resilience-metrics.ts';
import type { BalanceModel, BankConnection, LastKnown } from '../domain/model.ts';
import type { BankAdapter, BankAdapterRegistry } from '../domain/ports.ts';

/**
 * The banks' last known values: when a bank is down, a customer still sees that bank's accounts,
 * balances and transactions as they were last read, marked with the time they were read, instead
 * of an empty part of the dashboard (issue 11). It wraps the bank adapters of one request:
 *
 * - Every good answer of an adapter is kept in the fallback cache (lib/fallback-cache.ts:
 *   encrypted, in memory or Redis). Only mapped, validated answers reach this layer, so a
 *   malformed or off-contract payload is never kept.
 * - Keyed by the request's principal (lib/principal.ts principalKey: customer, client, scopes and
 *   consented accounts), the connection (its id, customer and bank consent) and the call's
 *   arguments. What was read for one customer, or for one app, is never served to another; a new
 *   bank consent starts afresh. The gateway decides before anything reaches this subgraph whether a
 *   third party's consent still holds, so a revoked consent stops stale serving with live serving.
 * - Served only when the bank is down (DependencyUnavailableError: timeout, network, 5xx, 429
 *   exhausted, breaker open, deadline), never when it refused the call (a 4xx, e.g. a consent
 *   revoked at the bank) or sent an off-contract payload: those are answers, not outages.
 * - Every served object (account, balance, transaction) and page carries `lastKnownAt`; the
 *   resolvers turn it into `asOf` and `extensions.stale` (resolvers.ts).
 *
 * Shared with no one: this layer adds nothing to the adapters that outlives the request.
 */
export interface LastKnownValuesOptions {
  cache: FallbackCache;
  logger: Logger;
  /** Registry of the stale-serve counter (the subgraph's). */
  service: string;
}

export function withLastKnownValues(
  adapters: BankAdapterRegistry,
  principal: Principal | null,
  opts: LastKnownValuesOptions,
): BankAdapterRegistry {
  const principalScope = principalKey(principal);
  return new Map([...adapters].map(([id, adapter]) => [id, remembering(adapter, principalScope, opts)]));
}

function remembering(adapter: BankAdapter, principalScope: string, opts: LastKnownValuesOptions): BankAdapter {
  const target = adapter.institution.id;
  const staleServes = resilienceMetricsOf(opts.service).staleServes;
  const log = opts.logger.child({ partner: target, component: 'last-known-values' });

  const scopeOf = (connection: BankConnection, operation: string, args: unknown[]) =>
    JSON.stringify([principalScope, connection.id, connection.customerId, connection.consentId, operation, args]);

  /** The live answer, kept; or, when the bank is down, the kept one stamped with when it was read. */
  async function lastKnown<T>(
    operation: string,
    connection: BankConnection,
    args: unknown[],
    live: () => Promise<T>,
    stamp: (kept: T, lastKnownAt: string) => T,
  ): Promise<T> {
    const scope = scopeOf(connection, operation, args);
    let value: T;
    try {
      value = await live();
    } catch (err) {
      if (!(err instanceof DependencyUnavailableError) || err.reason === 'cancelled') throw err;
      const kept = await opts.cache.recall(target, scope);
      if (!kept) throw err;
      staleServes.labels(target).inc();
      log.warn({ operation, reason: err.reason, asOf: kept.asOf }, 'bank unavailable; served its last known value');
      return stamp(reviveDates(kept.value) as T, kept.asOf);
    }
    // Not awaited: keeping the answer must not delay it (the cache bounds and swallows its own failures).
    void opts.cache.remember(target, scope, preserveDates(value));
    return value;
  }

  const each = <V extends LastKnown>(list: V[], at: string): V[] => list.map((v) => ({ ...v, lastKnownAt: at }));

  return {
    institution: adapter.institution,
    listAccounts: (connection) =>
      lastKnown('listAccounts', connection, [], () => adapter.listAccounts(connection), each),
    getBalances: async (connection, refs) => {
      // Kept per account, so a dashboard and a single account's page share what they keep; the
      // bank is still asked once for all of them. Recalled all or nothing: an account without a
      // kept value fails the batch rather than showing no balances.
      const distinct = [...new Set(refs)].sort();
      let batch: Promise<Map<string, BalanceModel[]>> | undefined;
      const live = () => (batch ??= adapter.getBalances(connection, distinct));
      const perAccount = await Promise.all(
        distinct.map((ref) =>
          lastKnown('getBalances', connection, [ref], async () => (await live()).get(ref) ?? [], each),
        ),
      );
      return new Map(distinct.map((ref, i) => [ref, perAccount[i]!]));
    },
    listTransactions: (connection, ref, query, pageToken) =>
      lastKnown(
        'listTransactions',
        connection,
        [ref, query, pageToken],
        () => adapter.listTransactions(connection, ref, query, pageToken),
        (page, at) => ({ ...page, transactions: each(page.transactions, at), lastKnownAt: at }),
      ),
  };
}
