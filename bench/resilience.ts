/**
 * Resilience benchmark (issue 11): `npm run bench:resilience`.
 *
 * The real platform in-process (scripts/platform.ts: partner sandboxes with fault injection, the
 * four subgraphs on in-memory PGlite), plus one gateway of this benchmark whose accounts subgraph
 * is reached through a fault proxy (so the accounts subgraph can be "down" for the gateway). The
 * customer dashboard (test/operations/dashboard.graphql) is sent closed-loop (bench/load.ts) by
 * Alice (both banks), Ben (Northwind) and Clara (Rheinbank), interleaved, in these phases:
 *
 * 1. healthy: everything up (this also leaves every caller's last good answers in the gateway's
 *    fallback cache);
 * 2. accounts down, from cache: the proxy answers 503 for the accounts subgraph; the gateway
 *    answers the accounts part from each caller's last good value, marked (extensions.stale): an
 *    answer without the stale mark or with errors is counted as failed;
 * 3. Northwind down, from its last known values: the sandbox answers 503; the accounts subgraph
 *    answers Rheinbank's accounts live and Northwind's from what it last read for the same caller
 *    (subgraphs/accounts/partners/last-known-values.ts), marked stale with source "northwind"; an
 *    answer for Alice or Ben without that mark, or naming Northwind as unavailable, counts as failed;
 *    its breaker opens and fails fast;
 * 4. Northwind slow: every Northwind call waits BENCH_SLOW_MS; Clara's dashboard (Rheinbank only)
 *    must not suffer: her p95 is compared with her p95 when healthy, both measured while Alice and
 *    Ben send dashboards in the background (two at a time), so that only Northwind's speed differs.
 *
 * Printed: requests/s and p50/p95 per phase (Clara's p95 separately), the ratios the issue asks for
 * (fallback ≥ 0.9× healthy throughput, for one bank down and for the accounts subgraph down;
 * Clara's p95 rise ≤ 10 % while Northwind is slow), and the
 * gateway's RSS. No pass/fail: numbers for the reader.
 *
 * Options (environment): BENCH_CONCURRENCY (8), BENCH_REQUESTS per phase (240), BENCH_WARMUP (30),
 * BENCH_SLOW_MS (1500).
 */
import { createServer, request as httpRequest, type Server } from 'node:http';
import { loadGatewayConfig } from '../gateway/config.ts';
import { startGateway, type RunningGateway } from '../gateway/server.ts';
import { closeServer, listen } from '../lib/http-server.ts';
import { createLogger } from '../lib/logger.ts';
import { startPlatform, type RunningPlatform } from '../scripts/platform.ts';
import { DASHBOARD, DASHBOARD_SCOPES, sandboxCustomers, WEB_APP_CLIENT_ID } from './callers.ts';
import { closedLoop, intFromEnv, percentile, type Outcome, type Phase } from './load.ts';

const concurrency = intFromEnv('BENCH_CONCURRENCY', 8);
const requests = intFromEnv('BENCH_REQUESTS', 240);
const warmup = intFromEnv('BENCH_WARMUP', 30);
const slowMs = intFromEnv('BENCH_SLOW_MS', 1500);
const logger = createLogger('bench-resilience', 'silent');
const log = (line: string) => process.stderr.write(`${line}\n`);

interface Caller {
  name: 'Alice' | 'Ben' | 'Clara';
  token: string;
}

interface Answer {
  data?: { me?: { unavailableInstitutions?: unknown[] } | null } | null;
  errors?: unknown[];
  extensions?: { stale?: unknown[] };
}

