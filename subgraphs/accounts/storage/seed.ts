import { SANDBOX_CUSTOMERS } from '../../../sandboxes/manifest.ts';
import type { AccountsRepository } from './repository.ts';

/**
 * Sandbox profile only: the bank connections of the sandbox customers (sandboxes/manifest.ts),
 * so the subgraph reaches the partner sandboxes with the same consents and tokens they serve.
 * Idempotent: re-running it updates the credentials in place and creates nothing twice.
 */
export async function seedSandboxConnections(repo: AccountsRepository): Promise<number> {
  let count = 0;
  for (const customer of SANDBOX_CUSTOMERS) {
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
