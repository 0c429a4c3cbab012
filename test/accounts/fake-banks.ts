import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { optionalPartnerSpec } from '../../sandboxes/lib/openapi.ts';
import { SANDBOX_CUSTOMERS } from '../../sandboxes/manifest.ts';

/**
 * Small spec-shaped stand-ins for the two banks, for tests of the accounts subgraph that must
 * not depend on the partner sandboxes: Open Banking UK 4.0 AIS at /open-banking/v4.0/aisp and
 * Berlin Group 1.3.12 at /psd2/v1, with the manifest's tokens and consents, date filters,
 * paging, a reversal and a chargeback, and a switch to take a bank down. Every request is
 * recorded so tests can check which calls were made.
 */
export interface RecordedCall {
  bank: 'northwind' | 'rheinbank';
  path: string;
  query: Record<string, string>;
  headers: IncomingMessage['headers'];
}

export interface FakeBanks {
  /** Spec violations of the requests the adapters sent and of the fixtures' responses; tests expect none. */
  violations: string[];
  northwindUrl: string;
  rheinbankUrl: string;
  calls: RecordedCall[];
  /** HTTP status every request of that bank answers with, or null for normal service. */
  down: { northwind: number | null; rheinbank: number | null };
  close(): Promise<void>;
}

const PAGE = 50;

interface Tx {
  id: string;
  at: Date;
  amount: string;
  credit: boolean;
  pending: boolean;
  info: string;
  kind?: 'reversal' | 'chargeback';
  original?: string;
}

/** Deterministic history: one entry every 11 hours going back `days` days from `now`. */
function history(prefix: string, now: Date, days: number, everyHours = 11): Tx[] {
  const list: Tx[] = [];
  const count = Math.floor((days * 24) / everyHours);
  for (let i = 0; i < count; i++) {
    const at = new Date(now.getTime() - (i + 1) * everyHours * 3_600_000);
    const cents = 100 + ((i * 7919) % 20_000);
    list.push({
      id: `${prefix}-${i}`,
      at,
      amount: `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, '0')}`,
      credit: i % 5 === 0,
      pending: i < 2,
      info: `Entry ${i}`,
    });
  }
  // Entry 10 is reversed by a newer entry; entry 12 is charged back.
  if (list.length < 13) return list;
  const t10 = list[10]!;
  const t12 = list[12]!;
  t10.credit = false;
  t12.credit = false;
  list.push({
    id: `${prefix}-rev`,
    at: new Date(t10.at.getTime() + 3_600_000),
    amount: t10.amount,
    credit: true,
    pending: false,
    info: 'Reversal',
    kind: 'reversal',
    original: t10.id,
  });
  list.push({
    id: `${prefix}-chb`,
    at: new Date(t12.at.getTime() + 2 * 3_600_000),
    amount: t12.amount,
    credit: true,
    pending: false,
    info: 'Chargeback',
    kind: 'chargeback',
    original: t12.id,
  });
  return list;
}

function dateOf(d: Date): string {
  return d.toISOString().slice(0, 10);
}

/** London local time with offset (BST in summer), as a UK bank would write it. */
function londonTime(d: Date): string {
  const month = d.getUTCMonth();
  const summer = month >= 3 && month <= 9;
  const local = new Date(d.getTime() + (summer ? 3_600_000 : 0));
  return `${local.toISOString().slice(0, 19)}${summer ? '+01:00' : '+00:00'}`;
}

