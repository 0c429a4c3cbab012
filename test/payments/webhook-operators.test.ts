import { randomBytes, randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../../lib/logger.ts';
import { createTestClock } from '../../sandboxes/lib/clock.ts';
import { startPlatform, type RunningPlatform } from '../../scripts/platform.ts';
import { gql, hasStackTrace } from '../gateway/helpers.ts';
import { scaled, waitBudget } from '../support/time.ts';
import { alice, INITIATE, PAYMENT, paymentInput } from './stack.ts';

/**
 * Operators list and replay the payments subgraph's webhook events through GraphQL (issue 10:
 * "Same through GraphQL for callers with an operator scope"), on the whole platform as npm start
 * wires it, on a PostgreSQL database made for the run: a payment is initiated and approved at the
 * sandbox bank, the ledger then refuses to record its settlement (a trigger standing in for a
 * database fault), so the bank's signed payment.status_changed event fails every attempt and is
 * dead-lettered; an operator finds it through Query.paymentWebhookEvents, the fault goes, the
 * operator replays it through Mutation.replayPaymentWebhookEvents and the payment settles; a
 * second replay is a no-op that says so. Customers and third parties get FORBIDDEN, whatever
 * scopes their token carries, under overlapping requests with the operator's.
 *
 * The trigger needs a second connection to the platform's database: PGlite has one, so without
 * DATABASE_URL this file is skipped (the failure-and-replay path of the inbox itself is covered on
 * PGlite by test/lib/webhooks.test.ts).
 */
const DATABASE_URL = process.env.DATABASE_URL;
const clock = createTestClock(new Date());
let platform: RunningPlatform;
let admin: pg.Client | undefined;
const closers: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  if (!DATABASE_URL) return;
  const name = `wh_ops_${randomBytes(5).toString('hex')}`;
  const server = new pg.Client({ connectionString: DATABASE_URL });
  await server.connect();
  await server.query(`CREATE DATABASE ${name}`);
  await server.end();
  closers.push(async () => {
    const c = new pg.Client({ connectionString: DATABASE_URL });
    await c.connect();
    await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await c.end();
  });
  const url = new URL(DATABASE_URL);
  url.pathname = `/${name}`;
  platform = await startPlatform({
    ports: 'free',
    env: {
      DATABASE_URL: url.toString(),
      PGLITE_DIR: undefined,
      REDIS_URL: undefined,
      LOG_LEVEL: 'silent',
      // The poller would learn the settlement from the bank on its own: only the webhook may move the payment here.
      PAYMENTS_POLL_INTERVAL_MS: '3600000',
    },
    logger: createLogger('webhook-operators', 'silent'),
    now: clock.now,
  });
  closers.push(() => platform.close());
  admin = new pg.Client({ connectionString: url.toString() });
  await admin.connect();
  closers.push(() => admin!.end());
}, scaled(120_000));

afterAll(async () => {
  for (const c of closers.reverse()) await c().catch(() => {});
});

// Tokens are minted on the sandbox clock, which the test moves by hours: a fresh one per request.
const operator = (scopes = ['webhooks:read', 'webhooks:replay']) =>
  platform.sandboxes.auth.mint({ clientId: 'ops-console', scopes });
const customer = () => platform.sandboxes.auth.mint({ customerId: alice.customerId, clientId: 'web-app' });
// Hostile tokens: a customer's app and a third party (Budgetly holds a consent of Alice's) asking for the operators'
// scopes, which the sandbox mints as asked; the gateway must still refuse them by kind of caller.
const customerWithOperatorScopes = () =>
  platform.sandboxes.auth.mint({
    customerId: alice.customerId,
    clientId: 'web-app',
    scopes: ['payments:read', 'webhooks:read', 'webhooks:replay'],
  });
const thirdPartyWithOperatorScopes = () =>
  platform.sandboxes.auth.mint({
    customerId: alice.customerId,
    clientId: 'budgetly',
    scopes: ['accounts:read', 'webhooks:read', 'webhooks:replay'],
  });

