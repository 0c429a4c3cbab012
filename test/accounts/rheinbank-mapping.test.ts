import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PartnerError } from '../../lib/errors.ts';
import { createLogger } from '../../lib/logger.ts';
import { toTransactionModel } from '../../subgraphs/accounts/domain/transactions.ts';
import { createRheinbankAdapter } from '../../subgraphs/accounts/partners/rheinbank/client.ts';
import { mapAccounts, mapBalances, mapTransactionPage } from '../../subgraphs/accounts/partners/rheinbank/mapping.ts';
import { specIfPresent } from '../support/partner-specs.ts';

const logger = createLogger('test', 'silent');
const NOW = new Date('2026-11-23T12:00:00Z');
const ctx = { partner: 'rheinbank', logger, now: () => NOW };
// The published spec (PARTNER_SPECS_DIR) also vets the fixtures and the adapter's requests; the mapping tests stand
// without it.
const spec = specIfPresent(
  'berlin-group',
  'fixtures and adapter requests checked against the Berlin Group NextGenPSD2 1.3.12 spec',
);
const ACC = '3dc3d5b3-7023-4848-9853-f5400a64e80f';

function specValid(path: string, body: unknown): unknown {
  if (spec) expect(spec.validateResponse({ method: 'GET', path: `/psd2/v1${path}`, status: 200, body })).toEqual([]);
  return body;
}

function contractError(fn: () => unknown): PartnerError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(PartnerError);
    expect((err as PartnerError).partner).toBe('rheinbank');
    expect((err as PartnerError).kind).toBe('contract');
    return err as PartnerError;
  }
  throw new Error('expected a contract violation');
}

const tx = (over: Record<string, unknown> = {}) => ({
  transactionId: 'rb-1',
  bookingDate: '2026-11-20',
  valueDate: '2026-11-21',
  transactionAmount: { currency: 'EUR', amount: '-256.67' },
  creditorName: 'REWE Markt GmbH',
  remittanceInformationUnstructured: 'Einkauf',
  bankTransactionCode: 'PMNT-ICDT-ESCT',
  ...over,
});
const report = (booked: unknown[], pending: unknown[] = [], next?: string) => ({
  account: { iban: 'DE89370400440532013000' },
  transactions: {
    booked,
    pending,
    _links: { account: { href: `/psd2/v1/accounts/${ACC}` }, ...(next ? { next: { href: next } } : {}) },
  },
});

describe('rheinbank (Berlin Group 1.3.12) accounts', () => {
  it('maps resourceId, type, status, IBAN and name', () => {
    const body = specValid('/accounts', {
      accounts: [
        {
          resourceId: ACC,
          iban: 'DE89370400440532013000',
          currency: 'EUR',
          name: 'Girokonto',
          cashAccountType: 'CACC',
          status: 'enabled',
        },
        {
          resourceId: 'c41e',
          bban: '370400440532013001',
          currency: 'EUR',
          product: 'Tagesgeld',
          cashAccountType: 'SVGS',
          status: 'blocked',
        },
        { resourceId: 'x1', currency: 'EUR', cashAccountType: 'LOAN', status: 'deleted' },
      ],
    });
    expect(mapAccounts(ctx, body)).toEqual([
      {
        bankAccountRef: ACC,
        name: 'Girokonto',
        type: 'CURRENT',
        status: 'ENABLED',
        currency: 'EUR',
        identification: { scheme: 'IBAN', value: 'DE89370400440532013000' },
      },
      {
        bankAccountRef: 'c41e',
        name: 'Tagesgeld',
        type: 'SAVINGS',
        status: 'DISABLED',
        currency: 'EUR',
        identification: { scheme: 'OTHER', value: '370400440532013001' },
      },
      { bankAccountRef: 'x1', name: null, type: 'LOAN', status: 'CLOSED', currency: 'EUR', identification: null },
    ]);
  });

  it('refuses an account it cannot address or read', () => {
    expect(contractError(() => mapAccounts(ctx, { accounts: [{ currency: 'EUR' }] })).message).toMatch(
      /rheinbank: getAccountList: account without resourceId/,
    );
    contractError(() => mapAccounts(ctx, { accounts: [{ resourceId: 'a' }] }));
    contractError(() => mapAccounts(ctx, { accounts: [{ resourceId: 'a', currency: 'EUR', status: 'frozen' }] }));
    contractError(() => mapAccounts(ctx, {}));
  });
});