export async function startFakeBanks(now: () => Date): Promise<FakeBanks> {
  const calls: RecordedCall[] = [];
  const violations: string[] = [];
  // The banks' published specs (PARTNER_SPECS_DIR), when present: without them nothing is vetted and `violations` stays
  // empty.
  const specs = { northwind: optionalPartnerSpec('obie-ais'), rheinbank: optionalPartnerSpec('berlin-group') };
  /**
   * Validates the request on arrival and the response on the way out, against the bank's spec (when it is available).
   */
  const checked =
    (bank: RecordedCall['bank'], handler: (req: IncomingMessage, res: ServerResponse) => void) =>
    (req: IncomingMessage, res: ServerResponse) => {
      const url = new URL(req.url ?? '/', 'http://x');
      const spec = specs[bank];
      if (!spec) return handler(req, res);
      for (const v of spec.validateRequest({
        method: req.method ?? 'GET',
        path: url.pathname,
        query: url.searchParams,
        headers: req.headers as Record<string, string>,
      }))
        violations.push(`${bank} request ${url.pathname}: ${v}`);
      const end = res.end.bind(res);
      res.end = ((chunk: string) => {
        if (res.statusCode === 200) {
          for (const v of spec.validateResponse({
            method: req.method ?? 'GET',
            path: url.pathname,
            status: res.statusCode,
            body: JSON.parse(chunk),
          }))
            violations.push(`${bank} response ${url.pathname}: ${v}`);
        }
        return end(chunk);
      }) as typeof res.end;
      handler(req, res);
    };
  const down: FakeBanks['down'] = { northwind: null, rheinbank: null };
  const start = now();
  const alice = SANDBOX_CUSTOMERS.find((c) => c.displayName === 'Alice')!;
  const nwHistory = new Map<string, Tx[]>([
    ['22289', history('nw-22289', start, 400)],
    ['22290', history('nw-22290', start, 400, 24 * 45)],
    ['22291', history('nw-22291', start, 60, 48)],
    ['31044', history('nw-31044', start, 100, 24)],
  ]);
  const rbRef = alice.banks.rheinbank!.accounts[0]!.bankAccountId;
  const rbHistory = new Map<string, Tx[]>([[rbRef, history('rb-tx', start, 200, 30)]]);

  const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  };

  const record = (bank: RecordedCall['bank'], req: IncomingMessage, url: URL) => {
    calls.push({ bank, path: url.pathname, query: Object.fromEntries(url.searchParams), headers: req.headers });
  };

  // ------------------------------------------------------------- northwind (OBIE 4.0)
  const nwTokens = new Map(
    SANDBOX_CUSTOMERS.filter((c) => c.banks.northwind).map((c) => [
      `Bearer ${c.banks.northwind!.accessToken}`,
      c.banks.northwind!.accounts,
    ]),
  );
  let northwindBase = '';
  const northwind = createServer(
    checked('northwind', (req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      record('northwind', req, url);
      if (down.northwind)
        return json(res, down.northwind, {
          Code: 'DOWN',
          Errors: [{ ErrorCode: 'UK.OBIE.UnexpectedError', Message: 'down' }],
        });
      const accounts = nwTokens.get(req.headers.authorization ?? '');
      if (!accounts)
        return json(res, 401, { Code: '401', Errors: [{ ErrorCode: 'UK.OBIE.Unauthorized', Message: 'bad token' }] });
      const base = '/open-banking/v4.0/aisp';
      const self = { Self: `${northwindBase}${url.pathname}` };
      if (url.pathname === `${base}/accounts`) {
        return json(res, 200, {
          Data: {
            Account: accounts.map((a, i) => ({
              AccountId: a.bankAccountId,
              Status: 'Enabled',
              Currency: a.currency,
              AccountCategory: 'Personal',
              AccountTypeCode: a.kind === 'current' ? 'CACC' : a.kind === 'savings' ? 'SVGS' : 'CARD',
              Nickname: a.name,
              Account: [
                a.kind === 'credit-card'
                  ? { SchemeName: 'UK.OBIE.PAN', Identification: '5555********4444' }
                  : {
                      SchemeName: 'UK.OBIE.SortCodeAccountNumber',
                      Identification: `40-47-8${i}-1234${a.bankAccountId.slice(-4)}`,
                      Name: 'Holder',
                    },
              ],
            })),
          },
          Links: self,
          Meta: { TotalPages: 1 },
        });
      }
      const m = /^\/open-banking\/v4\.0\/aisp\/accounts\/([^/]+)\/(balances|transactions)$/.exec(url.pathname);
      const account = m && accounts.find((a) => a.bankAccountId === decodeURIComponent(m[1]!));
      if (!m || !account)
        return json(res, 404, {
          Code: '404',
          Errors: [{ ErrorCode: 'UK.OBIE.NotFound', Message: 'no such resource' }],
        });
      if (m[2] === 'balances') {
        const at = londonTime(now());
        return json(res, 200, {
          Data: {
            Balance: [
              {
                AccountId: account.bankAccountId,
                CreditDebitIndicator: 'Credit',
                Type: 'ITBD',
                DateTime: at,
                Amount: { Amount: '1520.5', Currency: account.currency },
              },
              {
                AccountId: account.bankAccountId,
                CreditDebitIndicator: account.kind === 'credit-card' ? 'Debit' : 'Credit',
                Type: 'ITAV',
                DateTime: at,
                Amount: { Amount: '1400.00', Currency: account.currency },
                CreditLine: [{ Included: true, Type: 'Pre-Agreed' }],
              },
              {
                AccountId: account.bankAccountId,
                CreditDebitIndicator: 'Credit',
                Type: 'CLBD',
                DateTime: '2026-11-22T23:59:59+00:00',
                Amount: { Amount: '1500.00', Currency: account.currency },
              },
            ],
          },
          Links: self,
          Meta: {},
        });
      }
      const from = url.searchParams.get('fromBookingDateTime')?.slice(0, 10) ?? '0000-00-00';
      const to = url.searchParams.get('toBookingDateTime')?.slice(0, 10) ?? '9999-99-99';
      const page = Number(url.searchParams.get('page') ?? '0');
      const all = (nwHistory.get(account.bankAccountId) ?? []).filter(
        (t) => dateOf(t.at) >= from && dateOf(t.at) <= to,
      );
      const slice = all.slice(page * PAGE, (page + 1) * PAGE);
      const next = new URL(`${northwindBase}${url.pathname}`);
      for (const [k, v] of url.searchParams) if (k !== 'page') next.searchParams.set(k, v);
      next.searchParams.set('page', String(page + 1));
      return json(res, 200, {
        Data: {
          Transaction: slice.map((t) => ({
            AccountId: account.bankAccountId,
            TransactionId: t.id,
            CreditDebitIndicator: t.credit ? 'Credit' : 'Debit',
            Status: t.pending ? 'PDNG' : 'BOOK',
            BookingDateTime: londonTime(t.at),
            ValueDateTime: londonTime(t.at),
            TransactionInformation: t.info,
            Amount: { Amount: t.amount, Currency: account.currency },
            ...(t.kind === 'reversal'
              ? {
                  BankTransactionCode: { Code: 'ICDT', SubCode: 'RRTN' },
                  SupplementaryData: { OriginalTransactionId: t.original },
                }
              : {}),
            ...(t.kind === 'chargeback'
              ? {
                  BankTransactionCode: { Code: 'CCRD', SubCode: 'CHBK' },
                  SupplementaryData: { OriginalTransactionId: t.original },
                }
              : {}),
            ...(t.kind ? {} : { MerchantDetails: { MerchantName: `Shop ${t.id.split('-').at(-1)}` } }),
          })),
        },
        Links: { ...self, ...((page + 1) * PAGE < all.length ? { Next: next.toString() } : {}) },
        Meta: { TotalPages: Math.ceil(all.length / PAGE), FirstAvailableDateTime: '2024-01-01T00:00:00+00:00' },
      });
    }),
  );

  // ------------------------------------------------------------- rheinbank (Berlin Group 1.3.12)
  const rbConsents = new Map(
    SANDBOX_CUSTOMERS.filter((c) => c.banks.rheinbank).map((c) => [
      `${c.banks.rheinbank!.consentId}|Bearer ${c.banks.rheinbank!.accessToken}`,
      c.banks.rheinbank!.accounts,
    ]),
  );
  const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
  const rheinbank = createServer(
    checked('rheinbank', (req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      record('rheinbank', req, url);
      const requestId = String(req.headers['x-request-id'] ?? '');
      if (down.rheinbank)
        return json(res, down.rheinbank, { tppMessages: [{ category: 'ERROR', code: 'SERVICE_UNAVAILABLE' }] });
      if (!UUID.test(requestId))
        return json(res, 400, { tppMessages: [{ category: 'ERROR', code: 'FORMAT_ERROR', text: 'X-Request-ID' }] });
      const accounts = rbConsents.get(`${req.headers['consent-id']}|${req.headers.authorization}`);
      if (!accounts)
        return json(
          res,
          401,
          { tppMessages: [{ category: 'ERROR', code: 'CONSENT_INVALID' }] },
          { 'x-request-id': requestId },
        );
      const headers = { 'x-request-id': requestId };
      if (url.pathname === '/psd2/v1/accounts') {
        return json(
          res,
          200,
          {
            accounts: accounts.map((a) => ({
              resourceId: a.bankAccountId,
              iban: 'DE89370400440532013000',
              currency: a.currency,
              name: a.name,
              product: 'Girokonto',
              cashAccountType: a.kind === 'savings' ? 'SVGS' : 'CACC',
              status: 'enabled',
              _links: { balances: { href: `/psd2/v1/accounts/${a.bankAccountId}/balances` } },
            })),
          },
          headers,
        );
      }
      const m = /^\/psd2\/v1\/accounts\/([^/]+)\/(balances|transactions)$/.exec(url.pathname);
      const account = m && accounts.find((a) => a.bankAccountId === decodeURIComponent(m[1]!));
      if (!m || !account)
        return json(res, 404, { tppMessages: [{ category: 'ERROR', code: 'RESOURCE_UNKNOWN' }] }, headers);
      if (m[2] === 'balances') {
        return json(
          res,
          200,
          {
            balances: [
              {
                balanceAmount: { currency: 'EUR', amount: '-42.5' },
                balanceType: 'interimBooked',
                lastChangeDateTime: '2026-11-23T09:15:00+01:00',
              },
              {
                balanceAmount: { currency: 'EUR', amount: '2000.00' },
                balanceType: 'closingBooked',
                referenceDate: '2026-11-22',
              },
            ],
          },
          headers,
        );
      }
      if (!url.searchParams.get('bookingStatus'))
        return json(
          res,
          400,
          { tppMessages: [{ category: 'ERROR', code: 'FORMAT_ERROR', text: 'bookingStatus' }] },
          headers,
        );
      const from = url.searchParams.get('dateFrom') ?? '0000-00-00';
      const to = url.searchParams.get('dateTo') ?? dateOf(now());
      const pageIndex = Number(url.searchParams.get('pageIndex') ?? '0');
      const all = (rbHistory.get(account.bankAccountId) ?? []).filter(
        (t) => dateOf(t.at) >= from && dateOf(t.at) <= to,
      );
      const slice = all.slice(pageIndex * PAGE, (pageIndex + 1) * PAGE);
      const entry = (t: Tx) => ({
        transactionId: t.id,
        bookingDate: t.pending ? undefined : dateOf(t.at),
        valueDate: dateOf(t.at),
        transactionAmount: { currency: 'EUR', amount: `${t.credit ? '' : '-'}${t.amount}` },
        ...(t.credit ? { debtorName: 'Payer GmbH' } : { creditorName: 'Laden GmbH' }),
        remittanceInformationUnstructured: t.info,
        bankTransactionCode:
          t.kind === 'reversal' ? 'PMNT-RCDT-RRTN' : t.kind === 'chargeback' ? 'PMNT-CCRD-CHBK' : 'PMNT-ICDT-ESCT',
        ...(t.original ? { remittanceInformationStructured: { reference: t.original } } : {}),
        _links: { transactionDetails: { href: `/psd2/v1/accounts/${account.bankAccountId}/transactions/${t.id}` } },
      });
      const params = new URLSearchParams(url.searchParams);
      params.set('pageIndex', String(pageIndex + 1));
      return json(
        res,
        200,
        {
          account: { iban: 'DE89370400440532013000' },
          transactions: {
            booked: slice.filter((t) => !t.pending).map(entry),
            pending: slice.filter((t) => t.pending).map(entry),
            _links: {
              account: { href: `/psd2/v1/accounts/${account.bankAccountId}` },
              ...((pageIndex + 1) * PAGE < all.length ? { next: { href: `${url.pathname}?${params}` } } : {}),
            },
          },
        },
        headers,
      );
    }),
  );

  const listen = (server: Server) =>
    new Promise<number>((resolve) =>
      server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)),
    );
  const [nwPort, rbPort] = [await listen(northwind), await listen(rheinbank)];
  northwindBase = `http://127.0.0.1:${nwPort}`;
  const close = (server: Server) =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return {
    violations,
    northwindUrl: northwindBase,
    rheinbankUrl: `http://127.0.0.1:${rbPort}`,
    calls,
    down,
    close: async () => {
      await Promise.all([close(northwind), close(rheinbank)]);
    },
  };
}
