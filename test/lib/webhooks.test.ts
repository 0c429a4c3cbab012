import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../lib/database.ts';
import { listen, closeServer } from '../../lib/http-server.ts';
import { createLogger } from '../../lib/logger.ts';
import {
  countByStatus,
  createWebhookReceiver,
  createWebhookWorker,
  listEvents,
  onfidoSignature,
  onfidoVerifier,
  replayEvents,
  standardWebhooksVerifier,
  webhookInboxMigrations,
  type ApplyFn,
  type WebhookSource,
} from '../../lib/webhooks/index.ts';
import { BACKEND_NAMES, BACKENDS, DATABASE_URL, openTestDatabase, type TestDatabase } from '../support/database.ts';

const logger = createLogger('webhooks-test', 'silent');
const newSecret = () => `whsec_${randomBytes(32).toString('base64')}`;
const SECRET = newSecret();
const PREVIOUS = newSecret();

/** A state table the apply callback owns, as a subgraph's payments table would be. */
const stateMigration = {
  name: 'test_001_state',
  sql: `CREATE TABLE agg_state (id text PRIMARY KEY, status text NOT NULL, seq bigint NOT NULL);
        CREATE TABLE apply_log (n bigserial PRIMARY KEY, event_id text NOT NULL, aggregate_id text NOT NULL, seq bigint NOT NULL);`,
};
const migrations = [...webhookInboxMigrations, stateMigration];

/** The sender's side, as the Northwind sandbox signs: Standard Webhooks headers over the exact body. */
function signed(
  body: unknown,
  opts: { id?: string; at?: Date; secrets?: string[] } = {},
): { rawBody: string; headers: Record<string, string> } {
  const rawBody = JSON.stringify(body);
  const id = opts.id ?? `msg_${randomBytes(8).toString('hex')}`;
  const at = opts.at ?? new Date();
  const signature = (opts.secrets ?? [SECRET]).map((s) => new Webhook(s).sign(id, at, rawBody)).join(' ');
  return {
    rawBody,
    headers: {
      'webhook-id': id,
      'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
      'webhook-signature': signature,
      'content-type': 'application/json',
    },
  };
}

const event = (aggregate: string, seq: number, status: string) => ({
  type: 'payment.status_changed',
  timestamp: new Date(Date.UTC(2026, 10, 23, 12, 0, seq)).toISOString(),
  data: { DomesticPaymentId: aggregate, Status: status, Sequence: seq },
});

const northwind = (secrets = [SECRET]): WebhookSource => ({
  source: 'northwind',
  path: '/webhooks/northwind',
  verify: standardWebhooksVerifier(secrets),
  describe: (payload) => {
    const p = payload as ReturnType<typeof event>;
    if (typeof p?.data?.DomesticPaymentId !== 'string') throw new Error('no DomesticPaymentId');
    return {
      type: p.type,
      aggregateId: p.data.DomesticPaymentId,
      sequence: p.data.Sequence,
      occurredAt: new Date(p.timestamp),
    };
  },
});

/** Applies status events monotonically: an event at or below the stored sequence changes nothing. */
const applyMonotonic: ApplyFn = async (e, { tx }) => {
  const p = (e.payload as ReturnType<typeof event>).data;
  const current = await tx.query<{ seq: string }>(`SELECT seq FROM agg_state WHERE id = $1 FOR UPDATE`, [
    p.DomesticPaymentId,
  ]);
  if (current[0] && Number(current[0].seq) >= p.Sequence) return { result: `stale: at ${current[0].seq}` };
  await tx.query(
    `INSERT INTO agg_state (id, status, seq) VALUES ($1, $2, $3)
     ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, seq = EXCLUDED.seq`,
    [p.DomesticPaymentId, p.Status, p.Sequence],
  );
  await tx.query(`INSERT INTO apply_log (event_id, aggregate_id, seq) VALUES ($1, $2, $3)`, [
    e.eventId,
    p.DomesticPaymentId,
    p.Sequence,
  ]);
};

