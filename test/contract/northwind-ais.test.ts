import { afterAll, beforeAll, expect, it } from 'vitest';
import { SANDBOX_CUSTOMERS } from '../../sandboxes/manifest.ts';
import { DAY } from '../../sandboxes/lib/clock.ts';
import { loadPartnerSpec, type LoadedSpec } from '../../sandboxes/lib/openapi.ts';
import { describeWithSpecs } from '../support/partner-specs.ts';
import type { RunningSandboxes, TestClock } from '../../sandboxes/index.ts';
import { allPages, caller, startAll, uuid, type CallResult } from './helpers.ts';

// Validating the sandbox against the partner's published spec is the point of this file: without the spec it is
// skipped.
const describeSpecs = describeWithSpecs(['obie-ais']);
let spec: LoadedSpec;
const BASE = '/open-banking/v4.0/aisp';
const customers = SANDBOX_CUSTOMERS.filter((c) => c.banks.northwind);
const alice = customers[0]!.banks.northwind!;
const ben = customers[1]!.banks.northwind!;

let sandboxes: RunningSandboxes;
let clock: TestClock;
let call: ReturnType<typeof caller>;

beforeAll(async () => {
  spec = loadPartnerSpec('obie-ais');
  ({ sandboxes, clock } = await startAll());
  call = caller(sandboxes.urls.northwind, spec);
});
afterAll(async () => {
  await sandboxes.close();
});

const auth = (token: string) => ({
  authorization: `Bearer ${token}`,
  'x-fapi-interaction-id': uuid(),
  'x-fapi-customer-ip-address': '203.0.113.7',
});
type Tx = {
  TransactionId: string;
  TransactionReference: string;
  Status: string;
  CreditDebitIndicator: string;
  BookingDateTime: string;
  Amount: { Amount: string };
  SupplementaryData?: Record<string, string>;
  ProprietaryBankTransactionCode?: { Code: string };
  BankTransactionCode?: { Code: string; SubCode: string };
  Balance?: { Amount: { Amount: string }; CreditDebitIndicator: string };
};

async function transactions(token: string, accountId: string, query = ''): Promise<{ pages: CallResult[]; all: Tx[] }> {
  const first = await call(`${BASE}/accounts/${accountId}/transactions${query}`, { headers: auth(token) });
  const pages = await allPages(first, (page) => {
    const next = page.body?.Links?.Next as string | undefined;
    return next ? call(next.slice(sandboxes.urls.northwind.length), { headers: auth(token) }) : undefined;
  });
  return { pages, all: pages.flatMap((p) => p.body.Data.Transaction as Tx[]) };
}

const signed = (amount: { Amount: string }, indicator: string) =>
  (indicator === 'Debit' ? -1 : 1) * Math.round(Number(amount.Amount) * 100);

describeSpecs('every route for every Northwind customer conforms to OBIE 4.0', () => {
  for (const customer of customers) {
    const bank = customer.banks.northwind!;
    it(`${customer.displayName}: accounts, account, balances and every transaction page`, async () => {
      const list = await call(`${BASE}/accounts`, { headers: auth(bank.accessToken) });
      expect(list.status).toBe(200);
      expect(list.violations).toEqual([]);
      expect(list.headers.get('x-fapi-interaction-id')).toBeTruthy();
      expect(list.body.Data.Account.map((a: { AccountId: string }) => a.AccountId)).toEqual(
        bank.accounts.map((a) => a.bankAccountId),
      );

      for (const account of bank.accounts) {
        const one = await call(`${BASE}/accounts/${account.bankAccountId}`, { headers: auth(bank.accessToken) });
        expect(one.violations).toEqual([]);
        expect(one.body.Data.Account[0]).toMatchObject({
          AccountId: account.bankAccountId,
          Currency: account.currency,
          Nickname: account.name,
        });

        const balances = await call(`${BASE}/accounts/${account.bankAccountId}/balances`, {
          headers: auth(bank.accessToken),
        });
        expect(balances.violations).toEqual([]);
        const byType = Object.fromEntries(balances.body.Data.Balance.map((b: { Type: string }) => [b.Type, b]));
        expect(Object.keys(byType).sort()).toEqual(['CLBD', 'ITAV', 'ITBD']);

        const { pages, all } = await transactions(bank.accessToken, account.bankAccountId);
        for (const page of pages) expect(page.violations).toEqual([]);
        expect(pages[0]!.body.Meta.TotalPages).toBe(pages.length);
        expect(all.length).toBeGreaterThan(account.transactionCount * 0.8);
        expect(new Set(all.map((t) => t.TransactionId)).size).toBe(all.length);

        // Balances agree with the transactions: ITBD is the newest booked entry's running balance,
        // ITAV is ITBD minus the pending debits (plus the credit line of card accounts).
        const booked = all.filter((t) => t.Status === 'BOOK');
        const newest = booked.reduce((a, b) => (a.BookingDateTime >= b.BookingDateTime ? a : b));
        const itbd = signed(byType.ITBD.Amount, byType.ITBD.CreditDebitIndicator);
        expect(signed(newest.Balance!.Amount, newest.Balance!.CreditDebitIndicator)).toBe(itbd);
        const pendingDebits = all
          .filter((t) => t.Status === 'PDNG' && t.CreditDebitIndicator === 'Debit')
          .reduce((s, t) => s + Math.round(Number(t.Amount.Amount) * 100), 0);
        const creditLine = byType.ITAV.CreditLine
          ? Math.round(Number(byType.ITAV.CreditLine[0].Amount.Amount) * 100)
          : 0;
        expect(signed(byType.ITAV.Amount, byType.ITAV.CreditDebitIndicator)).toBe(itbd - pendingDebits + creditLine);
      }
      expect(sandboxes.northwind.requests.violations()).toEqual([]);
      expect(sandboxes.northwind.requests.responseViolations()).toEqual([]);
    });
  }
});

