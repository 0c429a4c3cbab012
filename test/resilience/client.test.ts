import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { Keyv } from 'keyv';
import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { PartnerError } from '../../lib/errors.ts';
import { createFallbackCache } from '../../lib/fallback-cache.ts';
import { createHttpClient, DependencyUnavailableError, type HttpResponse } from '../../lib/http-client.ts';
import { closeServer, listen } from '../../lib/http-server.ts';
import { createLogger } from '../../lib/logger.ts';
import { metricsOf } from '../../lib/metrics.ts';
import { runWithRequestContext } from '../../lib/request-context.ts';
import { scaled, waitBudget } from '../support/time.ts';

// A dependency stand-in whose behaviour each test scripts per path.
type Responder = (req: IncomingMessage, res: ServerResponse) => void;
let behaviour: Record<string, Responder> = {};
let seen: string[] = [];
const server = createServer((req, res) => {
  seen.push(req.url ?? '');
  const respond = behaviour[(req.url ?? '').split('?')[0]!] ?? ((_q, r) => r.end('{"ok":true}'));
  respond(req, res);
});
let baseUrl = '';
const logger = createLogger('test', 'silent');
const SERVICE = 'resilience-test';
let n = 0;
/** A fresh dependency name per test, so breaker state and figures start from nothing. */
const nextName = () => `dep-${++n}`;

const json =
  (body: unknown, status = 200, headers: Record<string, string> = {}): Responder =>
  (_q, r) => {
    r.writeHead(status, { 'content-type': 'application/json', ...headers });
    r.end(JSON.stringify(body));
  };
const status =
  (code: number, headers: Record<string, string> = {}): Responder =>
  (_q, r) => {
    r.writeHead(code, headers);
    r.end();
  };
const hang: Responder = () => {};

async function figure(metric: string, labels: Record<string, string>): Promise<number> {
  const all = await metricsOf(SERVICE).registry.getMetricsAsJSON();
  const m = all.find((x) => x.name === metric);
  const v = m?.values.find((x) => Object.entries(labels).every(([k, val]) => x.labels[k] === val));
  return Number(v?.value ?? 0);
}

beforeAll(async () => {
  baseUrl = (await listen(server, 0)).url;
});
afterAll(() => closeServer(server));
beforeEach(() => {
  behaviour = {};
  seen = [];
});

