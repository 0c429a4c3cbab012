import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestClock } from '../../sandboxes/lib/clock.ts';
import { gql } from '../gateway/helpers.ts';
import { scaled } from '../support/time.ts';
import { INITIATE, paymentInput, startPaymentsStack, type PaymentsStack } from './stack.ts';

/**
 * Reconciliation (domain/reconciliation.ts) of the sandbox bank's daily settlement report with the
 * ledger, through the gateway as an operator reads it and through `npm run reconcile`. The day's
 * payments are made through the bank (initiated, authorised, submitted, settled or rejected by the
 * bank); the report then has breaks seeded into it (sandbox hook), and one payment's outcome is
 * kept from the ledger. The report must find every break and nothing else.
 */
const DAY = '2026-11-20';
const clock = createTestClock(`${DAY}T09:00:00.000Z`);
let stack: PaymentsStack;
const ids: Record<'missing' | 'amount' | 'status' | 'settled' | 'rejected' | 'late', string> = {} as never;
let bankIdOf: (paymentId: string) => string;

const RECONCILE = `query($date: Date!) { paymentReconciliation(date: $date) {
  date complete bankRows ledgerPayments matched
  breaks { kind paymentId bankPaymentId ledgerAmount { amount currency } bankAmount { amount currency } ledgerStatus bankStatus } } }`;

beforeAll(async () => {
  stack = await startPaymentsStack({ now: clock.now });
  const token = await stack.token();
  const make = async (amount: string) => {
    const res = await gql(stack.gateways[0]!.url, INITIATE, {
      token,
      variables: { input: paymentInput(`rec-${randomUUID()}`, { amount: { amount, currency: 'GBP' } }) },
    });
    expect(res.body.errors).toBeUndefined();
    const id = (res.body.data!.initiatePayment as { id: string }).id;
    const consent = stack.sandboxes.northwind
      .paymentConsents()
      .find((c) => c.request.Data.Initiation.EndToEndIdentification === id)!;
    stack.sandboxes.northwind.authorisePaymentConsent(consent.consentId, {});
    return id;
  };
  ids.missing = await make('10.00');
  ids.amount = await make('11.00');
  ids.status = await make('12.00');
  ids.settled = await make('13.00');
  ids.rejected = await make('9999999.00');
  ids.late = await make('14.00');
  await stack.payments.poller.runOnce(); // submitted: ACCEPTED at the bank
  bankIdOf = (paymentId) =>
    stack.sandboxes.northwind.payments().find((p) => p.initiation.EndToEndIdentification === paymentId)!.paymentId;
  // The bank settles (or rejects) them; the ledger learns it, except for one whose status reads fail.
  clock.advance(11_000);
  stack.sandboxes.northwind.faults.inject({
    method: 'GET',
    path: new RegExp(`/domestic-payments/${bankIdOf(ids.late)}$`),
    status: 503,
  });
  await stack.payments.poller.runOnce();
}, scaled(120_000));

afterAll(async () => {
  await stack?.close();
});

type Report = {
  bankRows: number;
  ledgerPayments: number;
  matched: string[];
  breaks: {
    kind: string;
    paymentId: string | null;
    bankPaymentId: string | null;
    bankAmount: unknown;
    ledgerStatus: string | null;
    bankStatus: string | null;
  }[];
};

async function reconcile(date = DAY): Promise<Report> {
  const res = await gql(stack.gateways[0]!.url, RECONCILE, { token: await stack.staffToken(), variables: { date } });
  expect(res.body.errors).toBeUndefined();
  return res.body.data!.paymentReconciliation as Report;
}

