import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SANDBOX_CUSTOMERS } from '../../sandboxes/manifest.ts';
import { createCustomerRepository } from '../../subgraphs/identity/storage/repository.ts';
import { applySeed } from '../../subgraphs/identity/storage/seed.ts';
import { SANDBOX_SEED } from '../support/seed.ts';
import { ALICE, BACKENDS, BEN, DEV, openTestDatabase, silentLogger, type TestDatabase } from './helpers.ts';

describe.each(BACKENDS)('identity storage on %s', (backend) => {
  let t: TestDatabase;

  beforeAll(async () => {
    t = await openTestDatabase(backend);
  });
  afterAll(async () => {
    await t?.dispose();
  });

  it('seeds the sandbox customers once, however often it runs', async () => {
    expect(await applySeed(t.db, SANDBOX_SEED, silentLogger)).toBe(SANDBOX_CUSTOMERS.length);
    expect(await applySeed(t.db, SANDBOX_SEED, silentLogger)).toBe(0);
    const [{ count }] = (await t.db.query<{ count: number }>('SELECT count(*)::int AS count FROM customers')) as [
      { count: number },
    ];
    expect(count).toBe(SANDBOX_CUSTOMERS.length);
  });

  it('never overwrites an existing customer when seeding', async () => {
    await t.db.query(`UPDATE customers SET display_name = 'Ally' WHERE id = $1`, [ALICE]);
    await applySeed(t.db, SANDBOX_SEED, silentLogger);
    const [alice] = await createCustomerRepository(t.db).findByIds([ALICE]);
    expect(alice?.displayName).toBe('Ally');
    await t.db.query(`UPDATE customers SET display_name = 'Alice' WHERE id = $1`, [ALICE]);
  });

  it('reads customers by id exactly as the manifest describes them', async () => {
    const repo = createCustomerRepository(t.db);
    const rows = await repo.findByIds([BEN, DEV, 'cus_aaaaaaaaaaaaaaaaaaaaaaaaaa']);
    const ben = rows.find((r) => r.id === BEN);
    expect(rows).toHaveLength(2);
    expect(ben).toEqual({
      id: BEN,
      displayName: 'Ben',
      email: 'ben.okafor@example.com',
      phone: '+447700900456',
      createdAt: new Date('2025-01-08T14:05:00.000Z'),
      kycApplicantId: '0b9a8c7d-6e5f-4a3b-9c2d-1e0f9a8b7c6d',
    });
    expect(rows.find((r) => r.id === DEV)?.kycApplicantId).toBeNull();
    expect(await repo.findByIds([])).toEqual([]);
  });

  it('refuses malformed ids and phone numbers', async () => {
    await expect(
      t.db.query(`INSERT INTO customers (id, display_name, created_at) VALUES ('customer-1', 'X', now())`),
    ).rejects.toThrow();
    await expect(
      t.db.query(
        `INSERT INTO customers (id, display_name, phone, created_at) VALUES ('cus_bbbbbbbbbbbbbbbbbbbbbbbbbb', 'X', '07700 900123', now())`,
      ),
    ).rejects.toThrow();
  });
});
