import { z } from 'zod';
import { seedTime } from '../../lib/seed.ts';
import { northwindNumbers } from '../lib/identifiers.ts';
import {
  rememberIdempotencyKey,
  type DomesticPayment,
  type DomesticPaymentConsent,
  type NorthwindPisState,
  type PaymentStep,
} from './pis.ts';

/**
 * The seeded world's payments as Northwind's own records: the domestic payment consents the
 * platform asked for and the domestic payments it submitted, with the bank's ids, status
 * histories and settlement times. sandboxes/seed.ts generates them, from the same manifest entries
 * as the platform ledger's seed rows, into the `northwind` part of sandboxes/seed.json; the bank
 * loads them at start (loadSeededPayments), because its API cannot create a payment in the past.
 *
 * Format (JSON, the bank's field names; times are whole seconds relative to the seed anchor,
 * lib/seed.ts seedAnchor, i.e. negative):
 *
 *   { "domesticPaymentConsents": [ { "ConsentId", "CreationDateTime", "Status": "AWAU"|"AUTH"|"COND",
 *       "StatusUpdateDateTime", "IdempotencyKey", "Initiation", "Risk",
 *       "Debtor": { "customerId", "bankAccountId" } } ],
 *     "domesticPayments": [ { "DomesticPaymentId", "ConsentId", "CreationDateTime", "IdempotencyKey",
 *       "StatusHistory": [ { "Status", "StatusUpdateDateTime", "StatusReason"?: { "Code", "Description" } } ] } ] }
 *
 * - `Initiation` and `Risk` are what the platform sent, except `Initiation.DebtorAccount`: the
 *   bank adds it at load from its own numbers for `Debtor.bankAccountId` (they depend on
 *   SANDBOX_SEED), exactly as the platform reads them from the Account and Transaction API. So a
 *   seeded consent still awaiting authorisation can be approved and submitted like a live one.
 * - `Debtor` names the PSU and the account the initiation debits; the consent records it as
 *   authorised by them once it is past AWAU.
 * - `IdempotencyKey` is the x-idempotency-key the platform sent with the request; it replays the
 *   record for 24 hours of sandbox clock after the request, as for live requests (a submission
 *   whose answer the platform lost is asked again under it).
 * - A payment's statuses (oldest first): PDNG, ACSP, then ACSC and ACCC, or RJCT (AM04), or BLCK.
 *
 * Loading sends no webhooks: the events of a loaded payment's past statuses count as delivered
 * long ago (only a status still ahead of the clock would be sent when reached), and no consent
 * decision is announced. Loaded payments are not on the debtor account's transactions.
 */
const offset = z.number().int().max(0);
const text = z.string().min(1);

const stepSchema = z.object({
  Status: z.enum(['PDNG', 'ACSP', 'ACSC', 'ACCC', 'RJCT', 'BLCK']),
  StatusUpdateDateTime: offset,
  StatusReason: z.object({ Code: text, Description: text }).optional(),
});

const consentSchema = z.object({
  ConsentId: text,
  CreationDateTime: offset,
  Status: z.enum(['AWAU', 'AUTH', 'COND']),
  StatusUpdateDateTime: offset,
  IdempotencyKey: z.string().min(1).max(40),
  Initiation: z
    .object({
      InstructionIdentification: text,
      EndToEndIdentification: text,
      InstructedAmount: z.object({ Amount: z.string().regex(/^\d{1,13}\.\d{2}$/), Currency: z.literal('GBP') }),
      CreditorAccount: z.object({ SchemeName: text, Identification: text, Name: text }),
      RemittanceInformation: z.object({ Unstructured: z.array(text) }).optional(),
    })
    .catchall(z.unknown()),
  Risk: z.record(z.string(), z.unknown()),
  Debtor: z.object({ customerId: text, bankAccountId: text }),
});

const paymentSchema = z.object({
  DomesticPaymentId: text,
  ConsentId: text,
  CreationDateTime: offset,
  IdempotencyKey: z.string().min(1).max(40),
  StatusHistory: z.array(stepSchema).min(1),
});

export const seededRecordsSchema = z.object({
  domesticPaymentConsents: z.array(consentSchema),
  domesticPayments: z.array(paymentSchema),
});

export type NorthwindSeededRecords = z.infer<typeof seededRecordsSchema>;
export type NorthwindSeededConsent = NorthwindSeededRecords['domesticPaymentConsents'][number];
export type NorthwindSeededPayment = NorthwindSeededRecords['domesticPayments'][number];

