import { readFileSync } from 'node:fs';
import { z } from 'zod';

/**
 * The sandbox seed: the world a subgraph starts with in the sandbox profile, as DATA. The partner
 * sandboxes publish it (sandboxes/seed.json, generated from sandboxes/manifest.ts) and the
 * launcher or docker-compose.yml name it in SEED_FILE; no product module imports the sandboxes.
 * Each subgraph's storage/seed.ts takes what it owns from it (identity the customers, accounts
 * the bank connections, consents the client apps, payments the debtor accounts) and writes its
 * own records idempotently. In production SEED_FILE is refused (lib/config.ts): real customers,
 * connections and clients come from sign-up, consent journeys and registration.
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

export const seedSchema = z.object({
  customers: z.array(seedCustomerSchema),
  clients: z.array(seedClientSchema),
});

export type Seed = z.infer<typeof seedSchema>;
export type SeedCustomer = z.infer<typeof seedCustomerSchema>;
export type SeedInstitution = keyof SeedCustomer['banks'];

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
