import type { Database } from '../../../lib/database.ts';
import type { Logger } from '../../../lib/logger.ts';
import type { Seed } from '../../../lib/seed.ts';
import { createCustomerRepository, type NewCustomer } from './repository.ts';

/**
 * The seed's customers (SEED_FILE, lib/seed.ts), so that identity's records line up with the
 * applicants the KYC sandbox serves. Idempotent: existing rows are never changed, so running it
 * on every start is safe. Never applied in the production profile (SEED_FILE is refused there).
 */
export function sandboxCustomers(seed: Seed): NewCustomer[] {
  return seed.customers.map((c) => ({
    id: c.customerId,
    displayName: c.displayName,
    email: c.email,
    phone: c.phone,
    createdAt: new Date(c.createdAt),
    kycApplicantId: c.kycApplicantId,
  }));
}

/** Writes the seed's customers (what is already there is left alone); returns how many it inserted. */
export async function applySeed(db: Database, seed: Seed, logger: Logger): Promise<number> {
  const inserted = await db.transaction((tx) => createCustomerRepository(tx).insertMissing(sandboxCustomers(seed)));
  if (inserted > 0) logger.info({ inserted }, 'seeded sandbox customers');
  return inserted;
}
