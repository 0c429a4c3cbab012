import { readFileSync } from 'node:fs';
import { parse, print, type DefinitionNode } from 'graphql';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../../lib/logger.ts';
import { createTestClock } from '../../sandboxes/lib/clock.ts';
import { PLATFORM_PARTNER_CREDENTIALS, SANDBOX_CUSTOMERS } from '../../sandboxes/manifest.ts';
import { startPlatform, type RunningPlatform } from '../../scripts/platform.ts';
import { gql, hasStackTrace } from '../gateway/helpers.ts';
import { scaled, waitBudget } from '../support/time.ts';

/**
 * Operators list and replay the identity subgraph's webhook events (Onfido's) through GraphQL
 * (issue 10), on the whole platform as npm start wires it (in-process, free ports, PGlite): a KYC
 * check is created at the sandbox, Onfido then fails every read of it (503), so its signed
 * check.completed event fails every attempt and is dead-lettered; an operator finds it through
 * Query.kycWebhookEvents, under the same check id the customer's `kyc` shows; Onfido recovers,
 * the operator replays it through Mutation.replayKycWebhookEvents and the customer's KYC completes;
 * a second replay is a no-op that says so. Customers and third parties get FORBIDDEN, whatever
 * scopes their token carries, under overlapping requests with the operator's.
 */
const clock = createTestClock(new Date());
const clara = SANDBOX_CUSTOMERS.find((c) => c.displayName === 'Clara')!;
const alice = SANDBOX_CUSTOMERS.find((c) => c.displayName === 'Alice')!;
let platform: RunningPlatform;

beforeAll(async () => {
  platform = await startPlatform({
    ports: 'free',
    env: { PGLITE_DIR: 'memory://', DATABASE_URL: undefined, REDIS_URL: undefined, LOG_LEVEL: 'silent' },
    logger: createLogger('kyc-webhook-operators', 'silent'),
    now: clock.now,
  });
}, scaled(120_000));

afterAll(async () => {
  await platform?.close();
});

// Tokens are minted on the sandbox clock, which the test moves by hours: a fresh one per request.
const operator = (scopes = ['webhooks:read', 'webhooks:replay']) =>
  platform.sandboxes.auth.mint({ clientId: 'ops-console', scopes });

const EVENTS = `query Events($filter: WebhookEventFilter) {
  kycWebhookEvents(filter: $filter, first: 100) {
    edges { node { id eventId partner type checkId status attempts lastError receivedAt nextAttemptAt appliedAt } }
    pageInfo { hasNextPage }
  }
}`;
const REPLAY = `mutation Replay($input: WebhookReplayInput!) {
  replayKycWebhookEvents(input: $input) {
    replayed replayedIds alreadyApplied alreadyAppliedIds alreadyPending alreadyPendingIds
  }
}`;
const KYC = `{ me { kyc { status completedAt checks { id status } } } }`;

interface EventNode {
  id: string;
  eventId: string;
  partner: string;
  type: string;
  checkId: string | null;
  status: string;
  attempts: number;
  lastError: string | null;
  appliedAt: string | null;
  nextAttemptAt: string | null;
}

/** When this file's events start: the lists below ask only for what the inbox received since (a time range). */
const since = clock.now();

/** The events about one check, in every status. */
async function eventsOf(checkId: string): Promise<EventNode[]> {
  const res = await gql(platform.gatewayUrl, EVENTS, {
    token: await operator(),
    variables: {
      filter: { status: ['PENDING', 'APPLIED', 'FAILED', 'DEAD_LETTERED'], receivedFrom: since.toISOString() },
    },
  });
  expect(hasStackTrace(res.raw)).toBe(false);
  expect(res.body.errors).toBeUndefined();
  const page = res.body.data!.kycWebhookEvents as { edges: { node: EventNode }[]; pageInfo: { hasNextPage: boolean } };
  expect(page.pageInfo.hasNextPage).toBe(false);
  return page.edges.map((e) => e.node).filter((e) => e.checkId === checkId);
}