/** The bank's part of a seed file's JSON (sandboxes/seed.json `northwind`); throws naming what is wrong. */
export function parseSeededRecords(json: unknown): NorthwindSeededRecords {
  const part = json && typeof json === 'object' ? (json as Record<string, unknown>).northwind : undefined;
  const parsed = seededRecordsSchema.safeParse(part);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(
      `the seed's northwind records are malformed: ${['northwind', ...issue.path].join('.')}: ${issue.message}`,
    );
  }
  return parsed.data;
}

/**
 * The load hook of the bank's payment store: adds the seeded consents and payments, placed at
 * `anchor` (lib/seed.ts seedAnchor of the bank's start), without any webhook. Throws on a record
 * that contradicts the bank (an account that is not the PSU's, a payment of an unknown or
 * unconsumed consent, an id already taken), so a bad seed stops the start instead of serving
 * half a world. Returns how many consents and payments it loaded.
 */
export function loadSeededPayments(
  state: NorthwindPisState,
  records: NorthwindSeededRecords,
  anchor: Date,
): { consents: number; payments: number } {
  const at = (seconds: number) => seedTime(anchor, seconds);
  for (const c of records.domesticPaymentConsents) {
    if (state.consents.has(c.ConsentId)) throw new Error(`seeded consent ${c.ConsentId} exists already`);
    const account = state.ledger
      .accounts()
      .find((a) => a.account.bankAccountId === c.Debtor.bankAccountId && a.customerId === c.Debtor.customerId);
    if (!account)
      throw new Error(`seeded consent ${c.ConsentId}: no Northwind account ${c.Debtor.bankAccountId} of the PSU`);
    const request = {
      Data: {
        Initiation: {
          ...c.Initiation,
          DebtorAccount: {
            SchemeName: 'UK.OBIE.SortCodeAccountNumber',
            Identification: northwindNumbers(state.seed, c.Debtor.bankAccountId).sortCodeAccountNumber,
          },
        },
      },
      Risk: c.Risk,
    } as DomesticPaymentConsent['request'];
    const consent: DomesticPaymentConsent = {
      consentId: c.ConsentId,
      createdAt: at(c.CreationDateTime),
      status: c.Status,
      statusUpdatedAt: at(c.StatusUpdateDateTime),
      request,
      ...(c.Status === 'AWAU'
        ? {}
        : { debtor: { customerId: account.customerId, psuId: account.psuId, bankAccountId: c.Debtor.bankAccountId } }),
    };
    state.consents.set(consent.consentId, consent);
    rememberIdempotencyKey(
      state,
      'domestic-payment-consents',
      c.IdempotencyKey,
      request,
      c.ConsentId,
      consent.createdAt,
    );
  }
  const now = state.now().getTime();
  for (const p of records.domesticPayments) {
    if (state.payments.has(p.DomesticPaymentId))
      throw new Error(`seeded payment ${p.DomesticPaymentId} exists already`);
    const consent = state.consents.get(p.ConsentId);
    if (!consent || consent.status !== 'COND' || !consent.debtor)
      throw new Error(
        `seeded payment ${p.DomesticPaymentId}: its consent ${p.ConsentId} is not a consumed seeded consent`,
      );
    const steps: PaymentStep[] = p.StatusHistory.map((s) => ({
      status: s.Status,
      at: at(s.StatusUpdateDateTime),
      ...(s.StatusReason ? { reason: { code: s.StatusReason.Code, description: s.StatusReason.Description } } : {}),
    }));
    const payment: DomesticPayment = {
      paymentId: p.DomesticPaymentId,
      consentId: p.ConsentId,
      createdAt: at(p.CreationDateTime),
      initiation: structuredClone(consent.request.Data.Initiation),
      debtor: consent.debtor,
      rejected: steps.some((s) => s.status === 'RJCT'),
      statusHistory: steps,
    };
    state.payments.set(payment.paymentId, payment);
    // Past statuses were announced long ago: mark their events as queued, so the outbox sends none of them.
    state.eventsQueued.set(payment.paymentId, steps.filter((s) => s.at.getTime() <= now).length);
    rememberIdempotencyKey(
      state,
      'domestic-payments',
      p.IdempotencyKey,
      { Data: { ConsentId: p.ConsentId, Initiation: consent.request.Data.Initiation }, Risk: consent.request.Risk },
      p.DomesticPaymentId,
      payment.createdAt,
    );
  }
  return { consents: records.domesticPaymentConsents.length, payments: records.domesticPayments.length };
}