describe('verifiers', () => {
  it('accept a Standard Webhooks delivery signed with the current or, during a rotation, the previous secret', () => {
    const verify = standardWebhooksVerifier([SECRET, PREVIOUS]);
    const body = event('DP1', 1, 'ACSP');
    expect(() => verify(...args(signed(body)))).not.toThrow();
    expect(() => verify(...args(signed(body, { secrets: [PREVIOUS] })))).not.toThrow();
    // The sender signs with both while it rotates: a receiver that knows only the new secret accepts that too.
    expect(() =>
      standardWebhooksVerifier([SECRET])(...args(signed(body, { secrets: [PREVIOUS, SECRET] }))),
    ).not.toThrow();
  });

  it('refuse a wrong secret, a changed body, missing headers and a timestamp outside 5 minutes', () => {
    const verify = standardWebhooksVerifier([SECRET]);
    const good = signed(event('DP1', 1, 'ACSP'));
    expect(() => verify(...args(signed(event('DP1', 1, 'ACSP'), { secrets: [newSecret()] })))).toThrow(
      expect.objectContaining({ status: 401, code: 'WEBHOOK_SIGNATURE_INVALID' }),
    );
    expect(() => verify(good.rawBody.replace('ACSP', 'ACCC'), good.headers)).toThrow(
      expect.objectContaining({ code: 'WEBHOOK_SIGNATURE_INVALID' }),
    );
    const { 'webhook-signature': _drop, ...noSignature } = good.headers;
    expect(() => verify(good.rawBody, noSignature)).toThrow(
      expect.objectContaining({ status: 400, code: 'WEBHOOK_HEADERS_MISSING' }),
    );
    const stale = signed(event('DP1', 1, 'ACSP'), { at: new Date(Date.now() - 6 * 60_000) });
    expect(() => verify(...args(stale))).toThrow(
      expect.objectContaining({ status: 401, code: 'WEBHOOK_TIMESTAMP_INVALID' }),
    );
    const future = signed(event('DP1', 1, 'ACSP'), { at: new Date(Date.now() + 6 * 60_000) });
    expect(() => verify(...args(future))).toThrow(expect.objectContaining({ code: 'WEBHOOK_TIMESTAMP_INVALID' }));
  });

  it("check Onfido's X-SHA2-Signature (hex HMAC-SHA256 of the raw body) in constant time", () => {
    const verify = onfidoVerifier(['onfido-webhook-token-current', 'onfido-webhook-token-previous']);
    const raw = JSON.stringify({
      payload: { resource_type: 'check', action: 'check.completed', object: { id: 'c1' } },
    });
    expect(() =>
      verify(raw, { 'X-SHA2-Signature': onfidoSignature('onfido-webhook-token-current', raw) }),
    ).not.toThrow();
    expect(() =>
      verify(raw, { 'x-sha2-signature': onfidoSignature('onfido-webhook-token-previous', raw) }),
    ).not.toThrow();
    expect(() => verify(raw, { 'x-sha2-signature': onfidoSignature('another-token', raw) })).toThrow(
      expect.objectContaining({ code: 'WEBHOOK_SIGNATURE_INVALID' }),
    );
    expect(() =>
      verify(`${raw} `, { 'x-sha2-signature': onfidoSignature('onfido-webhook-token-current', raw) }),
    ).toThrow(expect.objectContaining({ code: 'WEBHOOK_SIGNATURE_INVALID' }));
    expect(() => verify(raw, { 'x-sha2-signature': 'abc' })).toThrow(
      expect.objectContaining({ code: 'WEBHOOK_SIGNATURE_INVALID' }),
    );
    expect(() => verify(raw, {})).toThrow(expect.objectContaining({ code: 'WEBHOOK_HEADERS_MISSING' }));
  });
});

function args(d: { rawBody: string; headers: Record<string, string> }): [string, Record<string, string>] {
  return [d.rawBody, d.headers];
}