describe('reconciliation of the settlement report with the ledger', () => {
  it('the day of payments made through the bank reconciles, except the payment whose outcome the ledger missed', async () => {
    const r = await reconcile();
    expect(r.bankRows).toBe(6);
    expect(r.breaks).toEqual([
      expect.objectContaining({
        kind: 'STATUS_MISMATCH',
        paymentId: ids.late,
        ledgerStatus: 'ACCEPTED',
        bankStatus: 'SETTLED',
      }),
    ]);
    expect(new Set(r.matched)).toEqual(new Set([ids.missing, ids.amount, ids.status, ids.settled, ids.rejected]));
    // The seeded world's payments settled on earlier days (test/payments/seeded-world.test.ts reconciles those).
    expect(r.ledgerPayments).toBe(5);
  });

  it('finds every break seeded into the report and nothing else', async () => {
    const northwind = stack.sandboxes.northwind;
    northwind.settlement.addBreak(DAY, { kind: 'missing_at_bank', paymentId: bankIdOf(ids.missing) });
    northwind.settlement.addBreak(DAY, { kind: 'amount_mismatch', paymentId: bankIdOf(ids.amount), amount: '110.00' });
    northwind.settlement.addBreak(DAY, {
      kind: 'status_mismatch',
      paymentId: bankIdOf(ids.status),
      status: 'REJECTED',
    });
    northwind.settlement.addBreak(DAY, {
      kind: 'extra_at_bank',
      paymentId: 'DPXEXTRA000001',
      amount: '5.00',
      currency: 'GBP',
      status: 'SETTLED',
    });
    try {
      const r = await reconcile();
      const found = r.breaks.map((b) => `${b.kind} ${b.paymentId ?? b.bankPaymentId}`).sort();
      expect(found).toEqual(
        [
          `MISSING_AT_BANK ${ids.missing}`,
          `AMOUNT_MISMATCH ${ids.amount}`,
          `STATUS_MISMATCH ${ids.status}`,
          `STATUS_MISMATCH ${ids.late}`,
          'MISSING_IN_LEDGER DPXEXTRA000001',
        ].sort(),
      );
      expect(r.breaks.find((b) => b.kind === 'AMOUNT_MISMATCH')!.bankAmount).toEqual({
        amount: '110.00',
        currency: 'GBP',
      });
      expect(new Set(r.matched)).toEqual(new Set([ids.settled, ids.rejected]));

      // The same report from the command line: a table, --json, and exit status 1 on breaks.
      const env = { ...process.env, GATEWAY_URL: stack.gateways[0]!.url, RECONCILE_TOKEN: await stack.staffToken() };
      const run = (args: string[]) =>
        promisify(execFile)(process.execPath, ['scripts/reconcile.ts', ...args], { env }).then(
          (out) => ({ code: 0, ...out }),
          (err: { code: number; stdout: string; stderr: string }) => ({
            code: err.code,
            stdout: err.stdout,
            stderr: err.stderr,
          }),
        );
      const table = await run(['--date', DAY]);
      expect(table.code).toBe(1);
      for (const id of [ids.missing, ids.amount, ids.status, ids.late, 'DPXEXTRA000001'])
        expect(table.stdout).toContain(id);
      expect(table.stdout).toMatch(/matched 2, breaks 5/);
      console.info(`npm run reconcile -- --date ${DAY}\n${table.stdout}`);
      const json = await run(['--date', DAY, '--json']);
      expect(json.code).toBe(1);
      expect((JSON.parse(json.stdout) as Report).breaks).toHaveLength(5);
      const clean = await run(['--date', '2026-11-19']);
      expect(clean.code).toBe(0);
      expect(clean.stdout).toMatch(/matched 0, breaks 0/);
      const bad = await run(['--date', '2026-13-01']);
      expect(bad.code).toBe(2);
      expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    } finally {
      northwind.settlement.clearBreaks(DAY);
    }
  });

  it('is for operators only; a future date is refused', async () => {
    const customer = await gql(stack.gateways[0]!.url, RECONCILE, {
      token: await stack.token(),
      variables: { date: DAY },
    });
    expect(customer.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const future = await gql(stack.gateways[0]!.url, RECONCILE, {
      token: await stack.staffToken(),
      variables: { date: '2026-11-21' },
    });
    expect(future.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });
});
