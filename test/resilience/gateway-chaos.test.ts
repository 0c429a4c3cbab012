import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, request as httpRequest, type Server } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadGatewayConfig } from '../../gateway/config.ts';
import { startGateway, type RunningGateway } from '../../gateway/server.ts';
import { openSharedCache, type SharedCache } from '../../lib/cache.ts';
import { closeServer, listen } from '../../lib/http-server.ts';
import { metricsOf } from '../../lib/metrics.ts';
import {
  AUDIENCE,
  composeToySupergraph,
  gql,
  ISSUER,
  logger,
  startLocalJwks,
  startToySubgraph,
  writeTempSupergraph,
  type LocalJwks,
  type ToySubgraph,
} from '../gateway/helpers.ts';
import { scaled, waitBudget } from '../support/time.ts';

/**
 * Chaos at the gateway (issue 11), on two toy subgraphs the gateway federates like the real ones:
 * "profile" (the customer's name) and "ledger" (balances that depend on the principal: customer
 * AND client app, as accounts do for a third party). The ledger sits behind a fault proxy that
 * the tests switch between up, down (503), hanging and resetting. Requests overlap on purpose.
 */
const FED = 'extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])';
const PROFILE_SDL = `${FED}
type Query { me: Customer }
type Customer @key(fields: "id") { id: ID! name: String! }`;
const LEDGER_SDL = `${FED}
type Query { statement: String! }
type Customer @key(fields: "id") { id: ID! balance: String! }
type Mutation { pay(amount: String!): String! }`;

type Mode = 'up' | 'down' | 'hang' | 'reset';
let mode: Mode = 'up';
let ledgerHits = 0;
let mutationsSeen = 0;
const hanging: (() => void)[] = [];

let jwks: LocalJwks;
let profile: ToySubgraph;
let ledger: ToySubgraph;
let proxy: Server;
let proxyUrl = '';
const cleanups: (() => Promise<void> | void)[] = [];

/** A fault proxy in front of the ledger subgraph (the subgraph-level counterpart of sandboxes/lib/faults.ts). */
function startProxy(target: string): Server {
  const to = new URL(target);
  return createServer((req, res) => {
    ledgerHits++;
    if (mode === 'down') {
      res.writeHead(503, { 'content-type': 'text/plain' });
      res.end('down');
      return;
    }
    if (mode === 'reset') {
      req.socket.destroy();
      return;
    }
    const forward = () => {
      const out = httpRequest(
        { host: to.hostname, port: to.port, path: to.pathname, method: req.method, headers: req.headers },
        (up) => {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        },
      );
      out.on('error', () => res.destroy());
      req.pipe(out);
    };
    if (mode === 'hang') hanging.push(forward);
    else forward();
  });
}

async function gatewayWith(env: Record<string, string> = {}, cache?: SharedCache): Promise<RunningGateway> {
  const file = writeTempSupergraph(
    composeToySupergraph([
      { ...profile, name: 'profile', typeDefs: PROFILE_SDL },
      { name: 'ledger', typeDefs: LEDGER_SDL, url: proxyUrl },
    ]),
  );
  const gateway = await startGateway(
    loadGatewayConfig({
      GATEWAY_PORT: '0',
      SUPERGRAPH: file.path,
      AUTH_ISSUER: ISSUER,
      AUTH_AUDIENCE: AUDIENCE,
      AUTH_JWKS_URL: jwks.url,
      // Every test decides when the ledger fails: no breaker opening in between unless a test wants it.
      SUBGRAPH_BREAKER_MIN_CALLS: '1000',
      SUBGRAPH_TIMEOUT_MS: String(scaled(5_000)),
      ...env,
    }),
    { logger, authorization: 'disabled', ...(cache ? { cache } : {}) },
  );
  cleanups.push(() => gateway.close(), file.cleanup);
  return gateway;
}

const DASHBOARD = '{ me { id name balance } }';
/** A customer id of the real shape (lib/ids.ts: cus_ and 26 base32 characters); the gateway refuses other subjects. */
const cus = (name: string) =>
  `cus_${name
    .replace(/[^a-z]/g, '')
    .padEnd(26, 'a')
    .slice(0, 26)}`;
