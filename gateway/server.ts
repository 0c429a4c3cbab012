import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import {
  ApolloServerPluginCacheControlDisabled,
  ApolloServerPluginInlineTraceDisabled,
  ApolloServerPluginLandingPageDisabled,
  ApolloServerPluginUsageReportingDisabled,
} from '@apollo/server/plugin/disabled';
import type { GraphQLFormattedError, GraphQLSchema } from 'graphql';
import type { IncomingMessage } from 'node:http';
import { closeServer, createGraphQLHttpServer, HttpError, listen, type RunningServer } from '../lib/http-server.ts';
import type { Logger } from '../lib/logger.ts';
import { graphqlRequestMetrics, metricsOf } from '../lib/metrics.ts';
import { maskError } from '../lib/error-masking.ts';
import { openSharedCache, type SharedCache } from '../lib/cache.ts';
import { startDeadline, staleExtensions } from '../lib/resilience.ts';
import { gatewaySubgraphClients } from '../lib/resilience-clients.ts';
import { gatewayReadiness, jwksAccess } from '../lib/resilience-readiness.ts';
import {
  AuthenticationUnavailableError,
  createAuthenticator,
  refusalMessage,
  wwwAuthenticate,
} from './authentication.ts';
import { createDpopVerifier } from './dpop.ts';
import { authorizeOperation, createCallerDirectory, requireAuthentication } from './authorization.ts';
import { consentsSubgraphFetcher, createConsentLookup } from './authorization/consents.ts';
import { queryLimitsOf, type GatewayConfig } from './config.ts';
import { checkRequest, formatLimitError, queryLimitsPlugin, withoutSuggestions } from './limits.ts';
import { createGatewayExecutor, SERVICE_UNAVAILABLE, type GatewayContext } from './executor.ts';
import { loadSupergraph } from './supergraph.ts';
import { createSchemaSource, servedSchemaBuilder } from './schema-source.ts';
import { UNAUTHORIZED_FIELD_OR_TYPE } from './directive-authorization.ts';
import { refuseSubscriptions, SUBSCRIPTIONS_NOT_SUPPORTED } from './subscriptions.ts';
import { deprecatedFieldUsage } from './deprecations.ts';
import { createExplorer } from './explorer/index.ts';
import { createGatewayIdempotency } from './idempotency/index.ts';
import type { MoneyMovingFields } from './idempotency/operation.ts';

export interface GatewayOptions {
  logger: Logger;
  /** Clock for token expiry checks; defaults to the system clock. */
  now?: () => Date;
  /**
   * 'enforce' (default) applies the authorization rules (gateway/authorization/); 'disabled' is for
   * the benchmark (rules on vs off) and for tests of the federation engine on toy supergraphs that
   * have no policy (deny by default would refuse them). No environment variable reaches it
   * (gateway/main.ts never passes it); GATEWAY_AUTHORIZATION=directives is the documented way to
   * serve another supergraph.
   */
  authorization?: 'enforce' | 'disabled';
  /** A shared cache to use instead of opening one from REDIS_URL (the caller then closes it). */
  cache?: SharedCache;
  /**
   * Money-moving mutation fields for the idempotency layer; default: those the policy marks (tests of toy supergraphs
   * name their own).
   */
  moneyMovingFields?: MoneyMovingFields;
}

export interface RunningGateway extends RunningServer {
  /** Subgraph name → URL the gateway calls (after <NAME>_SUBGRAPH_URL overrides). */
  subgraphs: Record<string, string>;
  /** The gateway's shared cache (memory, or Redis with REDIS_URL): DPoP replay tracking and friends. */
  cache: SharedCache;
}

/**
 * Starts the gateway: loads the supergraph, builds the executable schema with per-subgraph
 * executors, wraps it with the access rules, and serves it with Apollo Server 5 on
 * lib/http-server.ts (/graphql, /healthz, /readyz, request ids, traceparent; /metrics is on the operator listener).
 */
