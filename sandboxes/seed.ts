import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Seed, SeedPayment } from '../lib/seed.ts';
import { DAY } from './lib/clock.ts';
import { createPrng } from './lib/prng.ts';
import {
  SANDBOX_CLIENTS,
  SANDBOX_CUSTOMERS,
  SANDBOX_PAYMENTS,
  SANDBOX_SEED,
  type SandboxPayment,
  type SandboxPaymentOutcome,
} from './manifest.ts';
import type { NorthwindSeededPayment, NorthwindSeededRecords } from './northwind/seeded.ts';

/**
 * What the sandboxes publish for the subgraphs' sandbox seed: the world of sandboxes/manifest.ts as
 * data (lib/seed.ts), without what only the sandboxes need (client secrets, KYC outcomes and legal
 * identities, generated transaction counts). It is checked in as sandboxes/seed.json, which the
 * launcher (scripts/platform.ts) and docker-compose.yml pass to the subgraphs in SEED_FILE; a test
 * (test/platform/sandbox-seed.test.ts) fails when the file is stale. Regenerate it with
 * `node sandboxes/seed.ts`.
 *
 * The seeded payments are in it twice, generated together from each manifest entry: `payments`,
 * the platform ledger's rows (with the bank's ids), and `northwind`, the sandbox bank's own records
 * (northwind/seeded.ts), which the bank loads at start. One file, one generator: the bank's daily
 * settlement report and the ledger agree on every seeded payment by construction.
 */
export const SANDBOX_SEED_FILE = fileURLToPath(new URL('./seed.json', import.meta.url));

export type SandboxSeed = Seed & { northwind: NorthwindSeededRecords };

