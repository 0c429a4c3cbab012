import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { listEvents, onfidoSignature, replayEvents, type InboxEvent } from '../../lib/webhooks/index.ts';
import { openDatabase, type Database } from '../../lib/database.ts';
import { createTestClock } from '../../sandboxes/lib/clock.ts';
import { startSandboxes, type RunningSandboxes } from '../../sandboxes/index.ts';
import { PLATFORM_PARTNER_CREDENTIALS, SANDBOX_CUSTOMERS } from '../../sandboxes/manifest.ts';
import { loadIdentityConfig } from '../../subgraphs/identity/config.ts';
import { startIdentitySubgraph, type RunningIdentitySubgraph } from '../../subgraphs/identity/server.ts';
import { migrations } from '../../subgraphs/identity/storage/migrations.ts';
import { SANDBOX_SEED_FILE } from '../support/seed.ts';
import { scaled, waitBudget } from '../support/time.ts';
import { BEN, CLARA, customerPrincipal, graphql, silentLogger } from './helpers.ts';

/**
 * Onfido's check webhooks into the identity subgraph (issue 10): the KYC sandbox signs its events
 * with X-SHA2-Signature and sends them to POST /webhooks/onfido; identity verifies, stores the raw
 * event in its inbox, answers 2xx and applies it asynchronously, so `kyc` shows the outcome (and
 * its completion time, which only the webhook carries). With DATABASE_URL on a PostgreSQL database
 * made for the run (dropped afterwards), else on PGlite.
 */
const DATABASE_URL = process.env.DATABASE_URL;
const clock = createTestClock(new Date());
const token = randomBytes(32).toString('base64url');
const clara = SANDBOX_CUSTOMERS.find((c) => c.customerId === CLARA)!;
let sandboxes: RunningSandboxes;
let identity: RunningIdentitySubgraph;
let inbox: Database;
const closers: (() => Promise<unknown>)[] = [];

async function startIdentity(databaseEnv: Record<string, string>) {
  return startIdentitySubgraph(
    loadIdentityConfig({
      IDENTITY_PORT: '0',
      SEED_FILE: SANDBOX_SEED_FILE,
      ONFIDO_URL: sandboxes.urls.onfido,
      ONFIDO_API_TOKEN: PLATFORM_PARTNER_CREDENTIALS.onfidoApiToken,
      ONFIDO_TIMEOUT_MS: '1000',
      ONFIDO_WEBHOOK_TOKEN: token,
      ...databaseEnv,
    }),
    // Two attempts then dead, a short backoff: the failure-and-replay test does not wait on the default backoff.
    { logger: silentLogger, now: clock.now, webhookWorker: { maxAttempts: 2, backoffMs: () => 0 } },
  );
}