describe.each(BACKENDS)('webhook inbox on %s', (backend) => {
  let t: TestDatabase;
  let db: Database;
  beforeAll(async () => {
    t = await openTestDatabase(backend, { schema: 'webhooks', migrations });
    db = t.db;
  });
  afterAll(async () => {
    await t?.dispose();
  });
  const title = BACKEND_NAMES[backend];

  it(`${title}: answers 2xx over HTTP, stores the raw event once, and refuses bad signatures and stale timestamps without storing`, async () => {
    const receiver = createWebhookReceiver({ db, logger, sources: [northwind()] });
    const server = createServer((req, res) => {
      void receiver.routes(req, res, new URL(req.url ?? '/', 'http://x')).then((handled) => {
        if (!handled) res.writeHead(404).end();
      });
    });
    const { url } = await listen(server, 0, '127.0.0.1');
    try {
      const post = (d: { rawBody: string; headers: Record<string, string> }) =>
        fetch(`${url}/webhooks/northwind`, { method: 'POST', headers: d.headers, body: d.rawBody });
      const delivery = signed(event('DP-http', 1, 'ACSP'), { id: 'msg_http_1' });
      const first = await post(delivery);
      expect(first.status).toBe(200);
      expect(await first.json()).toMatchObject({ received: true, duplicate: false });
      const again = await post(delivery);
      expect(await again.json()).toMatchObject({ received: true, duplicate: true });

      const forged = signed(event('DP-http', 2, 'ACCC'), { id: 'msg_http_2', secrets: [newSecret()] });
      const refused = await post(forged);
      expect(refused.status).toBe(401);
      expect(await refused.json()).toEqual({
        error: { code: 'WEBHOOK_SIGNATURE_INVALID', message: 'no webhook-signature matches' },
      });
      const stale = await post(
        signed(event('DP-http', 3, 'ACCC'), { id: 'msg_http_3', at: new Date(Date.now() - 600_000) }),
      );
      expect(stale.status).toBe(401);
      expect(((await stale.json()) as { error: { code: string } }).error.code).toBe('WEBHOOK_TIMESTAMP_INVALID');
      expect((await fetch(`${url}/webhooks/northwind`)).status).toBe(405);
      const oversized = await post({ ...delivery, rawBody: 'x'.repeat(256 * 1024 + 1) });
      expect(oversized.status).toBe(413);
      expect(((await oversized.json()) as { error: { code: string } }).error.code).toBe('WEBHOOK_BODY_TOO_LARGE');

      const rows = await db.query(
        `SELECT event_id, status, raw_body, headers FROM webhook_inbox WHERE aggregate_id = 'DP-http'`,
      );
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ event_id: 'msg_http_1', status: 'received', raw_body: delivery.rawBody });
      expect(rows[0]!.headers).toMatchObject({
        'webhook-id': 'msg_http_1',
        'webhook-signature': delivery.headers['webhook-signature'],
      });
      // Applied, so the next test starts from an empty queue.
      expect(await createWebhookWorker({ db, logger, apply: applyMonotonic }).runOnce()).toMatchObject({ applied: 1 });
    } finally {
      await closeServer(server);
    }
  });

  it(`${title}: a duplicate delivery applies once; an out-of-order older event never moves state back`, async () => {
    const receiver = createWebhookReceiver({ db, logger, sources: [northwind()] });
    const worker = createWebhookWorker({ db, logger, apply: applyMonotonic, sources: ['northwind'] });
    const settled = signed(event('DP-order', 3, 'ACCC'), { id: 'msg_order_3' });
    expect((await receiver.receive('northwind', settled)).status).toBe(200);
    expect((await receiver.receive('northwind', settled)).body).toMatchObject({ duplicate: true });
    expect(await worker.runOnce()).toEqual({ applied: 1, failed: 0, dead: 0 });
    // The older events arrive late: both are stored and handed to the callback, which leaves the state alone.
    await receiver.receive('northwind', signed(event('DP-order', 1, 'ACSP'), { id: 'msg_order_1' }));
    await receiver.receive('northwind', signed(event('DP-order', 2, 'ACSC'), { id: 'msg_order_2' }));
    expect(await worker.runOnce()).toEqual({ applied: 2, failed: 0, dead: 0 });
    expect(await db.query(`SELECT status, seq FROM agg_state WHERE id = 'DP-order'`)).toEqual([
      { status: 'ACCC', seq: expect.anything() },
    ]);
    const inbox = await db.query<{ event_id: string; status: string; result: string }>(
      `SELECT event_id, status, result FROM webhook_inbox WHERE aggregate_id = 'DP-order' ORDER BY event_id`,
    );
    expect(inbox).toEqual([
      { event_id: 'msg_order_1', status: 'applied', result: 'stale: at 3' },
      { event_id: 'msg_order_2', status: 'applied', result: 'stale: at 3' },
      { event_id: 'msg_order_3', status: 'applied', result: 'applied' },
    ]);
    expect(await db.query(`SELECT event_id FROM apply_log WHERE aggregate_id = 'DP-order'`)).toEqual([
      { event_id: 'msg_order_3' },
    ]);
  });

  it(`${title}: events that arrived out of order but are open together apply in sequence order`, async () => {
    const receiver = createWebhookReceiver({ db, logger, sources: [northwind()] });
    const worker = createWebhookWorker({ db, logger, apply: applyMonotonic });
    for (const [seq, status] of [
      [3, 'ACCC'],
      [1, 'ACSP'],
      [2, 'ACSC'],
    ] as const)
      await receiver.receive('northwind', signed(event('DP-batch', seq, status), { id: `msg_batch_${seq}` }));
    await worker.runOnce();
    const log = await db.query<{ seq: string }>(`SELECT seq FROM apply_log WHERE aggregate_id = 'DP-batch' ORDER BY n`);
    expect(log.map((r) => Number(r.seq))).toEqual([1, 2, 3]);
  });

  it(`${title}: a failing event retries with backoff, is dead-lettered with its error, blocks nothing after, and replays once fixed`, async () => {
    let clock = new Date('2026-11-23T12:00:00Z');
    let broken = true;
    const worker = createWebhookWorker({
      db,
      logger,
      maxAttempts: 3,
      backoffMs: (n) => n * 60_000,
      now: () => clock,
      apply: async (e, ctx) => {
        if (broken && (e.payload as ReturnType<typeof event>).data.DomesticPaymentId === 'DP-fail')
          throw new Error('ledger unavailable');
        return applyMonotonic(e, ctx);
      },
    });
    const receiver = createWebhookReceiver({ db, logger, now: () => clock, sources: [northwind()] });
    await receiver.receive('northwind', signed(event('DP-fail', 1, 'ACSP'), { id: 'msg_fail_1' }));
    await receiver.receive('northwind', signed(event('DP-fail', 2, 'ACSC'), { id: 'msg_fail_2' }));
    expect(await worker.runOnce()).toEqual({ applied: 0, failed: 1, dead: 0 });
    // Not due yet, and the later event of the same payment waits behind it.
    expect(await worker.runOnce()).toEqual({ applied: 0, failed: 0, dead: 0 });
    clock = new Date(clock.getTime() + 60_000);
    expect(await worker.runOnce()).toEqual({ applied: 0, failed: 1, dead: 0 });
    clock = new Date(clock.getTime() + 120_000);
    // Third failure: dead. The second event is no longer blocked; it fails the same way (broken) but on its own.
    const third = await worker.runOnce();
    expect(third.dead).toBe(1);
    const listed = await listEvents(db, { source: 'northwind' });
    expect(listed.find((e) => e.eventId === 'msg_fail_1')).toMatchObject({
      status: 'dead',
      attempts: 3,
      lastError: 'ledger unavailable',
    });

    broken = false;
    clock = new Date(clock.getTime() + 3_600_000);
    const replay = await replayEvents(db, { allFailed: true, source: 'northwind' }, clock);
    expect(replay.requeued).toHaveLength(2);
    await worker.runOnce();
    expect(await db.query(`SELECT status, seq FROM agg_state WHERE id = 'DP-fail'`)).toEqual([
      { status: 'ACSC', seq: expect.anything() },
    ]);
    const applied = await db.query<{ event_id: string; status: string; last_error: string | null }>(
      `SELECT event_id, status, last_error FROM webhook_inbox WHERE aggregate_id = 'DP-fail' ORDER BY event_id`,
    );
    expect(applied).toEqual([
      { event_id: 'msg_fail_1', status: 'applied', last_error: null },
      { event_id: 'msg_fail_2', status: 'applied', last_error: null },
    ]);
    // Replaying an applied event, one or a time range, is a no-op.
    const id = (await listEvents(db, { statuses: ['applied'], source: 'northwind' })).find(
      (e) => e.eventId === 'msg_fail_1',
    )!.id;
    expect(await replayEvents(db, { id }, clock)).toEqual({ requeued: [], alreadyApplied: [id], alreadyQueued: [] });
    const range = await replayEvents(db, { from: new Date(0), to: new Date('2100-01-01'), source: 'northwind' }, clock);
    expect(range.requeued).toEqual([]);
    expect(await worker.runOnce()).toEqual({ applied: 0, failed: 0, dead: 0 });
    expect(await db.query(`SELECT count(*)::int AS n FROM apply_log WHERE aggregate_id = 'DP-fail'`)).toEqual([
      { n: 2 },
    ]);
  });

  it(`${title}: a signed payload that cannot be understood is kept as dead, not refused`, async () => {
    const receiver = createWebhookReceiver({ db, logger, sources: [northwind()] });
    const res = await receiver.receive(
      'northwind',
      signed({ type: 'payment.status_changed', data: {} }, { id: 'msg_junk' }),
    );
    expect(res.status).toBe(200);
    const dead = await listEvents(db, { statuses: ['dead'] });
    expect(dead.find((e) => e.eventId === 'msg_junk')?.lastError).toBe('payload not understood: no DomesticPaymentId');
    expect((await countByStatus(db)).dead).toBeGreaterThanOrEqual(1);
  });
});

