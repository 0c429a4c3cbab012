import { appendFileSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SUPERGRAPH_PATH } from '../../lib/schema-files.ts';
import { metricsOf } from '../../lib/metrics.ts';
import { startPlatform, type RunningPlatform } from '../../scripts/platform.ts';
import { gql, hasStackTrace, logger, writeTempSupergraph } from './helpers.ts';

/**
 * The product's own graph (policy mode) reloaded: the schema built from the new supergraph must be
 * wrapped with the same rules as the first. Checked on the real platform after a reload with the
 * rules that live in the schema itself (graphql-shield's per-object ownership check, the one that
 * refuses another customer's object even when a subgraph hands it over), and with those decided
 * before execution (a token is required; scopes).
 */
const ALICE = 'cus_u57fz5zj7ojayz6np3d6x6kon4';
const BEN = 'cus_dlmblpad2mvahd62midhwuwg7j';
const SCOPES = ['accounts:read', 'balances:read', 'transactions:read', 'payments:read', 'identity:read'];
const factor = Number(process.env.TEST_TIME_FACTOR ?? 1);

let platform: RunningPlatform;
let supergraph: ReturnType<typeof writeTempSupergraph>;
const realFetch = globalThis.fetch;
/** When set, the next call to this subgraph URL is answered with this body instead (a simulated bug). */
let swap: { url: string; body: string } | undefined;
const lastAnswer = new Map<string, string>();

beforeAll(async () => {
  supergraph = writeTempSupergraph(readFileSync(SUPERGRAPH_PATH, 'utf8'));
  platform = await startPlatform({
    ports: 'free',
    env: {
      PGLITE_DIR: 'memory://',
      DATABASE_URL: undefined,
      REDIS_URL: undefined,
      LOG_LEVEL: 'silent',
      SUPERGRAPH: supergraph.path,
    },
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

afterAll(async () => {
  globalThis.fetch = realFetch;
  await platform?.close();
  supergraph?.cleanup();
});

const token = (customerId: string, scopes = SCOPES) =>
  platform.sandboxes.auth.mint({ customerId, clientId: 'web-app', scopes });

async function updates(): Promise<number> {
  const metric = await metricsOf('gateway').registry.getSingleMetric('supergraph_reload_total')?.get();
  return metric?.values.find((v) => v.labels.outcome === 'updated')?.value ?? 0;
}

describe('policy mode after a supergraph reload', () => {
  it('keeps every rule: token required, scopes, and the per-object ownership check in the schema', async () => {
    const before = await updates();
    // A new text (a comment): the gateway rebuilds and serves a new schema from it.
    appendFileSync(supergraph.path, '\n# reloaded by engine-reload-policy.test.ts\n');
    const deadline = Date.now() + 15_000 * factor;
    while ((await updates()) === before) {
      if (Date.now() > deadline) throw new Error('the gateway did not reload the supergraph');
      await new Promise((r) => setTimeout(r, 25));
    }

    const query = '{ me { id accounts { id name } } }';
    const anonymous = await gql(platform.gatewayUrl, query);
    expect(anonymous.status).toBe(401);
    const narrow = await gql(platform.gatewayUrl, query, { token: await token(ALICE, ['identity:read']) });
    expect(narrow.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');

    const alice = await gql(platform.gatewayUrl, query, { token: await token(ALICE) });
    expect(alice.body.errors).toBeUndefined();
    const aliceIds = (alice.body.data as { me: { accounts: { id: string }[] } }).me.accounts.map((a) => a.id);
    expect(aliceIds.length).toBeGreaterThan(0);
    // Ben is handed Alice's accounts by a (simulated) subgraph bug: the reloaded schema refuses them.
    swap = { url: platform.urls.accounts, body: lastAnswer.get(platform.urls.accounts)! };
    const ben = await gql(platform.gatewayUrl, query, { token: await token(BEN) });
    expect(swap).toBeUndefined();
    for (const id of aliceIds) expect(ben.raw).not.toContain(id);
    expect(ben.body.errors?.map((e) => e.extensions?.code)).toContain('FORBIDDEN');
    expect(hasStackTrace(ben.raw)).toBe(false);
  });
});
