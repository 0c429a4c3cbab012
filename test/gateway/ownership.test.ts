import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { metricsOf } from '../../lib/metrics.ts';
import { startPlatform, type RunningPlatform } from '../../scripts/platform.ts';
import { callSubgraph } from '../support/subgraph-client.ts';
import { gql, hasStackTrace, logger } from './helpers.ts';

/**
 * Defence in depth: whatever bug might one day hand one customer's objects to another (a shared
 * cache, a memo, a deduplication keyed too loosely), the gateway refuses an object whose
 * subgraph stamped another owner. The bug is simulated here by swapping a subgraph's answer for
 * one computed for another customer, exactly what the old in-flight deduplication did.
 */
const ALICE = 'cus_u57fz5zj7ojayz6np3d6x6kon4';
const BEN = 'cus_dlmblpad2mvahd62midhwuwg7j';
const SCOPES = [
  'accounts:read',
  'balances:read',
  'transactions:read',
  'payments:read',
  'identity:read',
  'consents:read',
];

let platform: RunningPlatform;
const realFetch = globalThis.fetch;
/** When set, the next call to this subgraph URL is answered with this body instead. */
let swap: { url: string; body: string } | undefined;
/** The last answer of each subgraph URL, as the gateway received it. */
const lastAnswer = new Map<string, string>();

beforeAll(async () => {
  platform = await startPlatform({
    ports: 'free',
    env: { PGLITE_DIR: 'memory://', DATABASE_URL: undefined, REDIS_URL: undefined, LOG_LEVEL: 'silent' },
    logger,
  });
  globalThis.fetch = (async (input: Parameters<typeof fetch>[0], init?: RequestInit) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    if (swap && url === swap.url) {
      const body = swap.body;
      swap = undefined;
      return new Response(body, { status: 200, headers: { 'content-type': 'application/json' } });
    }
    const res = await realFetch(input, init);
    if (Object.values(platform.urls).includes(url)) lastAnswer.set(url, await res.clone().text());
    return res;
  }) as typeof fetch;
}, 120_000);

afterEach(() => {
  swap = undefined;
});

afterAll(async () => {
  globalThis.fetch = realFetch;
  await platform?.close();
});

const token = (customerId: string) => platform.sandboxes.auth.mint({ customerId, clientId: 'web-app', scopes: SCOPES });
const foreignObjectEvents = async () =>
  (await metricsOf('gateway').securityEvents.get()).values.find((v) => v.labels.kind === 'foreign_object')?.value ?? 0;

describe('ownership stamps', () => {
  it('every subgraph stamps the first-party objects it serves with their owner', async () => {
    const accounts = await callSubgraph(
      platform.urls.accounts,
      'accounts',
      '{ _entities(representations: [{ __typename: "Customer", id: "' +
        ALICE +
        '" }]) { ... on Customer { accounts { id } } } }',
      {
        principal: { customerId: ALICE, clientId: 'web-app', scopes: SCOPES },
      },
    );
    const ids = (accounts.data as { _entities: { accounts: { id: string }[] }[] })._entities[0]!.accounts.map(
      (a) => a.id,
    );
    expect(ids.length).toBeGreaterThan(0);
    const owners = (accounts as { extensions?: { owners?: Record<string, string> } }).extensions?.owners ?? {};
    for (const id of ids) expect(owners[id]).toBe(ALICE);
    expect(owners[ALICE]).toBe(ALICE);
  });

  it("refuses another customer's objects that a bug put into an answer, and counts a security event", async () => {
    const query = '{ me { id accounts { id name } } }';
    const alice = await gql(platform.gatewayUrl, query, { token: await token(ALICE) });
    expect(alice.body.errors).toBeUndefined();
    const aliceIds = (alice.body.data as { me: { accounts: { id: string }[] } }).me.accounts.map((a) => a.id);
    const aliceAnswer = lastAnswer.get(platform.urls.accounts);
    // The precondition of the simulated bug: this answer holds Alice's accounts.
    expect(aliceIds.every((id) => aliceAnswer?.includes(id))).toBe(true);

    const before = await foreignObjectEvents();
    swap = { url: platform.urls.accounts, body: aliceAnswer! };
    const ben = await gql(platform.gatewayUrl, query, { token: await token(BEN) });
    expect(swap).toBeUndefined(); // the swapped answer was served to the gateway
    for (const id of aliceIds) expect(ben.raw).not.toContain(id);
    expect(ben.body.errors?.map((e) => e.extensions?.code)).toContain('FORBIDDEN');
    expect(hasStackTrace(ben.raw)).toBe(false);
    expect(await foreignObjectEvents()).toBeGreaterThan(before);

    // Ben's own answer, without the bug, is served as usual.
    const benAgain = await gql(platform.gatewayUrl, query, { token: await token(BEN) });
    expect(benAgain.body.errors).toBeUndefined();
    expect((benAgain.body.data as { me: { id: string } }).me.id).toBe(BEN);
  });

  it("refuses another customer's payment served by id", async () => {
    const query = 'query P($id: ID!) { payment(id: $id) { id status } }';
    const page = await gql(platform.gatewayUrl, '{ me { payments(first: 1) { edges { node { id } } } } }', {
      token: await token(ALICE),
    });
    const paymentId = (page.body.data as { me: { payments: { edges: { node: { id: string } }[] } } }).me.payments
      .edges[0]!.node.id;
    await gql(platform.gatewayUrl, query, { token: await token(ALICE), variables: { id: paymentId } });
    const aliceAnswer = lastAnswer.get(platform.urls.payments)!;
    expect(aliceAnswer).toContain(paymentId);

    const before = await foreignObjectEvents();
    swap = { url: platform.urls.payments, body: aliceAnswer };
    const ben = await gql(platform.gatewayUrl, query, { token: await token(BEN), variables: { id: paymentId } });
    expect(ben.raw).not.toContain(paymentId);
    expect(ben.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(await foreignObjectEvents()).toBe(before + 1);
  });
});