describe.runIf(DATABASE_URL)('webhook workers racing on PostgreSQL', () => {
  let t: TestDatabase;
  let second: Database;
  beforeAll(async () => {
    t = await openTestDatabase('postgres', { schema: 'webhooks', migrations, poolSize: 4 });
    // A second pool on the same schema: what a second replica of the subgraph would have.
    second = await openDatabase({ schema: t.schema, databaseUrl: DATABASE_URL, migrations, logger, poolSize: 4 });
  });
  afterAll(async () => {
    await second?.close();
    await t?.dispose();
  });

  it('two workers apply 240 shuffled events of 24 payments each exactly once, one at a time per payment, in order', async () => {
    const receiver = createWebhookReceiver({ db: t.db, logger, sources: [northwind()] });
    const deliveries = [];
    for (let p = 0; p < 24; p++)
      for (let seq = 1; seq <= 10; seq++) deliveries.push({ p, seq, d: signed(event(`DP-race-${p}`, seq, `S${seq}`)) });
    // Shuffled arrival, some delivered twice, concurrently.
    deliveries.sort(() => Math.random() - 0.5);
    await Promise.all([...deliveries, ...deliveries.slice(0, 40)].map(({ d }) => receiver.receive('northwind', d)));
    expect(await t.db.query(`SELECT count(*)::int AS n FROM webhook_inbox`)).toEqual([{ n: 240 }]);

    const inFlight = new Set<string>();
    const overlaps: string[] = [];
    const apply: ApplyFn = async (e, ctx) => {
      const aggregate = e.aggregateId!;
      if (inFlight.has(aggregate)) overlaps.push(aggregate);
      inFlight.add(aggregate);
      try {
        await sleep(Math.random() * 3);
        return await applyMonotonic(e, ctx);
      } finally {
        inFlight.delete(aggregate);
      }
    };
    const workers = [
      createWebhookWorker({ db: t.db, logger, apply }),
      createWebhookWorker({ db: second, logger, apply }),
      createWebhookWorker({ db: t.db, logger, apply }),
    ];
    const drain = async (w: (typeof workers)[number]) => {
      // A worker that finds nothing may be racing one holding the only open event of a payment: look again.
      for (let idle = 0; idle < 20;) {
        const r = await w.runOnce();
        if (r.applied + r.failed + r.dead === 0) {
          idle++;
          await sleep(5);
        } else idle = 0;
      }
    };
    await Promise.all(workers.map(drain));
    await workers[0]!.runOnce();

    expect(overlaps).toEqual([]);
    const counts = await t.db.query<{ n: number; distinct_events: number }>(
      `SELECT count(*)::int AS n, count(DISTINCT event_id)::int AS distinct_events FROM apply_log`,
    );
    expect(counts).toEqual([{ n: 240, distinct_events: 240 }]);
    const perPayment = await t.db.query<{ aggregate_id: string; seqs: string[] }>(
      `SELECT aggregate_id, array_agg(seq::text ORDER BY n) AS seqs FROM apply_log GROUP BY aggregate_id`,
    );
    expect(perPayment).toHaveLength(24);
    for (const row of perPayment) expect(row.seqs.map(Number)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(await countByStatus(t.db)).toEqual({ received: 0, applied: 240, failed: 0, dead: 0 });
  });
});
