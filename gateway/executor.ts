import { getStitchedSchemaFromSupergraphSdl } from '@graphql-tools/federation';
import type { GraphQLResolveInfo, GraphQLSchema } from 'graphql';
import { INTERNAL_AUTH_HEADER, signInternalContext } from '../lib/internal-auth.ts';
import type { Logger } from '../lib/logger.ts';
import { outboundDuration } from '../lib/metrics.ts';
import type { Principal } from '../lib/principal.ts';
import { currentRequestContext } from '../lib/request-context.ts';
import { subgraphUrlKey } from './config.ts';
import type { Supergraph } from './supergraph.ts';

/**
 * The executable schema: the supergraph stitched by @graphql-tools/federation into a schema
 * whose resolvers run here, at the gateway (so authorization middleware can wrap them), and
 * delegate to the subgraphs over HTTP. Every subgraph call:
 * - carries the caller only inside the signed internal context (x-internal-auth, audience
 *   `subgraph:<name>`), plus x-request-id and traceparent for correlation;
 * - has a deadline (SUBGRAPH_TIMEOUT_MS);
 * - is measured under target `subgraph:<name>` in outbound_request_duration_seconds.
 * A subgraph that cannot be reached answers as a SERVICE_UNAVAILABLE error for the fields it
 * owns, not as a stack trace, and the rest of the response still resolves.
 */
export interface GatewayContext {
  /** The verified caller; null when the request carries no valid token. */
  principal: Principal | null;
  /** How the request authenticated: the authorization rules and error messages use it. */
  authentication: 'anonymous' | 'authenticated' | 'invalid';
  requestId: string;
  /** traceparent for outbound calls: the client's trace id with the gateway's span id. */
  traceparent: string;
  logger: Logger;
}

export interface SubgraphEndpoint {
  /** Subgraph name as recorded in the supergraph, e.g. "accounts". */
  name: string;
  /** join__Graph enum value, e.g. "ACCOUNTS". */
  enumValue: string;
  url: string;
  /** True when the URL comes from a <NAME>_SUBGRAPH_URL variable rather than the supergraph. */
  overridden: boolean;
}

/** Applies <NAME>_SUBGRAPH_URL overrides to the URLs recorded in the supergraph. */
export function resolveSubgraphEndpoints(supergraph: Supergraph, overrides: Record<string, string>, logger: Logger): SubgraphEndpoint[] {
  const used = new Set<string>();
  const endpoints = supergraph.subgraphs.map((s) => {
    const key = [subgraphUrlKey(s.name), s.enumValue].find((k) => overrides[k] !== undefined);
    if (key) used.add(key);
    return { name: s.name, enumValue: s.enumValue, url: key ? overrides[key]! : s.url, overridden: key !== undefined };
  });
  for (const key of Object.keys(overrides)) {
    if (!used.has(key)) logger.warn({ variable: `${key}_SUBGRAPH_URL`, subgraphs: supergraph.subgraphs.map((s) => s.name) }, 'subgraph URL override names no subgraph of the supergraph; ignored');
  }
  return endpoints;
}

export interface GatewaySchemaOptions {
  supergraph: Supergraph;
  endpoints: SubgraphEndpoint[];
  internalSecret: string;
  timeoutMs: number;
  logger: Logger;
}

export function buildGatewaySchema(opts: GatewaySchemaOptions): GraphQLSchema {
  const byEnum = new Map(opts.endpoints.map((e) => [e.enumValue, e]));
  return getStitchedSchemaFromSupergraphSdl({
    supergraphSdl: opts.supergraph.document,
    // Several delegations to the same subgraph within one tick go out as one request.
    batch: true,
    httpExecutorOpts: ({ name, endpoint }) => {
      const target = byEnum.get(name) ?? { name: name.toLowerCase(), enumValue: name, url: endpoint ?? '', overridden: false };
      return { endpoint: target.url, fetch: subgraphFetch(target, opts) };
    },
  });
}

function subgraphFetch(target: SubgraphEndpoint, opts: GatewaySchemaOptions) {
  const metricTarget = `subgraph:${target.name}`;
  const log = opts.logger.child({ target: metricTarget });
  return async (url: string, init?: RequestInit, context?: unknown, info?: GraphQLResolveInfo): Promise<Response> => {
    const ctx = context as Partial<GatewayContext> | undefined;
    const rc = currentRequestContext();
    const requestId = ctx?.requestId ?? rc?.requestId ?? '';
    const traceparent = ctx?.traceparent ?? rc?.traceparent;
    const headers = new Headers(init?.headers);
    headers.set(INTERNAL_AUTH_HEADER, await signInternalContext(opts.internalSecret, target.name, ctx?.principal ?? null, requestId));
    if (requestId) headers.set('x-request-id', requestId);
    if (traceparent) headers.set('traceparent', traceparent);
    const timeout = AbortSignal.timeout(opts.timeoutMs);
    const signal = init?.signal ? AbortSignal.any([init.signal, timeout]) : timeout;
    const operation = info ? `${info.parentType.name}.${info.fieldName}` : 'graphql';
    const started = performance.now();
    let outcome = 'error';
    try {
      const res = await fetch(url, { ...init, headers, signal });
      outcome = String(res.status);
      if (res.status === 401 || res.status === 403) {
        // The subgraph refused our signature: a gateway misconfiguration (INTERNAL_AUTH_SECRET
        // mismatch), never the client's fault, so it must not reach the client as UNAUTHENTICATED.
        log.error({ status: res.status, operation }, 'subgraph refused the gateway signature; check INTERNAL_AUTH_SECRET on both sides');
        await res.body?.cancel();
        return errorResponse('Internal server error', 'INTERNAL_SERVER_ERROR');
      }
      if (res.status >= 500 && !(res.headers.get('content-type') ?? '').includes('json')) {
        log.error({ status: res.status, operation }, 'subgraph answered with a server error');
        await res.body?.cancel();
        return unavailable(target.name);
      }
      return res;
    } catch (err) {
      const timedOut = (err as Error).name === 'TimeoutError' || timeout.aborted;
      outcome = timedOut ? 'timeout' : 'error';
      log.error({ operation, err: timedOut ? `no answer within ${opts.timeoutMs} ms` : ((err as Error & { cause?: Error }).cause?.message ?? (err as Error).message) }, 'subgraph call failed');
      if (init?.signal?.aborted && !timeout.aborted) throw err;
      return unavailable(target.name);
    } finally {
      outboundDuration.labels(metricTarget, operation, outcome).observe((performance.now() - started) / 1000);
    }
  };
}

/** Code of the error a client sees when a subgraph cannot answer (kept by the gateway's error masking). */
export const SERVICE_UNAVAILABLE = 'SERVICE_UNAVAILABLE';

function unavailable(subgraph: string): Response {
  return errorResponse(`The ${subgraph} service is temporarily unavailable`, SERVICE_UNAVAILABLE, { service: subgraph });
}

function errorResponse(message: string, code: string, extra: Record<string, unknown> = {}): Response {
  return new Response(JSON.stringify({ data: null, errors: [{ message, extensions: { code, ...extra } }] }), {
    status: 200,
    headers: { 'content-type': 'application/json' },
  });
}
