import type { Seed } from '../../../lib/seed.ts';
import type { AccountsRepository } from '../domain/ports.ts';

/**
 * The seed's bank connections (SEED_FILE, lib/seed.ts), so the subgraph reaches the partner
 * sandboxes with the same consents and tokens they serve. Idempotent: re-running it updates the
 * credentials in place and creates nothing twice. Never applied in production (SEED_FILE is refused there).
 */
export async function applySeed(repo: AccountsRepository, seed: Seed): Promise<number> {
  let count = 0;
  for (const customer of seed.customers) {
    for (const [institution, bank] of Object.entries(customer.banks)) {
      if (!bank) continue;
      await repo.upsertConnection({
        customerId: customer.customerId,
        institution,
        psuId: bank.psuId,
        consentId: bank.consentId,
        accessToken: bank.accessToken,
      });
      count++;
    }
  }
  return count;
}