export function sandboxSeed(): SandboxSeed {
  const payments = seededPayments();
  return {
    customers: SANDBOX_CUSTOMERS.map((c) => ({
      customerId: c.customerId,
      displayName: c.displayName,
      email: c.email,
      phone: c.phone,
      createdAt: c.createdAt,
      kycApplicantId: c.kycApplicantId,
      banks: Object.fromEntries(
        Object.entries(c.banks).map(([institution, bank]) => [
          institution,
          {
            psuId: bank.psuId,
            consentId: bank.consentId,
            accessToken: bank.accessToken,
            accounts: bank.accounts.map((a) => ({
              bankAccountId: a.bankAccountId,
              currency: a.currency,
              kind: a.kind,
              name: a.name,
            })),
          },
        ]),
      ),
    })),
    clients: SANDBOX_CLIENTS.map((c) => ({ clientId: c.clientId, name: c.name, kind: c.kind })),
    payments: payments.map((p) => p.ledger),
    northwind: {
      domesticPaymentConsents: payments.map((p) => p.bank.consent),
      domesticPayments: payments.flatMap((p) => (p.bank.payment ? [p.bank.payment] : [])),
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The seeded payments: one manifest entry -> the ledger's row and the bank's records
// ---------------------------------------------------------------------------------------------

/**
 * The platform's texts for the statuses it explains (subgraphs/payments: domain/initiation.ts and
 * partners/northwind/mapping.ts write the same ones), so a seeded row reads like one the ledger wrote.
 */
const REASONS = {
  REJECTED: 'The bank rejected the payment because there were not enough funds in the account.',
  CANCELLED: 'You cancelled the payment before authorising it.',
  FAILED: 'The bank could not execute the payment.',
  UNKNOWN: 'The bank has not confirmed the payment yet; we are checking with the bank.',
  REFUNDED: 'The creditor refunded the payment in full.',
} as const;

/** The bank's reasons (ISO 20022 status reason codes) for its RJCT and BLCK statuses. */
const BANK_REASONS = {
  RJCT: { Code: 'AM04', Description: 'Insufficient funds on the debtor account' },
  BLCK: { Code: 'AC06', Description: 'The creditor account is blocked' },
} as const;

const ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';

type LedgerStatus = SandboxPaymentOutcome | 'CREATED' | 'AUTHORISED';
type BankStatus = NorthwindSeededPayment['StatusHistory'][number]['Status'];

/**
 * One payment's lifecycle, in seconds after the customer asked for it (t0): the consent at the
 * bank 2 s later, the customer's authorisation at 90 s, the submission at 96 s (PDNG), accepted
 * at 98 s (ACSP), settled at 180 s (ACSC; the creditor credited at 240 s, ACCC) or rejected at
 * 100 s (RJCT) or blocked after two hours (BLCK); a lost answer to the submission times out at
 * 126 s; a cancellation at 240 s; a refund four days after settlement. The ledger records each
 * status the bank reports at the bank's StatusUpdateDateTime, as the payments subgraph does.
 */
const AT = {
  consent: 2,
  authorised: 90,
  submitted: 96,
  accepted: 98,
  rejected: 100,
  unknown: 126,
  settled: 180,
  credited: 240,
  cancelled: 240,
  blocked: 7_200,
  refunded: 180 + (4 * DAY) / 1000,
} as const;

interface Walk {
  ledger: Array<[LedgerStatus, number, string?]>;
  /** Null: never submitted (the consent is all the bank has). */
  bank: Array<[BankStatus, number]> | null;
  /** The ledger learnt the bank's payment id (false when the answer to the submission was lost). */
  learnt: boolean;
}

function walk(outcome: SandboxPaymentOutcome): Walk {
  const created: Walk['ledger'] = [
    ['CREATED', 0],
    ['AWAITING_AUTHORISATION', AT.consent],
  ];
  const authorised: Walk['ledger'] = [...created, ['AUTHORISED', AT.authorised]];
  const pending: Walk['ledger'] = [...authorised, ['PENDING', AT.submitted]];
  const accepted: Walk['ledger'] = [...pending, ['ACCEPTED', AT.accepted]];
  const settled: Walk['ledger'] = [...accepted, ['SETTLED', AT.settled]];
  const bankAccepted: Array<[BankStatus, number]> = [
    ['PDNG', AT.submitted],
    ['ACSP', AT.accepted],
  ];
  const bankSettled: Array<[BankStatus, number]> = [...bankAccepted, ['ACSC', AT.settled], ['ACCC', AT.credited]];
  switch (outcome) {
    case 'AWAITING_AUTHORISATION':
      return { ledger: created, bank: null, learnt: false };
    case 'CANCELLED':
      // The platform cancels its own intent; OBIE has no cancellation of a consent, which stays AWAU at the bank.
      return { ledger: [...created, ['CANCELLED', AT.cancelled, REASONS.CANCELLED]], bank: null, learnt: false };
    case 'PENDING':
      return { ledger: pending, bank: [['PDNG', AT.submitted]], learnt: true };
    case 'ACCEPTED':
      return { ledger: accepted, bank: bankAccepted, learnt: true };
    case 'SETTLED':
      return { ledger: settled, bank: bankSettled, learnt: true };
    case 'REFUNDED':
      // The creditor's refund is a credit from them, not a change of the payment at the bank.
      return { ledger: [...settled, ['REFUNDED', AT.refunded, REASONS.REFUNDED]], bank: bankSettled, learnt: true };
    case 'REJECTED':
      return {
        ledger: [...pending, ['REJECTED', AT.rejected, REASONS.REJECTED]],
        bank: [
          ['PDNG', AT.submitted],
          ['RJCT', AT.rejected],
        ],
        learnt: true,
      };
    case 'FAILED':
      return {
        ledger: [...accepted, ['FAILED', AT.blocked, REASONS.FAILED]],
        bank: [...bankAccepted, ['BLCK', AT.blocked]],
        learnt: true,
      };
    case 'UNKNOWN':
      // The bank created the payment; the platform never got the answer and asks again under the same key.
      return { ledger: [...authorised, ['UNKNOWN', AT.unknown, REASONS.UNKNOWN]], bank: bankAccepted, learnt: false };
  }
}

/** What the platform sends the bank for a payment (subgraphs/payments/partners/northwind/mapping.ts initiationOf). */
function initiationOf(
  paymentId: string,
  p: SandboxPayment,
): NorthwindSeededRecords['domesticPaymentConsents'][number]['Initiation'] {
  return {
    InstructionIdentification: paymentId,
    EndToEndIdentification: paymentId,
    LocalInstrument: 'UK.OBIE.FPS',
    InstructedAmount: { Amount: p.amount, Currency: 'GBP' },
    CreditorAccount: {
      SchemeName: p.creditor.scheme === 'IBAN' ? 'UK.OBIE.IBAN' : 'UK.OBIE.SortCodeAccountNumber',
      Identification: p.creditor.identification,
      Name: p.creditor.name,
    },
    ...(p.reference ? { RemittanceInformation: { Unstructured: [p.reference] } } : {}),
  };
}

interface SeededPayment {
  ledger: SeedPayment;
  bank: {
    consent: NorthwindSeededRecords['domesticPaymentConsents'][number];
    payment: NorthwindSeededPayment | null;
  };
}

/**
 * Both sides of every seeded payment. Ids and the few seconds of jitter on each payment's time
 * come from the sandbox PRNG keyed by the customer and the entry's position among the customer's
 * payments, so they are the same on every run; the times are relative to the seed anchor.
 */
export function seededPayments(): SeededPayment[] {
  const perCustomer = new Map<string, number>();
  return SANDBOX_PAYMENTS.map((p) => {
    const n = perCustomer.get(p.customerId) ?? 0;
    perCustomer.set(p.customerId, n + 1);
    const prng = createPrng(SANDBOX_SEED, 'seeded-payment', p.customerId, n);
    const paymentId = `pay_${Array.from({ length: 26 }, () => ID_ALPHABET[prng.int(0, 31)]).join('')}`;
    const consentId = `PDC-${prng.uuid()}`;
    const bankPaymentId = `DP${prng.hex(32).toUpperCase()}`;
    const agoSeconds = Math.round(p.ago / 1000);
    // Up to an hour earlier (a tenth of the age for recent ones), so that not every payment starts on the hour.
    const t0 = -agoSeconds - prng.int(0, Math.min(3_599, Math.floor(agoSeconds / 10)));
    const { ledger, bank, learnt } = walk(p.outcome);
    const at = (seconds: number): number => {
      if (t0 + seconds >= 0)
        throw new RangeError(`seeded payment ${p.customerId} #${n} (${p.outcome}) is too recent for its lifecycle`);
      return t0 + seconds;
    };
    const history = ledger.map(([status, s, reason]) => ({ status, at: at(s), reason: reason ?? null }));
    const last = history.at(-1)!;
    const initiation = initiationOf(paymentId, p);
    const submitted = bank !== null;
    return {
      ledger: {
        paymentId,
        customerId: p.customerId,
        institution: 'northwind',
        debtorBankAccountId: p.debtorBankAccountId,
        amount: p.amount,
        currency: 'GBP',
        creditor: p.creditor,
        reference: p.reference,
        status: last.status,
        statusReason: last.reason,
        history,
        settledAt: history.find((h) => h.status === 'SETTLED')?.at ?? null,
        bank: { consentId, paymentId: learnt ? bankPaymentId : null },
      },
      bank: {
        consent: {
          ConsentId: consentId,
          CreationDateTime: at(AT.consent),
          // Consumed by the payment once submitted; a consent the customer never authorised stays AWAU.
          Status: submitted ? 'COND' : 'AWAU',
          StatusUpdateDateTime: at(submitted ? AT.submitted : AT.consent),
          IdempotencyKey: `${paymentId}-consent`,
          Initiation: initiation,
          Risk: { PaymentContextCode: 'TransferToThirdParty' },
          Debtor: { customerId: p.customerId, bankAccountId: p.debtorBankAccountId },
        },
        payment: submitted
          ? {
              DomesticPaymentId: bankPaymentId,
              ConsentId: consentId,
              CreationDateTime: at(AT.submitted),
              IdempotencyKey: `${paymentId}-payment`,
              StatusHistory: bank.map(([status, s]) => ({
                Status: status,
                StatusUpdateDateTime: at(s),
                ...(status === 'RJCT' || status === 'BLCK' ? { StatusReason: BANK_REASONS[status] } : {}),
              })),
            }
          : null,
      },
    };
  });
}

/** The file's exact text: two-space JSON and a final newline, so a regenerated file diffs cleanly. */
export function sandboxSeedText(): string {
  return `${JSON.stringify(sandboxSeed(), null, 2)}\n`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(SANDBOX_SEED_FILE, sandboxSeedText());
  process.stdout.write(`wrote ${SANDBOX_SEED_FILE}\n`);
}