const EVENTS = `query Events($filter: WebhookEventFilter, $first: Int, $after: String) {
  paymentWebhookEvents(filter: $filter, first: $first, after: $after) {
    edges { cursor node { id eventId partner type paymentId status attempts lastError receivedAt nextAttemptAt appliedAt } }
    pageInfo { hasNextPage endCursor }
  }
}`;
const REPLAY = `mutation Replay($input: WebhookReplayInput!) {
  replayPaymentWebhookEvents(input: $input) {
    replayed replayedIds alreadyApplied alreadyAppliedIds alreadyPending alreadyPendingIds
  }
}`;

interface EventNode {
  id: string;
  eventId: string;
  partner: string;
  type: string;
  paymentId: string | null;
  status: string;
  attempts: number;
  lastError: string | null;
  receivedAt: string;
  nextAttemptAt: string | null;
  appliedAt: string | null;
}
interface Replay {
  replayed: number;
  replayedIds: string[];
  alreadyApplied: number;
  alreadyAppliedIds: string[];
  alreadyPending: number;
  alreadyPendingIds: string[];
}

async function events(variables: Record<string, unknown> = {}, token?: string) {
  const res = await gql(platform.gatewayUrl, EVENTS, { token: token ?? (await operator()), variables });
  expect(hasStackTrace(res.raw)).toBe(false);
  expect(res.body.errors).toBeUndefined();
  const page = res.body.data!.paymentWebhookEvents as {
    edges: { cursor: string; node: EventNode }[];
    pageInfo: { hasNextPage: boolean; endCursor: string | null };
  };
  return page;
}

async function replay(input: Record<string, unknown>): Promise<Replay> {
  const res = await gql(platform.gatewayUrl, REPLAY, { token: await operator(), variables: { input } });
  expect(res.body.errors).toBeUndefined();
  return res.body.data!.replayPaymentWebhookEvents as Replay;
}

async function payment(id: string) {
  const res = await gql(platform.gatewayUrl, PAYMENT, { token: await customer(), variables: { id } });
  expect(res.body.errors).toBeUndefined();
  return res.body.data!.payment as { status: string; statusHistory: { status: string }[] };
}

/** When this file's events start: the lists below ask only for what the inbox received since (a time range). */
const since = clock.now();

/** The events about one payment, in every status. */
async function eventsOf(paymentId: string): Promise<EventNode[]> {
  const all = await events({
    filter: { status: ['PENDING', 'APPLIED', 'FAILED', 'DEAD_LETTERED'], receivedFrom: since.toISOString() },
    first: 100,
  });
  expect(all.pageInfo.hasNextPage).toBe(false);
  return all.edges.map((e) => e.node).filter((e) => e.paymentId === paymentId);
}

