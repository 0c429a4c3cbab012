import CircuitBreaker from 'opossum';
import { PartnerError } from './errors.ts';
import type { Logger } from './logger.ts';
import { metricsOf, UNATTRIBUTED } from './metrics.ts';
import { currentRequestContext, currentService } from './request-context.ts';
import { outboundTraceparent, SpanKind, withSpan } from './tracing.ts';

/**
 * The one way this codebase calls another HTTP service (partners and subgraphs alike):
 * - a deliberate timeout per call (AbortSignal.timeout), so a hanging partner cannot hold a
 *   request forever;
 * - retries only for requests that are safe to repeat (GET, or a POST with an idempotency
 *   key), on network errors, timeouts, 5xx and 429, with jittered backoff that honours
 *   Retry-After up to a cap;
 * - a circuit breaker (opossum) per target, so a failing partner is failed fast instead of
 *   being hammered, and recovers through half-open probes;
 * - correlation headers (x-request-id, W3C traceparent) from the current request context;
 * - a latency histogram under the target's name and the operation, in the registry of the service
 *   that created the client (lib/metrics.ts), and a client span per attempt when tracing is on
 *   (lib/tracing.ts), whose id is the traceparent the partner receives.
 */
export interface HttpClientOptions {
  /** Name under which latency, errors and breaker state are measured, e.g. "northwind-ais". */
  name: string;
  baseUrl: string;
  timeoutMs: number;
  logger: Logger;
  /** Extra attempts for retryable requests. */
  retries?: number;
  /** Longest Retry-After the client will wait for; longer ones fail fast as unavailable. */
  maxRetryAfterMs?: number;
  breaker?: {
    errorThresholdPercentage?: number;
    resetTimeoutMs?: number;
    volumeThreshold?: number;
    rollingCountTimeoutMs?: number;
  };
}

export interface HttpRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  /** Name of the partner operation for metrics and logs, e.g. "getTransactions". */
  operation: string;
  query?: Record<string, string | number | undefined>;
  headers?: Record<string, string>;
  body?: unknown;
  /** Marks a non-GET request as safe to retry (it carries an idempotency key). */
  idempotent?: boolean;
}

export interface HttpResponse {
  status: number;
  headers: Headers;
  /** Parsed JSON body, or null for an empty body. */
  body: unknown;
}

class RetryableStatus extends Error {
  readonly status: number;
  readonly retryAfterMs: number | null;
  constructor(status: number, retryAfterMs: number | null) {
    super(`HTTP ${status}`);
    this.status = status;
    this.retryAfterMs = retryAfterMs;
  }
}

export interface HttpClient {
  request(req: HttpRequest): Promise<HttpResponse>;
  readonly name: string;
  /** Current breaker state, for /readyz and tests. */
  state(): 'closed' | 'open' | 'half-open';
  shutdown(): void;
}

