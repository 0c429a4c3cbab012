import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSeedFile, seedAnchor, seedTime, type SeedPayment } from '../../lib/seed.ts';
import { createTestClock } from '../../sandboxes/lib/clock.ts';
import { SANDBOX_PAYMENTS } from '../../sandboxes/manifest.ts';
import { SANDBOX_SEED_FILE } from '../../sandboxes/seed.ts';
import { gql } from '../gateway/helpers.ts';
import { scaled } from '../support/time.ts';
import { alice, newWebhookSecret, PAYMENT, startPaymentsStack, type PaymentsStack } from './stack.ts';

/**
 * The seeded world reconciles. The seeded payments are the sandbox bank's own records (loaded at
 * its start from sandboxes/seed.json) and the ledger's seed rows (the same file), so for every day
 * the seeded world touches, the reconciliation that `npm run reconcile` and
 * Query.paymentReconciliation run (domain/reconciliation.ts against the bank's real settlement
 * report) matches every seeded payment the bank settled or rejected that day and finds no break;
 * breaks seeded into those days' reports are found exactly; and the seeded payments still in
 * flight are ones the bank knows: the poller follows them without an error (resolving the UNKNOWN
 * ones under their original bank key) and a seeded consent awaiting authorisation can be approved
 * and paid. With DATABASE_URL the ledger is the real PostgreSQL, else PGlite.
 */
const clock = createTestClock('2026-11-23T12:34:56.000Z');
const seed = readSeedFile(SANDBOX_SEED_FILE);
const anchor = seedAnchor(clock.now());
const day = (seconds: number) => seedTime(anchor, seconds).toISOString().slice(0, 10);

/** The day the bank settled or rejected a seeded payment (the day its report lists it), or null. */
function reportDay(p: SeedPayment): string | null {
  if (p.settledAt !== null) return day(p.settledAt);
  if (p.status === 'REJECTED' && p.bank.paymentId) return day(p.history.at(-1)!.at);
  return null;
}

/** Every day a seeded payment was created or changed status on, and the payments that day's report must match. */
const expected = new Map<string, string[]>();
for (const p of seed.payments) {
  for (const h of p.history) if (!expected.has(day(h.at))) expected.set(day(h.at), []);
  const d = reportDay(p);
  if (d) expected.get(d)!.push(p.paymentId);
}
const DATES = [...expected.keys()].sort();

const RECONCILE = `query($date: Date!) { paymentReconciliation(date: $date) {
  date complete bankRows ledgerPayments matched breaks { kind paymentId bankPaymentId } } }`;

type Report = {
  bankRows: number;
  ledgerPayments: number;
  matched: string[];
  breaks: { kind: string; paymentId: string | null; bankPaymentId: string | null }[];
};

let stack: PaymentsStack;

beforeAll(async () => {
  // Webhooks on, so that anything the bank sent about the loaded records would reach the ledger.
  stack = await startPaymentsStack({ now: clock.now, webhookSecret: newWebhookSecret() });
}, scaled(120_000));

afterAll(async () => {
  await stack?.close();
});

async function reconcile(date: string): Promise<Report> {
  const res = await gql(stack.gateways[0]!.url, RECONCILE, { token: await stack.staffToken(), variables: { date } });
  expect(res.body.errors, date).toBeUndefined();
  return res.body.data!.paymentReconciliation as Report;
}

