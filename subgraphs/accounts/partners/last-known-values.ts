import type { FallbackCache } from '../../../lib/fallback-cache.ts';
import { lastKnownCalls, stampEach, type LastKnownCalls } from '../../../lib/last-known.ts';
import type { Logger } from '../../../lib/logger.ts';
import type { Principal } from '../../../lib/principal.ts';
import type { BalanceModel, BankConnection } from '../domain/model.ts';
import type { BankAdapter, BankAdapterRegistry } from '../domain/ports.ts';

/**
 * The banks' last known values: when a bank is down, a customer still sees that bank's accounts,
 * balances and transactions as they were last read, marked with the time they were read, instead
 * of an empty part of the dashboard (issue 11). It wraps the bank adapters of one request on
 * lib/last-known.ts (what is kept, under which key, when it is served):
 *
 * - Kept per principal, per connection (its id, customer and bank consent: a new bank consent
 *   starts afresh) and per call's arguments; balances per account. The gateway decides before
 *   anything reaches this subgraph whether a third party's consent still holds, so a revoked
 *   consent stops stale serving with live serving.
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
  return new Map(
    [...adapters].map(([id, adapter]) => [
      id,
      remembering(adapter, lastKnownCalls({ ...opts, partner: adapter.institution.id, principal })),
    ]),
  );
}

function remembering(adapter: BankAdapter, calls: LastKnownCalls): BankAdapter {
  /** Kept per connection: its id, customer and bank consent are part of every key. */
  const on = (connection: BankConnection) => [connection.id, connection.customerId, connection.consentId];
  return {
    institution: adapter.institution,
    listAccounts: (connection) =>
      calls.call('listAccounts', on(connection), () => adapter.listAccounts(connection), stampEach),
    getBalances: async (connection, refs) => {
      // Kept per account, so a dashboard and a single account's page share what they keep; the
      // bank is still asked once for all of them. Recalled all or nothing: an account without a
      // kept value fails the batch rather than showing no balances.
      const distinct = [...new Set(refs)].sort();
      let batch: Promise<Map<string, BalanceModel[]>> | undefined;
      const live = () => (batch ??= adapter.getBalances(connection, distinct));
      const perAccount = await Promise.all(
        distinct.map((ref) =>
          calls.call('getBalances', [...on(connection), ref], async () => (await live()).get(ref) ?? [], stampEach),
        ),
      );
      return new Map(distinct.map((ref, i) => [ref, perAccount[i]!]));
    },
    listTransactions: (connection, ref, query, pageToken) =>
      calls.call(
        'listTransactions',
        [...on(connection), ref, query, pageToken],
        () => adapter.listTransactions(connection, ref, query, pageToken),
        (page, at) => ({ ...page, transactions: stampEach(page.transactions, at), lastKnownAt: at }),
      ),
  };
}