export function createHttpClient(opts: HttpClientOptions): HttpClient {
  const retries = opts.retries ?? 2;
  const maxRetryAfterMs = opts.maxRetryAfterMs ?? 2_000;
  const log = opts.logger.child({ target: opts.name });
  // The service that creates the client owns its figures (under `npm start` several share the process).
  const service = currentService();
  const metrics = metricsOf(service ?? UNATTRIBUTED);

  const attempt = (req: HttpRequest): Promise<HttpResponse> => {
    const url = new URL(req.path.replace(/^\//, ''), opts.baseUrl.endsWith('/') ? opts.baseUrl : `${opts.baseUrl}/`);
    for (const [k, v] of Object.entries(req.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    // The query string stays out of the span: partner queries can carry account identifiers.
    const attributes = {
      'http.request.method': req.method,
      'server.address': url.hostname,
      'url.path': url.pathname,
      'peer.service': opts.name,
      'partner.operation': req.operation,
    };
    return withSpan(`${req.method} ${opts.name}`, { kind: SpanKind.CLIENT, attributes, service }, async (span) => {
      const ctx = currentRequestContext();
      const headers: Record<string, string> = { accept: 'application/json', ...req.headers };
      if (ctx) {
        headers['x-request-id'] ??= ctx.requestId;
        headers['traceparent'] ??= outboundTraceparent(span, ctx.traceparent);
      }
      if (req.body !== undefined) headers['content-type'] ??= 'application/json';
      const started = performance.now();
      let outcome = 'error';
      try {
        const res = await fetch(url, {
          method: req.method,
          headers,
          body: req.body === undefined ? undefined : typeof req.body === 'string' ? req.body : JSON.stringify(req.body),
          signal: AbortSignal.timeout(opts.timeoutMs),
        });
        const text = await res.text();
        outcome = String(res.status);
        span?.setAttribute('http.response.status_code', res.status);
        if (res.status >= 500 || res.status === 429)
          throw new RetryableStatus(res.status, retryAfter(res.headers.get('retry-after')));
        let body: unknown = null;
        if (text.length > 0) {
          try {
            body = JSON.parse(text);
          } catch (cause) {
            throw new PartnerError(
              opts.name,
              'contract',
              `${req.operation} returned a body that is not JSON (HTTP ${res.status})`,
              { status: res.status, cause },
            );
          }
        }
        return { status: res.status, headers: res.headers, body };
      } catch (err) {
        if ((err as Error).name === 'TimeoutError') outcome = 'timeout';
        throw err;
      } finally {
        metrics.outboundDuration
          .labels(opts.name, req.operation, outcome)
          .observe((performance.now() - started) / 1000);
      }
    });
  };

  const breaker = new CircuitBreaker(attempt, {
    // The per-attempt timeout is enforced by AbortSignal above; opossum's own timer stays off.
    timeout: false,
    errorThresholdPercentage: opts.breaker?.errorThresholdPercentage ?? 50,
    resetTimeout: opts.breaker?.resetTimeoutMs ?? 10_000,
    volumeThreshold: opts.breaker?.volumeThreshold ?? 10,
    rollingCountTimeout: opts.breaker?.rollingCountTimeoutMs ?? 10_000,
    // A contract violation is the partner's bug, not an outage: it must not open the breaker.
    errorFilter: (err: unknown) => err instanceof PartnerError,
  });
  for (const state of ['open', 'halfOpen', 'close'] as const) {
    breaker.on(state as 'open', () => {
      metrics.breakerTransitions.labels(opts.name, state).inc();
      log.warn({ breaker: state }, `circuit breaker ${state}`);
    });
  }

  async function request(req: HttpRequest): Promise<HttpResponse> {
    const retryable = req.method === 'GET' || req.idempotent === true;
    const attempts = retryable ? retries + 1 : 1;
    let lastError: unknown;
    for (let i = 0; i < attempts; i++) {
      try {
        return await breaker.fire(req);
      } catch (err) {
        lastError = err;
        if (err instanceof PartnerError) throw err;
        if (breaker.opened) break;
        let delay = Math.min(1000, 50 * 2 ** i) * (0.5 + Math.random());
        if (err instanceof RetryableStatus && err.retryAfterMs !== null) {
          if (err.retryAfterMs > maxRetryAfterMs) break;
          delay = Math.max(delay, err.retryAfterMs);
        }
        if (i + 1 < attempts) {
          log.warn({ operation: req.operation, attempt: i + 1, err: describe(err) }, 'retrying partner call');
          await new Promise((r) => setTimeout(r, delay));
        }
      }
    }
    log.error({ operation: req.operation, err: describe(lastError) }, 'partner call failed');
    const status = lastError instanceof RetryableStatus ? lastError.status : undefined;
    const reason = breaker.opened ? 'circuit open' : describe(lastError);
    throw new PartnerError(opts.name, 'unavailable', `${req.operation} failed: ${reason}`, {
      status,
      cause: lastError,
    });
  }

  return {
    name: opts.name,
    request,
    state: () => (breaker.opened ? 'open' : breaker.halfOpen ? 'half-open' : 'closed'),
    shutdown: () => breaker.shutdown(),
  };
}

function retryAfter(value: string | null): number | null {
  if (!value) return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, at - Date.now());
}

function describe(err: unknown): string {
  if (err instanceof RetryableStatus) return err.message;
  const e = err as Error & { cause?: Error };
  if (e?.name === 'TimeoutError') return 'timeout';
  return e?.cause?.message ?? e?.message ?? String(err);
}
