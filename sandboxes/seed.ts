import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Seed } from '../lib/seed.ts';
import { SANDBOX_CLIENTS, SANDBOX_CUSTOMERS } from './manifest.ts';

/**
 * What the sandboxes publish for the subgraphs' sandbox seed: the world of sandboxes/manifest.ts as
 * data (lib/seed.ts), without what only the sandboxes need (client secrets, KYC outcomes and legal
 * identities, generated transaction counts). It is checked in as sandboxes/seed.json, which the
 * launcher (scripts/platform.ts) and docker-compose.yml pass to the subgraphs in SEED_FILE; a test
 * (test/platform/sandbox-seed.test.ts) fails when the file is stale. Regenerate it with
 * `node sandboxes/seed.ts`.
 */
export const SANDBOX_SEED_FILE = fileURLToPath(new URL('./seed.json', import.meta.url));

export function sandboxSeed(): Seed {
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
  };
}

/** The file's exact text: two-space JSON and a final newline, so a regenerated file diffs cleanly. */
export function sandboxSeedText(): string {
  return `${JSON.stringify(sandboxSeed(), null, 2)}\n`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(SANDBOX_SEED_FILE, sandboxSeedText());
  process.stdout.write(`wrote ${SANDBOX_SEED_FILE}\n`);
}
