import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  createIdempotencyStore,
  idempotencyMigrations,
  type IdempotencyScope,
} from '../../gateway/idempotency/store.ts';
import { BACKEND_NAMES, BACKENDS, openTestDatabase, type TestDatabase } from '../support/database.ts';
import { waitBudget } from '../support/time.ts';

/** The idempotency records (gateway/idempotency/store.ts) on PGlite and, with DATABASE_URL, the real PostgreSQL. */
describe.each(BACKENDS)('idempotency store on %s', (backend) => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await openTestDatabase(backend, { schema: 'gateway', migrations: idempotencyMigrations });
  });
  afterAll(async () => t?.dispose());

  let n = 0;
  const scope = (customerId: string | null = 'cus_a'): IdempotencyScope => ({
    clientId: 'web-app',
    customerId,
    key: `key-${BACKEND_NAMES[backend]}-${++n}`,
  });

  it('claims once; the same payload is in use, another is reused; completed replays; released frees', async () => {
    const store = createIdempotencyStore(t.db, { leaseMs: 60_000, retentionHours: 24 });
    const s = scope();
    const first = await store.claim(s, 'fp1', 'send');
    expect(first.kind).toBe('claimed');
    expect(await store.claim(s, 'fp1', 'send')).toEqual({ kind: 'in-use' });
    expect(await store.claim(s, 'fp2', 'send')).toEqual({ kind: 'reused' });
    // Someone else's owner token cannot complete or release it.
    expect(await store.complete(s, 'not-the-owner', { body: { data: {} }, httpStatus: 200 })).toBe(false);
    expect(await store.release(s, 'not-the-owner')).toBe(false);
    const owner = (first as { owner: string }).owner;
    expect(await store.complete(s, owner, { body: { data: { x: 1 } }, httpStatus: 200 })).toBe(true);
    expect(await store.claim(s, 'fp1', 'send')).toEqual({
      kind: 'completed',
      response: { body: { data: { x: 1 } }, httpStatus: 200 },
    });
    expect(await store.claim(s, 'fp2', 'send')).toEqual({ kind: 'reused' });

    const r = scope();
    const claimed = await store.claim(r, 'fp1', 'send');
    expect(await store.release(r, (claimed as { owner: string }).owner)).toBe(true);
    expect((await store.claim(r, 'fp1', 'send')).kind).toBe('claimed');
  });

  it('the same key for another customer or none is another record', async () => {
    const store = createIdempotencyStore(t.db, { leaseMs: 60_000, retentionHours: 24 });
    const a = scope('cus_a');
    expect((await store.claim(a, 'fp', 'send')).kind).toBe('claimed');
    expect((await store.claim({ ...a, customerId: 'cus_b' }, 'fp', 'send')).kind).toBe('claimed');
    expect((await store.claim({ ...a, customerId: null }, 'fp', 'send')).kind).toBe('claimed');
    expect((await store.claim({ ...a, clientId: 'mobile-app' }, 'fp', 'send')).kind).toBe('claimed');
  });

  it('an expired lease is taken over by the same payload only, and the old holder can no longer complete', async () => {
    const store = createIdempotencyStore(t.db, { leaseMs: 200, retentionHours: 24 });
    const s = scope();
    const first = (await store.claim(s, 'fp', 'send')) as { owner: string };
    const second = await vi.waitFor(async () => {
      expect(await store.claim(s, 'other', 'send')).toEqual({ kind: 'reused' });
      const c = await store.claim(s, 'fp', 'send');
      expect(c.kind).toBe('claimed');
      return c as { owner: string; takeover: boolean };
    }, waitBudget());
    expect(second.takeover).toBe(true);
    expect(await store.complete(s, first.owner, { body: { data: 'old' }, httpStatus: 200 })).toBe(false);
    expect(await store.complete(s, second.owner, { body: { data: 'new' }, httpStatus: 200 })).toBe(true);
  });

  it('concurrent claims of one key: exactly one wins', async () => {
    const store = createIdempotencyStore(t.db, { leaseMs: 60_000, retentionHours: 24 });
    const s = scope();
    const results = await Promise.all(Array.from({ length: 50 }, () => store.claim(s, 'fp', 'send')));
    expect(results.filter((r) => r.kind === 'claimed')).toHaveLength(1);
    expect(results.filter((r) => r.kind === 'in-use')).toHaveLength(49);
  });

  it('the purge removes only records older than the retention (never under 24 h), and never a live claim', async () => {
    // Asking for less than 24 hours still keeps 24.
    const store = createIdempotencyStore(t.db, { leaseMs: 60_000, retentionHours: 1 });
    await t.db.query('DELETE FROM idempotency_records');
    const ages: Record<string, string> = {
      fresh: '1 minute',
      almost: '23 hours 59 minutes',
      old: '24 hours 1 minute',
      ancient: '30 days',
    };
    for (const [name, age] of Object.entries(ages)) {
      const s = { clientId: 'web-app', customerId: 'cus_p', key: name };
      const c = (await store.claim(s, 'fp', 'send')) as { owner: string };
      await store.complete(s, c.owner, { body: { data: name }, httpStatus: 200 });
      await t.db.query(`UPDATE idempotency_records SET created_at = now() - $1::interval WHERE key = $2`, [age, name]);
    }
    // An old claim whose lease is still running (a request in flight for a day) stays too.
    const live = { clientId: 'web-app', customerId: 'cus_p', key: 'live' };
    await store.claim(live, 'fp', 'send');
    await t.db.query(`UPDATE idempotency_records SET created_at = now() - interval '2 days' WHERE key = 'live'`);
    expect(await store.purge()).toBe(2);
    const left = (await t.db.query<{ key: string }>('SELECT key FROM idempotency_records ORDER BY key')).map(
      (r) => r.key,
    );
    expect(left).toEqual(['almost', 'fresh', 'live']);
  });
});

describe('idempotency configuration', () => {
  it('refuses a retention under 24 hours and a lease under a second, naming the variable', async () => {
    const { loadGatewayConfig } = await import('../../gateway/config.ts');
    expect(() => loadGatewayConfig({ IDEMPOTENCY_RETENTION_HOURS: '23' })).toThrow(/IDEMPOTENCY_RETENTION_HOURS/);
    expect(() => loadGatewayConfig({ IDEMPOTENCY_LEASE_MS: '10' })).toThrow(/IDEMPOTENCY_LEASE_MS/);
    expect(() => loadGatewayConfig({ DATABASE_URL: 'mysql://x' })).toThrow(/DATABASE_URL/);
    const config = loadGatewayConfig({});
    expect(config).toMatchObject({
      IDEMPOTENCY_RETENTION_HOURS: 24,
      IDEMPOTENCY_LEASE_MS: 60_000,
      PGLITE_DIR: 'memory://',
    });
  });
});