describeSpecs('transactions', () => {
  it('filter by booking date-time (inclusive, timezone ignored)', async () => {
    const from = '2026-10-01T00:00:00Z';
    const to = '2026-10-31T23:59:59+05:00';
    const { all, pages } = await transactions(
      alice.accessToken,
      '22289',
      `?fromBookingDateTime=${encodeURIComponent(from)}&toBookingDateTime=${encodeURIComponent(to)}`,
    );
    expect(pages.every((p) => p.violations.length === 0)).toBe(true);
    expect(all.length).toBeGreaterThan(50);
    expect(
      all.every((t) => t.BookingDateTime >= '2026-10-01T00:00:00' && t.BookingDateTime <= '2026-10-31T23:59:59.999Z'),
    ).toBe(true);
    expect(pages[0]!.body.Links.Next ?? '').toMatch(/fromBookingDateTime=.*page=2/);
  });

  it('report a pending card payment as PDNG, then BOOK with the same TransactionId once the clock passes its booking time', async () => {
    const before = await transactions(alice.accessToken, '22289');
    const pending = before.all.filter((t) => t.Status === 'PDNG');
    expect(pending.length).toBeGreaterThan(0);
    expect(
      pending.every(
        (t) =>
          (t as Tx & { TransactionMutability: string }).TransactionMutability === 'Mutable' && t.Balance === undefined,
      ),
    ).toBe(true);
    const target = pending[0]!;
    const start = clock.now();
    try {
      clock.advance(4 * DAY);
      const after = await transactions(alice.accessToken, '22289');
      const same = after.all.find((t) => t.TransactionId === target.TransactionId)!;
      expect(same).toMatchObject({
        Status: 'BOOK',
        TransactionMutability: 'Immutable',
        Amount: target.Amount,
        TransactionReference: target.TransactionReference,
      });
      expect(same.Balance).toBeDefined();
      expect(after.all.length).toBeGreaterThan(before.all.length); // new entries appeared meanwhile
    } finally {
      clock.set(start);
    }
  });

  it('link reversals and chargebacks to the original via SupplementaryData', async () => {
    const { all } = await transactions(alice.accessToken, '22289');
    const byId = new Map(all.map((t) => [t.TransactionId, t]));
    const linked = all.filter((t) => t.SupplementaryData?.OriginalTransactionId);
    const codes = new Set(linked.map((t) => t.ProprietaryBankTransactionCode!.Code));
    expect(codes).toEqual(new Set(['REVERSAL', 'CHARGEBACK']));
    for (const t of linked) {
      const original = byId.get(t.SupplementaryData!.OriginalTransactionId!)!;
      expect(original).toBeDefined();
      expect(original.TransactionReference).toBe(t.SupplementaryData!.OriginalTransactionReference);
      expect(t.Amount).toEqual(original.Amount);
      expect([t.CreditDebitIndicator, original.CreditDebitIndicator]).toEqual(['Credit', 'Debit']);
      expect(t.BankTransactionCode).toEqual(
        t.ProprietaryBankTransactionCode!.Code === 'REVERSAL'
          ? { Code: 'ICDT', SubCode: 'RRTN' }
          : { Code: 'CCRD', SubCode: 'CAJT' },
      );
    }
  });

  it('are the same for the same seed and clock (a second, independent sandbox)', async () => {
    const other = await startAll({ clock });
    try {
      const otherCall = caller(other.sandboxes.urls.northwind, spec);
      for (const path of [
        `${BASE}/accounts`,
        `${BASE}/accounts/31044/balances`,
        `${BASE}/accounts/31044/transactions?page=3`,
      ]) {
        const token = path.includes('31044') ? ben.accessToken : alice.accessToken;
        const [a, b] = [await call(path, { headers: auth(token) }), await otherCall(path, { headers: auth(token) })];
        expect(b.body.Data).toEqual(a.body.Data);
      }
    } finally {
      await other.sandboxes.close();
    }
  });
});

