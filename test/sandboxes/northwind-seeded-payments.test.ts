import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../lib/logger.ts';
import { readSeedFile, seedAnchor, seedTime } from '../../lib/seed.ts';
import { createTestClock, startSandboxes, type RunningSandboxes } from '../../sandboxes/index.ts';
import { PLATFORM_PARTNER_CREDENTIALS } from '../../sandboxes/manifest.ts';
import { publishedSeededPayments, startNorthwind } from '../../sandboxes/northwind/index.ts';
import { SANDBOX_SEED_FILE } from '../../sandboxes/seed.ts';

/**
 * The seeded payments as the sandbox bank serves them: loaded at start from sandboxes/seed.json
 * (northwind/seeded.ts), answered over the Payment Initiation API in the bank's format with their
 * recorded statuses and times (validated against the OBIE spec when PARTNER_SPECS_DIR has it), and
 * listed on the settlement report of the day they settled or were rejected.
 */
const T0 = '2026-11-23T12:34:56.000Z';
const clock = createTestClock(T0);
const logger = createLogger('northwind-seeded-test', 'silent');
const seed = readSeedFile(SANDBOX_SEED_FILE);
const records = publishedSeededPayments();
const anchor = seedAnchor(clock.now());
const PIS = '/open-banking/v4.0/pisp';
const auth = { authorization: `Bearer ${PLATFORM_PARTNER_CREDENTIALS.northwindPisToken}` };

let sandboxes: RunningSandboxes;

beforeAll(async () => {
  sandboxes = await startSandboxes({ ports: 0, logger, now: clock.now });
});
afterAll(async () => {
  await sandboxes?.close();
});

const getJson = async (path: string) => {
  const res = await fetch(`${sandboxes.urls.northwind}${path}`, { headers: auth });
  expect(res.status).toBe(200);
  return (await res.json()) as { Data: Record<string, unknown> };
};

describe('the seeded payments at the sandbox bank', () => {
  it('answers each with its recorded status, time and reason, in the bank format', async () => {
    for (const p of seed.payments) {
      const consent = await getJson(`${PIS}/domestic-payment-consents/${p.bank.consentId}`);
      const bank = records.domesticPayments.find((x) => x.ConsentId === p.bank.consentId);
      expect(consent.Data.Status).toBe(bank ? 'COND' : 'AWAU');
      expect((consent.Data.Initiation as { EndToEndIdentification: string }).EndToEndIdentification).toBe(p.paymentId);
      if (!bank) continue;
      const last = bank.StatusHistory.at(-1)!;
      const payment = await getJson(`${PIS}/domestic-payments/${bank.DomesticPaymentId}`);
      expect(payment.Data).toMatchObject({
        DomesticPaymentId: bank.DomesticPaymentId,
        Status: last.Status,
        StatusUpdateDateTime: seedTime(anchor, last.StatusUpdateDateTime).toISOString(),
        Initiation: expect.objectContaining({ InstructedAmount: { Amount: p.amount, Currency: 'GBP' } }),
      });
      if (last.StatusReason)
        expect(payment.Data.StatusReason).toEqual([
          { StatusReasonCode: last.StatusReason.Code, StatusReasonDescription: last.StatusReason.Description },
        ]);
      else expect(payment.Data.StatusReason).toBeUndefined();
      // What the ledger learnt is what the bank says: settled ones are SETTLED there, rejected ones REJECTED...
      const mapped = { PDNG: 'PENDING', ACSP: 'ACCEPTED', ACCC: 'SETTLED', RJCT: 'REJECTED', BLCK: 'FAILED' }[
        last.Status as string
      ];
      // ...except a REFUNDED one (the refund is not a payment status at the bank) and an UNKNOWN one (not learnt yet).
      expect(p.status === 'REFUNDED' ? 'SETTLED' : p.status === 'UNKNOWN' ? 'ACCEPTED' : p.status).toBe(mapped);
    }
    const northwind = sandboxes.northwind.requests.list();
    expect(northwind.flatMap((r) => r.responseViolations)).toEqual([]);
  });

  it("lists the ones settled or rejected on a day in that day's settlement report", () => {
    const byDay = new Map<string, string[]>();
    for (const p of records.domesticPayments) {
      const final = p.StatusHistory.find((s) => s.Status === 'ACSC' || s.Status === 'RJCT');
      if (!final) continue;
      const day = seedTime(anchor, final.StatusUpdateDateTime).toISOString().slice(0, 10);
      byDay.set(day, [...(byDay.get(day) ?? []), p.DomesticPaymentId]);
    }
    expect(byDay.size).toBeGreaterThan(5);
    for (const [day, ids] of byDay)
      expect(
        sandboxes.northwind.settlement
          .rows(day)
          .map((r) => r.payment_id)
          .sort(),
      ).toEqual(ids.sort());
  });

  it('refuses records that contradict the bank, and loads none when told so', async () => {
    const wrongAccount = structuredClone(records);
    wrongAccount.domesticPaymentConsents[0]!.Debtor.bankAccountId = '31044'; // Ben's account, not Alice's
    await expect(startNorthwind({ port: 0, logger, now: clock.now, seededPayments: wrongAccount })).rejects.toThrow(
      /no Northwind account 31044 of the PSU/,
    );
    const none = await startNorthwind({ port: 0, logger, now: clock.now, seededPayments: null });
    try {
      expect(none.payments()).toEqual([]);
      expect(none.paymentConsents()).toEqual([]);
    } finally {
      await none.close();
    }
  });
});
