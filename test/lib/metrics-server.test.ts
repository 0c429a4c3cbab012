import { spawn, type ChildProcess } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Counter, Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadMetricsConfig } from '../../lib/config.ts';
import { startMetricsServer, type RunningMetricsServer } from '../../lib/metrics-server.ts';
import { startPlatform, type RunningPlatform } from '../../scripts/platform.ts';
import { logger } from '../gateway/helpers.ts';

/**
 * /metrics is for operators: a separate listener (loopback by default, optionally behind a
 * token), never the public port of a service.
 */
const TOKEN = 'operator-metrics-token-7d1e9c3b5a2f4086b8d0';
const ALICE = 'cus_u57fz5zj7ojayz6np3d6x6kon4';

function testRegistry(): Registry {
  const registry = new Registry();
  new Counter({
    name: 'metrics_server_test_total',
    help: 'A counter only this test registers.',
    registers: [registry],
  }).inc(3);
  return registry;
}

describe('the operator metrics listener', () => {
  let open: RunningMetricsServer;
  let guarded: RunningMetricsServer;

  beforeAll(async () => {
    // The defaults of METRICS_HOST (METRICS_PORT=0 only so that tests never collide).
    const config = loadMetricsConfig('gateway', { METRICS_PORT: '0' });
    open = await startMetricsServer({
      host: config.METRICS_HOST,
      port: config.METRICS_PORT,
      logger,
      registries: { test: testRegistry() },
    });
    guarded = await startMetricsServer({
      host: '127.0.0.1',
      port: 0,
      token: TOKEN,
      logger,
      registries: { test: testRegistry() },
    });
  });

  afterAll(async () => {
    await open?.close();
    await guarded?.close();
  });

  it('listens on loopback by default', () => {
    expect((open.server.address() as AddressInfo).address).toBe('127.0.0.1');
    expect(open.url).toBe(`http://127.0.0.1:${open.port}/metrics`);
  });

  it('serves Prometheus text on /metrics', async () => {
    const res = await fetch(open.url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(await res.text()).toContain('metrics_server_test_total 3');
  });

  it('serves nothing else', async () => {
    const other = await fetch(open.url.replace(/metrics$/, 'graphql'));
    expect(other.status).toBe(404);
    expect(((await other.json()) as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code).toBe(
      'NOT_FOUND',
    );
    const post = await fetch(open.url, { method: 'POST', body: '{}' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
  });

  it('with METRICS_TOKEN, answers only the bearer of the token', async () => {
    const attempts: [string, Record<string, string>][] = [
      ['no header', {}],
      ['a wrong token of the same length', { authorization: `Bearer ${TOKEN.replace(/.$/, 'x')}` }],
      ['a prefix of the token', { authorization: `Bearer ${TOKEN.slice(0, 10)}` }],
      ['the token with another scheme', { authorization: `Basic ${TOKEN}` }],
      ['the token followed by more', { authorization: `Bearer ${TOKEN}x` }],
    ];
    for (const [what, headers] of attempts) {
      const res = await fetch(guarded.url, { headers });
      expect(res.status, what).toBe(401);
      expect(res.headers.get('www-authenticate'), what).toBe('Bearer realm="metrics"');
      const body = await res.text();
      expect(body, what).not.toContain('metrics_server_test_total');
      expect(body, what).not.toContain(TOKEN);
    }
    const ok = await fetch(guarded.url, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('metrics_server_test_total 3');
  });
});

describe('the all-in-one platform', () => {
  let platform: RunningPlatform;

  beforeAll(async () => {
    platform = await startPlatform({
      ports: 'free',
      env: { PGLITE_DIR: 'memory://', DATABASE_URL: undefined, REDIS_URL: undefined, LOG_LEVEL: 'silent' },
      logger,
    });
  }, 120_000);

  afterAll(async () => {
    await platform?.close();
  });

  it('answers /metrics with 404 on every public port', async () => {
    for (const url of [
      platform.urls.gateway,
      platform.urls.identity,
      platform.urls.accounts,
      platform.urls.payments,
      platform.urls.consents,
    ]) {
      const res = await fetch(url.replace(/graphql$/, 'metrics'));
      expect(res.status, url).toBe(404);
      expect(await res.text(), url).not.toContain('# HELP');
    }
  });

  it('serves each part its own registry, on loopback: /metrics/<part>, and all of them on /metrics', async () => {
    expect(new URL(platform.urls.metrics).hostname).toBe('127.0.0.1');
    // A query through the gateway that reaches identity and accounts (the gateway's authorization lookups also reach
    // consents).
    const token = await platform.sandboxes.auth.mint({
      customerId: ALICE,
      clientId: 'web-app',
      scopes: ['accounts:read', 'identity:read'],
    });
    const answer = await fetch(platform.gatewayUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: '{ me { id accounts { id } } }' }),
    });
    expect(answer.status).toBe(200);

    const scrape = async (path: string) => {
      const res = await fetch(`${platform.urls.metrics}${path}`);
      expect(res.status, path).toBe(200);
      return res.text();
    };
    const series = (text: string, name: string) => text.split('\n').filter((line) => line.startsWith(`${name}{`));
    const services = (lines: string[]) => new Set(lines.map((line) => /service="([^"]+)"/.exec(line)?.[1]));

    const gateway = await scrape('/gateway');
    const accounts = await scrape('/accounts');
    const identity = await scrape('/identity');
    // Each part's figures are its own, labelled with its name.
    expect(services(series(gateway, 'graphql_request_duration_seconds_count'))).toEqual(new Set(['gateway']));
    expect(services(series(accounts, 'graphql_request_duration_seconds_count'))).toEqual(new Set(['accounts']));
    expect(services(series(identity, 'http_request_duration_seconds_count'))).toEqual(new Set(['identity']));
    // The gateway measured its calls to the subgraphs; accounts measured its own calls to the banks.
    expect(
      series(gateway, 'outbound_request_duration_seconds_count').some((line) =>
        line.includes('target="subgraph:accounts"'),
      ),
    ).toBe(true);
    expect(
      series(accounts, 'outbound_request_duration_seconds_count').some((line) => line.includes('target="subgraph:')),
    ).toBe(false);
    expect(
      series(accounts, 'outbound_request_duration_seconds_count').some((line) => line.includes('target="northwind"')),
    ).toBe(true);
    // Process metrics once, under the platform.
    expect(await scrape('/platform')).toContain('process_cpu_user_seconds_total{service="platform"}');
    expect(gateway).not.toContain('process_cpu_user_seconds_total');

    // /metrics: every part, one HELP and TYPE per metric (a valid exposition), the series told apart by `service`.
    const all = await scrape('');
    for (const name of [
      'graphql_request_duration_seconds',
      'http_request_duration_seconds',
      'outbound_request_duration_seconds',
      'process_start_time_seconds',
    ]) {
      expect(
        all
          .split('\n')
          .filter((line) => line === `# TYPE ${name} ${name === 'process_start_time_seconds' ? 'gauge' : 'histogram'}`),
        name,
      ).toHaveLength(1);
    }
    expect(services(series(all, 'graphql_request_duration_seconds_count'))).toEqual(
      new Set(['gateway', 'identity', 'accounts', 'consents']),
    );

    expect((await fetch(`${platform.urls.metrics}/sandboxes`)).status).toBe(404);
    expect((await fetch(`${platform.urls.metrics}/constructor`)).status).toBe(404);
  });
});

describe('a service process (lib/service-main.ts)', () => {
  const entry = fileURLToPath(new URL('../../subgraphs/payments/main.ts', import.meta.url));
  let child: ChildProcess;

  /** Starts the payments subgraph as its own process and waits until both listeners have logged their URLs. */
  async function startPayments(env: Record<string, string>): Promise<{ metricsUrl: string; graphqlUrl: string }> {
    child = spawn(process.execPath, [entry], {
      env: {
        PATH: process.env.PATH ?? '',
        PAYMENTS_PORT: '0',
        METRICS_PORT: '0',
        PGLITE_DIR: 'memory://',
        LOG_LEVEL: 'info',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const urls: { metricsUrl?: string; graphqlUrl?: string } = {};
    const stderr: string[] = [];
    child.stderr!.on('data', (chunk: Buffer) => stderr.push(chunk.toString()));
    return new Promise((resolve, reject) => {
      child.once('exit', (code) =>
        reject(new Error(`payments exited with ${code} before listening: ${stderr.join('')}`)),
      );
      createInterface({ input: child.stdout! }).on('line', (line) => {
        const entryLine = JSON.parse(line) as Record<string, unknown>;
        if (String(entryLine.msg).startsWith('metrics listening')) urls.metricsUrl = entryLine.url as string;
        if (entryLine.msg === 'payments subgraph listening') urls.graphqlUrl = entryLine.url as string;
        if (urls.metricsUrl && urls.graphqlUrl) resolve(urls as { metricsUrl: string; graphqlUrl: string });
      });
    });
  }

  async function stop(): Promise<number | null> {
    if (child.exitCode !== null) return child.exitCode;
    // Drop the start-up listener (it rejects an exit before listening), then wait for this exit.
    child.removeAllListeners('exit');
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    return exited;
  }

  afterAll(async () => {
    if (child && child.exitCode === null) await stop();
  });

  it('serves metrics on the operator listener, 404 on the public port, and closes both on SIGTERM', async () => {
    const { metricsUrl, graphqlUrl } = await startPayments({});
    expect(new URL(metricsUrl).hostname).toBe('127.0.0.1');
    expect(new URL(metricsUrl).port).not.toBe(new URL(graphqlUrl).port);
    const metrics = await fetch(metricsUrl);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain('process_cpu_user_seconds_total');
    expect((await fetch(graphqlUrl.replace(/graphql$/, 'metrics'))).status).toBe(404);
    expect(await stop()).toBe(0);
  }, 60_000);

  it('stops with status 2 and names the variable when the metrics configuration is bad', async () => {
    const exit = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const proc = spawn(process.execPath, [entry], {
        env: {
          PATH: process.env.PATH ?? '',
          PAYMENTS_PORT: '0',
          PROFILE: 'sandbox',
          METRICS_TOKEN: 'too-short',
          LOG_LEVEL: 'silent',
        },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      const stderr: string[] = [];
      proc.stderr!.on('data', (chunk: Buffer) => stderr.push(chunk.toString()));
      proc.once('exit', (code) => resolve({ code, stderr: stderr.join('') }));
    });
    expect(exit.code).toBe(2);
    expect(exit.stderr).toContain('METRICS_TOKEN: must be at least 32 bytes (UTF-8)');
    expect(exit.stderr).not.toContain('too-short');
  }, 60_000);
});
