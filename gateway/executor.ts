import type { ApolloServerOptionsWithGateway } from '@apollo/server';
import { normalizedExecutor } from '@graphql-tools/executor';
import { getStitchedSchemaFromSupergraphSdl } from '@graphql-tools/federation';
import { execute, GraphQLError, type GraphQLSchema } from 'graphql';
import type { Logger } from '../lib/logger.ts';
import type { DependencyClients } from '../lib/resilience-clients.ts';
import type { Principal } from '../lib/principal.ts';
import { recordOwners } from './authorization/ownership.ts';
import { subgraphUrlKey } from './config.ts';
import { recordStaleMarks } from './stale-marks.ts';
import { createSubgraphFetch, type RequestSharing } from './subgraph-fetch.ts';
import type { Supergraph } from './supergraph.ts';

export { SERVICE_UNAVAILABLE } from './subgraph-fetch.ts';

/**
 * The executable schema: the supergraph stitched by @graphql-tools/federation into a schema
 * whose resolvers run here, at the gateway (so authorization middleware can wrap them), and
 * delegate to the subgraphs over HTTP through gateway/subgraph-fetch.ts (signed, bound to its
 * body, deadline, metrics, sharing only between identical queries of the same principal).
 * A subgraph that cannot be reached answers as a SERVICE_UNAVAILABLE error for the fields it
 * owns, not as a stack trace, and the rest of the response still resolves.
 *
 * What is shared between requests here, and how it is keyed (docs/permissions.md lists all):
 * - batching (`batch: true`) merges delegations to one subgraph within one tick into one call;
 *   @graphql-tools/batch-execute keys its batchers by the request's context object, so only
 *   delegations of the same gateway request are ever merged;
 * - in-flight request sharing: see subgraph-fetch.ts (subgraph + principal + body).
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
export function resolveSubgraphEndpoints(
  supergraph: Supergraph,
  overrides: Record<string, string>,
  logger: Logger,
): SubgraphEndpoint[] {
  const used = new Set<string>();
  const endpoints = supergraph.subgraphs.map((s) => {
    const key = [subgraphUrlKey(s.name), s.enumValue].find((k) => overrides[k] !== undefined);
    if (key) used.add(key);
    return { name: s.name, enumValue: s.enumValue, url: key ? overrides[key]! : s.url, overridden: key !== undefined };
  });
  for (const key of Object.keys(overrides)) {
    if (!used.has(key))
      logger.warn(
        { variable: `${key}_SUBGRAPH_URL`, subgraphs: supergraph.subgraphs.map((s) => s.name) },
        'subgraph URL override names no subgraph of the supergraph; ignored',
      );
  }
  return endpoints;
}

export interface GatewaySchemaOptions {
  supergraph: Supergraph;
  endpoints: SubgraphEndpoint[];
  internalSecret: string;
  timeoutMs: number;
  /** SUBGRAPH_REQUEST_SHARING: share identical in-flight queries of the same principal, or nothing. */
  sharing: RequestSharing;
  logger: Logger;
  /** Progressive override decisions (gateway/progressive-override.ts: once per request and label). */
  handleProgressiveOverride?: (label: string, context: unknown) => boolean;
  /** The gateway's one resilient client per subgraph (lib/resilience-clients.ts), kept across schema rebuilds. */
  clients?: DependencyClients;
}

