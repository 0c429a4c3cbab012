import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningGateway } from '../../gateway/server.ts';
import { gql, startToyGateway, type LocalJwks, type ToyGateway } from './helpers.ts';

let fixture: ToyGateway;
let jwks: LocalJwks;
let toys: ToyGateway['toys'];
let gateway: RunningGateway;

beforeAll(async () => {
  fixture = await startToyGateway();
  ({ jwks, toys, gateway } = fixture);
});

afterAll(async () => {
  await fixture?.close();
});

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const INCOMING = `00-${TRACE_ID}-00f067aa0ba902b7-01`;

describe('gateway correlation', () => {
  it('passes the client x-request-id and traceparent (same trace, new span) to every subgraph and echoes the request id', async () => {
    const token = await jwks.sign();
    const res = await gql(gateway.url, '{ whoami { requestId traceparent } me { reviews { body } } }', {
      token,
      headers: { 'x-request-id': 'req-from-mobile-42', traceparent: INCOMING },
    });
    expect(res.body.errors).toBeUndefined();
    expect(res.headers.get('x-request-id')).toBe('req-from-mobile-42');
    const whoami = (res.body.data as { whoami: { requestId: string; traceparent: string } }).whoami;
    expect(whoami.requestId).toBe('req-from-mobile-42');
    const [version, traceId, spanId, flags] = whoami.traceparent.split('-');
    expect([version, traceId, flags]).toEqual(['00', TRACE_ID, '01']);
    expect(spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(spanId).not.toBe('00f067aa0ba902b7');
    // The entity call to the other subgraph carries the same correlation ids.
    const reviewsCall = toys.reviews.seen.at(-1)!;
    expect(reviewsCall.headers['x-request-id']).toBe('req-from-mobile-42');
    expect(String(reviewsCall.headers['traceparent'])).toContain(TRACE_ID);
    // The gateway answers with its own span of the same trace.
    expect(res.headers.get('traceparent')).toContain(TRACE_ID);
  });

  it('creates a request id and a trace when the client sends none (or malformed ones)', async () => {
    const token = await jwks.sign();
    const res = await gql(gateway.url, '{ whoami { requestId traceparent } }', {
      token,
      headers: { 'x-request-id': 'bad id with spaces\n', traceparent: 'garbage' },
    });
    const whoami = (res.body.data as { whoami: { requestId: string; traceparent: string } }).whoami;
    const echoed = res.headers.get('x-request-id');
    expect(echoed).toMatch(/^[0-9a-f-]{36}$/);
    expect(whoami.requestId).toBe(echoed);
    expect(whoami.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  });

  it('echoes the request id on refused requests too', async () => {
    const res = await gql(gateway.url, '{ me { id } }', { headers: { 'x-request-id': 'req-anon-1' } });
    expect(res.status).toBe(401);
    expect(res.headers.get('x-request-id')).toBe('req-anon-1');
  });
});
