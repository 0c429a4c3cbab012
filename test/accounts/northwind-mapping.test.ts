import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PartnerError } from '../../lib/errors.ts';
import { createLogger } from '../../lib/logger.ts';
import { toTransactionModel } from '../../subgraphs/accounts/domain/transactions.ts';
import { createNorthwindAdapter } from '../../subgraphs/accounts/partners/northwind/client.ts';
import {
  classifyNorthwindEntry,
  mapAccounts,
  mapBalances,
  mapTransactionPage,
} from '../../subgraphs/accounts/partners/northwind/mapping.ts';
import { specIfPresent } from '../support/partner-specs.ts';

const logger = createLogger('test', 'silent');
const ctx = { partner: 'northwind', logger };
// The published spec (PARTNER_SPECS_DIR) also vets the fixtures and the adapter's requests; the mapping tests stand
// without it.
const spec = specIfPresent('obie-ais', 'fixtures and adapter requests checked against the OBIE AIS 4.0 spec');
const base = '/open-banking/v4.0/aisp';

/** Fixtures are checked against the published spec first, so the tests exercise spec-valid payloads. */
function specValid(path: string, body: unknown): unknown {
  if (spec) expect(spec.validateResponse({ method: 'GET', path: `${base}${path}`, status: 200, body })).toEqual([]);
  return body;
}

function contractError(fn: () => unknown): PartnerError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(PartnerError);
    expect((err as PartnerError).partner).toBe('northwind');
    expect((err as PartnerError).kind).toBe('contract');
    return err as PartnerError;
  }
  throw new Error('expected a contract violation');
}

const tx = (over: Record<string, unknown> = {}) => ({
  AccountId: '22289',
  TransactionId: 'T-1',
  CreditDebitIndicator: 'Debit',
  Status: 'BOOK',
  BookingDateTime: '2026-06-01T00:30:00+01:00',
  ValueDateTime: '2026-06-01T00:00:00+01:00',
  TransactionInformation: 'Card payment',
  Amount: { Amount: '12.3', Currency: 'GBP' },
  MerchantDetails: { MerchantName: 'TESCO STORES 3297' },
  ...over,
});
const page = (transactions: unknown[], extra: Record<string, unknown> = {}) => ({
  Data: { Transaction: transactions },
  Links: { Self: 'http://nw/x' },
  Meta: {},
  ...extra,
});

describe('northwind (OBIE 4.0) accounts', () => {
  const body = specValid('/accounts', {
    Data: {
      Account: [
        {
          AccountId: '22289',
          Status: 'Enabled',
          Currency: 'GBP',
          AccountTypeCode: 'CACC',
          Nickname: 'Everyday Current',
          Account: [{ SchemeName: 'UK.OBIE.SortCodeAccountNumber', Identification: '60-83-71 12345678' }],
        },
        {
          AccountId: '22291',
          Status: 'Deleted',
          Currency: 'GBP',
          AccountTypeCode: 'CARD',
          Description: 'Card',
          Account: [{ SchemeName: 'UK.OBIE.PAN', Identification: '492912******4821' }],
        },
        {
          AccountId: '22292',
          Currency: 'GBP',
          AccountTypeCode: 'SVGS',
          Account: [{ SchemeName: 'UK.OBIE.IBAN', Identification: 'GB29 NWBK 6016 1331 9268 19' }],
        },
      ],
    },
    Links: { Self: 'http://nw/accounts' },
    Meta: { TotalPages: 1 },
  });

  it('maps type, status, name and identification', () => {
    expect(mapAccounts(ctx, body)).toEqual([
      {
        bankAccountRef: '22289',
        name: 'Everyday Current',
        type: 'CURRENT',
        status: 'ENABLED',
        currency: 'GBP',
        identification: { scheme: 'SORT_CODE_ACCOUNT_NUMBER', value: '60837112345678' },
      },
      {
        bankAccountRef: '22291',
        name: 'Card',
        type: 'CREDIT_CARD',
        status: 'CLOSED',
        currency: 'GBP',
        identification: { scheme: 'MASKED_PAN', value: '492912******4821' },
      },
      {
        bankAccountRef: '22292',
        name: null,
        type: 'SAVINGS',
        status: 'ENABLED',
        currency: 'GBP',
        identification: { scheme: 'IBAN', value: 'GB29NWBK60161331926819' },
      },
    ]);
  });

  it('refuses off-contract accounts with an error naming the partner', () => {
    expect(contractError(() => mapAccounts(ctx, { Data: { Account: [{ Currency: 'GBP' }] } })).message).toMatch(
      /northwind: getAccounts: .*AccountId/,
    );
    contractError(() =>
      mapAccounts(ctx, { Data: { Account: [{ AccountId: '1', Currency: 'GBP', AccountTypeCode: 'BOGUS' }] } }),
    );
    contractError(() => mapAccounts(ctx, { Data: { Account: [{ AccountId: '1' }] } }));
    contractError(() => mapAccounts(ctx, { Data: { Account: [{ AccountId: '1', Currency: 'ZZZ' }] } }));
    contractError(() => mapAccounts(ctx, 'not an object'));
  });
});