describeSpecs('access control and request validation', () => {
  it('401 without body for an unknown or revoked token', async () => {
    const res = await call(`${BASE}/accounts`, { headers: auth('nw-at-nobody') });
    expect(res.status).toBe(401);
    expect(res.text).toBe('');
    expect(res.violations).toEqual([]);
    const p = await startAll();
    try {
      p.sandboxes.northwind.revokeAccessToken(ben.accessToken);
      expect(
        (await caller(p.sandboxes.urls.northwind, spec)(`${BASE}/accounts`, { headers: auth(ben.accessToken) })).status,
      ).toBe(401);
    } finally {
      await p.sandboxes.close();
    }
  });

  it("403 for another PSU's account, 400 U011 for an unknown AccountId", async () => {
    const other = await call(`${BASE}/accounts/31044/transactions`, { headers: auth(alice.accessToken) });
    expect(other.status).toBe(403);
    expect(other.body.Errors[0]).toMatchObject({ ErrorCode: 'U011', Path: 'AccountId' });
    expect(other.violations).toEqual([]);
    const unknown = await call(`${BASE}/accounts/99999/balances`, { headers: auth(alice.accessToken) });
    expect(unknown.status).toBe(400);
    expect(unknown.body.Errors[0].ErrorCode).toBe('U011');
  });

  it('403 U028 once the account-access-consent is no longer authorised', async () => {
    const p = await startAll();
    try {
      p.sandboxes.northwind.setAccountAccessConsentStatus(ben.psuId, 'CANC');
      const res = await caller(p.sandboxes.urls.northwind, spec)(`${BASE}/accounts`, {
        headers: auth(ben.accessToken),
      });
      expect(res.status).toBe(403);
      expect(res.body.Errors[0].ErrorCode).toBe('U028');
      expect(res.violations).toEqual([]);
    } finally {
      await p.sandboxes.close();
    }
  });

  it('400 with OBIE error codes for requests that break the spec, recorded as violations', async () => {
    sandboxes.northwind.requests.clear();
    const noAuth = await call(`${BASE}/accounts`, { headers: { 'x-fapi-interaction-id': uuid() } });
    expect(noAuth.status).toBe(400);
    expect(noAuth.body.Errors).toContainEqual(expect.objectContaining({ ErrorCode: 'U007', Path: 'Authorization' }));
    expect(noAuth.violations).toEqual([]);
    const badDate = await call(`${BASE}/accounts/22289/transactions?fromBookingDateTime=last-week`, {
      headers: { ...auth(alice.accessToken), 'x-fapi-auth-date': 'yesterday' },
    });
    expect(badDate.status).toBe(400);
    expect(
      badDate.body.Errors.map((e: { ErrorCode: string; Path: string }) => `${e.ErrorCode} ${e.Path}`).sort(),
    ).toEqual(['U002 fromBookingDateTime', 'U006 x-fapi-auth-date']);
    const recorded = sandboxes.northwind.requests.violations();
    expect(recorded).toHaveLength(2);
    expect(recorded[0]!.violations).toContain('header Authorization is required');
    expect(recorded[0]!.headers['x-fapi-interaction-id']).toBeTruthy();
    const notImplemented = await call(`${BASE}/accounts/22289/beneficiaries`, {
      headers: auth(alice.accessToken),
      validate: false,
    });
    expect(notImplemented.status).toBe(404);
  });

  it('answers beyond the last page with 400 U002', async () => {
    const res = await call(`${BASE}/accounts/22290/transactions?page=99`, { headers: auth(alice.accessToken) });
    expect(res.status).toBe(400);
    expect(res.body.Errors[0]).toMatchObject({ ErrorCode: 'U002', Path: 'page' });
  });
});