describe.skipIf(!DATABASE_URL)('operators and the payments webhook inbox, through the gateway', () => {
  let paymentId = '';
  let dead: EventNode;

  it('lists a Northwind event that failed every attempt as DEAD_LETTERED, with its payment and error', async () => {
    const started = await gql(platform.gatewayUrl, INITIATE, {
      token: await customer(),
      variables: { input: paymentInput(`ops-${randomUUID()}`, { reference: 'OPS' }) },
    });
    expect(started.body.errors).toBeUndefined();
    const p = started.body.data!.initiatePayment as { id: string; authorisationUrl: string };
    paymentId = p.id;
    const approved = await fetch(p.authorisationUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams({ decision: 'approve', customerId: alice.customerId }).toString(),
    });
    expect(approved.status).toBe(200);
    await platform.sandboxes.northwind.webhooks.flush();
    await vi.waitFor(async () => expect((await payment(paymentId)).status).toBe('ACCEPTED'), waitBudget(15_000));
    // The consent's event applied, and the operator sees it against the platform's payment id (not the bank's ids).
    await vi.waitFor(async () => {
      const applied = await eventsOf(paymentId);
      expect(applied.map((e) => e.status)).toContain('APPLIED');
    }, waitBudget(10_000));

    // From now on the ledger refuses to change this payment.
    await admin!.query(`
      CREATE OR REPLACE FUNCTION payments.refuse_for_test() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'ledger refuses writes to this payment (maintenance)'; END $$;
      CREATE TRIGGER refuse_for_test BEFORE UPDATE ON payments.payments
        FOR EACH ROW WHEN (OLD.id = '${paymentId}') EXECUTE FUNCTION payments.refuse_for_test();`);
    clock.advance(11_000); // past the bank's settlement: ACSC is due
    await platform.sandboxes.northwind.webhooks.flush();
    // The worker retries with backoff on the platform's clock: move it past each retry until the event is dead.
    await vi.waitFor(
      async () => {
        const settled = (await eventsOf(paymentId)).find(
          (e) => e.type === 'payment.status_changed' && e.status !== 'APPLIED',
        );
        expect(settled).toBeDefined();
        if (settled!.status !== 'DEAD_LETTERED') clock.advance(2 * 3_600_000);
        expect(settled!.status).toBe('DEAD_LETTERED');
        dead = settled!;
      },
      { ...waitBudget(60_000), interval: 250 },
    );
    expect(dead).toMatchObject({ partner: 'northwind', paymentId, attempts: 8, nextAttemptAt: null, appliedAt: null });
    expect(dead.eventId).toMatch(/^msg_/);
    expect(dead.lastError).toContain('ledger refuses writes');
    expect(dead.lastError).not.toMatch(/\n|\bat .*\.ts:\d+/);
    // The default list is what needs an operator: the dead event is there, the applied consent event is not.
    const attention = (await events({ first: 100 })).edges.map((e) => e.node);
    expect(attention.map((e) => e.id)).toContain(dead.id);
    expect(attention.every((e) => e.status === 'FAILED' || e.status === 'DEAD_LETTERED')).toBe(true);
    // Not settled: the event is what would have settled it.
    expect((await payment(paymentId)).status).toBe('ACCEPTED');
  });

  it('refuses customers and third parties, whatever their scopes, while the operator reads the same inbox', async () => {
    const [customerToken, thirdPartyToken, operatorToken, auditorToken, readerToken] = await Promise.all([
      customerWithOperatorScopes(),
      thirdPartyWithOperatorScopes(),
      operator(),
      // An auditor (read-only audit:read) neither lists nor replays; a reader lists but does not replay.
      operator(['payments:read', 'audit:read']),
      operator(['webhooks:read']),
    ]);
    const ask = (token: string, query: string, variables: Record<string, unknown>) =>
      gql(platform.gatewayUrl, query, { token, variables });
    const list = { filter: { status: ['DEAD_LETTERED'] } };
    const replayUnknown = { input: { id: '999999999' } };
    const rounds = await Promise.all(
      Array.from({ length: 4 }, () =>
        Promise.all([
          ask(customerToken, EVENTS, list),
          ask(thirdPartyToken, EVENTS, list),
          ask(customerToken, REPLAY, { input: { allFailed: true } }),
          ask(thirdPartyToken, REPLAY, { input: { allFailed: true } }),
          ask(auditorToken, EVENTS, list),
          ask(auditorToken, REPLAY, { input: { allFailed: true } }),
          ask(readerToken, REPLAY, { input: { allFailed: true } }),
          ask(operatorToken, EVENTS, list),
          ask(operatorToken, REPLAY, replayUnknown),
        ]),
      ),
    );
    for (const [c1, t1, c2, t2, a1, a2, r2, operatorList, operatorReplay] of rounds) {
      for (const refused of [c1, t1, c2, t2, a1, a2, r2]) {
        expect(refused!.body.data ?? null).toBeNull();
        expect(refused!.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
        expect(hasStackTrace(refused!.raw)).toBe(false);
      }
      const listed = operatorList!.body.data!.paymentWebhookEvents as { edges: { node: { id: string } }[] };
      expect(listed.edges.map((e) => e.node.id)).toContain(dead.id);
      // An id that names no event: NOT_FOUND, with a code and nothing else.
      expect(operatorReplay!.body.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    }
    // Nothing of the refused replays happened: the event is still dead.
    expect((await eventsOf(paymentId)).find((e) => e.id === dead.id)?.status).toBe('DEAD_LETTERED');
  });

  it('replays the dead event once the fault is gone: it applies and the payment settles', async () => {
    await admin!.query(`DROP TRIGGER refuse_for_test ON payments.payments; DROP FUNCTION payments.refuse_for_test();`);
    const result = await replay({ id: dead.id });
    expect(result).toEqual({
      replayed: 1,
      replayedIds: [dead.id],
      alreadyApplied: 0,
      alreadyAppliedIds: [],
      alreadyPending: 0,
      alreadyPendingIds: [],
    });
    await vi.waitFor(async () => expect((await payment(paymentId)).status).toBe('SETTLED'), waitBudget(15_000));
    await vi.waitFor(async () => {
      const after = (await eventsOf(paymentId)).find((e) => e.id === dead.id)!;
      expect(after).toMatchObject({ status: 'APPLIED', attempts: 1, lastError: null });
      expect(after.appliedAt).not.toBeNull();
    }, waitBudget(10_000));
  });

  it('replaying an applied event is a no-op that says so; a time range and allFailed report the same', async () => {
    const before = await payment(paymentId);
    expect(await replay({ id: dead.id })).toEqual({
      replayed: 0,
      replayedIds: [],
      alreadyApplied: 1,
      alreadyAppliedIds: [dead.id],
      alreadyPending: 0,
      alreadyPendingIds: [],
    });
    // Every event of this test by the time it was received: the applied ones are reported, none is applied again.
    const mine = await eventsOf(paymentId);
    const received = mine.map((e) => new Date(e.receivedAt).getTime());
    const range = await replay({
      receivedFrom: new Date(Math.min(...received)).toISOString(),
      receivedTo: new Date(Math.max(...received) + 1).toISOString(),
    });
    expect(range.alreadyAppliedIds).toEqual(
      expect.arrayContaining(mine.filter((e) => e.status === 'APPLIED').map((e) => e.id)),
    );
    expect(range.replayedIds).not.toContain(dead.id);
    // The later settlement event (ACCC), failed meanwhile behind the dead one, is all that allFailed may requeue.
    const all = await replay({ allFailed: true });
    expect(all.replayedIds).not.toContain(dead.id);
    await vi.waitFor(async () => {
      expect((await eventsOf(paymentId)).filter((e) => e.status !== 'APPLIED')).toEqual([]);
    }, waitBudget(15_000));
    const after = await payment(paymentId);
    expect(after.status).toBe('SETTLED');
    // Settled once: the replays moved nothing twice.
    expect(after.statusHistory.filter((h) => h.status === 'SETTLED')).toHaveLength(1);
    expect(after.statusHistory.length).toBeGreaterThanOrEqual(before.statusHistory.length);
  });

  it('pages through the inbox with first/after, each event exactly once, and refuses a bad cursor', async () => {
    const filter = { status: ['APPLIED'] };
    const whole = (await events({ filter, first: 100 })).edges.map((e) => e.node.id);
    expect(whole.length).toBeGreaterThanOrEqual(3);
    const seen: string[] = [];
    let after: string | null = null;
    for (;;) {
      const page = await events({ filter, first: 2, ...(after ? { after } : {}) });
      seen.push(...page.edges.map((e) => e.node.id));
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    expect(seen).toEqual(whole);
    const bad = await gql(platform.gatewayUrl, EVENTS, {
      token: await operator(),
      variables: { after: 'not-a-cursor' },
    });
    expect(bad.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const tooMany = await gql(platform.gatewayUrl, EVENTS, { token: await operator(), variables: { first: 101 } });
    // The gateway's query limits refuse a page over 100 before any subgraph is asked (the subgraph would too).
    expect(tooMany.body.errors?.[0]?.extensions?.code).toBe('QUERY_LIMIT_EXCEEDED');
    const ambiguous = await gql(platform.gatewayUrl, REPLAY, {
      token: await operator(),
      variables: { input: { id: whole[0], allFailed: true } },
    });
    expect(ambiguous.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });
});
