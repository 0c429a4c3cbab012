import {
  BrokenCircuitError,
  BulkheadRejectedError,
  bulkhead as createBulkhead,
  circuitBreaker,
  CircuitState,
  CountBreaker,
  ExponentialBackoff,
  handleWhen,
  retry,
  type IBackoff,
  type IBackoffFactory,
  type IRetryBackoffContext,
} from 'cockatiel';
import { PartnerError } from './errors.ts';
import type { FallbackCache } from './fallback-cache.ts';
import { createLogger, type Logger } from './logger.ts';
import { metricsOf, UNATTRIBUTED } from './metrics.ts';
import { currentRequestContext, currentService } from './request-context.ts';
import { budgetForCallee, DEADLINE_HEADER } from './resilience.ts';
import { resilienceMetricsOf } from './resilience-metrics.ts';
import type { Span } from '@opentelemetry/api';
import { outboundTraceparent, SpanKind, withSpan } from './tracing.ts';

/**
 * The one way this codebase calls another HTTP service: partners (the banks, the KYC provider),
 * the subgraphs (the gateway's executor and its authorization lookups), the JWKS and the
 * supergraph. Every dependency gets one client, and every client gives its calls the same four
 * protections, composed from cockatiel (one maintained library; no hand-written breaker):
 *
 * - a timeout per attempt (AbortSignal), never longer than what is left of the request's deadline
 *   (lib/resilience.ts; the gateway sets GATEWAY_REQUEST_DEADLINE_MS and passes the rest on in
 *   `x-request-deadline-ms`, so a subgraph's partner calls stop in time too);
 * - a bulkhead: at most `bulkhead.limit` calls at once to this dependency, `bulkhead.queue` more
 *   waiting, the rest refused at once (counted), so one slow dependency cannot take the capacity the
 *   others need;
 * - a circuit breaker (CountBreaker over the last `breaker.windowSize` calls): it opens when more than
 *   `errorThresholdPercentage` of them failed (once `volumeThreshold` calls were made), fails fast
 *   while open, lets one probe through after `resetTimeoutMs` and closes when it succeeds;
 * - retries with exponential backoff and decorrelated jitter, only for calls safe to repeat (GET,
 *   or `idempotent: true`: a GraphQL query, a partner call with an idempotency key), after network
 *   errors, timeouts, 5xx and 429; a 429's Retry-After is honoured when it fits both
 *   `maxRetryAfterMs` and the deadline, otherwise the call fails at once. A mutation is never retried.
 *
 * Plus: correlation headers (x-request-id, W3C traceparent) from the request context; a client span
 * per attempt; per-dependency figures under the client's name (latency, errors by code, timeouts,
 * retries, 429s, breaker state and transitions, bulkhead rejections, stale serves:
 * lib/resilience-metrics.ts); and, when `fallback` is given, the last good answer of a safe read
 * kept per principal scope (lib/fallback-cache.ts) and served, marked `stale`, when the dependency
 * fails. Outages throw DependencyUnavailableError (a PartnerError of kind 'unavailable' naming the
 * dependency, with `reason`); a body that is not JSON is a PartnerError of kind 'contract', which
 * is not retried and does not count against the breaker.
 *
 * Stable API (the payments partner client builds on it): createHttpClient(options) → { request,
 * name, state, shutdown }; HttpRequest and HttpResponse as declared below.
 */
export interface HttpClientOptions {
  /** Name under which latency, errors and breaker state are measured, e.g. "northwind-ais", "subgraph:accounts". */
  name: string;
  baseUrl: string;
  /** Longest one attempt may take (the request deadline may cut it shorter). */
  timeoutMs: number;
  logger?: Logger;
  /** Extra attempts for retryable requests (default 2). */
  retries?: number;
  /** Longest Retry-After the client will wait for; longer ones fail fast as unavailable (default 2000). */
  maxRetryAfterMs?: number;
  breaker?: {
    /** Failure share of the window that opens the circuit (default 50). */
    errorThresholdPercentage?: number;
    /** Time the circuit stays open before one probe is let through (default 10 000 ms). */
    resetTimeoutMs?: number;
    /** Calls needed in the window before the circuit may open (default 10). */
    volumeThreshold?: number;
    /** Calls the failure share is computed over (default 50). */
    windowSize?: number;
  };
  bulkhead?: {
    /** Calls at once (default 32). */
    limit?: number;
    /** Calls waiting for a slot; beyond it a call is refused at once (default 32). */
    queue?: number;
  };
  /** Keeps the last good answer of safe reads and serves it when the dependency fails (see HttpRequest.fallback). */
  fallback?: FallbackCache;
  /** Registry the figures go to; default: the service whose start creates the client. */
  service?: string;
}

