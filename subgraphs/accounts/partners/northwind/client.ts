import { createHttpClient, type HttpClient } from '../../../../lib/http-client.ts';
import type { Logger } from '../../../../lib/logger.ts';
import { currentRequestContext } from '../../../../lib/request-context.ts';
import type { BankAdapter, BankTransactionQuery, BankTransactionPage } from '../../domain/ports.ts';
import type { BalanceModel, BankConnection, InstitutionModel } from '../../domain/model.ts';
import { expectOk, sameOriginLink } from '../bank-http.ts';
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
  logger: Logger;
  /** Injected for tests; defaults to the resilient client of lib/http-client.ts. */
  http?: HttpClient;
}

export interface NorthwindAdapter extends BankAdapter {
  readonly http: HttpClient;
}

export function createNorthwindAdapter(opts: NorthwindAdapterOptions): NorthwindAdapter {
  const partner = NORTHWIND.id;
  const logger = opts.logger.child({ partner });
  const http =
    opts.http ?? createHttpClient({ name: partner, baseUrl: opts.baseUrl, timeoutMs: opts.timeoutMs, logger });
  const ctx: MappingContext = { partner, logger };

  const headers = (connection: BankConnection): Record<string, string> => {
    const h: Record<string, string> = { authorization: `Bearer ${connection.accessToken}` };
    const rc = currentRequestContext();
    if (rc) h['x-fapi-interaction-id'] = rc.requestId;
    return h;
  };

  const get = async (
    operation: string,
    path: string,
    connection: BankConnection,
    query?: Record<string, string | undefined>,
  ) => {
    const res = await http.request({
      method: 'GET',
      path,
      operation,
      headers: headers(connection),
      ...(query ? { query } : {}),
    });
    expectOk(partner, logger, operation, res);
    return res.body;
  };

  return {
    institution: NORTHWIND,
    http,

    async listAccounts(connection) {
      return mapAccounts(ctx, await get('getAccounts', `${NORTHWIND_BASE_PATH}/accounts`, connection));
    },

    async getBalances(connection, bankAccountRefs) {
      const result = new Map<string, BalanceModel[]>();
      await Promise.all(
        [...new Set(bankAccountRefs)].map(async (ref) => {
          const body = await get(
            'getBalances',
            `${NORTHWIND_BASE_PATH}/accounts/${encodeURIComponent(ref)}/balances`,
            connection,
          );
          result.set(ref, mapBalances(ctx, body, ref));
        }),
      );
      return result;
    },

    async listTransactions(
      connection,
      bankAccountRef,
      query: BankTransactionQuery,
      pageToken,
    ): Promise<BankTransactionPage> {
      const operation = 'getTransactions';
      // OBIE cannot filter by status: the domain filters what comes back.
      const body =
        pageToken === null
          ? await get(
              operation,
              `${NORTHWIND_BASE_PATH}/accounts/${encodeURIComponent(bankAccountRef)}/transactions`,
              connection,
              {
                // Dates are sent as whole-day UTC date-times; the spec asks the bank to ignore the zone.
                fromBookingDateTime: `${query.fromDate}T00:00:00Z`,
                toBookingDateTime: query.toDate === null ? undefined : `${query.toDate}T23:59:59Z`,
              },
            )
          : await get(
              operation,
              sameOriginLink(partner, logger, operation, opts.baseUrl, NORTHWIND_BASE_PATH, pageToken),
              connection,
            );
      const page = mapTransactionPage(ctx, body, bankAccountRef);
      return { transactions: page.transactions, next: page.next, earliestAvailable: page.earliestAvailable };
    },
  };
}