beforeAll(async () => {
  sandboxes = await startSandboxes({
    ports: 0,
    logger: silentLogger,
    now: clock.now,
    onfido: { checkCompletionMs: 30_000, webhooks: { pumpIntervalMs: 0 } },
  });
  closers.push(() => sandboxes.close());
  let databaseEnv: Record<string, string>;
  if (DATABASE_URL) {
    const name = `h5c_identity_${randomBytes(5).toString('hex')}`;
    const admin = new pg.Client({ connectionString: DATABASE_URL });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    const url = new URL(DATABASE_URL);
    url.pathname = `/${name}`;
    databaseEnv = { DATABASE_URL: url.toString() };
    closers.push(async () => {
      const c = new pg.Client({ connectionString: DATABASE_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    });
  } else {
    databaseEnv = { PGLITE_DIR: `memory://identity-webhooks-${randomBytes(4).toString('hex')}` };
  }
  identity = await startIdentity(databaseEnv);
  closers.push(() => identity.close());
  // The operators' view of the same inbox (a second connection; PGlite: the subgraph's own is the only one).
  inbox = DATABASE_URL
    ? await openDatabase({
        schema: 'identity',
        databaseUrl: databaseEnv.DATABASE_URL,
        migrations,
        logger: silentLogger,
      })
    : (undefined as unknown as Database);
  if (inbox) closers.unshift(() => inbox.close());
  sandboxes.onfido.webhooks.configure({ url: webhookUrl(), token });
}, scaled(120_000));

afterAll(async () => {
  for (const c of closers.reverse()) await c().catch(() => {});
});

const webhookUrl = () => identity.url.replace(/\/graphql$/, '/webhooks/onfido');

const KYC = `{ me { kyc { status completedAt checks { status result } } } }`;
async function kyc(
  customerId = CLARA,
): Promise<{ status: string; completedAt: string | null; checks: { status: string }[] }> {
  const res = await graphql(identity.url, KYC, { principal: customerPrincipal(customerId) });
  expect(res.errors).toBeUndefined();
  return (res.data!.me as { kyc: never }).kyc;
}

async function post(body: string, signature: string | undefined) {
  const res = await fetch(webhookUrl(), {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(signature ? { 'x-sha2-signature': signature } : {}) },
    body,
  });
  return { status: res.status, body: (await res.json()) as { error?: { code: string }; duplicate?: boolean } };
}

/** Inbox rows of the check (every status): through the operators' connection, else through the worker's results. */
async function eventsOf(checkId: string): Promise<InboxEvent[]> {
  if (!inbox) return [];
  const all = await listEvents(inbox, { statuses: ['received', 'applied', 'failed', 'dead'], source: 'onfido' });
  return all.filter((e) => e.aggregateId === `check:${checkId}`);
}

describe('Onfido check webhooks into identity', () => {
  it('refuses a bad or missing signature with a code, storing nothing', async () => {
    const checkId = sandboxes.onfido.createCheck(clara.kycApplicantId!);
    const body = JSON.stringify({
      payload: {
        resource_type: 'check',
        action: 'check.completed',
        object: { id: checkId, status: 'complete', completed_at_iso8601: new Date().toISOString(), href: 'x' },
      },
    });
    const wrong = await post(body, onfidoSignature(randomBytes(32).toString('base64url'), body));
    expect(wrong).toEqual({
      status: 401,
      body: { error: expect.objectContaining({ code: 'WEBHOOK_SIGNATURE_INVALID' }) },
    });
    const tampered = await post(body.replace('complete"', 'withdrawn"'), onfidoSignature(token, body));
    expect(tampered.status).toBe(401);
    const missing = await post(body, undefined);
    expect(missing).toEqual({
      status: 400,
      body: { error: expect.objectContaining({ code: 'WEBHOOK_HEADERS_MISSING' }) },
    });
    // Correctly signed, the same body is taken.
    expect((await post(body, onfidoSignature(token, body))).status).toBe(200);
    expect((await eventsOf(checkId)).map((e) => e.type)).toEqual(DATABASE_URL ? ['check.completed'] : []);
  });

  it('a check completes at the sandbox: its signed events move kyc to the outcome, with the completion time', async () => {
    clock.advance(1_000); // newer than the check of the test before: the latest check
    const checkId = sandboxes.onfido.createCheck(clara.kycApplicantId!);
    await sandboxes.onfido.webhooks.flush();
    await identity.webhooks!.runOnce();
    expect((await kyc()).status).toBe('IN_PROGRESS');
    clock.advance(31_000);
    // The KYC provider's read would now say complete too; what only the webhook brings is the completion time.
    await sandboxes.onfido.webhooks.flush();
    await vi.waitFor(async () => expect((await kyc()).completedAt).not.toBeNull(), waitBudget(10_000));
    const after = await kyc();
    expect(after.status).toBe('APPROVED');
    const delivered = sandboxes.onfido.webhooks.deliveries().filter((d) => d.body.includes(checkId));
    expect(delivered.map((d) => d.type)).toEqual(['check.started', 'check.completed']);
    expect(delivered.every((d) => d.state === 'delivered')).toBe(true);
    expect(new Date(after.completedAt!).toISOString()).toBe(
      JSON.parse(delivered[1]!.body).payload.object.completed_at_iso8601,
    );
  });

  it('drops duplicate deliveries and never moves a check backwards on out-of-order delivery', async () => {
    // Every event of the check delivered twice, and all held and delivered newest first: completed before started.
    sandboxes.onfido.webhooks.duplicateNext(4);
    sandboxes.onfido.webhooks.reorderNext(4);
    const checkId = sandboxes.onfido.createCheck(clara.kycApplicantId!);
    clock.advance(31_000);
    await sandboxes.onfido.webhooks.flush();
    const sent = sandboxes.onfido.webhooks.deliveries().filter((d) => d.body.includes(checkId));
    expect(sent.map((d) => [d.type, d.attempts.length]).sort()).toEqual([
      ['check.completed', 2],
      ['check.started', 2],
    ]);
    await vi.waitFor(async () => expect((await kyc()).completedAt).not.toBeNull(), waitBudget(10_000));
    await identity.webhooks!.runOnce();
    // A redelivery of the same event is recognised as such.
    const started = sent.find((d) => d.type === 'check.started' && d.body.includes(checkId))!;
    expect((await post(started.body, onfidoSignature(token, started.body))).body.duplicate).toBe(true);
    // An event older than the completion arriving after it (another event, not a duplicate): stored, changes nothing.
    const older = started.body.replace('check.started', 'check.form_completed');
    expect((await post(older, onfidoSignature(token, older))).body.duplicate).toBe(false);
    await identity.webhooks!.runOnce();
    const state = await kyc();
    expect(state.status).toBe('APPROVED');
    expect(state.checks[0]!.status).toBe('COMPLETE');
    if (DATABASE_URL)
      // The background worker may still hold the last event in its transaction: wait for it to commit.
      await vi.waitFor(async () => {
        const events = await eventsOf(checkId);
        // One row per distinct event, however many deliveries.
        expect(events.map((e) => e.type).sort()).toEqual(['check.completed', 'check.form_completed', 'check.started']);
        expect(events.map((e) => e.status)).toEqual(['applied', 'applied', 'applied']);
        expect(events.find((e) => e.type === 'check.form_completed')!.result).toMatch(/^stale/);
      }, waitBudget(10_000));
  });

  it("keeps each customer's recorded checks to that customer, under overlapping requests", async () => {
    const [claras, bens] = await Promise.all([
      Promise.all(Array.from({ length: 5 }, () => kyc(CLARA))),
      Promise.all(Array.from({ length: 5 }, () => kyc(BEN))),
    ]);
    // Clara's checks created by the tests above (recorded by webhooks) and her seeded one; Ben only his seeded one.
    for (const k of claras) expect(k.checks.length).toBeGreaterThan(1);
    for (const k of bens)
      expect(k).toEqual({ status: 'REVIEW_REQUIRED', completedAt: null, checks: [expect.anything()] });
  });

  it('a processing failure (Onfido down) dead-letters the event; a replay applies it', async () => {
    const checkId = sandboxes.onfido.createCheck(clara.kycApplicantId!);
    await sandboxes.onfido.webhooks.flush();
    await identity.webhooks!.runOnce();
    clock.advance(31_000);
    sandboxes.onfido.faults.inject({ method: 'GET', path: `/v3.6/checks/${checkId}`, status: 503 });
    await sandboxes.onfido.webhooks.flush();
    if (!DATABASE_URL) return; // the inbox is read and replayed through a second connection (PGlite has one)
    // The worker tries it twice (maxAttempts 2, Onfido answering 503 each time), then dead-letters it.
    let dead: InboxEvent | undefined;
    await vi.waitFor(async () => {
      await identity.webhooks!.runOnce();
      dead = (await eventsOf(checkId)).find((e) => e.type === 'check.completed');
      expect(dead?.status).toBe('dead');
    }, waitBudget(20_000));
    if (!dead) throw new Error('unreachable');
    expect(dead.attempts).toBe(2);
    expect((await kyc()).completedAt).toBeNull();
    expect(dead.lastError).toMatch(/onfido/i);
    sandboxes.onfido.faults.clear();
    expect((await replayEvents(inbox, { id: dead.id }, clock.now())).requeued).toEqual([dead.id]);
    identity.webhooks!.nudge();
    await vi.waitFor(async () => expect((await kyc()).completedAt).not.toBeNull(), waitBudget(10_000));
    expect((await replayEvents(inbox, { id: dead.id }, clock.now())).alreadyApplied).toEqual([dead.id]);
  });
});