export interface HttpRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Path under baseUrl ('' for baseUrl itself). */
  path: string;
  /** An absolute URL of the same dependency instead of baseUrl + path (a subgraph's /readyz beside its /graphql). */
  url?: string;
  /** Name of the operation for metrics and logs, e.g. "getTransactions". */
  operation: string;
  query?: Record<string, string | number | undefined>;
  headers?: Record<string, string>;
  body?: unknown;
  /**
   * Marks a non-GET request as safe to retry (a GraphQL query, or a call with an idempotency key). Never set it for a
   * mutation.
   */
  idempotent?: boolean;
  /** No retry for this call even when it is safe (a readiness probe). */
  noRetry?: boolean;
  /** The caller's own cancellation (its client went away). */
  signal?: AbortSignal;
  /** 'json' (default): `body` is the parsed JSON; 'text': `body` is null and only `text` is read. */
  responseType?: 'json' | 'text';
  /** false: no client span of its own (the caller made one and sent its traceparent in `headers`). */
  trace?: boolean;
  /**
   * Serve the last good answer when the dependency fails (only for safe calls, only with the
   * client's `fallback` cache). `scope` must hold everything the answer depends on, the principal
   * first; `accept` says whether an answer is good enough to keep (a malformed or
   * contract-violating one must not be).
   */
  fallback?: { scope: string; accept: (res: HttpResponse) => boolean };
}

export interface HttpResponse {
  status: number;
  headers: Headers;
  /** Parsed JSON body, or null for an empty body (or responseType 'text'). */
  body: unknown;
  /** The body as received. */
  text: string;
  /** Set when this is the last good answer, served because the dependency failed. */
  stale?: { asOf: string };
}

export type UnavailableReason =
  'timeout' | 'network' | 'http-status' | 'rate-limited' | 'circuit-open' | 'bulkhead-full' | 'deadline' | 'cancelled';

/** The dependency could not answer in time (or at all); `reason` says why. */
export class DependencyUnavailableError extends PartnerError {
  readonly reason: UnavailableReason;
  constructor(
    partner: string,
    reason: UnavailableReason,
    message: string,
    opts: { status?: number; cause?: unknown } = {},
  ) {
    super(partner, 'unavailable', message, opts);
    this.name = 'DependencyUnavailableError';
    this.reason = reason;
  }
}

export interface HttpClient {
  request(req: HttpRequest): Promise<HttpResponse>;
  readonly name: string;
  /** Current breaker state, for /readyz and tests. */
  state(): 'closed' | 'open' | 'half-open';
  /** Bulkhead occupancy, for /readyz and tests. */
  load(): { active: number; queued: number; limit: number; queue: number };
  shutdown(): void;
}

/** A 5xx or 429 answer: a failure of the dependency (retried when safe, counted by the breaker). */
class RetryableStatus extends Error {
  readonly status: number;
  readonly retryAfterMs: number | null;
  constructor(status: number, retryAfterMs: number | null) {
    super(`HTTP ${status}`);
    this.status = status;
    this.retryAfterMs = retryAfterMs;
  }
}

/** An attempt that got no answer: a timeout of its own or a network error (counted by the breaker). */
class AttemptFailed extends Error {
  readonly reason: 'timeout' | 'network';
  constructor(reason: 'timeout' | 'network', message: string, cause?: unknown) {
    super(message, { cause });
    this.reason = reason;
  }
}

/**
 * The request's deadline ran out (before or during an attempt): not the dependency's fault, not counted by the breaker.
 */
class DeadlineExceeded extends Error {}
/** The caller cancelled: not counted, not retried. */
class Cancelled extends Error {}

const STATE_VALUE = { closed: 0, 'half-open': 1, open: 2 } as const;