export async function startGateway(
  config: GatewayConfig,
  { logger, now, cache: givenCache, authorization = 'enforce', moneyMovingFields }: GatewayOptions,
): Promise<RunningGateway> {
  const production = config.PROFILE === 'production';
  // 'disabled' is reachable from code only (tests and benchmarks that need production behaviour on a toy
  // graph): no variable maps to it (GATEWAY_AUTHORIZATION accepts policy or directives) and
  // gateway/main.ts never passes it. Said loudly when it happens in the production profile.
  if (production && authorization === 'disabled')
    logger.warn('authorization disabled by the code that started this gateway (tests and benchmarks only)');
  // policy: the product's rules; directives: the supergraph's @authenticated/@requiresScopes/@policy.
  const mode = authorization === 'disabled' ? 'disabled' : config.GATEWAY_AUTHORIZATION;
  const supergraph = await loadSupergraph(config.SUPERGRAPH, { timeoutMs: config.SUBGRAPH_TIMEOUT_MS });
  // The served schema, rebuilt the same way when the supergraph changes (gateway/schema-source.ts).
  // One shared cache per gateway (Redis when REDIS_URL is set, so replicas share DPoP replay state).
  const cache = givenCache ?? (await openSharedCache({ redisUrl: config.REDIS_URL, logger, prefix: 'fdg:gateway' }));
  // One resilient client per subgraph (lib/resilience-clients.ts): the executor, the authorization
  // lookups and /readyz share its deadline-bound timeout, bulkhead, breaker, retries and fallbacks.
  const subgraphClients = gatewaySubgraphClients(config, cache, logger);
  const jwks = jwksAccess({ url: config.AUTH_JWKS_URL, timeoutMs: 5_000, logger });
  const served = servedSchemaBuilder({
    authorization: mode,
    subgraphUrls: config.subgraphUrls,
    internalSecret: config.INTERNAL_AUTH_SECRET,
    timeoutMs: config.SUBGRAPH_TIMEOUT_MS,
    sharing: config.SUBGRAPH_REQUEST_SHARING,
    overrideLabels: config.GATEWAY_OVERRIDE_LABELS,
    logger,
    clients: subgraphClients,
  });
  let endpoints = served.endpoints(supergraph);
  // The explorer describes the served schema: rebuilt with it (set once everything it needs exists).
  let explorer: ReturnType<typeof createExplorer> | null = null;
  const source = createSchemaSource({
    source: config.SUPERGRAPH,
    initial: supergraph,
    build: served.build,
    // Operations run on @graphql-tools/executor, not graphql-js (gateway/executor.ts says why).
    executor: createGatewayExecutor(),
    timeoutMs: config.SUBGRAPH_TIMEOUT_MS,
    pollIntervalMs: config.SUPERGRAPH_POLL_INTERVAL_MS,
    watchFile: config.SUPERGRAPH_WATCH === 'on',
    logger,
    registry: metricsOf('gateway').registry,
    onUpdate: (next) => {
      endpoints = served.endpoints(next.supergraph);
      if (explorer) explorer = makeExplorer(next.schema);
    },
  });
  const schema = () => source.current().schema;
  // Authorization (gateway/authorization/): consents and the client registry, through the shared cache.
  const subgraphUrls = Object.fromEntries(endpoints.map((e) => [e.name, e.url]));
  const authz =
    mode !== 'policy'
      ? null
      : {
          consents: createConsentLookup({
            fetchActive: consentsSubgraphFetcher({
              url: subgraphUrls.consents ?? '',
              internalSecret: config.INTERNAL_AUTH_SECRET,
              timeoutMs: config.SUBGRAPH_TIMEOUT_MS,
              logger,
              clients: subgraphClients,
            }),
            cache: cache.store('consents'),
            ttlMs: config.CONSENT_CACHE_TTL_MS,
            now,
            logger,
          }),
          directory: createCallerDirectory({
            subgraphUrls,
            internalSecret: config.INTERNAL_AUTH_SECRET,
            timeoutMs: config.SUBGRAPH_TIMEOUT_MS,
            cache: cache.store('client-kinds'),
            logger,
            clients: subgraphClients,
          }),
        };
  const authenticator = createAuthenticator({
    issuer: config.AUTH_ISSUER,
    audience: config.AUTH_AUDIENCE,
    jwksUrl: config.AUTH_JWKS_URL,
    jwksCooldownMs: config.AUTH_JWKS_COOLDOWN_MS,
    jwksFetch: jwks.fetch,
    clockToleranceSeconds: config.AUTH_CLOCK_TOLERANCE_SECONDS,
    dpop: createDpopVerifier({
      cache,
      iatWindowSeconds: config.DPOP_IAT_WINDOW_SECONDS,
      clockToleranceSeconds: config.AUTH_CLOCK_TOLERANCE_SECONDS,
      now,
    }),
    now,
  });
  // DPoP proofs name the URL the client called (htu): the public URL, not the Host header a
  // client controls. Set once the server listens (default: the listening URL).
  let publicBase = config.GATEWAY_PUBLIC_URL?.replace(/\/+$/, '') ?? '';

  // Idempotent money-moving mutations (gateway/idempotency/): records in PostgreSQL, shared by the replicas.
  const idempotency = createGatewayIdempotency(config, {
    logger,
    ...(moneyMovingFields ? { fields: moneyMovingFields } : {}),
  });
  const mask = maskError(logger);
  const limits = queryLimitsOf(config);
  const apollo = new ApolloServer<GatewayContext>({
    // The schema comes from the source, which serves a new supergraph without a restart.
    gateway: source,
    introspection: !production,
    includeStacktraceInErrorResponses: false,
    // Query limits (gateway/limits.ts): every limit on the document in checkBody below, before
    // Apollo parses or validates; tokens again while parsing, the rest again before execution.
    parseOptions: { maxTokens: limits.maxTokens },
    allowBatchedHttpRequests: true,
    // On by default in Apollo Server 5; stated because CORS (below) relies on it: a GET or form POST a
    // page sends cross-origin without a preflight is refused unless it carries a preflight-forcing header.
    csrfPrevention: true,
    // Production: no "Did you mean ...?" suggestions (they leak the schema); see also formatError.
    hideSchemaDetailsFromClientErrors: production,
    formatError: (formatted: GraphQLFormattedError, error: unknown) => {
      const limited = formatLimitError(formatted, error, limits);
      if (limited) return limited;
      if (production) formatted = withoutSuggestions(formatted);
      // Codes of the directive mode and of a subscription, which a client acts on as they are.
      if (
        formatted.extensions?.code === UNAUTHORIZED_FIELD_OR_TYPE ||
        formatted.extensions?.code === SUBSCRIPTIONS_NOT_SUPPORTED
      )
        return { message: formatted.message, path: formatted.path, extensions: { code: formatted.extensions.code } };
      // A subgraph outage is something a client can act on (retry later); everything else
      // goes through the shared masking of lib/error-masking.ts.
      if (formatted.extensions?.code === SERVICE_UNAVAILABLE) {
        return {
          message: formatted.message,
          path: formatted.path,
          extensions: { code: SERVICE_UNAVAILABLE, service: formatted.extensions.service },
        };
      }
      return mask(formatted, error);
    },
    plugins: [
      // Directive mode allows requests without a token, as Router does: what needs one is then null.
      ...(mode === 'directives' ? [] : [requireAuthentication()]),
      refuseSubscriptions<GatewayContext>(),
      // The authorization walk must start only once the limits passed: one after the other.
      inOrder(
        queryLimitsPlugin<GatewayContext>(limits),
        ...(authz ? [authorizeOperation(authz, { maxSelections: limits.maxSelections })] : []),
      ),
      // After every didResolveOperation hook (authorization included), before execution.
      idempotency.plugin,
      graphqlRequestMetrics<GatewayContext>(metricsOf('gateway')),
      // extensions.stale: the paths answered from their last good value, and as of when (lib/resilience.ts).
      staleExtensions<GatewayContext>(),
      // Who still uses deprecated fields (graphql_deprecated_field_requests_total), before they are removed.
      deprecatedFieldUsage<GatewayContext>(metricsOf('gateway').deprecatedFieldRequests),
      // Apollo's landing pages load Apollo's hosted Sandbox from a CDN (and report telemetry); the
      // gateway's own offline explorer at `/` replaces them (gateway/explorer/).
      ApolloServerPluginLandingPageDisabled(),
      // Nothing reads cache hints (no response cache, no CDN headers), yet Apollo's default
      // cache-control plugin computed them for every resolved field. Usage reporting and inline
      // traces are Apollo GraphOS features this gateway does not use: off even if APOLLO_KEY is set.
      ApolloServerPluginCacheControlDisabled(),
      ApolloServerPluginUsageReportingDisabled(),
      ApolloServerPluginInlineTraceDisabled(),
    ],
    logger,
    // Shutdown belongs to runService / the platform launcher; Apollo's own signal handler would
    // stop this server and re-raise the signal before the other services are closed.
    stopOnTerminationSignals: false,
  });
  await apollo.start();

  /**
   * The request's access token, verified as every route needs it; an HttpError when it is refused or cannot be
   * verified.
   */
  const authenticate = async (req: IncomingMessage, requestId: string) => {
    let auth;
    try {
      const path = new URL(req.url ?? '/', 'http://gateway.invalid').pathname;
      auth = await authenticator.authenticate(req.headers, {
        method: req.method ?? 'GET',
        url: `${publicBase}${path}`,
      });
    } catch (err) {
      if (err instanceof AuthenticationUnavailableError) {
        logger.error({ err: err.message }, 'cannot verify access tokens: JWKS unreachable');
        throw new HttpError(503, SERVICE_UNAVAILABLE, 'Authentication is temporarily unavailable', {
          'retry-after': '5',
        });
      }
      throw err;
    }
    if (auth.kind === 'invalid') {
      // The reason stays in the log under the request id; the client gets the bare RFC 6750 / 9449 error.
      logger.warn(
        { requestId, reason: auth.reason, error: auth.error, scheme: auth.scheme },
        'refused invalid access token',
      );
      throw new HttpError(401, 'UNAUTHENTICATED', refusalMessage(auth), {
        'www-authenticate': wwwAuthenticate(auth),
        'cache-control': 'no-store',
      });
    }
    return auth;
  };
  const makeExplorer = (schema: GraphQLSchema) =>
    createExplorer({
      schema,
      profile: config.PROFILE,
      authIssuer: config.AUTH_ISSUER,
      timeoutMs: config.SUBGRAPH_TIMEOUT_MS,
      logger,
      authenticate: async (req, requestId) => {
        const auth = await authenticate(req, requestId);
        return auth.kind === 'authenticated' ? auth.principal : null;
      },
      authz,
    });
  if (config.GATEWAY_EXPLORER === 'on') explorer = makeExplorer(schema());

  const readinessTimeout = Math.min(config.SUBGRAPH_TIMEOUT_MS, 2_000);
  const server = createGraphQLHttpServer<GatewayContext>({
    apollo,
    logger,
    service: 'gateway',
    checkBody: (body, params) => checkRequest(schema(), limits)(body, params),
    // Web apps on other origins (CORS_ALLOWED_ORIGINS); Apollo's CSRF prevention (csrfPrevention above) still refuses
    // what a browser sends without a preflight.
    cors: { allowedOrigins: config.CORS_ALLOWED_ORIGINS, maxAgeSeconds: config.CORS_MAX_AGE_SECONDS },
    // The offline explorer at `/` (GATEWAY_EXPLORER; the sandbox token panel only in the sandbox profile).
    ...(explorer ? { routes: (req, res, url) => explorer!.handle(req, res, url) } : {}),
    context: async (req, rc) => {
      // The whole request's budget: every subgraph call of it ends by then (GATEWAY_REQUEST_DEADLINE_MS).
      startDeadline(config.GATEWAY_REQUEST_DEADLINE_MS);
      const auth = await authenticate(req, rc.requestId);
      return {
        principal: auth.kind === 'authenticated' ? auth.principal : null,
        authentication: auth.kind,
        requestId: rc.requestId,
        traceparent: rc.traceparent,
        logger,
      };
    },
    // Ready unless shutting down or unable to verify tokens; subgraph states are reported, never deciding
    // (lib/resilience-readiness.ts).
    readiness: gatewayReadiness({
      subgraphs: () => endpoints,
      clients: subgraphClients,
      jwks,
      timeoutMs: readinessTimeout,
    }),
  });
  const { port, url } = await listen(server, config.GATEWAY_PORT, config.HOST);
  if (!publicBase) publicBase = url;
  logger.info(
    {
      url: `${url}/graphql`,
      supergraph: supergraph.source,
      subgraphs: Object.fromEntries(endpoints.map((e) => [e.name, e.url])),
    },
    'gateway listening',
  );
  return {
    server,
    port,
    url: `${url}/graphql`,
    subgraphs: Object.fromEntries(endpoints.map((e) => [e.name, e.url])),
    cache,
    close: async () => {
      await closeServer(server);
      await apollo.stop();
      await idempotency.close();
      if (!givenCache) await cache.close();
    },
  };
}