describe('rheinbank (Berlin Group 1.3.12) balances', () => {
  it('turns signed amounts into direction + minor units and local times into UTC', () => {
    const body = specValid(`/accounts/${ACC}/balances`, {
      balances: [
        {
          balanceAmount: { currency: 'EUR', amount: '-42.5' },
          balanceType: 'interimAvailable',
          lastChangeDateTime: '2026-11-23T09:15:00+01:00',
          creditLimitIncluded: true,
        },
        {
          balanceAmount: { currency: 'EUR', amount: '500' },
          balanceType: 'closingBooked',
          referenceDate: '2026-11-22',
        },
        { balanceAmount: { currency: 'EUR', amount: '0.00' }, balanceType: 'nonInvoiced' },
      ],
    });
    expect(mapBalances(ctx, body)).toEqual([
      {
        type: 'INTERIM_AVAILABLE',
        direction: 'DEBIT',
        amount: { amount: '42.50', currency: 'EUR' },
        asOf: new Date('2026-11-23T08:15:00Z'),
        includesCreditLine: true,
      },
      {
        type: 'CLOSING_BOOKED',
        direction: 'CREDIT',
        amount: { amount: '500.00', currency: 'EUR' },
        asOf: new Date('2026-11-22T00:00:00Z'),
        includesCreditLine: false,
      },
      {
        type: 'OTHER',
        direction: 'CREDIT',
        amount: { amount: '0.00', currency: 'EUR' },
        asOf: NOW,
        includesCreditLine: false,
      },
    ]);
  });

  it('refuses amounts it cannot represent exactly', () => {
    const b = (amount: unknown, currency = 'EUR') => ({
      balances: [{ balanceAmount: { currency, amount }, balanceType: 'expected' }],
    });
    contractError(() => mapBalances(ctx, b('12.345')));
    contractError(() => mapBalances(ctx, b(12.34)));
    contractError(() => mapBalances(ctx, b('1.5', 'JPY')));
    contractError(() => mapBalances(ctx, b('12,34')));
  });
});

describe('rheinbank (Berlin Group 1.3.12) transactions', () => {
  it('maps booked and pending lists, signs, dates and counterparties', () => {
    const body = specValid(
      `/accounts/${ACC}/transactions`,
      report(
        [
          tx(),
          tx({
            transactionId: 'rb-2',
            transactionAmount: { currency: 'EUR', amount: '2500.00' },
            creditorName: undefined,
            debtorName: 'Rhein Software GmbH',
          }),
        ],
        [tx({ transactionId: 'rb-3', bookingDate: undefined, valueDate: '2026-11-24' })],
        `/psd2/v1/accounts/${ACC}/transactions?pageIndex=1`,
      ),
    );
    const { transactions, next } = mapTransactionPage(ctx, body);
    expect(next).toBe(`/psd2/v1/accounts/${ACC}/transactions?pageIndex=1`);
    expect(transactions[0]).toEqual({
      bankTransactionRef: 'rb-1',
      status: 'BOOKED',
      kind: 'STANDARD',
      reversesRef: null,
      amount: { amount: '256.67', currency: 'EUR' },
      direction: 'DEBIT',
      occurredAt: new Date('2026-11-20T00:00:00Z'),
      bookedAt: new Date('2026-11-20T00:00:00Z'),
      valueDate: '2026-11-21',
      description: 'Einkauf',
      counterpartyName: 'REWE Markt GmbH',
    });
    expect(transactions[1]).toMatchObject({
      direction: 'CREDIT',
      amount: { amount: '2500.00' },
      counterpartyName: 'Rhein Software GmbH',
    });
    expect(transactions[2]).toMatchObject({
      status: 'PENDING',
      bookedAt: null,
      occurredAt: new Date('2026-11-24T00:00:00Z'),
    });
  });

  it('keeps the same canonical id when a pending transaction books', () => {
    const pending = mapTransactionPage(ctx, report([], [tx({ bookingDate: undefined })])).transactions[0]!;
    const booked = mapTransactionPage(ctx, report([tx({ bookingDate: '2026-11-25' })])).transactions[0]!;
    const account = { id: 'acc_x', customerId: 'cus_x', institution: 'rheinbank', bankAccountRef: ACC };
    expect(toTransactionModel(pending, account, 'k'.repeat(40)).id).toBe(
      toTransactionModel(booked, account, 'k'.repeat(40)).id,
    );
  });

  it('recognises returns and card chargebacks from the ISO bank transaction code', () => {
    const entries = [
      tx({
        transactionId: 'r1',
        transactionAmount: { currency: 'EUR', amount: '256.67' },
        bankTransactionCode: 'PMNT-RCDT-RRTN',
        remittanceInformationStructured: { reference: 'rb-1' },
      }),
      tx({
        transactionId: 'r2',
        bankTransactionCode: 'PMNT-CCRD-CHBK',
        additionalInformation: 'Chargeback ORIGINAL:rb-7',
      }),
      tx({ transactionId: 'r3', bankTransactionCode: 'PMNT-CCRD-POSD' }),
      tx({ transactionId: 'r4', proprietaryBankTransactionCode: 'RUECKLASTSCHRIFT REVERSAL' }),
    ];
    const mapped = mapTransactionPage(ctx, specValid(`/accounts/${ACC}/transactions`, report(entries))).transactions;
    expect(mapped.map((t) => [t.kind, t.reversesRef])).toEqual([
      ['REVERSAL', 'rb-1'],
      ['CHARGEBACK', 'rb-7'],
      ['STANDARD', null],
      ['REVERSAL', null],
    ]);
  });

  it('treats a response without a report as no transactions, and ignores information entries', () => {
    expect(mapTransactionPage(ctx, {}).transactions).toEqual([]);
    const body = { transactions: { information: [tx()], _links: { account: { href: '/a' } } } };
    expect(mapTransactionPage(ctx, body).transactions).toEqual([]);
  });

  it('refuses contract-violating transactions with a clear error naming the partner', () => {
    expect(
      contractError(() => mapTransactionPage(ctx, report([tx({ transactionAmount: { currency: 'EUR' } })]))).message,
    ).toMatch(/^rheinbank: getTransactionList: response does not match/);
    contractError(() => mapTransactionPage(ctx, report([tx({ bookingDate: '20.11.2026' })])));
    contractError(() => mapTransactionPage(ctx, report([tx({ bookingDate: undefined, valueDate: undefined })])));
    contractError(() => mapTransactionPage(ctx, { transactions: { booked: [tx()] } }));
  });
});

