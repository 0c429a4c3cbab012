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

  it('a replay, a reused key and a key in use only read: the record is neither locked nor rewritten', async () => {
    // A storm of retries on one key must not queue on its row lock nor write (and flush) anything.
    const store = createIdempotencyStore(t.db, { leaseMs: 60_000, retentionHours: 24 });
    const version = async (key: string) =>
      (
        await t.db.query<{ v: string }>(
          `SELECT xmin::text || '/' || xmax::text AS v FROM idempotency_records WHERE key = $1`,
          [key],
        )
      )[0]?.v;
    const running = scope();
    expect((await store.claim(running, 'fp', 'send')).kind).toBe('claimed');
    const done = scope();
    const c = (await store.claim(done, 'fp', 'send')) as { owner: string };
    await store.complete(done, c.owner, { body: { data: { ok: true } }, httpStatus: 200 });
    const before = { running: await version(running.key), done: await version(done.key) };
    expect(before.running).toMatch(/\/0$/);
    expect(before.done).toMatch(/\/0$/);
    for (let i = 0; i < 3; i++) {
      expect(await store.claim(running, 'fp', 'send')).toEqual({ kind: 'in-use' });
      expect(await store.claim(running, 'other', 'send')).toEqual({ kind: 'reused' });
      expect((await store.claim(done, 'fp', 'send')).kind).toBe('completed');
      expect(await store.claim(done, 'other', 'send')).toEqual({ kind: 'reused' });
    }
    expect({ running: await version(running.key), done: await version(done.key) }).toEqual(before);
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

  it('claims racing the completion and the release of the holder: one holder at a time, every other answer as stored', async () => {
    // The claim reads a taken key in the same statement (its snapshot): a record completed or
    // released while it waited must still give the stored response or a new holder, never a second
    // concurrent holder and never a missing answer.
    const store = createIdempotencyStore(t.db, { leaseMs: 60_000, retentionHours: 24 });
    for (let i = 0; i < 5; i++) {
      const s = scope();
      const first = (await store.claim(s, 'fp', 'send')) as { owner: string };
      const response = { body: { data: { send: { id: `tr_${i}`, amount: '1.00' } } }, httpStatus: 200 };
      const [claims] = await Promise.all([
        Promise.all(Array.from({ length: 30 }, () => store.claim(s, 'fp', 'send'))),
        store.complete(s, first.owner, response),
      ]);
      expect(claims.filter((c) => c.kind === 'claimed')).toEqual([]);
      for (const c of claims) expect(['in-use', 'completed']).toContain(c.kind);
      for (const c of claims.filter((c) => c.kind === 'completed')) expect(c).toEqual({ kind: 'completed', response });
      expect(await store.claim(s, 'fp', 'send')).toEqual({ kind: 'completed', response });

      const r = scope();
      const held = (await store.claim(r, 'fp', 'send')) as { owner: string };
      const [racing] = await Promise.all([
        Promise.all(Array.from({ length: 30 }, () => store.claim(r, 'fp', 'send'))),
        store.release(r, held.owner),
      ]);
      // Once released, at most one of the racing requests takes the key; the rest see it in use.
      expect(racing.filter((c) => c.kind === 'claimed').length).toBeLessThanOrEqual(1);
      for (const c of racing) expect(['in-use', 'claimed']).toContain(c.kind);
    }
  });

  it.runIf(backend === 'postgres')(
    'a claim that waited on another first use of the key answers in use, though its snapshot does not show it',
    async () => {
      // Deterministic form of the race above: another replica's claim is inserted but not yet committed;
      // ours waits on it, so the record it then conflicts with is newer than its statement's snapshot.
      const store = createIdempotencyStore(t.db, { leaseMs: 60_000, retentionHours: 24 });
      const s = scope();
      let claiming: Promise<unknown> | undefined;
      await t.db.transaction(async (tx) => {
        await tx.query(
          `INSERT INTO idempotency_records (client_id, customer_id, key, fingerprint, field, state, owner, lease_until)
           VALUES ($1, $2, $3, 'fp', 'send', 'in_flight', 'other-replica', now() + interval '1 minute')`,
          [s.clientId, s.customerId, s.key],
        );
        const [row] = await tx.query<{ xid: string }>('SELECT pg_current_xact_id()::text AS xid');
        const xid = row!.xid;
        claiming = store.claim(s, 'fp', 'send');
        await vi.waitFor(async () => {
          const waiting = await t.db.query(
            `SELECT 1 FROM pg_locks WHERE locktype = 'transactionid' AND transactionid::text = $1 AND NOT granted`,
            [xid],
          );
          expect(waiting).toHaveLength(1);
        }, waitBudget());
      });
      expect(await claiming).toEqual({ kind: 'in-use' });
    },
  );

  it('the purge works in batches until nothing expired is left', async () => {
    const store = createIdempotencyStore(t.db, { leaseMs: 60_000, retentionHours: 24, purgeBatchSize: 2 });
    await t.db.query('DELETE FROM idempotency_records');
    for (const [name, age] of [
      ['b1', '25 hours'],
      ['b2', '26 hours'],
      ['b3', '27 hours'],
      ['b4', '28 hours'],
      ['b5', '29 hours'],
      ['young', '23 hours'],
    ] as const) {
      const s = { clientId: 'web-app', customerId: 'cus_b', key: name };
      const c = (await store.claim(s, 'fp', 'send')) as { owner: string };
      await store.complete(s, c.owner, { body: { data: name }, httpStatus: 200 });
      await t.db.query(`UPDATE idempotency_records SET created_at = now() - $1::interval WHERE key = $2`, [age, name]);
    }
    expect(await store.purge()).toBe(5);
    expect((await t.db.query<{ key: string }>('SELECT key FROM idempotency_records')).map((r) => r.key)).toEqual([
      'young',
    ]);
    expect(await store.purge()).toBe(0);
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
