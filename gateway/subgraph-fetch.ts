import type { GraphQLResolveInfo } from 'graphql';
import { INTERNAL_AUTH_HEADER, signInternalContext } from '../lib/internal-auth.ts';
import type { Logger } from '../lib/logger.ts';
import { createHttpClient, DependencyUnavailableError, type HttpClient } from '../lib/http-client.ts';
import { metricsOf } from '../lib/metrics.ts';
import { markStale, responsePath } from '../lib/resilience.ts';
import type { DependencyClients } from '../lib/resilience-clients.ts';
import { principalKey, type Principal } from '../lib/principal.ts';
import { failSpan, outboundTraceparent, SpanKind, withSpan } from '../lib/tracing.ts';

/**
 * The fetch every subgraph executor uses (gateway/executor.ts). Each call:
 * - belongs to exactly one gateway request: without that request's context (and so without a
 *   known caller) nothing is sent;
 * - carries the caller only inside the signed internal context (x-internal-auth, audience
 *   `subgraph:<name>`), bound to the exact body sent (lib/internal-auth.ts), plus x-request-id and
 *   traceparent for correlation;
 * - goes through the subgraph's one resilient client (lib/http-client.ts): SUBGRAPH_TIMEOUT_MS per
 *   attempt inside the request deadline, bulkhead, breaker, retries for queries only (never a
 *   mutation), measured under `subgraph:<name>`; a query whose subgraph fails is answered from its
 *   last good answer for the same principal and body when there is one, marked stale on the
 *   waiter's request (extensions.stale).
 *
 * Sharing in-flight work between requests (SUBGRAPH_REQUEST_SHARING):
 * - `off`: every request makes its own calls.
 * - `principal` (default): a QUERY whose subgraph, signed principal and body are all identical
 *   to one already in flight waits for that call's answer instead of making its own. The key is
 *   exactly what the subgraph's answer depends on, so the answer is the one this caller would
 *   have got. Mutations are never shared. (The library's own deduplication is off: it keys on
 *   URL and body only, and the caller travels in a header added after its key is computed, so
 *   two customers sending the same document received one answer. That is why it must stay off.)
 */
export type RequestSharing = 'principal' | 'off';

/** What the executor knows of the gateway request a subgraph call belongs to. */
export interface SubgraphCallContext {
  principal: Principal | null;
  requestId: string;
  traceparent: string;
}

export interface SubgraphTarget {
  name: string;
}

export interface SubgraphFetchOptions {
  internalSecret: string;
  timeoutMs: number;
  sharing: RequestSharing;
  logger: Logger;
  /** The gateway's one client per subgraph (lib/resilience-clients.ts); absent: one of its own with the defaults. */
  clients?: DependencyClients;
}

/** Code of the error a client sees when a subgraph cannot answer (kept by the gateway's error masking). */
export const SERVICE_UNAVAILABLE = 'SERVICE_UNAVAILABLE';

type FetchFn = (url: string, init?: RequestInit, context?: unknown, info?: GraphQLResolveInfo) => Promise<Response>;

/** A subgraph answer read to the end, so that several waiters can each get a Response of their own. */
interface Answer {
  status: number;
  headers: [string, string][];
  body: string;
  /** Set on the answers made here when the call failed (its error code): the call's span is marked failed. */
  failure?: string;
  /** Set when the answer is the last good one, served because the subgraph failed (lib/http-client.ts fallback). */
  stale?: { asOf: string };
}

function isCallContext(value: unknown): value is SubgraphCallContext {
  if (!value || typeof value !== 'object') return false;
  const ctx = value as Partial<SubgraphCallContext>;
  return typeof ctx.requestId === 'string' && ctx.requestId.length > 0 && ctx.principal !== undefined;
}

