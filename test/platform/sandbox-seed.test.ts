import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../lib/config.ts';
import { readSeedFile } from '../../lib/seed.ts';
import { SANDBOX_CLIENTS, SANDBOX_CUSTOMERS } from '../../sandboxes/manifest.ts';
import { SANDBOX_SEED_FILE, sandboxSeedText } from '../../sandboxes/seed.ts';
import { loadPaymentsConfig } from '../../subgraphs/payments/config.ts';

/**
 * The sandbox seed reaches the subgraphs as data: sandboxes/seed.json, published from the
 * manifest, named by SEED_FILE and checked by every subgraph's config loader.
 */
describe('sandbox seed file', () => {
  it('is the manifest as published (regenerate with `node sandboxes/seed.ts`)', () => {
    expect(readFileSync(SANDBOX_SEED_FILE, 'utf8')).toBe(sandboxSeedText());
  });

  it('carries every sandbox customer and client, and no client secret', () => {
    const seed = readSeedFile(SANDBOX_SEED_FILE);
    expect(seed.customers.map((c) => c.customerId)).toEqual(SANDBOX_CUSTOMERS.map((c) => c.customerId));
    expect(seed.clients.map((c) => c.clientId)).toEqual(SANDBOX_CLIENTS.map((c) => c.clientId));
    const text = readFileSync(SANDBOX_SEED_FILE, 'utf8');
    for (const client of SANDBOX_CLIENTS) expect(text).not.toContain(client.clientSecret);
  });

  const problems = (env: Record<string, string>) => {
    try {
      loadPaymentsConfig(env);
      return [];
    } catch (err) {
      if (err instanceof ConfigError) return err.problems;
      throw err;
    }
  };

  it('SEED_FILE is checked by the config loader: one line naming it when the file is missing or not a seed', () => {
    const dir = mkdtempSync(join(tmpdir(), 'seed-'));
    const notJson = join(dir, 'not.json');
    writeFileSync(notJson, '{ customers: ');
    const wrong = join(dir, 'wrong.json');
    writeFileSync(wrong, JSON.stringify({ customers: [{ customerId: 'alice' }], clients: [] }));
    expect(problems({ SEED_FILE: join(dir, 'absent.json') })).toEqual([
      `SEED_FILE: cannot be read (ENOENT), got ${JSON.stringify(join(dir, 'absent.json'))}`,
    ]);
    expect(problems({ SEED_FILE: notJson })).toEqual([`SEED_FILE: is not JSON, got ${JSON.stringify(notJson)}`]);
    expect(problems({ SEED_FILE: wrong })).toEqual([
      expect.stringMatching(/^SEED_FILE: is not a seed file \(lib\/seed\.ts\): customers\.0\.customerId: /),
    ]);
    expect(problems({ SEED_FILE: SANDBOX_SEED_FILE })).toEqual([]);
  });

  it('the production profile refuses SEED_FILE: production data never comes from the sandbox seed', () => {
    expect(problems({ PROFILE: 'production', SEED_FILE: SANDBOX_SEED_FILE })).toContain(
      'SEED_FILE: must not be set in the production profile (production data never comes from the sandbox seed)',
    );
  });
});
