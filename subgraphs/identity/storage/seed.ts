import type { Database } from '../../../lib/database.ts';
import type { Logger } from '../../../lib/logger.ts';
import { SANDBOX_CUSTOMERS } from '../../../sandboxes/manifest.ts';
import { createCustomerRepository, type NewCustomer } from './customers.ts';

/**
 * The sandbox profile's customers, from sandboxes/manifest.ts, so that identity's records line
 * up with the applicants the KYC sandbox serves. Idempotent: existing rows are never changed,
 * so running it on every start is safe. Never applied in the production profile.
 */
export function sandboxCustomers(): NewCustomer[] {
  return SANDBOX_CUSTOMERS.map((c) => ({
    id: c.customerId,
    displayName: c.displayName,
    email: c.email,
    phone: c.phone,
    createdAt: new Date(c.createdAt),
    kycApplicantId: c.kycApplicantId,
  }));
}

export async function seedSandboxCustomers(db: Database, logger: Logger): Promise<number> {
  const inserted = await db.transaction((tx) => createCustomerRepository(tx).insertMissing(sandboxCustomers()));
  if (inserted > 0) logger.info({ inserted }, 'seeded sandbox customers');
  return inserted;
}
