import { randomUUID } from 'node:crypto';
import { createHttpClient, type HttpClient } from '../../../../lib/http-client.ts';
import type { Logger } from '../../../../lib/logger.ts';
import type { BankAdapter, BankTransactionPage, BankTransactionQuery } from '../../domain/ports.ts';
import type { BalanceModel, BankConnection, InstitutionModel } from '../../domain/model.ts';
import { expectOk, sameOriginLink } from '../bank-http.ts';
import { mapAccounts, mapBalances, mapTransactionPage, type MappingContext } from './mapping.ts';

/**
 * Rheinbank: Berlin Group NextGenPSD2 XS2A 1.3.12 (AIS), spec
 * shared/partner-specs/berlin-group-nextgenpsd2-1.3.12.yaml, server base path /psd2.
 * Every call carries the headers the spec requires: X-Request-ID (a fresh UUID per call; the
 * platform request id travels in x-request-id's log line and traceparent), Consent-ID and the
 * bank's bearer token bound to that consent.
 */
export const RHEINBANK: InstitutionModel = { id: 'rheinbank', name: 'Rheinbank', standard: 'BERLIN_GROUP' };
export const RHEINBANK_BASE_PATH = '/psd2';

export interface RheinbankAdapterOptions {
  baseUrl: string;
  timeoutMs: number;
  logger: Logger;
  now: () => Date;
  http?: HttpClient;
}

export interface RheinbankAdapter extends BankAdapter {
  readonly http: HttpClient;
}

export function createRheinbankAdapter(opts: RheinbankAdapterOptions): RheinbankAdapter {
  const partner = RHEINBANK.id;
  const logger = opts.logger.child({ partner });
  const http =
    opts.http ?? createHttpClient({ name: partner, baseUrl: opts.baseUrl, timeoutMs: opts.timeoutMs, logger });
  const ctx: MappingContext = { partner, logger, now: opts.now };

  const get = async (
    operation: string,
    path: string,
    connection: BankConnection,
    query?: Record<string, string | undefined>,
  ) => {
    // Lower-case names: the HTTP client fills x-request-id only when absent, so the UUID wins.
    const headers = {
      'x-request-id': randomUUID(),
      'consent-id': connection.consentId,
      authorization: `Bearer ${connection.accessToken}`,
    };
    const res = await http.request({ method: 'GET', path, operation, headers, ...(query ? { query } : {}) });
    expectOk(partner, logger, operation, res);
    return res.body;
  };

  return {
    institution: RHEINBANK,
    http,

    async listAccounts(connection) {
      return mapAccounts(ctx, await get('getAccountList', `${RHEINBANK_BASE_PATH}/v1/accounts`, connection));
    },

    async getBalances(connection, bankAccountRefs) {
      const result = new Map<string, BalanceModel[]>();
      await Promise.all(
        [...new Set(bankAccountRefs)].map(async (ref) => {
          result.set(
            ref,
            mapBalances(
              ctx,
              await get(
                'getBalances',
                `${RHEINBANK_BASE_PATH}/v1/accounts/${encodeURIComponent(ref)}/balances`,
                connection,
              ),
            ),
          );
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
      const operation = 'getTransactionList';
      const body =
        pageToken === null
          ? await get(
              operation,
              `${RHEINBANK_BASE_PATH}/v1/accounts/${encodeURIComponent(bankAccountRef)}/transactions`,
              connection,
              {
                bookingStatus: query.bookingStatus,
                dateFrom: query.fromDate,
                dateTo: query.toDate ?? undefined,
              },
            )
          : await get(
              operation,
              sameOriginLink(partner, logger, operation, opts.baseUrl, RHEINBANK_BASE_PATH, pageToken),
              connection,
            );
      const page = mapTransactionPage(ctx, body);
      return { transactions: page.transactions, next: page.next, earliestAvailable: null };
    },
  };
}