async function replay(input: Record<string, unknown>) {
  const res = await gql(platform.gatewayUrl, REPLAY, { token: await operator(), variables: { input } });
  expect(res.body.errors).toBeUndefined();
  return res.body.data!.replayKycWebhookEvents as Record<string, unknown>;
}

async function kyc() {
  const token = await platform.sandboxes.auth.mint({ customerId: clara.customerId, clientId: 'web-app' });
  const res = await gql(platform.gatewayUrl, KYC, { token });
  expect(res.body.errors).toBeUndefined();
  return (res.body.data!.me as { kyc: { status: string; completedAt: string | null; checks: { id: string }[] } }).kyc;
}

describe('the webhook operation types', () => {
  it('are declared identically by payments and identity, which both serve them', () => {
    // Value types in two subgraphs: composition merges input types by intersection, so a drift would
    // silently drop a field from the supergraph. Compared here, definition by definition.
    const shared = ['WebhookEventStatus', 'WebhookEventFilter', 'WebhookReplayInput', 'WebhookReplayResult'];
    const definitions = (file: string) => {
      const doc = parse(readFileSync(new URL(`../../schema/${file}`, import.meta.url), 'utf8'));
      const named = (d: DefinitionNode) => ('name' in d && d.name ? d.name.value : '');
      return shared.map((name) => {
        const found = doc.definitions.find((d) => named(d) === name);
        expect(found, `${file} declares ${name}`).toBeDefined();
        return print(found!);
      });
    };
    expect(definitions('identity.graphql')).toEqual(definitions('payments.graphql'));
  });
});