export function createHttpClient(opts: HttpClientOptions): HttpClient {
  const retries = opts.retries ?? 2;
  const maxRetryAfterMs = opts.maxRetryAfterMs ?? 2_000;
  const log = (opts.logger ?? createLogger(opts.name, 'silent')).child({ target: opts.name });
  // The service that creates the client owns its figures (under `npm start` several share the process).
  const service = opts.service ?? currentService();
  const metrics = metricsOf(service ?? UNATTRIBUTED);
  const rmetrics = resilienceMetricsOf(service ?? UNATTRIBUTED);
  const target = opts.name;
  const limit = opts.bulkhead?.limit ?? 32;
  const queue = opts.bulkhead?.queue ?? 32;

  const bulkhead = createBulkhead(limit, queue);
  bulkhead.onReject(() => rmetrics.bulkheadRejections.labels(target).inc());
  const breaker = circuitBreaker(
    // Only the dependency's own failures count: not a contract violation (its bug, not an outage),
    // not the request's deadline, not a cancelled call.
    handleWhen((err) => err instanceof RetryableStatus || err instanceof AttemptFailed),
    {
      halfOpenAfter: opts.breaker?.resetTimeoutMs ?? 10_000,
      breaker: new CountBreaker({
        threshold: (opts.breaker?.errorThresholdPercentage ?? 50) / 100,
        size: Math.max(opts.breaker?.windowSize ?? 50, opts.breaker?.volumeThreshold ?? 10),
        minimumNumberOfCalls: opts.breaker?.volumeThreshold ?? 10,
      }),
    },
  );
  const stateName = (): 'closed' | 'open' | 'half-open' =>
    breaker.state === CircuitState.HalfOpen ? 'half-open' : breaker.state === CircuitState.Closed ? 'closed' : 'open';
  rmetrics.breakerState.labels(target).set(0);
  breaker.onStateChange((state) => {
    const name = state === CircuitState.Closed ? 'close' : state === CircuitState.HalfOpen ? 'halfOpen' : 'open';
    metrics.breakerTransitions.labels(target, name).inc();
    rmetrics.breakerState.labels(target).set(STATE_VALUE[stateName()]);
    log[name === 'close' ? 'info' : 'warn']({ breaker: name }, `circuit breaker ${name}`);
  });

  const base = opts.baseUrl.endsWith('/') ? opts.baseUrl : `${opts.baseUrl}/`;
  const urlOf = (req: HttpRequest) => {
    const url = req.url
      ? new URL(req.url)
      : req.path === ''
        ? new URL(opts.baseUrl)
        : new URL(req.path.replace(/^\//, ''), base);
    for (const [k, v] of Object.entries(req.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    return url;
  };

  /** One attempt, cut at the request's deadline (undefined: none). */
  const attempt = (req: HttpRequest, url: URL, deadline: number | undefined): Promise<HttpResponse> => {
    // The query string stays out of the span: partner queries can carry account identifiers.
    const attributes = {
      'http.request.method': req.method,
      'server.address': url.hostname,
      'url.path': url.pathname,
      'peer.service': target,
      'partner.operation': req.operation,
    };
    const run = async (span: Span | undefined): Promise<HttpResponse> => {
      const left = deadline === undefined ? Infinity : deadline - Date.now();
      if (left <= 0) throw new DeadlineExceeded('no time left in the request deadline');
      if (req.signal?.aborted) throw new Cancelled('cancelled by the caller');
      const ctx = currentRequestContext();
      const headers: Record<string, string> = { accept: 'application/json', ...req.headers };
      if (ctx) {
        headers['x-request-id'] ??= ctx.requestId;
        headers['traceparent'] ??= outboundTraceparent(span, ctx.traceparent);
      }
      // The callee gets what is left (minus a margin to answer in), so that it stops in time too.
      const budget = budgetForCallee();
      if (budget !== undefined) headers[DEADLINE_HEADER] ??= String(budget);
      if (req.body !== undefined) headers['content-type'] ??= 'application/json';
      const cutByDeadline = left < opts.timeoutMs;
      const own = AbortSignal.timeout(Math.max(1, Math.min(opts.timeoutMs, left)));
      const signal = req.signal ? AbortSignal.any([own, req.signal]) : own;
      const started = performance.now();
      let outcome = 'error';
      rmetrics.bulkheadActive.labels(target).set(limit - bulkhead.executionSlots);
      try {
        let res: Response;
        let text: string;
        try {
          res = await fetch(url, {
            method: req.method,
            headers,
            body:
              req.body === undefined ? undefined : typeof req.body === 'string' ? req.body : JSON.stringify(req.body),
            signal,
          });
          text = await res.text();
        } catch (err) {
          if (req.signal?.aborted && !own.aborted) {
            outcome = 'cancelled';
            throw new Cancelled('cancelled by the caller');
          }
          if (own.aborted || (err as Error).name === 'TimeoutError') {
            outcome = 'timeout';
            rmetrics.timeouts.labels(target).inc();
            rmetrics.errors.labels(target, cutByDeadline ? 'deadline' : 'timeout').inc();
            if (cutByDeadline) throw new DeadlineExceeded(`the request deadline ran out after ${Math.round(left)} ms`);
            throw new AttemptFailed('timeout', `no answer within ${opts.timeoutMs} ms`);
          }
          rmetrics.errors.labels(target, 'network').inc();
          const cause = (err as Error & { cause?: Error }).cause ?? (err as Error);
          throw new AttemptFailed('network', cause.message, err);
        }
        outcome = String(res.status);
        span?.setAttribute('http.response.status_code', res.status);
        if (res.status >= 500 || res.status === 429) {
          rmetrics.errors.labels(target, outcome).inc();
          if (res.status === 429) rmetrics.rateLimited.labels(target).inc();
          throw new RetryableStatus(res.status, retryAfter(res.headers.get('retry-after')));
        }
        let body: unknown = null;
        if (req.responseType !== 'text' && text.length > 0) {
          try {
            body = JSON.parse(text);
          } catch (cause) {
            rmetrics.errors.labels(target, 'contract').inc();
            throw new PartnerError(
              target,
              'contract',
              `${req.operation} returned a body that is not JSON (HTTP ${res.status})`,
              { status: res.status, cause },
            );
          }
        }
        return { status: res.status, headers: res.headers, body, text };
      } finally {
        metrics.outboundDuration.labels(target, req.operation, outcome).observe((performance.now() - started) / 1000);
        rmetrics.bulkheadActive.labels(target).set(limit - bulkhead.executionSlots - 1);
      }
    };
    if (req.trace === false) return run(undefined);
    return withSpan(`${req.method} ${target}`, { kind: SpanKind.CLIENT, attributes, service }, run);
  };

  async function protectedCall(req: HttpRequest): Promise<HttpResponse> {
    const url = urlOf(req);
    const deadline = currentRequestContext()?.deadline;
    const safe = (req.method === 'GET' || req.idempotent === true) && req.noRetry !== true;
    const once = () =>
      bulkhead.execute(() => breaker.execute(() => attempt(req, url, deadline)), req.signal ?? undefined);
    if (!safe || retries === 0) return await raceDeadline(once(), deadline, req.signal);
    const policy = retry(
      handleWhen((err) => {
        if (!(err instanceof RetryableStatus || err instanceof AttemptFailed)) return false;
        if (err instanceof RetryableStatus && err.retryAfterMs !== null) {
          // A Retry-After we cannot honour (too long, or past the deadline) ends the call now.
          if (err.retryAfterMs > maxRetryAfterMs) return false;
          if (deadline !== undefined && Date.now() + err.retryAfterMs >= deadline) return false;
        }
        return deadline === undefined || Date.now() < deadline;
      }),
      {
        maxAttempts: retries,
        backoff: new RetryAfterBackoff(new ExponentialBackoff({ initialDelay: 50, maxDelay: 1_000 })),
      },
    );
    policy.onRetry(({ attempt: n, delay }) => {
      rmetrics.retries.labels(target).inc();
      log.warn({ operation: req.operation, attempt: n, delayMs: Math.round(delay) }, 'retrying call');
    });
    return await raceDeadline(
      policy.execute(() => once()),
      deadline,
      req.signal,
    );
  }

  async function request(req: HttpRequest): Promise<HttpResponse> {
    const safe = req.method === 'GET' || req.idempotent === true;
    const fallback = safe && opts.fallback && req.fallback ? { cache: opts.fallback, ...req.fallback } : null;
    let res: HttpResponse;
    try {
      res = await protectedCall(req);
    } catch (err) {
      const failure = toClientError(err, req);
      if (failure instanceof DependencyUnavailableError && failure.reason !== 'cancelled' && fallback) {
        const kept = await fallback.cache.recall(target, fallback.scope);
        if (kept) {
          rmetrics.staleServes.labels(target).inc();
          log.warn(
            { operation: req.operation, reason: failure.reason, asOf: kept.asOf },
            'served the last good answer',
          );
          const { status, headers, text } = kept.value as { status: number; headers: [string, string][]; text: string };
          const body = req.responseType === 'text' || text.length === 0 ? null : (JSON.parse(text) as unknown);
          return { status, headers: new Headers(headers), body, text, stale: { asOf: kept.asOf } };
        }
      }
      if (failure instanceof DependencyUnavailableError && failure.reason !== 'cancelled')
        log.error({ operation: req.operation, reason: failure.reason, err: failure.message }, 'call failed');
      throw failure;
    }
    if (fallback && fallback.accept(res)) {
      const headers = [...res.headers].filter(([name]) => name === 'content-type');
      // Not awaited: keeping the answer must not delay it (the cache bounds and swallows its own failures).
      void fallback.cache.remember(target, fallback.scope, { status: res.status, headers, text: res.text });
    }
    return res;
  }

  function toClientError(err: unknown, req: HttpRequest): Error {
    if (err instanceof PartnerError) return err;
    const fail = (reason: UnavailableReason, why: string, status?: number) =>
      new DependencyUnavailableError(target, reason, `${req.operation} failed: ${why}`, {
        ...(status !== undefined ? { status } : {}),
        cause: err,
      });
    if (err instanceof BrokenCircuitError) {
      rmetrics.errors.labels(target, 'circuit_open').inc();
      return fail('circuit-open', 'circuit open');
    }
    if (err instanceof BulkheadRejectedError) {
      rmetrics.errors.labels(target, 'bulkhead_rejected').inc();
      return fail('bulkhead-full', `too many calls in flight (limit ${limit}, queue ${queue})`);
    }
    if (err instanceof RetryableStatus)
      return fail(err.status === 429 ? 'rate-limited' : 'http-status', err.message, err.status);
    if (err instanceof AttemptFailed) return fail(err.reason, err.reason === 'timeout' ? 'timeout' : err.message);
    if (err instanceof DeadlineExceeded) return fail('deadline', err.message);
    if (err instanceof Cancelled) return fail('cancelled', err.message);
    return fail('network', (err as Error)?.message ?? String(err));
  }

  return {
    name: target,
    request,
    state: stateName,
    load: () => ({ active: limit - bulkhead.executionSlots, queued: queue - bulkhead.queueSlots, limit, queue }),
    shutdown: () => {
      /* cockatiel keeps no timers between calls: nothing to stop */
    },
  };
}

/**
 * Waits for `promise`, but not past the deadline nor the caller's cancellation (a call waiting in the bulkhead queue
 * included).
 */
function raceDeadline<T>(
  promise: Promise<T>,
  deadline: number | undefined,
  signal: AbortSignal | undefined,
): Promise<T> {
  if (deadline === undefined && !signal) return promise;
  return new Promise<T>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const onAbort = () => reject(new Cancelled('cancelled by the caller'));
    if (deadline !== undefined)
      timer = setTimeout(
        () => reject(new DeadlineExceeded('the request deadline ran out')),
        Math.max(0, deadline - Date.now()),
      );
    signal?.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    });
  });
}