describe('one client, four protections', () => {
  it('bulkhead: calls beyond the limit and queue are refused at once and counted; other dependencies are unaffected', async () => {
    const slow = nextName();
    const other = nextName();
    behaviour['/slow'] = (_q, r) => setTimeout(() => json({ ok: 1 })(_q, r), scaled(300));
    const c = createHttpClient({
      name: slow,
      baseUrl,
      timeoutMs: scaled(5_000),
      logger,
      service: SERVICE,
      bulkhead: { limit: 2, queue: 1 },
    });
    const d = createHttpClient({ name: other, baseUrl, timeoutMs: scaled(5_000), logger, service: SERVICE });
    const results = await Promise.allSettled([
      ...Array.from({ length: 6 }, () => c.request({ method: 'GET', path: '/slow', operation: 'slow' })),
      d.request({ method: 'GET', path: '/fast', operation: 'fast' }),
    ]);
    const fulfilled = results.filter((r) => r.status === 'fulfilled').length;
    const rejected = results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason);
    // 2 running + 1 queued for the slow dependency, the fast one answered.
    expect(fulfilled).toBe(4);
    expect(rejected).toHaveLength(3);
    for (const err of rejected) {
      expect(err).toBeInstanceOf(DependencyUnavailableError);
      expect((err as DependencyUnavailableError).reason).toBe('bulkhead-full');
    }
    expect(seen.filter((u) => u === '/slow')).toHaveLength(3);
    expect(await figure('outbound_bulkhead_rejections_total', { target: slow })).toBe(3);
  });

  it('deadline: no attempt outlives the request deadline, and no retry starts after it', async () => {
    const name = nextName();
    behaviour['/hang'] = hang;
    const c = createHttpClient({ name, baseUrl, timeoutMs: scaled(10_000), retries: 3, logger, service: SERVICE });
    const ctx = { requestId: 'r-deadline', traceparent: '', deadline: Date.now() + 200 };
    const err = await runWithRequestContext(ctx, () =>
      c.request({ method: 'GET', path: '/hang', operation: 'hang' }),
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DependencyUnavailableError);
    expect((err as DependencyUnavailableError).reason).toBe('deadline');
    expect(seen.filter((u) => u === '/hang')).toHaveLength(1);
    // The deadline is not the dependency's fault: the breaker does not count it.
    expect(c.state()).toBe('closed');
  });

  it('sends the remaining budget to the callee', async () => {
    let budget: string | undefined;
    behaviour['/budget'] = (q, r) => {
      budget = q.headers['x-request-deadline-ms'] as string;
      json({})(q, r);
    };
    const c = createHttpClient({ name: nextName(), baseUrl, timeoutMs: scaled(5_000), logger, service: SERVICE });
    await runWithRequestContext({ requestId: 'r', traceparent: '', deadline: Date.now() + 60_000 }, () =>
      c.request({ method: 'GET', path: '/budget', operation: 'b' }),
    );
    expect(Number(budget)).toBeGreaterThan(0);
    expect(Number(budget)).toBeLessThanOrEqual(60_000);
  });

  it('retries a safe call after 503 with backoff (counted), never a mutation', async () => {
    const name = nextName();
    let calls = 0;
    behaviour['/flaky'] = (q, r) => (++calls === 1 ? status(503)(q, r) : json({ ok: true })(q, r));
    const c = createHttpClient({ name, baseUrl, timeoutMs: scaled(5_000), logger, service: SERVICE });
    const res = await c.request({ method: 'POST', path: '/flaky', operation: 'query', idempotent: true, body: {} });
    expect(res.body).toEqual({ ok: true });
    expect(await figure('outbound_retries_total', { target: name })).toBe(1);

    behaviour['/fail'] = status(503);
    seen = [];
    await expect(c.request({ method: 'POST', path: '/fail', operation: 'mutation', body: {} })).rejects.toMatchObject({
      reason: 'http-status',
      status: 503,
    });
    expect(seen).toEqual(['/fail']);
  });

  it('429 with Retry-After: waits that long when it fits the deadline, fails at once when it does not', async () => {
    const name = nextName();
    let calls = 0;
    behaviour['/limited'] = (q, r) =>
      ++calls === 1 ? status(429, { 'retry-after': '1' })(q, r) : json({ ok: 2 })(q, r);
    // The client's log says how long it waited before the retry (no clock is read by this test).
    const lines: { msg?: string; delayMs?: number }[] = [];
    const recording = pino({ level: 'warn' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    const c = createHttpClient({ name, baseUrl, timeoutMs: scaled(5_000), logger: recording, service: SERVICE });
    const res = await c.request({ method: 'GET', path: '/limited', operation: 'l' });
    expect(res.body).toEqual({ ok: 2 });
    expect(lines.find((l) => l.msg === 'retrying call')?.delayMs).toBeGreaterThanOrEqual(1000);
    expect(await figure('outbound_rate_limited_total', { target: name })).toBe(1);

    calls = 0;
    seen = [];
    const err = await runWithRequestContext({ requestId: 'r', traceparent: '', deadline: Date.now() + 500 }, () =>
      c.request({ method: 'GET', path: '/limited', operation: 'l' }),
    ).catch((e: unknown) => e);
    expect((err as DependencyUnavailableError).reason).toBe('rate-limited');
    expect(seen).toHaveLength(1);
  });

  it('breaker: opens after its threshold, fails fast, half-opens after the pause, closes on success; figures show each step', async () => {
    const name = nextName();
    behaviour['/down'] = status(500);
    const c = createHttpClient({
      name,
      baseUrl,
      timeoutMs: scaled(5_000),
      retries: 0,
      logger,
      service: SERVICE,
      breaker: { volumeThreshold: 4, errorThresholdPercentage: 50, resetTimeoutMs: 300 },
    });
    for (let i = 0; i < 4; i++) await c.request({ method: 'GET', path: '/down', operation: 'd' }).catch(() => {});
    expect(c.state()).toBe('open');
    expect(await figure('outbound_breaker_state', { target: name })).toBe(2);
    expect(await figure('circuit_breaker_transitions_total', { target: name, state: 'open' })).toBe(1);
    const before = seen.length;
    await expect(c.request({ method: 'GET', path: '/down', operation: 'd' })).rejects.toMatchObject({
      reason: 'circuit-open',
    });
    expect(seen.length).toBe(before);
    expect(await figure('outbound_errors_total', { target: name, code: 'circuit_open' })).toBe(1);

    behaviour['/down'] = json({ back: true });
    await new Promise((r) => setTimeout(r, 350));
    // The pause is over: the next call is the probe; its success closes the circuit.
    await expect(c.request({ method: 'GET', path: '/down', operation: 'd' })).resolves.toMatchObject({
      body: { back: true },
    });
    expect(c.state()).toBe('closed');
    expect(await figure('circuit_breaker_transitions_total', { target: name, state: 'halfOpen' })).toBe(1);
    expect(await figure('circuit_breaker_transitions_total', { target: name, state: 'close' })).toBe(1);
    expect(await figure('outbound_breaker_state', { target: name })).toBe(0);
  });
});

describe('cached fallbacks in the client', () => {
  const store = new Keyv();
  const cache = createFallbackCache({ store, key: Buffer.alloc(32, 7), ttlMs: 60_000, logger, service: SERVICE });
  const accept = (res: HttpResponse) => res.status === 200 && typeof res.body === 'object' && res.body !== null;

  it('serves the last good answer of the same scope, marked, and nothing for another scope', async () => {
    const name = nextName();
    const c = createHttpClient({
      name,
      baseUrl,
      timeoutMs: scaled(5_000),
      retries: 0,
      logger,
      service: SERVICE,
      fallback: cache,
    });
    behaviour['/balances'] = json({ owner: 'alice', amount: '10.00' });
    await c.request({
      method: 'GET',
      path: '/balances',
      operation: 'b',
      fallback: { scope: 'cus_alice|app1', accept },
    });
    behaviour['/balances'] = json({ owner: 'ben', amount: '99.00' });
    await c.request({ method: 'GET', path: '/balances', operation: 'b', fallback: { scope: 'cus_ben|app1', accept } });
    // Written without waiting: give the writes their moment.
    await vi.waitFor(async () => expect(await cache.recall(name, 'cus_ben|app1')).toBeDefined(), waitBudget());

    behaviour['/balances'] = status(503);
    const alice = await c.request({
      method: 'GET',
      path: '/balances',
      operation: 'b',
      fallback: { scope: 'cus_alice|app1', accept },
    });
    expect(alice.body).toEqual({ owner: 'alice', amount: '10.00' });
    expect(alice.stale?.asOf).toMatch(/^\d{4}-\d\d-\d\dT/);
    const ben = await c.request({
      method: 'GET',
      path: '/balances',
      operation: 'b',
      fallback: { scope: 'cus_ben|app1', accept },
    });
    expect(ben.body).toEqual({ owner: 'ben', amount: '99.00' });
    // Another third party (another scope) for the same customer gets an error, never Alice's data.
    await expect(
      c.request({ method: 'GET', path: '/balances', operation: 'b', fallback: { scope: 'cus_alice|app2', accept } }),
    ).rejects.toBeInstanceOf(DependencyUnavailableError);
    expect(await figure('fallback_stale_serves_total', { target: name })).toBe(2);
  });

  it('never keeps what the caller did not accept, nor a body that is not JSON, and never serves a mutation from it', async () => {
    const name = nextName();
    const c = createHttpClient({
      name,
      baseUrl,
      timeoutMs: scaled(5_000),
      retries: 0,
      logger,
      service: SERVICE,
      fallback: cache,
    });
    behaviour['/bad'] = json({ unexpected: 'shape' });
    await c.request({ method: 'GET', path: '/bad', operation: 'b', fallback: { scope: 's', accept: () => false } });
    behaviour['/bad'] = (_q, r) => r.end('<html>');
    await expect(
      c.request({ method: 'GET', path: '/bad', operation: 'b', fallback: { scope: 's', accept } }),
    ).rejects.toMatchObject({ kind: 'contract' });
    behaviour['/bad'] = status(503);
    await expect(
      c.request({ method: 'GET', path: '/bad', operation: 'b', fallback: { scope: 's', accept } }),
    ).rejects.toBeInstanceOf(DependencyUnavailableError);
    expect(await cache.recall(name, 's')).toBeUndefined();

    behaviour['/pay'] = json({ ok: true });
    await c.request({ method: 'POST', path: '/pay', operation: 'pay', body: {}, fallback: { scope: 'm', accept } });
    expect(await cache.recall(name, 'm')).toBeUndefined();
  });

  it('stores entries encrypted, bound to their key', async () => {
    const local = new Keyv();
    const fc = createFallbackCache({ store: local, key: Buffer.alloc(32, 9), ttlMs: 60_000, logger, service: SERVICE });
    await fc.remember('t', 'cus_alice', { iban: 'GB33BUKB20201555555555' });
    const entries: [string, unknown][] = [];
    for await (const [k, v] of local.iterator!(undefined)) entries.push([k as string, v]);
    expect(entries).toHaveLength(1);
    expect(JSON.stringify(entries)).not.toContain('GB33BUKB');
    expect(JSON.stringify(entries)).not.toContain('cus_alice');
    // The same ciphertext placed under another principal's key does not open.
    const other = createFallbackCache({
      store: local,
      key: Buffer.alloc(32, 9),
      ttlMs: 60_000,
      logger,
      service: SERVICE,
    });
    await other.remember('t', 'cus_ben', { iban: 'x' });
    const ids: string[] = [];
    for await (const [k] of local.iterator!(undefined)) ids.push(k as string);
    const aliceId = ids.find((id) => id !== ids[1])!;
    const benId = ids.find((id) => id !== aliceId)!;
    await local.set(benId, await local.get(aliceId));
    expect(await other.recall('t', 'cus_ben')).toBeUndefined();
    expect(await fc.recall('t', 'cus_alice')).toMatchObject({ value: { iban: 'GB33BUKB20201555555555' } });
  });

  it('a cache that fails or hangs is skipped: the call still answers', async () => {
    const broken = {
      get: () => new Promise(() => {}),
      set: () => Promise.reject(new Error('redis down')),
      on: () => {},
    } as unknown as Keyv;
    const fc = createFallbackCache({
      store: broken,
      key: null,
      ttlMs: 60_000,
      logger,
      service: SERVICE,
      opTimeoutMs: 50,
    });
    const name = nextName();
    const c = createHttpClient({
      name,
      baseUrl,
      timeoutMs: scaled(5_000),
      retries: 0,
      logger,
      service: SERVICE,
      fallback: fc,
    });
    behaviour['/x'] = json({ ok: 1 });
    await expect(
      c.request({ method: 'GET', path: '/x', operation: 'x', fallback: { scope: 's', accept } }),
    ).resolves.toMatchObject({
      body: { ok: 1 },
    });
    behaviour['/x'] = status(503);
    await expect(
      c.request({ method: 'GET', path: '/x', operation: 'x', fallback: { scope: 's', accept } }),
    ).rejects.toBeInstanceOf(PartnerError);
    await vi.waitFor(
      async () => expect(await figure('fallback_cache_errors_total', { target: name, op: 'read' })).toBe(1),
      waitBudget(),
    );
  });
});
