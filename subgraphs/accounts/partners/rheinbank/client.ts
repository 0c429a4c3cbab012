import { randomUUID } from 'node:crypto';
import type { HttpClient } from '../../../../lib/http-client.ts';
import type { Logger } from '../../../../lib/logger.ts';
import type { DependencyProtections } from '../../../../lib/resilience-config.ts';
import type { BankAdapter } from '../../domain/ports.ts';
import type { InstitutionModel } from '../../domain/model.ts';
import { createBankHttp, perAccount } from '../bank-http.ts';
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
  /** Retries, bulkhead and breaker (bank-http.ts); unset: lib/http-client.ts's defaults. */
  protections?: DependencyProtections;
  logger: Logger;
  now: () => Date;
  http?: HttpClient;
}

export interface RheinbankAdapter extends BankAdapter {
  readonly http: HttpClient;
}

/** The spec's path of an account's resource. */
const accountPath = (ref: string, resource: 'balances' | 'transactions') =>
  `${RHEINBANK_BASE_PATH}/v1/accounts/${encodeURIComponent(ref)}/${resource}`;

export function createRheinbankAdapter(opts: RheinbankAdapterOptions): RheinbankAdapter {
  const bank = createBankHttp({
    ...opts,
    partner: RHEINBANK.id,
    basePath: RHEINBANK_BASE_PATH,
    // Lower-case names: the HTTP client fills x-request-id only when absent, so the UUID wins.
    headers: (connection) => ({
      'x-request-id': randomUUID(),
      'consent-id': connection.consentId,
      authorization: `Bearer ${connection.accessToken}`,
    }),
  });
  const ctx: MappingContext = { partner: RHEINBANK.id, logger: bank.logger, now: opts.now };

  return {
    institution: RHEINBANK,
    http: bank.http,

    async listAccounts(connection) {
      return mapAccounts(ctx, await bank.get('getAccountList', `${RHEINBANK_BASE_PATH}/v1/accounts`, connection));
    },

    getBalances: (connection, bankAccountRefs) =>
      perAccount(bankAccountRefs, async (ref) =>
        mapBalances(ctx, await bank.get('getBalances', accountPath(ref, 'balances'), connection)),
      ),

    async listTransactions(connection, bankAccountRef, query, pageToken) {
      const first = {
        path: accountPath(bankAccountRef, 'transactions'),
        query: { bookingStatus: query.bookingStatus, dateFrom: query.fromDate, dateTo: query.toDate ?? undefined },
      };
      const body = await bank.page('getTransactionList', connection, first, pageToken);
      const page = mapTransactionPage(ctx, body);
      return { transactions: page.transactions, next: page.next, earliestAvailable: null };
    },
  };
}
