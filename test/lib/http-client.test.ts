import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PartnerError } from '../../lib/errors.ts';
import { createHttpClient } from '../../lib/http-client.ts';
import { closeServer, listen } from '../../lib/http-server.ts';
import { createLogger } from '../../lib/logger.ts';
import { runWithRequestContext } from '../../lib/request-context.ts';
import { scaled } from '../support/time.ts';

// A partner stand-in whose behaviour each test scripts: a queue of responders.
type Responder = (req: IncomingMessage, res: ServerResponse) => void;
let script: Responder[] = [];
let seen: IncomingMessage[] = [];
const server = createServer((req, res) => {
  seen.push(req);
  const next = script.shift() ?? ((_q, r) => r.end('{"ok":true}'));
  next(req, res);
});
let baseUrl = '';
const logger = createLogger('test', 'silent');

beforeAll(async () => {
  baseUrl = (await listen(server, 0)).url;
});
afterAll(() => closeServer(server));
beforeEach(() => {
  script = [];
  seen = [];
});

// The timeout is a budget for an answer that comes (a busy machine must not turn it into a
// timeout); the hanging-partner test sets its own short one, since there the timeout is the point.
const client = (extra: Partial<Parameters<typeof createHttpClient>[0]> = {}) =>
  createHttpClient({ name: 'test-partner', baseUrl, timeoutMs: scaled(2_000), logger, ...extra });

describe('resilient HTTP client', () => {
  it('sends correlation headers and parses JSON', async () => {
    const c = client();
    const res = await runWithRequestContext(
      { requestId: 'req-42', traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' },
      () => c.request({ method: 'GET', path: '/things', operation: 'getThings', query: { page: 2 } }),
    );
    expect(res.body).toEqual({ ok: true });
    expect(seen[0]!.url).toBe('/things?page=2');
    expect(seen[0]!.headers['x-request-id']).toBe('req-42');
    expect(seen[0]!.headers['traceparent']).toMatch(/^00-0af7651916cd43dd8448eb211c80319c-/);
    c.shutdown();
  });

  it('retries a GET after a 503 and returns the later success', async () => {
    script = [
      (_q, r) => {
        r.statusCode = 503;
        r.end();
      },
    ];
    const c = client();
    await expect(c.request({ method: 'GET', path: '/x', operation: 'x' })).resolves.toMatchObject({ status: 200 });
    expect(seen).toHaveLength(2);
    c.shutdown();
  });

  it('honours a short Retry-After on 429 and gives up on a long one', async () => {
    script = [
      (_q, r) => {
        r.writeHead(429, { 'retry-after': '0' });
        r.end();
      },
    ];
    const c = client();
    await expect(c.request({ method: 'GET', path: '/x', operation: 'x' })).resolves.toMatchObject({ status: 200 });
    script = [
      (_q, r) => {
        r.writeHead(429, { 'retry-after': '120' });
        r.end();
      },
    ];
    seen = [];
    await expect(c.request({ method: 'GET', path: '/x', operation: 'x' })).rejects.toMatchObject({
      kind: 'unavailable',
      status: 429,
    });
    expect(seen).toHaveLength(1);
    c.shutdown();
  });

  it('never retries a POST without an idempotency key', async () => {
    script = [
      (_q, r) => {
        r.statusCode = 502;
        r.end();
      },
    ];
    const c = client();
    await expect(c.request({ method: 'POST', path: '/pay', operation: 'pay', body: { a: 1 } })).rejects.toBeInstanceOf(
      PartnerError,
    );
    expect(seen).toHaveLength(1);
    c.shutdown();
  });

  it('times out a hanging partner and reports it unavailable by name', async () => {
    const hang: Responder = () => {};
    script = [hang, hang, hang];
    const c = client({ retries: 2, timeoutMs: 200 });
    const err = await c.request({ method: 'GET', path: '/slow', operation: 'slow' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PartnerError);
    expect((err as PartnerError).message).toMatch(/^test-partner: slow failed: timeout/);
    expect(seen).toHaveLength(3);
    c.shutdown();
  });

  it('turns a non-JSON body into a contract error without retrying or tripping the breaker', async () => {
    script = [(_q, r) => r.end('<html>oops</html>')];
    const c = client({ breaker: { volumeThreshold: 1 } });
    await expect(c.request({ method: 'GET', path: '/x', operation: 'x' })).rejects.toMatchObject({
      kind: 'contract',
      partner: 'test-partner',
    });
    expect(seen).toHaveLength(1);
    expect(c.state()).toBe('closed');
    c.shutdown();
  });

  it('opens the circuit after repeated failures and then fails fast without calling the partner', async () => {
    const fail: Responder = (_q, r) => {
      r.statusCode = 500;
      r.end();
    };
    script = Array.from({ length: 10 }, () => fail);
    const c = client({
      retries: 0,
      breaker: { volumeThreshold: 3, errorThresholdPercentage: 50, resetTimeoutMs: 60_000 },
    });
    for (let i = 0; i < 3; i++) await c.request({ method: 'GET', path: '/x', operation: 'x' }).catch(() => {});
    expect(c.state()).toBe('open');
    const calls = seen.length;
    await expect(c.request({ method: 'GET', path: '/x', operation: 'x' })).rejects.toThrow(/circuit open/);
    expect(seen.length).toBe(calls);
    c.shutdown();
  });
});