export function buildGatewaySchema(opts: GatewaySchemaOptions): GraphQLSchema {
  const byEnum = new Map(opts.endpoints.map((e) => [e.enumValue, e]));
  return getStitchedSchemaFromSupergraphSdl({
    supergraphSdl: opts.supergraph.document,
    // Several delegations to the same subgraph within one tick go out as one request.
    batch: true,
    ...(opts.handleProgressiveOverride ? { handleProgressiveOverride: opts.handleProgressiveOverride } : {}),
    // The ownership stamps of every answer go to the request's ledger (authorization/ownership.ts),
    // and what a subgraph served from a partner's last known value to its stale marks (stale-marks.ts).
    onSubschemaConfig: (subschema) => {
      if (subschema.executor)
        subschema.executor = onEveryAnswer(subschema.executor, (request, extensions) => {
          recordOwners(request.context, extensions);
          recordStaleMarks(request, extensions);
        });
    },
    httpExecutorOpts: ({ name, endpoint }) => {
      const target = byEnum.get(name) ?? {
        name: name.toLowerCase(),
        enumValue: name,
        url: endpoint ?? '',
        overridden: false,
      };
      return {
        endpoint: target.url,
        // Never the library's deduplication: it keys on URL and body, not on the caller.
        deduplicateInflightRequests: false,
        fetch: createSubgraphFetch(target, {
          internalSecret: opts.internalSecret,
          timeoutMs: opts.timeoutMs,
          sharing: opts.sharing,
          logger: opts.logger,
          ...(opts.clients ? { clients: opts.clients } : {}),
        }),
      };
    },
  });
}

/** Apollo Server's executor hook (a GatewayInterface's `executor`), named through @apollo/server. */
export type GatewayExecutor = NonNullable<
  Awaited<ReturnType<ApolloServerOptionsWithGateway<never>['gateway']['load']>>['executor']
>;

/**
 * How Apollo Server executes an operation on the served schema: @graphql-tools/executor (the
 * executor the stitched schema's own delegation is written for, and the one Hive Gateway runs)
 * instead of graphql-js's execute. Apollo still does everything around it (parsing, validation,
 * the plugins: limits, authorization, idempotency, metrics, error formatting and masking); this is
 * only the execution step. Why: with graphql-js, errors that federation marks as critical (an
 * entity that cannot be resolved, a corrupted node id) are reported on a field while the rest of
 * the response carries on, where the Federation semantics (and the public gateway audit) expect
 * the whole response to be nulled; @graphql-tools/executor does what the delegation layer
 * expects, with no per-field cost of its own.
 *
 * Incremental delivery (@defer/@stream) is not served: an operation that would need it gets a clear
 * error instead of a stream Apollo cannot send from a gateway executor (subscriptions are refused
 * before execution, gateway/subscriptions.ts).
 */
export function createGatewayExecutor(): GatewayExecutor {
  return async (requestContext) => {
    // No operation to run (several without an operationName, or a name that matches none): graphql-js
    // answers with the errors Apollo turns into OPERATION_RESOLUTION_FAILURE (HTTP 400), exactly as
    // without this hook; @graphql-tools/executor would throw instead.
    if (!requestContext.operation)
      return execute({
        schema: requestContext.schema,
        document: requestContext.document,
        operationName: requestContext.request.operationName ?? null,
        variableValues: requestContext.request.variables ?? {},
        contextValue: requestContext.context,
      });
    const result = await normalizedExecutor({
      schema: requestContext.schema,
      document: requestContext.document,
      operationName: requestContext.operationName ?? requestContext.request.operationName ?? null,
      variableValues: requestContext.request.variables ?? {},
      contextValue: requestContext.context,
    });
    if (Symbol.asyncIterator in result) {
      // Stop the stream at once: nothing will read it.
      await (result as AsyncIterableIterator<unknown>).return?.();
      return {
        errors: [
          new GraphQLError('Incremental delivery (@defer, @stream) is not served by this gateway', {
            extensions: { code: 'BAD_REQUEST' },
          }),
        ],
      };
    }
    return result as Awaited<ReturnType<GatewayExecutor>>;
  };
}

/** Wraps a subgraph executor so that `record` sees the extensions of every answer it returns. */
function onEveryAnswer<R, T>(executor: (request: R) => T, record: (request: R, extensions: unknown) => void) {
  return (request: R): T => {
    const result = executor(request);
    const seen = <V>(r: V): V => {
      if (r && typeof r === 'object' && 'extensions' in r) record(request, (r as { extensions?: unknown }).extensions);
      return r;
    };
    const pending = result as PromiseLike<unknown> | null;
    return (typeof pending?.then === 'function' ? pending.then(seen) : seen(result)) as T;
  };
}
