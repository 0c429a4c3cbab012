import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import type { ApolloServerOptionsWithGateway } from '@apollo/server';
import { Counter, type Registry } from 'prom-client';
import type { GraphQLSchema } from 'graphql';
import type { Logger } from '../lib/logger.ts';
import type { DependencyClients } from '../lib/resilience-clients.ts';
import { authorizeSchema } from './authorization.ts';
import { authorizeWithDirectives } from './directive-authorization.ts';
import { buildGatewaySchema, resolveSubgraphEndpoints, type SubgraphEndpoint } from './executor.ts';
import { createOverrideHandler, routePercentLabelsToHandler } from './progressive-override.ts';
import type { RequestSharing } from './subgraph-fetch.ts';
import {
  fetchSupergraph,
  parseSupergraph,
  readSupergraphFile,
  SupergraphError,
  type Supergraph,
} from './supergraph.ts';

/**
 * The schema the gateway serves, and serving a new one when the supergraph changes, without a
 * restart and without dropping a request in flight.
 *
 * It is handed to Apollo Server as its `gateway` (Apollo's GatewayInterface): Apollo takes the
 * schema from onSchemaLoadOrUpdate and captures it per request when the request starts, so a
 * request in flight finishes on the schema it started on (with that schema's resolvers and
 * subgraph executors) while new requests get the new one.
 *
 * Sources:
 * - a file: watched (fs.watch on its folder, so an editor's or a deploy's rename-over is seen),
 *   debounced, read again (SUPERGRAPH_WATCH);
 * - an http(s) URL: polled every SUPERGRAPH_POLL_INTERVAL_MS with If-None-Match (ETag), so an
 *   unchanged supergraph costs a 304.
 * A text identical to the one served is not built again. A new text is parsed and built exactly
 * as at start (`build`: the stitched schema wrapped with the same authorization as at start);
 * anything that fails (not GraphQL, not a supergraph, the federation library refuses it) is
 * logged as an error, counted in supergraph_reload_total{outcome="rejected"}, and the schema
 * being served stays.
 */

/** Apollo Server's gateway interface (named through @apollo/server, whose dependency defines it). */
type GatewayInterface = ApolloServerOptionsWithGateway<never>['gateway'];
type GatewayExecutor = Awaited<ReturnType<GatewayInterface['load']>>['executor'];

export interface BuiltSchema {
  schema: GraphQLSchema;
  supergraph: Supergraph;
}

export type ReloadOutcome = 'updated' | 'unchanged' | 'rejected';

export interface SchemaSourceOptions {
  /** SUPERGRAPH: a file path or an http(s) URL. */
  source: string;
  /** What was loaded at start (the gateway refuses to start without a valid supergraph). */
  initial: Supergraph;
  /** Builds the served schema of a supergraph (throws when it cannot). */
  build: (supergraph: Supergraph) => GraphQLSchema;
  timeoutMs: number;
  pollIntervalMs: number;
  watchFile: boolean;
  /** Debounce of file events (an editor writes in several steps). */
  debounceMs?: number;
  logger: Logger;
  /** The gateway's metrics registry (supergraph_reload_total). */
  registry: Registry;
  /** Apollo's executor for every request; null: Apollo executes the schema itself. */
  executor?: GatewayExecutor | null;
  /** Called after a new schema is served (e.g. to rebuild what depends on the schema). */
  onUpdate?: (built: BuiltSchema) => void;
}

export interface SchemaSource extends GatewayInterface {
  current(): BuiltSchema;
  /** Loads the source once more now (what the watcher and the poller call). */
  reload(): Promise<ReloadOutcome>;
}

const reloadCounters = new WeakMap<Registry, Counter<'outcome'>>();

function reloadCounter(registry: Registry): Counter<'outcome'> {
  let counter = reloadCounters.get(registry);
  if (!counter) {
    counter =
      (registry.getSingleMetric('supergraph_reload_total') as Counter<'outcome'> | undefined) ??
      new Counter({
        name: 'supergraph_reload_total',
        help: 'Supergraph reloads by outcome: updated (a new schema is served), unchanged, rejected (invalid; the old one keeps serving)',
        labelNames: ['outcome'],
        registers: [registry],
      });
    reloadCounters.set(registry, counter);
  }
  return counter;
}

