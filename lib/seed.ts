import { readFileSync } from 'node:fs';
import { z } from 'zod';

/**
 * The sandbox seed: the world a subgraph starts with in the sandbox profile, as DATA. The partner
 * sandboxes publish it (sandboxes/seed.json, generated from sandboxes/manifest.ts) and the
 * launcher or docker-compose.yml name it in SEED_FILE; no product module imports the sandboxes.
 * Each subgraph's storage/seed.ts takes what it owns from it (identity the customers, accounts
 * the bank connections, consents the client apps, payments the debtor accounts and the seeded
 * ledger) and writes its own records idempotently. The file also holds what only the sandboxes
 * read (the sandbox bank's own records of the seeded payments); this schema leaves that out.
 * In production SEED_FILE is refused (lib/config.ts): real customers, connections and clients
 * come from sign-up, consent journeys and registration.
 */
const text = z.string().min(1);

const seedBankAccountSchema = z.object({
  /** The bank's own account id (OBIE AccountId / Berlin Group resourceId). Never shown to clients. */
  bankAccountId: text,
  currency: z.string().regex(/^[A-Z]{3}$/),
  kind: z.enum(['current', 'savings', 'credit-card']),
  name: text,
});

const seedBankConnectionSchema = z.object({
  psuId: text,
  consentId: text,
  accessToken: text,
  accounts: z.array(seedBankAccountSchema),
});

const seedCustomerSchema = z.object({
  customerId: z.string().regex(/^cus_[a-z2-7]{26}$/),
  displayName: text,
  email: text,
  phone: text,
  createdAt: z.iso.datetime(),
  /** Applicant at the KYC provider; null when KYC was never started. */
  kycApplicantId: text.nullable(),
  banks: z.object({ northwind: seedBankConnectionSchema.optional(), rheinbank: seedBankConnectionSchema.optional() }),
});

const seedClientSchema = z.object({
  clientId: text,
  name: text,
  kind: z.enum(['FIRST_PARTY', 'THIRD_PARTY', 'STAFF', 'MACHINE']),
});

/**
 * A time of the seeded world: whole seconds relative to the seed's anchor (seedAnchor), negative
 * because everything seeded happened before it. Relative, so the seeded history is always the
 * months before the clock a service starts with; resolved with seedTime.
 */
const seedOffset = z.number().int().max(0);
const statusName = z.string().regex(/^[A-Z_]{4,30}$/);

/**
 * A payment of the seeded world as the platform's ledger recorded it. The sandbox bank holds the
 * same payment as its own records (consent, payment, statuses: the file's `northwind` part, which
 * no subgraph reads); both are generated from one manifest entry (sandboxes/seed.ts), so the
 * bank's settlement report and the ledger agree. `bank` carries the bank's ids as the ledger
 * learnt them: the consent always, the payment once the bank's answer to the submission arrived.
 */
const seedPaymentSchema = z.object({
  paymentId: z.string().regex(/^pay_[a-z2-7]{26}$/),
  customerId: z.string().regex(/^cus_[a-z2-7]{26}$/),
  institution: z.literal('northwind'),
  /** The debtor account at the bank (a bankAccountId of the customer's connection). */
  debtorBankAccountId: text,
  amount: z.string().regex(/^\d{1,13}\.\d{2}$/),
  currency: z.string().regex(/^[A-Z]{3}$/),
  creditor: z.object({ name: text, scheme: z.enum(['SORT_CODE_ACCOUNT_NUMBER', 'IBAN']), identification: text }),
  reference: text.nullable(),
  status: statusName,
  statusReason: text.nullable(),
  /** Oldest first, starting at CREATED; the last entry is `status`. */
  history: z.array(z.object({ status: statusName, at: seedOffset, reason: text.nullable() })).min(1),
  settledAt: seedOffset.nullable(),
  bank: z.object({ consentId: text, paymentId: text.nullable() }),
});

export const seedSchema = z.object({
  customers: z.array(seedCustomerSchema),
  clients: z.array(seedClientSchema),
  // Absent from a seed written before seeded payments existed: then nothing to seed.
  payments: z.array(seedPaymentSchema).default([]),
});

export type Seed = z.infer<typeof seedSchema>;
export type SeedCustomer = z.infer<typeof seedCustomerSchema>;
export type SeedInstitution = keyof SeedCustomer['banks'];
export type SeedPayment = z.infer<typeof seedPaymentSchema>;

const HOUR_MS = 3_600_000;

/**
 * The instant the seeded world's relative times count from: the start of the UTC hour of `now`,
 * the clock a service starts with. The sandbox bank (at its start) and the payments subgraph (at
 * its start) each compute it and so place every seeded payment at the same instants: a test gives
 * both one clock, and `npm start` starts them seconds apart, within the same hour but for a start
 * that straddles an hour boundary (then the two sides differ by that hour, still on the same
 * days unless it is midnight).
 */
export function seedAnchor(now: Date): Date {
  return new Date(Math.floor(now.getTime() / HOUR_MS) * HOUR_MS);
}

/** A seeded time (seconds relative to the anchor) as an instant. */
export function seedTime(anchor: Date, offsetSeconds: number): Date {
  return new Date(anchor.getTime() + offsetSeconds * 1000);
}

/**
 * Reads and validates a seed file; the error says in one line what is wrong with it (never its content nor its path).
 */
export function readSeedFile(path: string): Seed {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new Error(e.code ? `cannot be read (${e.code})` : 'is not JSON', { cause: err });
  }
  const parsed = seedSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`is not a seed file (lib/seed.ts): ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return parsed.data;
}

/** The seed a subgraph's config names in SEED_FILE (already checked by its config loader), or null: nothing to seed. */
export function configuredSeed(config: { SEED_FILE?: string | undefined }): Seed | null {
  return config.SEED_FILE ? readSeedFile(config.SEED_FILE) : null;
}
