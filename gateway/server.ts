import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import type { GraphQLFormattedError } from 'graphql';
import { closeServer, createGraphQLHttpServer, HttpError, listen, type RunningServer } from '../lib/http-server.ts';
import type { Logger } from '../lib/logger.ts';
import { graphqlRequests } from '../lib/metrics.ts';
import { maskError } from '../lib/subgraph-server.ts';
import { AuthenticationUnavailableError, createAuthenticator } from './authentication.ts';
import { authorizeSchema, requireAuthentication } from './authorization.ts';
import type { GatewayConfig } from './config.ts';
import { buildGatewaySchema, resolveSubgraphEndpoints, SERVICE_UNAVAILABLE, type GatewayContext } from './executor.ts';
import { loadSupergraph } from './supergraph.ts';

export interface GatewayOptions {
  logger: Logger;
  /** Clock for token expiry checks; defaults to the system clock. */
  now?: () => Date;
}

export interface RunningGateway extends RunningServer {
  /** Subgraph name → URL the gateway calls (after <NAME>_SUBGRAPH_URL overrides). */
  subgraphs: Record<string, string>;
}

/**
 * Starts the gateway: loads the supergraph, builds the executable schema with per-subgraph
 * executors, wraps it with the access rules, and serves it with Apollo Server 5 on
 * lib/http-server.ts (/graphql, /healthz, /readyz, /metrics, request ids, traceparent).
 */
export async function startGateway(config: GatewayConfig, { logger, now }: GatewayOptions): Promise<RunningGateway> {
  const production = config.PROFILE === 'production';
  const supergraph = await loadSupergraph(config.SUPERGRAPH, { timeoutMs: config.SUBGRAPH_TIMEOUT_MS });
  const endpoints = resolveSubgraphEndpoints(supergraph, config.subgraphUrls, logger);
  const schema = authorizeSchema(
    buildGatewaySchema({ supergraph, endpoints, internalSecret: config.INTERNAL_AUTH_SECRET, timeoutMs: config.SUBGRAPH_TIMEOUT_MS, logger }),
  );
  const authenticator = createAuthenticator({ issuer: config.AUTH_ISSUER, audience: config.AUTH_AUDIENCE, jwksUrl: config.AUTH_JWKS_URL, now });

  const mask = maskError(logger);
  const apollo = new ApolloServer<GatewayContext>({
    schema,
    introspection: !production,
    includeStacktraceInErrorResponses: false,
    formatError: (formatted: GraphQLFormattedError, error: unknown) => {
      // A subgraph outage is something a client can act on (retry later); everything else
      // goes through the shared masking of lib/subgraph-server.ts.
      if (formatted.extensions?.code === SERVICE_UNAVAILABLE) {
        return { message: formatted.message, path: formatted.path, extensions: { code: SERVICE_UNAVAILABLE, service: formatted.extensions.service } };
      }
      return mask(formatted, error);
    },
    plugins: [requireAuthentication(), requestMetrics(), ...(production ? [ApolloServerPluginLandingPageDisabled()] : [])],
    logger,
    // Shutdown belongs to runService / the platform launcher; Apollo's own signal handler would
    // stop this server and re-raise the signal before the other services are closed.
    stopOnTerminationSignals: false,
  });
  await apollo.start();

  const readinessTimeout = Math.min(config.SUBGRAPH_TIMEOUT_MS, 2_000);
  const server = createGraphQLHttpServer<GatewayContext>({
    apollo,
    logger,
    context: async (req, rc) => {
      let auth;
      try {
        auth = await authenticator.authenticate(req.headers);
      } catch (err) {
        if (err instanceof AuthenticationUnavailableError) {
          logger.error({ err: err.message }, 'cannot verify access tokens: JWKS unreachable');
          throw new HttpError(503, SERVICE_UNAVAILABLE, 'Authentication is temporarily unavailable', { 'retry-after': '5' });
        }
        throw err;
      }
      if (auth.kind === 'invalid') logger.warn({ reason: auth.reason }, 'refused invalid access token');
      return {
        principal: auth.kind === 'authenticated' ? auth.principal : null,
        authentication: auth.kind,
        requestId: rc.requestId,
        traceparent: rc.traceparent,
        logger,
      };
    },
    readiness: async () => {
      const checks = await Promise.all([
        ...endpoints.map(async (e) => [`subgraph:${e.name}`, await answers(new URL('readyz', e.url), readinessTimeout)] as const),
        (async () => ['jwks', await authenticator.jwksReachable(readinessTimeout)] as const)(),
      ]);
      return Object.fromEntries(checks);
    },
  });
  const { port, url } = await listen(server, config.GATEWAY_PORT, config.HOST);
  logger.info({ url: `${url}/graphql`, supergraph: supergraph.source, subgraphs: Object.fromEntries(endpoints.map((e) => [e.name, e.url])) }, 'gateway listening');
  return {
    server,
    port,
    url: `${url}/graphql`,
    subgraphs: Object.fromEntries(endpoints.map((e) => [e.name, e.url])),
    close: async () => {
      await closeServer(server);
      await apollo.stop();
    },
  };
}

async function answers(url: URL, timeoutMs: number): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    await res.body?.cancel();
    return res.ok;
  } catch {
    return false;
  }
}

function requestMetrics(): ApolloServerPlugin<GatewayContext> {
  return {
    async requestDidStart() {
      const started = performance.now();
      return {
        async willSendResponse({ response }) {
          const failed = response.body.kind === 'single' && (response.body.singleResult.errors?.length ?? 0) > 0;
          graphqlRequests.labels('gateway', failed ? 'error' : 'ok').observe((performance.now() - started) / 1000);
        },
      };
    },
  };
}