export function createSchemaSource(opts: SchemaSourceOptions): SchemaSource {
  const log = opts.logger.child({ supergraph: opts.source });
  const counter = reloadCounter(opts.registry);
  const isUrl = /^https?:\/\//i.test(opts.source);
  let current: BuiltSchema = { supergraph: opts.initial, schema: opts.build(opts.initial) };
  let etag: string | undefined;
  const listeners = new Set<(s: { apiSchema: GraphQLSchema; coreSupergraphSdl: string }) => void>();
  let watcher: FSWatcher | undefined;
  let timer: NodeJS.Timeout | undefined;
  let debounce: NodeJS.Timeout | undefined;
  let stopped = false;
  // One reload at a time: a change seen while one runs is loaded after it.
  let running: Promise<ReloadOutcome> | undefined;
  let again = false;

  const notify = () => {
    for (const l of listeners) l({ apiSchema: current.schema, coreSupergraphSdl: current.supergraph.sdl });
  };

  async function loadOnce(): Promise<ReloadOutcome> {
    let sdl: string;
    try {
      if (isUrl) {
        const fetched = await fetchSupergraph(opts.source, opts.timeoutMs, etag);
        if (fetched.notModified) return record('unchanged');
        sdl = fetched.sdl;
        etag = fetched.etag;
      } else {
        sdl = await readSupergraphFile(opts.source);
      }
    } catch (err) {
      return reject(err);
    }
    if (sdl === current.supergraph.sdl) return record('unchanged');
    let next: BuiltSchema;
    try {
      const supergraph = parseSupergraph(sdl, opts.source);
      next = { supergraph, schema: opts.build(supergraph) };
    } catch (err) {
      return reject(err);
    }
    if (stopped) return 'unchanged';
    current = next;
    notify();
    opts.onUpdate?.(next);
    log.info({ subgraphs: next.supergraph.subgraphs.map((s) => s.name) }, 'serving the new supergraph');
    return record('updated');
  }

  function record(outcome: ReloadOutcome): ReloadOutcome {
    counter.labels(outcome).inc();
    return outcome;
  }

  function reject(err: unknown): ReloadOutcome {
    const message = err instanceof SupergraphError ? err.message : `cannot serve it: ${(err as Error).message}`;
    log.error({ err: message }, 'new supergraph rejected; the previous one keeps serving');
    return record('rejected');
  }

  async function reload(): Promise<ReloadOutcome> {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      let outcome: ReloadOutcome;
      do {
        again = false;
        outcome = await loadOnce();
      } while (again && !stopped);
      return outcome;
    })().finally(() => (running = undefined));
    return running;
  }

  function startWatching() {
    if (isUrl) {
      if (opts.pollIntervalMs <= 0) return;
      const tick = () => {
        timer = setTimeout(() => {
          void reload().finally(() => {
            if (!stopped) tick();
          });
        }, opts.pollIntervalMs);
        timer.unref();
      };
      tick();
      return;
    }
    if (!opts.watchFile) return;
    const file = resolve(opts.source);
    try {
      // The folder, not the file: a rename over the file (atomic deploys, most editors) replaces
      // the inode a file watch would be bound to.
      watcher = watch(dirname(file), (_event, name) => {
        if (name !== null && name !== basename(file)) return;
        clearTimeout(debounce);
        debounce = setTimeout(() => void reload(), opts.debounceMs ?? 100);
        debounce.unref();
      });
      watcher.unref();
      watcher.on('error', (err) => log.error({ err: err.message }, 'cannot watch the supergraph file any more'));
    } catch (err) {
      log.error({ err: (err as Error).message }, 'cannot watch the supergraph file; changes need a restart');
    }
  }

  return {
    current: () => current,
    reload,
    onSchemaLoadOrUpdate(callback) {
      listeners.add(callback);
      return () => listeners.delete(callback);
    },
    async load() {
      notify();
      startWatching();
      return { executor: opts.executor ?? null };
    },
    async stop() {
      stopped = true;
      watcher?.close();
      clearTimeout(timer);
      clearTimeout(debounce);
      await running?.catch(() => undefined);
    },
  };
}

/** Where the served schema's authorization comes from (gateway/server.ts decides it from the configuration). */
export type ServedAuthorization = 'policy' | 'directives' | 'disabled';

export interface ServedSchemaOptions {
  authorization: ServedAuthorization;
  subgraphUrls: Record<string, string>;
  internalSecret: string;
  timeoutMs: number;
  sharing: RequestSharing;
  /** Custom @override labels that are on (GATEWAY_OVERRIDE_LABELS). */
  overrideLabels: readonly string[];
  logger: Logger;
  /** The gateway's one resilient client per subgraph (lib/resilience-clients.ts), shared by every schema built. */
  clients?: DependencyClients;
}

/**
 * How a supergraph becomes the schema the gateway serves, the same at start and on every reload:
 * the stitched schema (gateway/executor.ts) with progressive override decided once per request
 * (gateway/progressive-override.ts), wrapped with the authorization in force: the product's policy
 * (graphql-shield, gateway/authorization.ts), the supergraph's directives
 * (gateway/directive-authorization.ts), or nothing (tests and the benchmark only).
 */
export function servedSchemaBuilder(opts: ServedSchemaOptions): {
  build: (supergraph: Supergraph) => GraphQLSchema;
  endpoints: (supergraph: Supergraph) => SubgraphEndpoint[];
} {
  const handleProgressiveOverride = createOverrideHandler(opts.overrideLabels);
  const endpoints = (supergraph: Supergraph) => {
    // A SUBGRAPH_<NAME>_* setting naming no subgraph of this supergraph is warned about, like a URL override.
    opts.clients?.expect(supergraph.subgraphs.map((s) => s.name));
    return resolveSubgraphEndpoints(supergraph, opts.subgraphUrls, opts.logger);
  };
  return {
    endpoints,
    build: (supergraph) => {
      const stitched = buildGatewaySchema({
        supergraph: { ...supergraph, document: routePercentLabelsToHandler(supergraph.document) },
        endpoints: endpoints(supergraph),
        internalSecret: opts.internalSecret,
        timeoutMs: opts.timeoutMs,
        sharing: opts.sharing,
        logger: opts.logger,
        handleProgressiveOverride,
        ...(opts.clients ? { clients: opts.clients } : {}),
      });
      if (opts.authorization === 'directives') return authorizeWithDirectives(stitched, supergraph.document);
      return authorizeSchema(stitched, opts.authorization === 'policy' ? 'enforce' : 'disabled');
    },
  };
}