const token = (customer: string, client: string) => jwks.sign({ sub: customer, client_id: client });

beforeAll(async () => {
  jwks = await startLocalJwks();
  profile = await startToySubgraph('profile', PROFILE_SDL, {
    Query: {
      me: (_: unknown, __: unknown, ctx: { principal: { customerId: string } | null }) =>
        ctx.principal?.customerId
          ? { id: ctx.principal.customerId, name: `name of ${ctx.principal.customerId}` }
          : null,
    },
    Customer: { __resolveReference: (ref: { id: string }) => ({ id: ref.id, name: `name of ${ref.id}` }) },
  });
  ledger = await startToySubgraph('ledger', LEDGER_SDL, {
    Customer: {
      // What a customer's balance looks like depends on who asks: customer and client app.
      __resolveReference: (ref: { id: string }, ctx: { principal: { clientId: string } | null }) => ({
        id: ref.id,
        balance: `balance of ${ref.id} seen by ${ctx.principal?.clientId}`,
      }),
    },
    Query: {
      statement: (_: unknown, __: unknown, ctx: { principal: { customerId: string } | null }) =>
        `statement of ${ctx.principal?.customerId}`,
    },
    Mutation: {
      pay: () => {
        mutationsSeen++;
        return 'paid';
      },
    },
  });
  proxy = startProxy(ledger.url);
  proxyUrl = `${(await listen(proxy, 0)).url}/graphql`;
});

afterAll(async () => {
  for (const h of hanging.splice(0)) h();
  for (const c of cleanups.reverse()) await c();
  if (proxy) await closeServer(proxy);
  await ledger?.close();
  await profile?.close();
  await jwks?.close();
});

async function readiness(gateway: RunningGateway) {
  const res = await fetch(gateway.url.replace(/graphql$/, 'readyz'));
  return {
    status: res.status,
    body: (await res.json()) as { dependencies: Record<string, { reachable: boolean; breaker: string }> },
  };
}