describe('northwind (OBIE 4.0) balances', () => {
  const body = specValid('/accounts/22289/balances', {
    Data: {
      Balance: [
        {
          AccountId: '22289',
          CreditDebitIndicator: 'Debit',
          Type: 'ITAV',
          DateTime: '2026-06-01T09:15:00+01:00',
          Amount: { Amount: '10.5', Currency: 'GBP' },
          CreditLine: [{ Included: true }],
        },
        {
          AccountId: '22289',
          CreditDebitIndicator: 'Credit',
          Type: 'CLBD',
          DateTime: '2026-05-31T23:59:59Z',
          Amount: { Amount: '7', Currency: 'GBP' },
        },
        {
          AccountId: '22289',
          CreditDebitIndicator: 'Credit',
          Type: 'PRCD',
          DateTime: '2026-05-31T23:59:59Z',
          Amount: { Amount: '7', Currency: 'GBP' },
        },
      ],
    },
    Links: { Self: 'http://nw/b' },
  });

  it('maps indicator to direction, amounts to minor units, times to UTC, ISO types', () => {
    expect(mapBalances(ctx, body, '22289')).toEqual([
      {
        type: 'INTERIM_AVAILABLE',
        direction: 'DEBIT',
        amount: { amount: '10.50', currency: 'GBP' },
        asOf: new Date('2026-06-01T08:15:00Z'),
        includesCreditLine: true,
      },
      {
        type: 'CLOSING_BOOKED',
        direction: 'CREDIT',
        amount: { amount: '7.00', currency: 'GBP' },
        asOf: new Date('2026-05-31T23:59:59Z'),
        includesCreditLine: false,
      },
      {
        type: 'OTHER',
        direction: 'CREDIT',
        amount: { amount: '7.00', currency: 'GBP' },
        asOf: new Date('2026-05-31T23:59:59Z'),
        includesCreditLine: false,
      },
    ]);
  });

  it('never shows a balance of another account, and refuses unrepresentable amounts', () => {
    expect(contractError(() => mapBalances(ctx, body, '99999')).message).toMatch(/different account/);
    const b = (Amount: unknown, DateTime = '2026-06-01T09:15:00Z') => ({
      Data: {
        Balance: [
          {
            AccountId: '1',
            CreditDebitIndicator: 'Credit',
            Type: 'ITAV',
            DateTime,
            Amount: { Amount, Currency: 'GBP' },
          },
        ],
      },
    });
    contractError(() => mapBalances(ctx, b('10.123'), '1'));
    contractError(() => mapBalances(ctx, b(10.5), '1'));
    contractError(() => mapBalances(ctx, b('-10.50'), '1'));
    contractError(() => mapBalances(ctx, b('10.50', '2026-06-01T09:15:00'), '1'));
  });
});