export function createSubgraphFetch(target: SubgraphTarget, opts: SubgraphFetchOptions): FetchFn {
  const metricTarget = `subgraph:${target.name}`;
  const log = opts.logger.child({ target: metricTarget });
  const inFlight = new Map<string, Promise<Answer>>();
  const metrics = metricsOf('gateway');

  function call(
    url: string,
    init: RequestInit,
    body: string,
    ctx: SubgraphCallContext,
    operation: string,
    signal: AbortSignal | undefined,
    query: boolean,
  ): Promise<Answer> {
    const attributes = { 'http.request.method': 'POST', 'peer.service': target.name, 'graphql.field': operation };
    // One client span per call actually made; the subgraph's request span continues it (traceparent).
    return withSpan(`POST ${metricTarget}`, { kind: SpanKind.CLIENT, service: 'gateway', attributes }, async (span) => {
      const answer = await send(
        url,
        init,
        body,
        ctx,
        operation,
        signal,
        outboundTraceparent(span, ctx.traceparent),
        query,
      );
      span?.setAttribute('http.response.status_code', answer.status);
      if (answer.failure)
        failSpan(span, Object.assign(new Error(`subgraph call failed: ${answer.failure}`), { name: answer.failure }));
      return answer;
    });
  }

  // One resilient client per subgraph (lib/http-client.ts): timeout inside the request deadline,
  // bulkhead, breaker, retries for queries only, fallback to the last good answer of a query.
  const clientOf = (url: string): HttpClient =>
    opts.clients?.client(target.name, url) ??
    ownClients.get(url) ??
    ownClients
      .set(
        url,
        createHttpClient({
          name: metricTarget,
          baseUrl: url,
          timeoutMs: opts.timeoutMs,
          logger: opts.logger,
          service: 'gateway',
        }),
      )
      .get(url)!;
  const ownClients = new Map<string, HttpClient>();

  async function send(
    url: string,
    init: RequestInit,
    body: string,
    ctx: SubgraphCallContext,
    operation: string,
    signal: AbortSignal | undefined,
    traceparent: string,
    query: boolean,
  ): Promise<Answer> {
    const headers: Record<string, string> = {};
    new Headers(init.headers).forEach((value, name) => (headers[name] = value));
    headers[INTERNAL_AUTH_HEADER] = await signInternalContext(
      opts.internalSecret,
      target.name,
      ctx.principal,
      ctx.requestId,
      body,
    );
    headers['x-request-id'] = ctx.requestId;
    if (traceparent) headers['traceparent'] = traceparent;
    try {
      const res = await clientOf(url).request({
        method: 'POST',
        path: '',
        operation,
        headers,
        body,
        // A query is safe to repeat and to answer from its last good value; a mutation is neither.
        idempotent: query,
        responseType: 'text',
        trace: false,
        ...(signal ? { signal } : {}),
        ...(query
          ? {
              fallback: {
                // Everything the answer depends on: the signed principal (with its consented accounts) and the body.
                scope: `${principalKey(ctx.principal)}\n${body}`,
                // Only a complete, live answer is a good one: no errors, data present, and nothing the
                // subgraph itself served from a partner's last known value (its `stale` extension).
                accept: (r) =>
                  r.status === 200 &&
                  r.text.startsWith('{"data":{') &&
                  !r.text.includes('"errors":') &&
                  !r.text.includes('"stale":['),
              },
            }
          : {}),
      });
      if (res.status === 401 || res.status === 403) {
        // The subgraph refused our signature: a gateway misconfiguration (INTERNAL_AUTH_SECRET
        // mismatch), never the client's fault, so it must not reach the client as UNAUTHENTICATED.
        log.error(
          { status: res.status, operation },
          'subgraph refused the gateway signature; check INTERNAL_AUTH_SECRET on both sides',
        );
        return errorAnswer('Internal server error', 'INTERNAL_SERVER_ERROR');
      }
      // Read to the end (decoded), so the headers that described the encoded bytes no longer apply.
      const kept = [...res.headers].filter(([name]) => name !== 'content-encoding' && name !== 'content-length');
      return { status: res.status, headers: kept, body: res.text, ...(res.stale ? { stale: res.stale } : {}) };
    } catch (err) {
      if (err instanceof DependencyUnavailableError && err.reason === 'cancelled') throw err;
      log.error({ operation, err: (err as Error).message }, 'subgraph call failed');
      return unavailable(target.name);
    }
  }

  return async (url, init = {}, context, info) => {
    const operation = info ? `${info.parentType.name}.${info.fieldName}` : 'graphql';
    if (!isCallContext(context)) {
      // Never call a subgraph for nobody in particular: the executor lost the request's context.
      log.error({ operation }, 'subgraph call without the gateway request context; refused');
      return toResponse(errorAnswer('Internal server error', 'INTERNAL_SERVER_ERROR'));
    }
    if (typeof init.body !== 'string') {
      log.error({ operation }, 'subgraph call without a JSON body (uploads and GET are not used); refused');
      return toResponse(errorAnswer('Internal server error', 'INTERNAL_SERVER_ERROR'));
    }
    const body = init.body;
    const own = init.signal ?? undefined;
    const query = info?.operation.operation === 'query';
    if (opts.sharing === 'off' || !query)
      return answered(await call(url, init, body, context, operation, own, query), info);

    const key = `${url}\n${principalKey(context.principal)}\n${body}`;
    let shared = inFlight.get(key);
    if (shared) {
      metrics.sharedSubgraphRequests.labels(metricTarget).inc();
    } else {
      // The shared call outlives any one waiter: a waiter whose client goes away stops waiting
      // (below) without cancelling the call for the others; the deadline still bounds it.
      shared = call(url, init, body, context, operation, undefined, true).finally(() => inFlight.delete(key));
      inFlight.set(key, shared);
    }
    return answered(await untilAborted(shared, own), info);
  };

  /** The Response for one waiter; a last good value served instead of a live one is marked on this waiter's request. */
  function answered(answer: Answer, info: GraphQLResolveInfo | undefined): Response {
    if (answer.stale) {
      const path = info ? responsePath(info.path) : 'graphql';
      markStale({ path, source: metricTarget, asOf: answer.stale.asOf });
    }
    return toResponse(answer);
  }
}

function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

function toResponse(answer: Answer): Response {
  return new Response(answer.body, { status: answer.status, headers: answer.headers });
}

function unavailable(subgraph: string): Answer {
  return errorAnswer(`The ${subgraph} service is temporarily unavailable`, SERVICE_UNAVAILABLE, { service: subgraph });
}

function errorAnswer(message: string, code: string, extra: Record<string, unknown> = {}): Answer {
  return {
    status: 200,
    headers: [['content-type', 'application/json']],
    body: JSON.stringify({ data: null, errors: [{ message, extensions: { code, ...extra } }] }),
    failure: code,
  };
}
