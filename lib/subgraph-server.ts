import type { IncomingMessage } from 'node:http';
import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import {
  ApolloServerPluginInlineTraceDisabled,
  ApolloServerPluginLandingPageDisabled,
} from '@apollo/server/plugin/disabled';
import { buildSubgraphSchema } from '@apollo/subgraph';
import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper/resolverMap.js';
import type { z } from 'zod';
import type { subgraphCommonConfig } from './config.ts';
import type { Database } from './database.ts';
import { maskError } from './error-masking.ts';
import { graphqlRequestMetrics, metricsOf } from './metrics.ts';
import {
  closeServer,
  createGraphQLHttpServer,
  HttpError,
  listen,
  type GraphQLHttpServerOptions,
  type RunningServer,
} from './http-server.ts';
import { INTERNAL_AUTH_HEADER, InternalAuthError, verifyInternalContext } from './internal-auth.ts';
import type { Logger } from './logger.ts';
import type { Principal } from './principal.ts';
import { OWNERS_EXTENSION, stampOwnership } from './ownership.ts';
import { staleExtensions } from './resilience.ts';
import { scalarResolvers } from './scalars.ts';
import { subgraphTypeDefs, type SubgraphName } from './schema-files.ts';

/**
 * The shared shape of every subgraph process: Apollo Server 5 + @apollo/subgraph, served by
 * lib/http-server.ts, refusing any request without a valid gateway signature, masking errors.
 * A subgraph supplies only its resolvers, its per-request context, its database and its config.
 */
export interface BaseSubgraphContext {
  /** The caller as verified by the gateway; null for unauthenticated gateway calls. */
  principal: Principal | null;
  requestId: string;
  logger: Logger;
}

/** The variables every subgraph reads (lib/config.ts subgraphCommonConfig) that the server itself uses. */
export type SubgraphServerConfig = Pick<
  z.infer<typeof subgraphCommonConfig>,
  'HOST' | 'INTERNAL_AUTH_SECRET' | 'INTERNAL_AUTH_PREVIOUS_SECRET'
>;

export interface SubgraphServerOptions<C extends BaseSubgraphContext> {
  name: SubgraphName;
  resolvers: GraphQLResolverMap<C>;
  /** Adds the subgraph's own per-request state (DataLoaders, services) to the base context. */
  context: (base: BaseSubgraphContext) => C;
  logger: Logger;
  /** The subgraph's config: listen host and the current and (during rotation) previous gateway signing secrets. */
  common: SubgraphServerConfig;
  port: number;
  /**
   * The subgraph's database; readiness then includes a `database` check that pings it. Every
   * product subgraph has one; only a stand-in serving in-memory data (bench/authorization.ts) has not.
   */
  database?: Database;
  /**
   * Readiness checks besides the database. Only what makes the subgraph unable to answer belongs
   * here: a partner being down degrades answers and must not take the subgraph out of rotation.
   */
  readiness?: () => Promise<Record<string, boolean>>;
  /**
   * Routes of the subgraph besides /graphql (lib/http-server.ts `routes`), e.g. a partner's webhook
   * receiver (lib/webhooks). They are NOT behind the gateway's signature: each authenticates its
   * caller itself (a webhook its signature).
   */
  routes?: GraphQLHttpServerOptions<C>['routes'];
}

/** Current and (during rotation) previous gateway signing secrets. */
function internalSecretsOf(common: SubgraphServerConfig): string[] {
  return [common.INTERNAL_AUTH_SECRET, common.INTERNAL_AUTH_PREVIOUS_SECRET].filter((s): s is string => Boolean(s));
}

/** Ready when the database (if any) answers, plus whatever extra checks the subgraph adds. */
function readinessOf(
  database: Database | undefined,
  extra?: () => Promise<Record<string, boolean>>,
): () => Promise<Record<string, boolean>> {
  return async () => {
    const [databaseUp, checks] = await Promise.all([
      database?.query('SELECT 1').then(
        () => true,
        () => false,
      ),
      extra?.() ?? {},
    ]);
    return { ...(databaseUp === undefined ? {} : { database: databaseUp }), ...checks };
  };
}