describe('a subgraph down', () => {
  it('nothing cached: its fields are null with an error naming it, the rest is complete, the gateway stays ready', async () => {
    const gateway = await gatewayWith({ FALLBACK_CACHE: 'off' });
    mode = 'down';
    try {
      const res = await gql(gateway.url, DASHBOARD, { token: await token(cus('nocache'), 'web-app') });
      expect(res.body.data?.me).toBeNull();
      const res2 = await gql(gateway.url, '{ me { id name } }', { token: await token(cus('nocache'), 'web-app') });
      expect(res2.body.data).toEqual({ me: { id: cus('nocache'), name: `name of ${cus('nocache')}` } });
      expect(res.body.errors).toEqual([
        expect.objectContaining({ extensions: { code: 'SERVICE_UNAVAILABLE', service: 'ledger' } }),
      ]);
      const ready = await readiness(gateway);
      expect(ready.status).toBe(200);
      expect(ready.body.dependencies['subgraph:ledger']).toMatchObject({ reachable: false });
      expect(ready.body.dependencies['subgraph:profile']).toMatchObject({ reachable: true });
    } finally {
      mode = 'up';
    }
  });

  it('serves each principal its own last good value, marked, to overlapping requests; nothing to a principal never served', async () => {
    const gateway = await gatewayWith();
    const callers = [
      [cus('alice'), 'web-app'],
      [cus('alice'), 'budgetly'],
      [cus('alice'), 'moneywise'],
      [cus('ben'), 'web-app'],
    ] as const;
    const tokens = await Promise.all(callers.map(([c, app]) => token(c, app)));
    // Good reads for everyone first (concurrently).
    const fresh = await Promise.all(tokens.map((t) => gql(gateway.url, DASHBOARD, { token: t })));
    fresh.forEach((r, i) => {
      expect(r.body.errors).toBeUndefined();
      expect(r.body.data?.me).toMatchObject({ balance: `balance of ${callers[i]![0]} seen by ${callers[i]![1]}` });
      expect((r.body as { extensions?: unknown }).extensions).toBeUndefined();
    });
    // The last good values are written without delaying the answers: wait until they are there.
    mode = 'down';
    try {
      await vi.waitFor(async () => {
        const probe = await gql(gateway.url, DASHBOARD, { token: tokens[3]! });
        expect(probe.body.errors).toBeUndefined();
      }, waitBudget());
      const stranger = await token(cus('clara'), 'web-app');
      const rounds = await Promise.all(
        Array.from({ length: 5 }, () =>
          [...tokens, stranger].map((t) => gql(gateway.url, DASHBOARD, { token: t })),
        ).flat(),
      );
      rounds.forEach((r, n) => {
        const i = n % (tokens.length + 1);
        if (i === tokens.length) {
          // Never read for this principal: an error naming the subgraph, never someone else's balance.
          expect(r.body.data?.me).toBeNull();
          expect(r.body.errors?.[0]?.extensions).toEqual({ code: 'SERVICE_UNAVAILABLE', service: 'ledger' });
          return;
        }
        const [customer, app] = callers[i]!;
        expect(r.body.errors).toBeUndefined();
        expect(r.body.data?.me).toEqual({
          id: customer,
          name: `name of ${customer}`,
          balance: `balance of ${customer} seen by ${app}`,
        });
        const stale = (r.body as { extensions?: { stale?: { path: string; source: string; asOf: string }[] } })
          .extensions?.stale;
        expect(stale).toEqual([{ path: 'me', source: 'subgraph:ledger', asOf: expect.stringMatching(/^\d{4}-/) }]);
      });
      expect(await metricsOf('gateway').registry.metrics()).toMatch(
        /fallback_stale_serves_total\{target="subgraph:ledger",service="gateway"\} [1-9]/,
      );
    } finally {
      mode = 'up';
    }
  });

  it('a mutation is neither retried nor answered from a fallback', async () => {
    const gateway = await gatewayWith({ SUBGRAPH_RETRIES: '3' });
    const t = await token(cus('alice'), 'web-app');
    expect((await gql(gateway.url, 'mutation { pay(amount: "1.00") }', { token: t })).body.data).toEqual({
      pay: 'paid',
    });
    mode = 'down';
    try {
      const before = ledgerHits;
      const res = await gql(gateway.url, 'mutation { pay(amount: "1.00") }', { token: t });
      expect(res.body.data).toBeNull();
      expect(res.body.errors?.[0]?.extensions).toEqual({ code: 'SERVICE_UNAVAILABLE', service: 'ledger' });
      expect(ledgerHits - before).toBe(1);
      expect(mutationsSeen).toBe(1);
    } finally {
      mode = 'up';
    }
  });
});

describe('a slow subgraph', () => {
  it('answers by the request deadline, while the subgraph still hangs; the bulkhead refuses the excess at once; other fields unaffected', async () => {
    const gateway = await gatewayWith({
      FALLBACK_CACHE: 'off',
      GATEWAY_REQUEST_DEADLINE_MS: String(scaled(1_500)),
      SUBGRAPH_CONCURRENCY: '3',
      SUBGRAPH_QUEUE: '1',
      SUBGRAPH_RETRIES: '0',
    });
    const t = await token(cus('slow'), 'web-app');
    mode = 'hang';
    try {
      // Six customers at once (one customer's identical queries would share one call, gateway/subgraph-fetch.ts).
      const slowTokens = await Promise.all(
        ['sa', 'sb', 'sc', 'sd', 'se', 'sf'].map((n) => token(cus(`slow${n}`), 'web-app')),
      );
      const slow = slowTokens.map((st) => gql(gateway.url, '{ statement }', { token: st }));
      // The ledger holds as many calls as its bulkhead lets through (3), one more waits, the rest are refused.
      await vi.waitFor(() => expect(hanging.length).toBe(3), waitBudget());
      // Requests that need only the healthy subgraph go through meanwhile: its capacity is its own.
      const healthy = await Promise.all(
        Array.from({ length: 4 }, () => gql(gateway.url, '{ me { id name } }', { token: t })),
      );
      for (const r of healthy) expect(r.body.data).toEqual({ me: { id: cus('slow'), name: `name of ${cus('slow')}` } });
      const answers = await Promise.all(slow);
      // Every slow request answered with the ledger's error, and the ledger never answered any of them.
      for (const r of answers)
        expect(r.body.errors?.[0]?.extensions).toEqual({ code: 'SERVICE_UNAVAILABLE', service: 'ledger' });
      // At most the limit plus the queue ever reached the ledger (the queued one may get a slot when the
      // deadline frees one, on a slow machine); the other two were refused without reaching it.
      expect(hanging.length).toBeGreaterThanOrEqual(3);
      expect(hanging.length).toBeLessThanOrEqual(4);
      const exposition = await metricsOf('gateway').registry.metrics();
      expect(exposition).toMatch(
        /outbound_bulkhead_rejections_total\{target="subgraph:ledger",service="gateway"\} [1-9]/,
      );
      expect(exposition).toMatch(
        /outbound_errors_total\{target="subgraph:ledger",code="deadline",service="gateway"\} [1-9]/,
      );
    } finally {
      mode = 'up';
      for (const h of hanging.splice(0)) h();
    }
  });
});

