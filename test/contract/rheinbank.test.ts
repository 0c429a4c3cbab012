import { afterAll, beforeAll, expect, it } from 'vitest';
import { SANDBOX_CUSTOMERS } from '../../sandboxes/manifest.ts';
import { DAY } from '../../sandboxes/lib/clock.ts';
import { isValidIban } from '../../sandboxes/lib/identifiers.ts';
import { loadPartnerSpec, type LoadedSpec } from '../../sandboxes/lib/openapi.ts';
import { describeWithSpecs } from '../support/partner-specs.ts';
import type { RunningSandboxes, TestClock } from '../../sandboxes/index.ts';
import { allPages, caller, startAll, uuid, type CallResult } from './helpers.ts';

// Validating the sandbox against the partner's published spec is the point of this file: without the spec it is
// skipped.
const describeSpecs = describeWithSpecs(['berlin-group']);
let spec: LoadedSpec;
const customers = SANDBOX_CUSTOMERS.filter((c) => c.banks.rheinbank);
const alice = customers.find((c) => c.displayName === 'Alice')!.banks.rheinbank!;
const clara = customers.find((c) => c.displayName === 'Clara')!.banks.rheinbank!;
const ALICE_ACCOUNT = alice.accounts[0]!.bankAccountId;

let sandboxes: RunningSandboxes;
let clock: TestClock;
let call: ReturnType<typeof caller>;

beforeAll(async () => {
  spec = loadPartnerSpec('berlin-group');
  ({ sandboxes, clock } = await startAll());
  call = caller(sandboxes.urls.rheinbank, spec);
});
afterAll(async () => {
  await sandboxes.close();
});

const headers = (bank: { accessToken: string; consentId: string }) => ({
  authorization: `Bearer ${bank.accessToken}`,
  'consent-id': bank.consentId,
  'x-request-id': uuid(),
  'psu-ip-address': '192.168.8.78',
});
type BgTx = {
  transactionId: string;
  entryReference: string;
  bookingDate?: string;
  valueDate: string;
  transactionAmount: { amount: string; currency: string };
  bankTransactionCode: string;
  proprietaryBankTransactionCode: string;
  remittanceInformationStructured?: { reference: string; referenceType: string };
  additionalInformation?: string;
  balanceAfterTransaction?: { balanceAmount: { amount: string } };
};

async function transactions(
  bank: { accessToken: string; consentId: string },
  accountId: string,
  query = 'bookingStatus=both',
): Promise<{ pages: CallResult[]; booked: BgTx[]; pending: BgTx[] }> {
  const first = await call(`/v1/accounts/${accountId}/transactions?${query}`, { headers: headers(bank) });
  const pages = await allPages(first, (page) => {
    const next = page.body?.transactions?._links?.next?.href as string | undefined;
    return next ? call(next, { headers: headers(bank) }) : undefined;
  });
  return {
    pages,
    booked: pages.flatMap((p) => p.body.transactions.booked ?? []),
    pending: pages.flatMap((p) => p.body.transactions.pending ?? []),
  };
}

const cents = (amount: string) => Math.round(Number(amount) * 100);

