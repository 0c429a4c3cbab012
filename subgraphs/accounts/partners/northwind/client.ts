import type { HttpClient } from '../../../../lib/http-client.ts';
import type { Logger } from '../../../../lib/logger.ts';
import type { DependencyProtections } from '../../../../lib/resilience-config.ts';
import { currentRequestContext } from '../../../../lib/request-context.ts';
import type { BankAdapter } from '../../domain/ports.ts';
import type { InstitutionModel } from '../../domain/model.ts';
import { createBankHttp, perAccount } from '../bank-http.ts';
import { mapAccounts, mapBalances, mapTransactionPage, type MappingContext } from './mapping.ts';

/**
 * Northwind Bank: Open Banking UK Account and Transaction API 4.0 (AIS), spec
 * shared/partner-specs/obie-account-info-4.0.json, server base path /open-banking/v4.0/aisp.
 * Every call carries the connection's access token (Authorization: Bearer, the only header
 * the spec requires) and x-fapi-interaction-id = the platform request id for correlation.
 */
export const NORTHWIND: InstitutionModel = { id: 'northwind', name: 'Northwind Bank', standard: 'OBIE' };
export const NORTHWIND_BASE_PATH = '/open-banking/v4.0/aisp';

export interface NorthwindAdapterOptions {
  baseUrl: string;
  timeoutMs: number;
  /** Retries, bulkhead and breaker (bank-http.ts); unset: lib/http-client.ts's defaults. */
  protections?: DependencyProtections;
  logger: Logger;
  /** Injected for tests; defaults to the resilient client of lib/http-client.ts. */
  http?: HttpClient;
}

export interface NorthwindAdapter extends BankAdapter {
  readonly http: HttpClient;
}

/** The spec's path of an account's resource. */
const accountPath = (ref: string, resource: 'balances' | 'transactions') =>
  `${NORTHWIND_BASE_PATH}/accounts/${encodeURIComponent(ref)}/${resource}`;

export function createNorthwindAdapter(opts: NorthwindAdapterOptions): NorthwindAdapter {
  const bank = createBankHttp({
    ...opts,
    partner: NORTHWIND.id,
    basePath: NORTHWIND_BASE_PATH,
    headers: (connection) => {
      const rc = currentRequestContext();
      return {
        authorization: `Bearer ${connection.accessToken}`,
        ...(rc ? { 'x-fapi-interaction-id': rc.requestId } : {}),
      };
    },
  });
  const ctx: MappingContext = { partner: NORTHWIND.id, logger: bank.logger };

  return {
    institution: NORTHWIND,
    http: bank.http,

    async listAccounts(connection) {
      return mapAccounts(ctx, await bank.get('getAccounts', `${NORTHWIND_BASE_PATH}/accounts`, connection));
    },

    getBalances: (connection, bankAccountRefs) =>
      perAccount(bankAccountRefs, async (ref) =>
        mapBalances(ctx, await bank.get('getBalances', accountPath(ref, 'balances'), connection), ref),
      ),

    async listTransactions(connection, bankAccountRef, query, pageToken) {
      // OBIE cannot filter by status: the domain filters what comes back.
      const first = {
        path: accountPath(bankAccountRef, 'transactions'),
        query: {
          // Dates are sent as whole-day UTC date-times; the spec asks the bank to ignore the zone.
          fromBookingDateTime: `${query.fromDate}T00:00:00Z`,
          toBookingDateTime: query.toDate === null ? undefined : `${query.toDate}T23:59:59Z`,
        },
      };
      const body = await bank.page('getTransactions', connection, first, pageToken);
      const page = mapTransactionPage(ctx, body, bankAccountRef);
      return { transactions: page.transactions, next: page.next, earliestAvailable: page.earliestAvailable };
    },
  };
}