/**
 * cockatiel's exponential backoff (decorrelated jitter), lengthened to a 429's Retry-After when
 * there is one (the retry predicate has already checked that it fits the deadline).
 */
class RetryAfterBackoff implements IBackoffFactory<IRetryBackoffContext<unknown>> {
  private readonly inner: IBackoffFactory<IRetryBackoffContext<unknown>>;
  constructor(inner: IBackoffFactory<IRetryBackoffContext<unknown>>) {
    this.inner = inner;
  }
  next(context: IRetryBackoffContext<unknown>): IBackoff<IRetryBackoffContext<unknown>> {
    const step = this.inner.next(context);
    const error = 'error' in context.result ? context.result.error : undefined;
    const wait = error instanceof RetryableStatus && error.retryAfterMs !== null ? error.retryAfterMs : 0;
    return { duration: Math.max(step.duration, wait), next: (c) => new RetryAfterBackoff(step).next(c) };
  }
}

function retryAfter(value: string | null): number | null {
  if (!value) return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, at - Date.now());
}

/**
 * A fetch-compatible function over a client's GET requests, for libraries that take a fetch of their
 * own (jose's JWKS fetch): the library keeps its logic, the call gets the client's protections and
 * figures. A failure rejects as fetch would (a TypeError with the client's error as its cause).
 */
export function fetchVia(
  client: HttpClient,
  operation: string,
): (url: string | URL, init?: RequestInit) => Promise<Response> {
  return async (url, init = {}) => {
    const headers: Record<string, string> = {};
    new Headers(init.headers).forEach((value, name) => (headers[name] = value));
    try {
      const res = await client.request({
        method: 'GET',
        path: '',
        url: String(url),
        operation,
        headers,
        responseType: 'text',
        // Key and schema fetches happen outside any request's trace (as they did through the library's own fetch).
        trace: false,
        ...(init.signal ? { signal: init.signal } : {}),
      });
      // Statuses without a body (304 for a conditional fetch) must be built without one.
      const empty = [101, 204, 205, 304].includes(res.status);
      return new Response(empty ? null : res.text, { status: res.status, headers: res.headers });
    } catch (err) {
      throw new TypeError(`fetch failed: ${(err as Error).message}`, { cause: err });
    }
  };
}