describe('rheinbank adapter over HTTP', () => {
  let server: Server;
  let url: string;
  let answer = { status: 200, body: '{}' };
  const seen: { url: string; headers: Record<string, string> }[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      seen.push({ url: req.url ?? '', headers: req.headers as Record<string, string> });
      res.writeHead(answer.status, { 'content-type': 'application/json' });
      res.end(answer.body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const connection = {
    id: 'c1',
    customerId: 'cus_x',
    institution: 'rheinbank',
    psuId: 'PSU-1',
    consentId: 'rb-consent-1',
    accessToken: 'rb-token',
  };

  it('sends X-Request-ID (UUID), Consent-ID, the bearer token and bookingStatus/dateFrom/dateTo', async () => {
    const adapter = createRheinbankAdapter({ baseUrl: url, timeoutMs: 1000, logger, now: () => NOW });
    answer = { status: 200, body: JSON.stringify(report([])) };
    await adapter.listTransactions(
      connection,
      ACC,
      { fromDate: '2026-11-01', toDate: '2026-11-14', bookingStatus: 'both' },
      null,
    );
    const call = seen.at(-1)!;
    const u = new URL(call.url, url);
    expect(u.pathname).toBe(`/psd2/v1/accounts/${ACC}/transactions`);
    expect(Object.fromEntries(u.searchParams)).toEqual({
      bookingStatus: 'both',
      dateFrom: '2026-11-01',
      dateTo: '2026-11-14',
    });
    expect(call.headers['consent-id']).toBe('rb-consent-1');
    expect(call.headers.authorization).toBe('Bearer rb-token');
    if (spec)
      expect(
        spec.validateRequest({ method: 'GET', path: u.pathname, query: u.searchParams, headers: call.headers }),
      ).toEqual([]);
    adapter.http.shutdown();
  });

  it('follows a relative next link on the same server, and refuses one elsewhere', async () => {
    const adapter = createRheinbankAdapter({ baseUrl: url, timeoutMs: 1000, logger, now: () => NOW });
    answer = { status: 200, body: JSON.stringify(report([tx()])) };
    const pageTwo = await adapter.listTransactions(
      connection,
      ACC,
      { fromDate: '2026-11-01', toDate: null, bookingStatus: 'both' },
      `/psd2/v1/accounts/${ACC}/transactions?bookingStatus=both&dateFrom=2026-11-01&pageIndex=1`,
    );
    expect(pageTwo.transactions).toHaveLength(1);
    expect(seen.at(-1)!.url).toBe(
      `/psd2/v1/accounts/${ACC}/transactions?bookingStatus=both&dateFrom=2026-11-01&pageIndex=1`,
    );
    const err = await adapter
      .listTransactions(
        connection,
        ACC,
        { fromDate: '2026-11-01', toDate: null, bookingStatus: 'both' },
        'https://elsewhere.example/psd2/v1/x',
      )
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ partner: 'rheinbank', kind: 'contract' });
    adapter.http.shutdown();
  });

  it('turns malformed JSON into a contract violation naming the partner', async () => {
    const adapter = createRheinbankAdapter({ baseUrl: url, timeoutMs: 1000, logger, now: () => NOW });
    answer = { status: 200, body: '<html>maintenance</html>' };
    await expect(adapter.listAccounts(connection)).rejects.toMatchObject({ partner: 'rheinbank', kind: 'contract' });
    adapter.http.shutdown();
  });
});