describe('operators and the KYC webhook inbox, through the gateway', () => {
  let onfidoCheckId = '';
  let checkId = '';
  let dead: EventNode;

  it('lists an Onfido event that failed every attempt as DEAD_LETTERED, under the check id kyc shows', async () => {
    clock.advance(60_000); // after the seeded check: this one is the newest
    const created = await fetch(`${platform.sandboxes.urls.onfidoApi}/checks`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Token token=${PLATFORM_PARTNER_CREDENTIALS.onfidoApiToken}`,
      },
      body: JSON.stringify({ applicant_id: clara.kycApplicantId, report_names: ['document'] }),
    });
    expect(created.status).toBe(201);
    onfidoCheckId = ((await created.json()) as { id: string }).id;
    checkId = (await kyc()).checks[0]!.id;
    expect(checkId).toMatch(/^kyc_/);
    await platform.sandboxes.onfido.webhooks.flush();
    // check.started applies; the operator sees it against the platform's check id, never Onfido's.
    await vi.waitFor(async () => {
      const started = (await eventsOf(checkId)).find((e) => e.type === 'check.started');
      expect(started?.status).toBe('APPLIED');
    }, waitBudget(10_000));

    // Onfido now fails every read of the check: applying its completion cannot learn the result.
    platform.sandboxes.onfido.faults.inject({ method: 'GET', path: `/v3.6/checks/${onfidoCheckId}`, status: 503 });
    clock.advance(31_000); // past the sandbox's completion
    await platform.sandboxes.onfido.webhooks.flush();
    // The worker retries with backoff on the platform's clock: move it past each retry until the event is dead.
    await vi.waitFor(
      async () => {
        const completed = (await eventsOf(checkId)).find((e) => e.type === 'check.completed');
        expect(completed).toBeDefined();
        if (completed!.status !== 'DEAD_LETTERED') clock.advance(2 * 3_600_000);
        expect(completed!.status).toBe('DEAD_LETTERED');
        dead = completed!;
      },
      { ...waitBudget(60_000), interval: 250 },
    );
    expect(dead).toMatchObject({ partner: 'onfido', checkId, attempts: 8, nextAttemptAt: null, appliedAt: null });
    // Onfido's events carry no id: the inbox keys them by the SHA-256 of the body.
    expect(dead.eventId).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(dead.lastError).toMatch(/onfido/i);
    expect(dead.lastError).not.toMatch(/\n|\bat .*\.ts:\d+/);
    // Not completed: the event is what would have told. (Onfido's breaker, opened by the failures, first lets reads
    // through again after its real-time pause.)
    await vi.waitFor(async () => expect((await kyc()).completedAt).toBeNull(), waitBudget(30_000));
  });

  it('refuses customers and third parties, whatever their scopes, while the operator reads the same inbox', async () => {
    const [customerToken, thirdPartyToken, operatorToken, auditorToken, readerToken] = await Promise.all([
      platform.sandboxes.auth.mint({
        customerId: clara.customerId,
        clientId: 'web-app',
        scopes: ['identity:read', 'webhooks:read', 'webhooks:replay'],
      }),
      platform.sandboxes.auth.mint({
        customerId: alice.customerId,
        clientId: 'budgetly',
        scopes: ['accounts:read', 'webhooks:read', 'webhooks:replay'],
      }),
      operator(),
      operator(['identity:read', 'audit:read']),
      operator(['webhooks:read']),
    ]);
    const ask = (token: string, query: string, variables: Record<string, unknown>) =>
      gql(platform.gatewayUrl, query, { token, variables });
    const list = { filter: { status: ['DEAD_LETTERED'] } };
    const rounds = await Promise.all(
      Array.from({ length: 4 }, () =>
        Promise.all([
          ask(customerToken, EVENTS, list),
          ask(thirdPartyToken, EVENTS, list),
          ask(customerToken, REPLAY, { input: { id: dead.id } }),
          ask(thirdPartyToken, REPLAY, { input: { allFailed: true } }),
          ask(auditorToken, EVENTS, list),
          ask(readerToken, REPLAY, { input: { id: dead.id } }),
          ask(operatorToken, EVENTS, list),
        ]),
      ),
    );
    for (const [c1, t1, c2, t2, a1, r2, operatorList] of rounds) {
      for (const refused of [c1, t1, c2, t2, a1, r2]) {
        expect(refused!.body.data ?? null).toBeNull();
        expect(refused!.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
        expect(hasStackTrace(refused!.raw)).toBe(false);
      }
      const listed = operatorList!.body.data!.kycWebhookEvents as { edges: { node: { id: string } }[] };
      expect(listed.edges.map((e) => e.node.id)).toContain(dead.id);
    }
    expect((await eventsOf(checkId)).find((e) => e.id === dead.id)?.status).toBe('DEAD_LETTERED');
  });

  it('replays the dead event once Onfido recovers: it applies and the KYC check completes', async () => {
    platform.sandboxes.onfido.faults.clear();
    expect(await replay({ id: dead.id })).toEqual({
      replayed: 1,
      replayedIds: [dead.id],
      alreadyApplied: 0,
      alreadyAppliedIds: [],
      alreadyPending: 0,
      alreadyPendingIds: [],
    });
    // Onfido's circuit breaker, opened by the failures, lets calls through again after its (real-time) pause; an
    // attempt refused meanwhile is retried by the worker, on the platform's clock.
    await vi.waitFor(
      async () => {
        const after = (await eventsOf(checkId)).find((e) => e.id === dead.id)!;
        if (after.status === 'FAILED') clock.advance(2 * 3_600_000);
        expect(after.status).toBe('APPLIED');
        expect(after.lastError).toBeNull();
      },
      { ...waitBudget(60_000), interval: 250 },
    );
    const completed = await kyc();
    expect(completed.completedAt).not.toBeNull();
    expect(completed.status).toBe('APPROVED');
  });

  it('replaying an applied event is a no-op that says so', async () => {
    const before = await kyc();
    expect(await replay({ id: dead.id })).toEqual({
      replayed: 0,
      replayedIds: [],
      alreadyApplied: 1,
      alreadyAppliedIds: [dead.id],
      alreadyPending: 0,
      alreadyPendingIds: [],
    });
    const all = await replay({ allFailed: true });
    expect(all.replayedIds).not.toContain(dead.id);
    expect((await eventsOf(checkId)).map((e) => e.status)).toEqual(['APPLIED', 'APPLIED']);
    expect(await kyc()).toEqual(before);
  });
});