describe('the seeded world', () => {
  it('is months of payments, loaded by the bank without a single webhook', async () => {
    expect(DATES.length).toBeGreaterThan(10);
    expect(Date.parse(DATES[0]!)).toBeLessThan(clock.now().getTime() - 90 * 86_400_000);
    const northwind = stack.sandboxes.northwind;
    expect(northwind.paymentConsents()).toHaveLength(seed.payments.length);
    // Every payment the customer authorised was submitted: the bank has it, whatever the ledger learnt.
    const authorised = seed.payments.filter((p) => p.history.some((h) => h.status === 'AUTHORISED'));
    expect(
      northwind
        .payments()
        .map((p) => p.initiation.EndToEndIdentification)
        .sort(),
    ).toEqual(authorised.map((p) => p.paymentId).sort());
    // The outbox points at the payments subgraph, yet the loaded history queues nothing.
    await northwind.webhooks.flush();
    expect(northwind.webhooks.deliveries()).toEqual([]);
  });

  it('reconciles on every seeded day: each payment the bank settled or rejected is matched, no break', async () => {
    let matched = 0;
    for (const date of DATES) {
      const r = await reconcile(date);
      expect({ date, breaks: r.breaks }).toEqual({ date, breaks: [] });
      expect({ date, matched: [...r.matched].sort() }).toEqual({ date, matched: [...expected.get(date)!].sort() });
      expect(r.bankRows).toBe(expected.get(date)!.length);
      expect(r.ledgerPayments).toBe(expected.get(date)!.length);
      matched += r.matched.length;
    }
    // Every manifest payment that reached the bank's settlement (settled, refunded later, rejected) is on a report.
    expect(matched).toBe(
      SANDBOX_PAYMENTS.filter((p) => ['SETTLED', 'REFUNDED', 'REJECTED'].includes(p.outcome)).length,
    );
  });

  it(
    '`npm run reconcile -- --date <day> --json` exits 0 with no break on every seeded day',
    async () => {
      const env = { ...process.env, GATEWAY_URL: stack.gateways[0]!.url, RECONCILE_TOKEN: await stack.staffToken() };
      const run = (date: string) =>
        promisify(execFile)(process.execPath, ['scripts/reconcile.ts', '--date', date, '--json'], { env }).then(
          (out) => ({ date, code: 0, report: JSON.parse(out.stdout) as Report }),
          (err: { code: number; stderr: string }) => ({ date, code: err.code, report: err.stderr }),
        );
      const results = [];
      // A few at a time: each is a node process.
      for (let i = 0; i < DATES.length; i += 4) results.push(...(await Promise.all(DATES.slice(i, i + 4).map(run))));
      for (const r of results) {
        expect({ date: r.date, code: r.code }).toEqual({ date: r.date, code: 0 });
        expect((r.report as Report).breaks).toEqual([]);
        expect((r.report as Report).matched.length).toBe(expected.get(r.date)!.length);
      }
    },
    scaled(120_000),
  );

  it('finds exactly the breaks seeded into the reports of seeded days', async () => {
    const northwind = stack.sandboxes.northwind;
    const settled = seed.payments.filter((p) => p.settledAt !== null);
    const [missing, amount, status] = [settled[0]!, settled[1]!, settled[2]!];
    const bankId = (p: SeedPayment) => p.bank.paymentId!;
    northwind.settlement.addBreak(reportDay(missing)!, { kind: 'missing_at_bank', paymentId: bankId(missing) });
    northwind.settlement.addBreak(reportDay(amount)!, {
      kind: 'amount_mismatch',
      paymentId: bankId(amount),
      amount: '1.00',
    });
    northwind.settlement.addBreak(reportDay(status)!, {
      kind: 'status_mismatch',
      paymentId: bankId(status),
      status: 'REJECTED',
    });
    northwind.settlement.addBreak(reportDay(missing)!, {
      kind: 'extra_at_bank',
      paymentId: 'DPXSEEDEDWORLD01',
      amount: '7.00',
      currency: 'GBP',
      status: 'SETTLED',
    });
    try {
      const found: string[] = [];
      for (const date of DATES)
        for (const b of (await reconcile(date)).breaks)
          found.push(`${date} ${b.kind} ${b.paymentId ?? b.bankPaymentId}`);
      expect(found.sort()).toEqual(
        [
          `${reportDay(missing)} MISSING_AT_BANK ${missing.paymentId}`,
          `${reportDay(missing)} MISSING_IN_LEDGER DPXSEEDEDWORLD01`,
          `${reportDay(amount)} AMOUNT_MISMATCH ${amount.paymentId}`,
          `${reportDay(status)} STATUS_MISMATCH ${status.paymentId}`,
        ].sort(),
      );
    } finally {
      northwind.settlement.clearBreaks();
    }
  });

  it('its payments in flight are ones the bank knows: followed without error, approved and paid like live ones', async () => {
    const northwind = stack.sandboxes.northwind;
    // The poller alone moves them here, so that each round's count is the test's to check.
    northwind.webhooks.configure({ url: undefined, secrets: [] });
    const statusOf = async (p: SeedPayment) => {
      const token = await stack.token(p.customerId);
      const res = await gql(stack.gateways[0]!.url, PAYMENT, { token, variables: { id: p.paymentId } });
      expect(res.body.errors).toBeUndefined();
      return (res.body.data!.payment as { status: string }).status;
    };
    const inFlight = (s: string) => seed.payments.filter((p) => p.status === s);
    const bankPayments = northwind.payments().length;

    // UNKNOWN: the bank has the payment; asked again under the original key, it answers with it (ACSP: ACCEPTED).
    expect(await stack.payments.poller.runOnce()).toBe(inFlight('UNKNOWN').length);
    for (const p of inFlight('UNKNOWN')) expect(await statusOf(p)).toBe('ACCEPTED');
    for (const p of [...inFlight('PENDING'), ...inFlight('ACCEPTED'), ...inFlight('AWAITING_AUTHORISATION')])
      expect(await statusOf(p)).toBe(p.status);
    expect(northwind.payments()).toHaveLength(bankPayments);

    // The customer approves a seeded consent at the bank, through the link the payment shows (the
    // bank's SCA page for its consent, like a payment initiated now): the platform submits it, the bank takes it.
    const awaiting = inFlight('AWAITING_AUTHORISATION').find((p) => p.customerId === alice.customerId)!;
    const shown = await gql(stack.gateways[0]!.url, 'query($id: ID!) { payment(id: $id) { authorisationUrl } }', {
      token: await stack.token(awaiting.customerId),
      variables: { id: awaiting.paymentId },
    });
    const link = (shown.body.data!.payment as { authorisationUrl: string | null }).authorisationUrl;
    expect(link).toContain(encodeURIComponent(awaiting.bank.consentId));
    expect((await fetch(link!)).status).toBe(200);
    const approved = await fetch(link!, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams({ decision: 'approve', customerId: awaiting.customerId }).toString(),
    });
    expect(approved.status).toBe(200);
    expect(await stack.payments.poller.runOnce()).toBe(1);
    expect(await statusOf(awaiting)).toBe('ACCEPTED');
    expect(northwind.payments().filter((x) => x.initiation.EndToEndIdentification === awaiting.paymentId)).toHaveLength(
      1,
    );
    expect(await stack.payments.poller.runOnce()).toBe(0);

    // None of this touched a seeded day's reconciliation.
    for (const date of DATES) expect((await reconcile(date)).breaks, date).toEqual([]);
  });
});
