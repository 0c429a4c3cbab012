import { getStitchedSchemaFromSupergraphSdl } from '@graphql-tools/federation';
import type { GraphQLSchema } from 'graphql';
import type { Logger } from '../lib/logger.ts';
import type { Principal } from '../lib/principal.ts';
import { recordingOwners } from './authorization/ownership.ts';
import { subgraphUrlKey } from './config.ts';
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
}

export function buildGatewaySchema(opts: GatewaySchemaOptions): GraphQLSchema {
  const byEnum = new Map(opts.endpoints.map((e) => [e.enumValue, e]));
  return getStitchedSchemaFromSupergraphSdl({
    supergraphSdl: opts.supergraph.document,
    // Several delegations to the same subgraph within one tick go out as one request.
    batch: true,
    ...(opts.handleProgressiveOverride ? { handleProgressiveOverride: opts.handleProgressiveOverride } : {}),
    // The ownership stamps of every answer go to the request's ledger (authorization/ownership.ts).
    onSubschemaConfig: (subschema) => {
      if (subschema.executor) subschema.executor = recordingOwners(subschema.executor);
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
        }),
      };
    },
  });
}