/** A proxy in front of the accounts subgraph that forwards, or answers 503 while `down`. */
function accountsProxy(target: string): { server: Server; setDown(down: boolean): void } {
  const to = new URL(target);
  let down = false;
  const server = createServer((req, res) => {
    if (down) {
      res.writeHead(503, { 'content-type': 'text/plain' });
      res.end('down');
      return;
    }
    const out = httpRequest(
      { host: to.hostname, port: to.port, path: to.pathname, method: req.method, headers: req.headers },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    out.on('error', () => res.destroy());
    req.pipe(out);
  });
  return { server, setDown: (d) => (down = d) };
}

async function main(): Promise<void> {
  const closers: (() => Promise<unknown>)[] = [];
  try {
    const platform: RunningPlatform = await startPlatform({
      ports: 'free',
      env: { PGLITE_DIR: 'memory://', DATABASE_URL: undefined, REDIS_URL: undefined, LOG_LEVEL: 'silent' },
      logger,
    });
    closers.push(() => platform.close());
    const proxy = accountsProxy(platform.urls.accounts);
    const proxyUrl = `${(await listen(proxy.server, 0)).url}/graphql`;
    closers.push(() => closeServer(proxy.server));
    const gateway: RunningGateway = await startGateway(
      loadGatewayConfig({
        ...process.env,
        GATEWAY_PORT: '0',
        LOG_LEVEL: 'silent',
        REDIS_URL: undefined,
        FALLBACK_CACHE: 'on',
        AUTH_ISSUER: platform.urls.auth,
        AUTH_JWKS_URL: `${platform.urls.auth}/jwks.json`,
        IDENTITY_SUBGRAPH_URL: platform.urls.identity,
        ACCOUNTS_SUBGRAPH_URL: proxyUrl,
        PAYMENTS_SUBGRAPH_URL: platform.urls.payments,
        CONSENTS_SUBGRAPH_URL: platform.urls.consents,
      }),
      { logger },
    );
    closers.push(() => gateway.close());

    const ids = sandboxCustomers('Alice', 'Ben', 'Clara');
    const callers: Caller[] = [];
    for (const name of ['Alice', 'Ben', 'Clara'] as const)
      callers.push({
        name,
        token: await platform.sandboxes.auth.mint({
          customerId: ids[name],
          clientId: WEB_APP_CLIENT_ID,
          scopes: DASHBOARD_SCOPES,
        }),
      });

    const send = async (caller: Caller): Promise<Answer> => {
      const res = await fetch(gateway.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${caller.token}` },
        body: JSON.stringify({ query: DASHBOARD, variables: { transactions: 20 } }),
      });
      return (await res.json()) as Answer;
    };

    /** One phase: `n` dashboards, callers interleaved; `judge` decides whether an answer is what the phase expects. */
    async function phase(
      name: string,
      who: readonly Caller[],
      judge: (a: Answer, c: Caller) => string | null,
      n = requests,
    ): Promise<Phase & { name: string }> {
      let i = 0;
      const result = await closedLoop(n, concurrency, async (): Promise<Outcome> => {
        const caller = who[i++ % who.length]!;
        const answer = await send(caller);
        const problem = judge(answer, caller);
        return problem ? { ok: false, error: `${caller.name}: ${problem}` } : { ok: true };
      });
      log(`${name}: ${n} requests in ${(result.elapsedMs / 1000).toFixed(1)} s, ${result.failed} not as expected`);
      return { ...result, name };
    }

    const fresh = (a: Answer) =>
      a.errors?.length ? `errors ${JSON.stringify(a.errors).slice(0, 200)}` : a.extensions?.stale ? 'stale' : null;
    const fromCache = (a: Answer) =>
      a.errors?.length
        ? `errors ${JSON.stringify(a.errors).slice(0, 200)}`
        : a.extensions?.stale
          ? null
          : 'not marked stale';
    // Northwind down: Clara's answer is live and complete; Alice's and Ben's carry Northwind's last
    // known values, marked stale by Northwind, and do not name it as unavailable.
    const bankFromCache = (a: Answer, c: Caller) => {
      if (!a.data?.me || a.errors?.length) return `errors ${JSON.stringify(a.errors ?? null).slice(0, 200)}`;
      if (c.name === 'Clara') return a.extensions?.stale ? 'stale' : null;
      if ((a.data.me.unavailableInstitutions ?? []).length > 0)
        return `unavailable: ${JSON.stringify(a.data.me.unavailableInstitutions)}`;
      const sources = new Set((a.extensions?.stale ?? []).map((m) => (m as { source?: string }).source));
      return sources.size === 1 && sources.has('northwind')
        ? null
        : `not marked stale by northwind: ${JSON.stringify(a.extensions?.stale ?? null).slice(0, 200)}`;
    };

    await phase('warm-up', callers, fresh, warmup);
    const healthy = await phase('healthy', callers, fresh);
    // Clara (Rheinbank only) measured while Alice and Ben keep the platform busy, as in the slow phase below.
    const withBackground = async <T>(fn: () => Promise<T>): Promise<T> => {
      let stop = false;
      const background = (async () => {
        while (!stop) await Promise.all([send(callers[0]!), send(callers[1]!)]).catch(() => {});
      })();
      try {
        return await fn();
      } finally {
        stop = true;
        await background;
      }
    };
    const claraHealthy = await withBackground(() =>
      phase('healthy, Clara (Alice and Ben in the background)', [callers[2]!], fresh),
    );

    proxy.setDown(true);
    const cached = await phase('accounts down, from cache', callers, fromCache);
    proxy.setDown(false);
    // The gateway's breaker for accounts opened during the outage: until its probe closes it (after
    // SUBGRAPH_BREAKER_HALF_OPEN_AFTER_MS) answers still come from the cache. Wait for a live one.
    for (let i = 0; i < 100 && (await send(callers[2]!)).extensions?.stale; i++)
      await new Promise((r) => setTimeout(r, 200));

    const down = platform.sandboxes.northwind.faults.inject({ status: 503 });
    const northwindDown = await phase('Northwind down, from its last known values', callers, bankFromCache);
    platform.sandboxes.northwind.faults.remove(down.id);
    // Let Northwind's breaker close again before the slow phase (its probe after the pause).
    await new Promise((r) => setTimeout(r, 11_000));
    await phase('recovered', callers, () => null, warmup);

    const slow = platform.sandboxes.northwind.faults.inject({ latencyMs: slowMs });
    const northwindSlow = await phase(
      'Northwind slow, all',
      callers,
      () => null,
      Math.max(concurrency * 4, requests / 4),
    );
    // Clara's requests while Alice and Ben keep waiting on the slow bank in the background.
    const claraSlow = await withBackground(() =>
      phase('Northwind slow, Clara (Alice and Ben in the background)', [callers[2]!], fresh),
    );
    platform.sandboxes.northwind.faults.remove(slow.id);

    const row = (p: Phase & { name: string }) => {
      const sorted = [...p.latencies].sort((a, b) => a - b);
      return `| ${p.name} | ${p.latencies.length} | ${p.failed} | ${((p.latencies.length / p.elapsedMs) * 1000).toFixed(1)} | ${percentile(sorted, 50).toFixed(1)} | ${percentile(sorted, 95).toFixed(1)} |`;
    };
    const rps = (p: Phase) => (p.latencies.length / p.elapsedMs) * 1000;
    const p95 = (p: Phase) =>
      percentile(
        [...p.latencies].sort((a, b) => a - b),
        95,
      );
    console.log(
      `\n## bench:resilience (concurrency ${concurrency}, ${requests} requests per phase, Northwind slow = +${slowMs} ms)\n`,
    );
    console.log('| phase | requests | not as expected | req/s | p50 ms | p95 ms |');
    console.log('|---|---:|---:|---:|---:|---:|');
    for (const p of [healthy, claraHealthy, cached, northwindDown, northwindSlow, claraSlow]) console.log(row(p));
    console.log('');
    console.log(
      `- one bank down (Northwind, from its last known values) / healthy throughput: **${(rps(northwindDown) / rps(healthy)).toFixed(2)}x** (target >= 0.9x)`,
    );
    console.log(
      `- accounts subgraph down (the gateway's fallback) / healthy throughput: **${(rps(cached) / rps(healthy)).toFixed(2)}x** (target >= 0.9x)`,
    );
    console.log(
      `- Clara's p95 (Rheinbank only) while Northwind is slow / healthy: **${(p95(claraSlow) / p95(claraHealthy)).toFixed(2)}x** (target <= 1.10x)`,
    );
    console.log(`- process RSS at the end: ${(process.memoryUsage().rss / 1024 / 1024).toFixed(0)} MB`);
    for (const p of [healthy, claraHealthy, cached, northwindDown, claraSlow])
      if (p.firstError) console.log(`- first unexpected answer in "${p.name}": ${p.firstError}`);
  } finally {
    for (const c of closers.reverse()) await c().catch(() => {});
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
