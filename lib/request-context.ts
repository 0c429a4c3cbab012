import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes, randomUUID } from 'node:crypto';

/**
 * Per-request correlation data. It lives in AsyncLocalStorage so that the logger and the
 * outbound HTTP client can stamp every log line and every partner or subgraph call with the
 * request id and the W3C trace context without threading them through every function.
 */
export interface RequestContext {
  requestId: string;
  /**
   * W3C traceparent of this hop: the incoming trace id and this service's span id (the span of the
   * incoming request when tracing is on, lib/tracing.ts). Outbound calls send it, or the id of
   * their own client span when tracing is on.
   */
  traceparent: string;
  /** The service whose port received the request; its metrics and traces are the ones recorded. */
  service?: string;
  /**
   * When the request must be answered by (epoch ms): every outbound call of the request stops
   * trying by then (lib/http-client.ts). The gateway sets it (GATEWAY_REQUEST_DEADLINE_MS) and
   * passes what is left to the subgraphs in `x-request-deadline-ms` (lib/resilience.ts).
   */
  deadline?: number;
  /** What this request served from a fallback cache instead of its source (lib/resilience.ts markStale). */
  stale?: { path: string; source: string; asOf: string }[];
}

const storage = new AsyncLocalStorage<RequestContext>();

export function runWithRequestContext<T>(ctx: RequestContext, fn: () => T): T {
  return storage.run(ctx, fn);
}

export function currentRequestContext(): RequestContext | undefined {
  return storage.getStore();
}

const serviceScope = new AsyncLocalStorage<string>();

/**
 * Runs a service's start as that service. Under `npm start` the gateway and the four subgraphs live
 * in one process; what a start creates (HTTP clients, databases, servers, timers) is then measured
 * and traced as the service that created it (lib/metrics.ts, lib/tracing.ts), without threading the
 * name through every constructor. A service process runs its whole start this way too.
 */
export function runAsService<T>(service: string, fn: () => T): T {
  return serviceScope.run(service, fn);
}

/** The service the calling code works for: the request being served, else the service whose start created the code. */
export function currentService(): string | undefined {
  return storage.getStore()?.service ?? serviceScope.getStore();
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** Accepts a well-formed incoming x-request-id, otherwise creates one (never trusts odd input into logs). */
export function requestIdFrom(header: string | string[] | undefined): string {
  const value = Array.isArray(header) ? header[0] : header;
  return value && REQUEST_ID.test(value) ? value : randomUUID();
}

/**
 * Continues an incoming W3C trace (same trace id, new span id for this hop) or starts a new
 * trace. Invalid or all-zero ids start a new trace, as the W3C spec asks.
 */
export function traceparentFrom(header: string | string[] | undefined): string {
  const value = Array.isArray(header) ? header[0] : header;
  const match = value ? TRACEPARENT.exec(value) : null;
  const traceId = match && !/^0+$/.test(match[1]!) ? match[1]! : randomBytes(16).toString('hex');
  const flags = match ? match[3]! : '01';
  return `00-${traceId}-${randomBytes(8).toString('hex')}-${flags}`;
}

/** Longest remaining budget accepted from `x-request-deadline-ms`: it can only shorten a request's calls. */
const MAX_INCOMING_BUDGET_MS = 120_000;

export function requestContextFromHeaders(headers: Record<string, string | string[] | undefined>): RequestContext {
  const ctx: RequestContext = {
    requestId: requestIdFrom(headers['x-request-id']),
    traceparent: traceparentFrom(headers['traceparent']),
  };
  // The caller's remaining budget (ms, relative so that clocks need not agree): the gateway's
  // deadline reaches the partner calls a subgraph makes for it. A gateway sets its own deadline
  // on top (never a longer one).
  const budget = Number(Array.isArray(headers['x-request-deadline-ms']) ? undefined : headers['x-request-deadline-ms']);
  if (Number.isInteger(budget) && budget > 0) ctx.deadline = Date.now() + Math.min(budget, MAX_INCOMING_BUDGET_MS);
  return ctx;
}