/**
 * The caller of a request to subgraph `subgraph`, as the gateway signed it (lib/internal-auth.ts),
 * or a 401 HttpError: a subgraph answers nobody but the gateway. The signature must cover this
 * very body, so a valid token replayed with another document is refused.
 */
export async function gatewayCaller(
  req: IncomingMessage,
  subgraph: string,
  secrets: string[],
  body: string,
  logger?: Logger,
): Promise<Principal | null> {
  const header = req.headers[INTERNAL_AUTH_HEADER];
  try {
    const internal = await verifyInternalContext(Array.isArray(header) ? header[0] : header, subgraph, secrets, body);
    return internal.principal;
  } catch (err) {
    if (err instanceof InternalAuthError) {
      logger?.warn({ reason: err.message }, 'refused request without valid gateway signature');
      throw new HttpError(401, 'UNAUTHENTICATED', 'requests to subgraphs must come from the gateway');
    }
    throw err;
  }
}

export async function startSubgraphServer<C extends BaseSubgraphContext>(
  opts: SubgraphServerOptions<C>,
): Promise<RunningServer> {
  // Every first-party object served is stamped with its owner (lib/ownership.ts), so that the
  // gateway can refuse one that reaches the wrong customer through a bug in any layer.
  const owners = new WeakMap<object, Map<string, string>>();
  const ownersOfRequest = (context: unknown): Map<string, string> => {
    const key = context as object;
    let map = owners.get(key);
    if (!map) owners.set(key, (map = new Map()));
    return map;
  };
  const schema = stampOwnership(
    buildSubgraphSchema({
      typeDefs: subgraphTypeDefs(opts.name),
      resolvers: { ...scalarResolvers, ...opts.resolvers } as GraphQLResolverMap<unknown>,
    }),
    ownersOfRequest,
  );
  const apollo = new ApolloServer<C>({
    schema,
    includeStacktraceInErrorResponses: false,
    formatError: maskError(opts.logger),
    plugins: [
      ApolloServerPluginLandingPageDisabled(),
      ApolloServerPluginInlineTraceDisabled(),
      ownershipStamps(owners),
      graphqlRequestMetrics<C>(metricsOf(opts.name)),
      // What a subgraph served from a partner's last known value, for the gateway to pass on.
      staleExtensions<C>(),
    ],
    logger: opts.logger,
    // Shutdown is owned by lib/service-main.ts, which closes the database after the server;
    // Apollo's own signal handlers would exit before that.
    stopOnTerminationSignals: false,
  });
  await apollo.start();
  const internalSecrets = internalSecretsOf(opts.common);
  const server = createGraphQLHttpServer<C>({
    apollo,
    logger: opts.logger,
    service: opts.name,
    readiness: readinessOf(opts.database, opts.readiness),
    ...(opts.routes ? { routes: opts.routes } : {}),
    context: async (req, rc, content) => {
      const principal = await gatewayCaller(req, opts.name, internalSecrets, content, opts.logger);
      return opts.context({ principal, requestId: rc.requestId, logger: opts.logger });
    },
  });
  const { port, url } = await listen(server, opts.port, opts.common.HOST);
  opts.logger.info({ url: `${url}/graphql` }, `${opts.name} subgraph listening`);
  return {
    server,
    port,
    url: `${url}/graphql`,
    close: async () => {
      await closeServer(server);
      await apollo.stop();
    },
  };
}

/** Adds the request's ownership stamps to the response as `extensions.owners` (lib/ownership.ts). */
function ownershipStamps(owners: WeakMap<object, Map<string, string>>): ApolloServerPlugin<BaseSubgraphContext> {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ contextValue, response }) {
          const stamps = owners.get(contextValue);
          if (!stamps?.size || response.body.kind !== 'single') return;
          const result = response.body.singleResult;
          result.extensions = { ...result.extensions, [OWNERS_EXTENSION]: Object.fromEntries(stamps) };
        },
      };
    },
  };
}