/**
 * One plugin whose didResolveOperation runs the given plugins' didResolveOperation hooks one after
 * another, stopping at the first that throws. Apollo starts the didResolveOperation hooks of
 * separate plugins together (Promise.all), so listing the limits first in `plugins` would not
 * keep the authorization walk from starting on a document the limits refuse. Only
 * didResolveOperation is forwarded, so the plugins given here must have no other hook.
 */
function inOrder(...plugins: ApolloServerPlugin<GatewayContext>[]): ApolloServerPlugin<GatewayContext> {
  const onlyHook = (hooks: object, allowed: string, what: string) => {
    const others = Object.keys(hooks).filter((k) => k !== allowed);
    if (others.length > 0) throw new Error(`inOrder forwards only ${allowed}; ${what} also has ${others.join(', ')}`);
  };
  plugins.forEach((p, i) => onlyHook(p, 'requestDidStart', `plugin ${i}`));
  return {
    async requestDidStart(requestContext) {
      const listeners = await Promise.all(plugins.map((p) => p.requestDidStart?.(requestContext)));
      listeners.forEach((l, i) => l && onlyHook(l, 'didResolveOperation', `the request listener of plugin ${i}`));
      return {
        async didResolveOperation(resolved) {
          for (const listener of listeners) await listener?.didResolveOperation?.(resolved);
        },
      };
    },
  };
}