describeSpecs('every route for every Rheinbank customer conforms to Berlin Group 1.3.12', () => {
  for (const customer of customers) {
    const bank = customer.banks.rheinbank!;
    it(`${customer.displayName}: accounts, account, balances, transactions, details and consent`, async () => {
      const list = await call('/v1/accounts?withBalance=true', { headers: headers(bank) });
      expect(list.status).toBe(200);
      expect(list.violations).toEqual([]);
      expect(list.body.accounts.map((a: { resourceId: string }) => a.resourceId)).toEqual(
        bank.accounts.map((a) => a.bankAccountId),
      );
      expect(
        list.body.accounts.every(
          (a: { iban: string; balances: unknown[] }) => isValidIban(a.iban) && a.balances.length === 3,
        ),
      ).toBe(true);

      for (const account of bank.accounts) {
        const one = await call(`/v1/accounts/${account.bankAccountId}`, { headers: headers(bank) });
        expect(one.violations).toEqual([]);
        expect(one.body.account).toMatchObject({
          resourceId: account.bankAccountId,
          currency: account.currency,
          name: account.name,
          status: 'enabled',
        });

        const balances = await call(`/v1/accounts/${account.bankAccountId}/balances`, { headers: headers(bank) });
        expect(balances.violations).toEqual([]);
        const byType = Object.fromEntries(
          balances.body.balances.map((b: { balanceType: string; balanceAmount: { amount: string } }) => [
            b.balanceType,
            cents(b.balanceAmount.amount),
          ]),
        );

        const { pages, booked, pending } = await transactions(bank, account.bankAccountId);
        for (const page of pages) expect(page.violations).toEqual([]);
        expect(booked.length + pending.length).toBeGreaterThan(account.transactionCount * 0.8);
        expect(
          booked.every((t) => t.bookingDate && t.balanceAfterTransaction && t.transactionId === t.entryReference),
        ).toBe(true);
        expect(pending.every((t) => t.bookingDate === undefined && t.balanceAfterTransaction === undefined)).toBe(true);
        // interimBooked = newest booked running balance; interimAvailable = interimBooked - pending debits.
        expect(cents(booked[0]!.balanceAfterTransaction!.balanceAmount.amount)).toBe(byType.interimBooked);
        const pendingDebits = pending
          .filter((t) => t.transactionAmount.amount.startsWith('-'))
          .reduce((s, t) => s - cents(t.transactionAmount.amount), 0);
        expect(byType.interimAvailable).toBe(byType.interimBooked - pendingDebits);

        const details = await call(`/v1/accounts/${account.bankAccountId}/transactions/${booked[0]!.transactionId}`, {
          headers: headers(bank),
        });
        expect(details.violations).toEqual([]);
        expect(details.body.transactionsDetails).toEqual(booked[0]);
      }

      for (const path of [`/v1/consents/${bank.consentId}`, `/v1/consents/${bank.consentId}/status`]) {
        const res = await call(path, {
          headers: { authorization: `Bearer ${bank.accessToken}`, 'x-request-id': uuid() },
        });
        expect(res.violations).toEqual([]);
        expect(res.body.consentStatus).toBe('valid');
      }
      expect(sandboxes.rheinbank.requests.violations()).toEqual([]);
      expect(sandboxes.rheinbank.requests.responseViolations()).toEqual([]);
    });
  }

  it('serves the same API under the spec server path /psd2, with links under it', async () => {
    const plain = await call(`/v1/accounts/${ALICE_ACCOUNT}/transactions?bookingStatus=booked&itemsPerPage=5`, {
      headers: headers(alice),
    });
    const prefixed = await call(`/psd2/v1/accounts/${ALICE_ACCOUNT}/transactions?bookingStatus=booked&itemsPerPage=5`, {
      headers: headers(alice),
    });
    expect(prefixed.violations).toEqual([]);
    expect(prefixed.body.transactions.booked.map((t: BgTx) => t.transactionId)).toEqual(
      plain.body.transactions.booked.map((t: BgTx) => t.transactionId),
    );
    expect(prefixed.body.transactions._links.next.href).toMatch(/^\/psd2\/v1\/accounts\//);
    expect(prefixed.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describeSpecs('transactions', () => {
  it('split by bookingStatus and filter by date', async () => {
    const booked = await call(
      `/v1/accounts/${ALICE_ACCOUNT}/transactions?bookingStatus=booked&dateFrom=2026-09-01&dateTo=2026-09-30`,
      { headers: headers(alice) },
    );
    expect(booked.violations).toEqual([]);
    expect(booked.body.transactions.pending).toBeUndefined();
    expect(booked.body.transactions.booked.length).toBeGreaterThan(10);
    expect(
      booked.body.transactions.booked.every(
        (t: BgTx) => t.bookingDate! >= '2026-09-01' && t.bookingDate! <= '2026-09-30',
      ),
    ).toBe(true);
    const pending = await call(`/v1/accounts/${ALICE_ACCOUNT}/transactions?bookingStatus=pending&withBalance=true`, {
      headers: headers(alice),
    });
    expect(pending.violations).toEqual([]);
    expect(pending.body.transactions.booked).toBeUndefined();
    expect(pending.body.transactions.pending.length).toBeGreaterThan(0);
    expect(pending.body.balances).toHaveLength(3);
    const info = await call(`/v1/accounts/${ALICE_ACCOUNT}/transactions?bookingStatus=information`, {
      headers: headers(alice),
    });
    expect(info.body.transactions).toMatchObject({ information: [] });
  });

  it('move a pending entry to booked with the same transactionId as the clock passes', async () => {
    const before = await transactions(alice, ALICE_ACCOUNT);
    const target = before.pending[0]!;
    const start = clock.now();
    try {
      clock.advance(4 * DAY);
      const after = await transactions(alice, ALICE_ACCOUNT);
      expect(after.pending.find((t) => t.transactionId === target.transactionId)).toBeUndefined();
      const booked = after.booked.find((t) => t.transactionId === target.transactionId)!;
      expect(booked).toMatchObject({
        entryReference: target.entryReference,
        transactionAmount: target.transactionAmount,
        valueDate: target.valueDate,
      });
      expect(booked.bookingDate).toBeDefined();
    } finally {
      clock.set(start);
    }
  });

  it('link reversals and chargebacks to the original entry', async () => {
    const { booked, pending } = await transactions(clara, clara.accounts[0]!.bankAccountId);
    const all = [...booked, ...pending];
    const byId = new Map(all.map((t) => [t.transactionId, t]));
    const linked = all.filter((t) => t.remittanceInformationStructured?.referenceType === 'ORIGINAL_TRANSACTION');
    expect(new Set(linked.map((t) => t.bankTransactionCode))).toEqual(new Set(['PMNT-ICDT-RRTN', 'PMNT-CCRD-CAJT']));
    for (const t of linked) {
      const original = byId.get(t.remittanceInformationStructured!.reference)!;
      expect(original).toBeDefined();
      expect(t.additionalInformation).toMatch(new RegExp(`^ORIGINAL:${original.transactionId} `));
      expect(cents(t.transactionAmount.amount)).toBe(-cents(original.transactionAmount.amount));
      expect(t.proprietaryBankTransactionCode).toBe(t.bankTransactionCode.endsWith('RRTN') ? 'REVERSAL' : 'CHARGEBACK');
    }
  });

  it('are the same for the same seed and clock', async () => {
    const other = await startAll({ clock });
    try {
      const path = `/v1/accounts/${ALICE_ACCOUNT}/transactions?bookingStatus=both&pageIndex=2`;
      const a = await call(path, { headers: headers(alice) });
      const b = await caller(other.sandboxes.urls.rheinbank, spec)(path, { headers: headers(alice) });
      expect(b.body).toEqual(a.body);
    } finally {
      await other.sandboxes.close();
    }
  });
});

describeSpecs('errors', () => {
  const tpp = (status: number, code: string, res: CallResult) => {
    expect(res.status).toBe(status);
    expect(res.body.tppMessages[0]).toMatchObject({ category: 'ERROR', code });
    expect(res.violations).toEqual([]);
  };

  it('400 FORMAT_ERROR for missing or malformed required headers and parameters', async () => {
    const { 'x-request-id': _r, ...noRequestId } = headers(alice);
    tpp(400, 'FORMAT_ERROR', await call('/v1/accounts', { headers: noRequestId }));
    tpp(400, 'FORMAT_ERROR', await call('/v1/accounts', { headers: { ...headers(alice), 'x-request-id': 'abc' } }));
    const { 'consent-id': _c, ...noConsent } = headers(alice);
    const res = await call('/v1/accounts', { headers: noConsent });
    tpp(400, 'FORMAT_ERROR', res);
    expect(res.body.tppMessages[0].path).toBe('Consent-ID');
    tpp(400, 'FORMAT_ERROR', await call(`/v1/accounts/${ALICE_ACCOUNT}/transactions`, { headers: headers(alice) }));
    tpp(
      400,
      'PERIOD_INVALID',
      await call(
        `/v1/accounts/${ALICE_ACCOUNT}/transactions?bookingStatus=booked&dateFrom=2026-10-02&dateTo=2026-10-01`,
        { headers: headers(alice) },
      ),
    );
    tpp(
      400,
      'PARAMETER_NOT_SUPPORTED',
      await call(`/v1/accounts/${ALICE_ACCOUNT}/transactions?bookingStatus=booked&deltaList=true`, {
        headers: headers(alice),
      }),
    );
  });

  it('401/403/404 for tokens, consents and accounts that do not fit together', async () => {
    tpp(
      401,
      'TOKEN_INVALID',
      await call('/v1/accounts', { headers: { ...headers(alice), authorization: 'Bearer wrong' } }),
    );
    tpp(
      401,
      'CONSENT_INVALID',
      await call('/v1/accounts', { headers: { ...headers(alice), 'consent-id': clara.consentId } }),
    );
    tpp(
      403,
      'CONSENT_UNKNOWN',
      await call('/v1/accounts', { headers: { ...headers(alice), 'consent-id': 'rb-consent-nope' } }),
    );
    tpp(
      404,
      'RESOURCE_UNKNOWN',
      await call(`/v1/accounts/${clara.accounts[0]!.bankAccountId}/balances`, { headers: headers(alice) }),
    );
    tpp(
      404,
      'RESOURCE_UNKNOWN',
      await call(`/v1/accounts/${ALICE_ACCOUNT}/transactions/RBNOPE`, { headers: headers(alice) }),
    );
  });

  it('401 CONSENT_INVALID / CONSENT_EXPIRED once the consent is terminated or expired', async () => {
    const p = await startAll();
    try {
      const c = caller(p.sandboxes.urls.rheinbank, spec);
      const del = await c(`/v1/consents/${alice.consentId}`, {
        method: 'DELETE',
        headers: { authorization: `Bearer ${alice.accessToken}`, 'x-request-id': uuid() },
      });
      expect(del.status).toBe(204);
      expect(del.violations).toEqual([]);
      tpp(401, 'CONSENT_INVALID', await c('/v1/accounts', { headers: headers(alice) }));
      expect(
        (
          await c(`/v1/consents/${alice.consentId}/status`, {
            headers: { authorization: `Bearer ${alice.accessToken}`, 'x-request-id': uuid() },
          })
        ).body.consentStatus,
      ).toBe('terminatedByTpp');
      p.sandboxes.rheinbank.setConsentStatus(clara.consentId, 'expired');
      tpp(401, 'CONSENT_EXPIRED', await c('/v1/accounts', { headers: headers(clara) }));
    } finally {
      await p.sandboxes.close();
    }
  });
});