describe('Redis stopped mid-test', () => {
  let redis: ChildProcess | undefined;
  let port = 0;

  async function freePort(): Promise<number> {
    const s = createNetServer();
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const p = (s.address() as { port: number }).port;
    await new Promise((r) => s.close(r));
    return p;
  }
  async function startRedis(): Promise<void> {
    redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
      stdio: 'ignore',
    });
    await vi.waitFor(async () => {
      const c = await openSharedCache({ redisUrl: `redis://127.0.0.1:${port}`, logger });
      await c.close();
    }, waitBudget());
  }
  async function stopRedis(): Promise<void> {
    const r = redis;
    redis = undefined;
    if (!r || r.exitCode !== null) return;
    await new Promise((done) => {
      r.once('exit', done);
      r.kill('SIGTERM');
    });
  }
  afterAll(stopRedis);

  it('requests still succeed without it, fallbacks come back when it does', async () => {
    port = await freePort();
    await startRedis();
    const cache = await openSharedCache({ redisUrl: `redis://127.0.0.1:${port}`, logger, prefix: 'chaos' });
    cleanups.push(() => cache.close());
    const gateway = await gatewayWith({ FALLBACK_CACHE_KEY: 'a'.repeat(64) }, cache);
    const t = await token(cus('redis'), 'web-app');
    const ok = async () => {
      const r = await gql(gateway.url, DASHBOARD, { token: t });
      expect(r.body.errors).toBeUndefined();
      return r;
    };
    await ok();
    await stopRedis();
    // Without Redis: fresh answers still come, in spite of the cache calls failing.
    for (let i = 0; i < 3; i++) await ok();
    // ... and a failed subgraph is an error, not a stuck or failed request.
    mode = 'down';
    try {
      const r = await gql(gateway.url, DASHBOARD, { token: await token(cus('redisnew'), 'web-app') });
      expect(r.body.errors?.[0]?.extensions).toEqual({ code: 'SERVICE_UNAVAILABLE', service: 'ledger' });
    } finally {
      mode = 'up';
    }
    expect(await metricsOf('gateway').registry.metrics()).toMatch(
      /fallback_cache_errors_total\{target="subgraph:ledger"/,
    );

    await startRedis();
    // Caching resumes by itself (the Redis client reconnects): a good read is kept and served when the ledger fails.
    const again = await token(cus('redisback'), 'web-app');
    await vi.waitFor(async () => {
      mode = 'up';
      await gql(gateway.url, DASHBOARD, { token: again });
      mode = 'down';
      const r = await gql(gateway.url, DASHBOARD, { token: again });
      mode = 'up';
      expect(r.body.errors).toBeUndefined();
      expect((r.body as { extensions?: { stale?: unknown[] } }).extensions?.stale).toHaveLength(1);
    }, waitBudget(15_000));
  });
});