describe('northwind (OBIE 4.0) transactions', () => {
  it('maps direction, amount, UTC time, local value date, status and counterparty', () => {
    const body = specValid(
      '/accounts/22289/transactions',
      page([
        tx(),
        tx({
          TransactionId: 'T-2',
          Status: 'PDNG',
          CreditDebitIndicator: 'Credit',
          MerchantDetails: undefined,
          DebtorAccount: { Name: 'Jane Smith' },
        }),
      ]),
    );
    const { transactions } = mapTransactionPage(ctx, body, '22289');
    expect(transactions[0]).toEqual({
      bankTransactionRef: 'T-1',
      status: 'BOOKED',
      kind: 'STANDARD',
      reversesRef: null,
      amount: { amount: '12.30', currency: 'GBP' },
      direction: 'DEBIT',
      occurredAt: new Date('2026-05-31T23:30:00Z'),
      bookedAt: new Date('2026-05-31T23:30:00Z'),
      valueDate: '2026-06-01',
      description: 'Card payment',
      counterpartyName: 'TESCO STORES 3297',
    });
    expect(transactions[1]).toMatchObject({
      status: 'PENDING',
      bookedAt: null,
      direction: 'CREDIT',
      counterpartyName: 'Jane Smith',
    });
  });

  it('treats future-dated entries as pending and leaves out informational and rejected ones', () => {
    const { transactions } = mapTransactionPage(
      ctx,
      page([
        tx({ Status: 'FUTR' }),
        tx({ TransactionId: 'I', Status: 'INFO' }),
        tx({ TransactionId: 'R', Status: 'RJCT' }),
      ]),
      '22289',
    );
    expect(transactions.map((t) => [t.bankTransactionRef, t.status])).toEqual([['T-1', 'PENDING']]);
  });

  it('keeps the same canonical id when a pending transaction books', () => {
    const pending = mapTransactionPage(
      ctx,
      page([tx({ Status: 'PDNG', BookingDateTime: '2026-06-01T10:00:00+01:00' })]),
      '22289',
    ).transactions[0]!;
    const booked = mapTransactionPage(
      ctx,
      page([
        tx({
          Status: 'BOOK',
          BookingDateTime: '2026-06-03T08:00:00+01:00',
          Amount: { Amount: '12.80', Currency: 'GBP' },
        }),
      ]),
      '22289',
    ).transactions[0]!;
    const account = { id: 'acc_x', customerId: 'cus_x', institution: 'northwind', bankAccountRef: '22289' };
    const a = toTransactionModel(pending, account, 'k'.repeat(40));
    const b = toTransactionModel(booked, account, 'k'.repeat(40));
    expect(a.id).toBe(b.id);
    expect(a.id).toMatch(/^txn_/);
    expect([a.status, b.status]).toEqual(['PENDING', 'BOOKED']);
  });

  it('recognises reversals and chargebacks and the original they undo', () => {
    const reversal = tx({
      TransactionId: 'T-9',
      CreditDebitIndicator: 'Credit',
      BankTransactionCode: { Code: 'ICDT', SubCode: 'RRTN' },
      SupplementaryData: { OriginalTransactionId: 'T-1' },
    });
    const chargeback = tx({
      TransactionId: 'T-10',
      CreditDebitIndicator: 'Credit',
      BankTransactionCode: { Code: 'CCRD', SubCode: 'CHBK' },
      SupplementaryData: { OriginalTransactionId: 'T-3' },
    });
    const proprietary = tx({ TransactionId: 'T-11', ProprietaryBankTransactionCode: { Code: 'CARD CHARGEBACK' } });
    const fee = tx({ TransactionId: 'T-12', BankTransactionCode: { Code: 'CCRD', SubCode: 'CHRG' } });
    specValid('/accounts/22289/transactions', page([reversal, chargeback, proprietary, fee]));
    const mapped = mapTransactionPage(ctx, page([reversal, chargeback, proprietary, fee]), '22289').transactions;
    expect(mapped.map((t) => [t.kind, t.reversesRef])).toEqual([
      ['REVERSAL', 'T-1'],
      ['CHARGEBACK', 'T-3'],
      ['CHARGEBACK', null],
      ['STANDARD', null],
    ]);
    expect(classifyNorthwindEntry(tx() as never)).toEqual({ kind: 'STANDARD', reversesRef: null });
  });

  it('reads the next link and where the history starts', () => {
    const body = specValid(
      '/accounts/22289/transactions',
      page([tx()], {
        Links: { Self: 'http://nw/a', Next: 'http://nw/a?page=2' },
        Meta: { FirstAvailableDateTime: '2025-05-01T00:00:00+01:00' },
      }),
    );
    expect(mapTransactionPage(ctx, body, '22289')).toMatchObject({
      next: 'http://nw/a?page=2',
      earliestAvailable: '2025-04-30',
    });
  });

  it('refuses contract-violating transactions with a clear error naming the partner', () => {
    const err = contractError(() =>
      mapTransactionPage(ctx, page([tx({ Amount: { Amount: 12.3, Currency: 'GBP' } })]), '22289'),
    );
    expect(err.message).toMatch(
      /^northwind: getTransactions: response does not match the API specification \(Data\.Transaction\.0\.Amount\.Amount/,
    );
    contractError(() => mapTransactionPage(ctx, page([tx({ Status: 'DONE' })]), '22289'));
    contractError(() => mapTransactionPage(ctx, page([tx({ BookingDateTime: '2026-06-01 10:00' })]), '22289'));
    contractError(() => mapTransactionPage(ctx, page([tx({ CreditDebitIndicator: undefined })]), '22289'));
    expect(contractError(() => mapTransactionPage(ctx, page([tx({ AccountId: '31044' })]), '22289')).message).toMatch(
      /different account/,
    );
  });
});

describe('northwind adapter over HTTP', () => {
  let server: Server;
  let url: string;
  let answer: { status: number; body: string; contentType?: string } = { status: 200, body: '{}' };
  const seen: { url: string; headers: Record<string, unknown> }[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      seen.push({ url: req.url ?? '', headers: req.headers });
      res.writeHead(answer.status, { 'content-type': answer.contentType ?? 'application/json' });
      res.end(answer.body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const connection = {
    id: 'c1',
    customerId: 'cus_x',
    institution: 'northwind',
    psuId: null,
    consentId: 'aac-1',
    accessToken: 'nw-token',
  };

  it('sends the bearer token and the spec path, with spec-valid date filters', async () => {
    const adapter = createNorthwindAdapter({ baseUrl: url, timeoutMs: 1000, logger });
    answer = { status: 200, body: JSON.stringify(page([])) };
    await adapter.listTransactions(
      connection,
      '22289',
      { fromDate: '2026-11-01', toDate: '2026-11-14', bookingStatus: 'both' },
      null,
    );
    const call = seen.at(-1)!;
    expect(call.headers.authorization).toBe('Bearer nw-token');
    const u = new URL(call.url, url);
    expect(u.pathname).toBe('/open-banking/v4.0/aisp/accounts/22289/transactions');
    if (spec)
      expect(
        spec.validateRequest({
          method: 'GET',
          path: u.pathname,
          query: u.searchParams,
          headers: call.headers as Record<string, string>,
        }),
      ).toEqual([]);
    adapter.http.shutdown();
  });

  it('turns a body that is not JSON into a contract violation naming the partner', async () => {
    const adapter = createNorthwindAdapter({ baseUrl: url, timeoutMs: 1000, logger });
    answer = { status: 200, body: '{"Data": {"Account": [' };
    const err = await adapter.listAccounts(connection).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PartnerError);
    expect(err).toMatchObject({ partner: 'northwind', kind: 'contract' });
    adapter.http.shutdown();
  });

  it('refuses a next link to another origin (the token must not leave the bank)', async () => {
    const adapter = createNorthwindAdapter({ baseUrl: url, timeoutMs: 1000, logger });
    const before = seen.length;
    const err = await adapter
      .listTransactions(
        connection,
        '22289',
        { fromDate: '2026-11-01', toDate: null, bookingStatus: 'both' },
        'http://evil.example/open-banking/v4.0/aisp/x',
      )
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ partner: 'northwind', kind: 'contract' });
    expect(seen.length).toBe(before);
    adapter.http.shutdown();
  });

  it('reports a refused call (expired token) as the bank being unavailable', async () => {
    const adapter = createNorthwindAdapter({ baseUrl: url, timeoutMs: 1000, logger });
    answer = {
      status: 401,
      body: JSON.stringify({ Code: '401', Errors: [{ ErrorCode: 'UK.OBIE.Unauthorized', Message: 'expired' }] }),
    };
    const err = await adapter.listAccounts(connection).catch((e: unknown) => e);
    expect(err).toMatchObject({ partner: 'northwind', kind: 'unavailable', status: 401 });
    adapter.http.shutdown();
  });
});
