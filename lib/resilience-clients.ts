import type { SharedCache } from './cache.ts';
import { openConfiguredFallbackCache, type FallbackCache } from './fallback-cache.ts';
import { createHttpClient, type HttpClient, type HttpClientOptions } from './http-client.ts';
import type { Logger } from './logger.ts';
import {
  subgraphSettingsOf,
  unknownSubgraphOverrides,
  type DependencySettings,
  type ResilienceConfig,
} from './resilience-config.ts';

/**
 * One resilient client (lib/http-client.ts) per dependency of a service, made once and shared by
 * every piece of code that calls that dependency: the gateway's executor, its authorization
 * lookups and its readiness report all go through the same `subgraph:<name>` client, so they share
 * one breaker, one bulkhead and one set of figures, and a schema rebuilt on a supergraph reload
 * keeps them (same name and URL → same client).
 */
export interface DependencyClients {
  /** The client of `name` at `url` (made on first use). */
  client(name: string, url: string): HttpClient;
  /** Every client made so far. */
  all(): HttpClient[];
  /**
   * The dependencies this service will call (the gateway: the subgraphs of the supergraph it serves,
   * at start and on every reload): settings naming none of them are logged as a warning, once per
   * set of such names, since they would silently do nothing.
   */
  expect(names: readonly string[]): void;
  /** The cached fallbacks the clients serve from (null: off). */
  readonly fallback: FallbackCache | null;
}

export interface DependencyClientSettings {
  /** Prefix of every client's name, e.g. "subgraph:". */
  prefix: string;
  /** Timeout, retries, bulkhead and breaker of the dependency `name` (lib/resilience-config.ts). */
  settingsOf: (name: string) => DependencySettings;
  /** The variables of settings naming none of `names` (see DependencyClients.expect); default: none. */
  unknownSettings?: (names: readonly string[]) => string[];
  fallback?: FallbackCache | null;
  logger: Logger;
  /** Registry the figures go to (default: the service whose start makes the clients). */
  service?: string;
}

export function createDependencyClients(settings: DependencyClientSettings): DependencyClients {
  const clients = new Map<string, HttpClient>();
  let warned = '';
  return {
    fallback: settings.fallback ?? null,
    client(name, url) {
      const key = `${name}\n${url}`;
      let client = clients.get(key);
      if (!client) {
        const options: HttpClientOptions = {
          name: `${settings.prefix}${name}`,
          baseUrl: url,
          ...settings.settingsOf(name),
          logger: settings.logger,
          ...(settings.fallback ? { fallback: settings.fallback } : {}),
          ...(settings.service ? { service: settings.service } : {}),
        };
        clients.set(key, (client = createHttpClient(options)));
      }
      return client;
    },
    all: () => [...clients.values()],
    expect(names) {
      const unknown = settings.unknownSettings?.(names) ?? [];
      const key = unknown.join(' ');
      if (unknown.length > 0 && key !== warned)
        settings.logger.warn(
          { variables: unknown, dependencies: [...names] },
          'settings name no dependency this service calls; ignored',
        );
      warned = key;
    },
  };
}

/** The settings gatewaySubgraphClients reads (lib/resilience-config.ts, gateway/config.ts). */
export interface GatewayClientConfig extends ResilienceConfig {
  PROFILE: string;
}

/**
 * The gateway's clients of its subgraphs (`subgraph:<name>`), with the configured deadline-bound
 * timeout, retries, bulkhead and breaker (SUBGRAPH_*, or SUBGRAPH_<NAME>_* for that subgraph), and
 * the cached fallbacks in the gateway's shared cache (memory, or Redis with REDIS_URL) when
 * FALLBACK_CACHE is on.
 */
export function gatewaySubgraphClients(
  config: GatewayClientConfig,
  cache: SharedCache,
  logger: Logger,
): DependencyClients {
  return createDependencyClients({
    prefix: 'subgraph:',
    settingsOf: (name) => subgraphSettingsOf(config, name),
    unknownSettings: (names) => unknownSubgraphOverrides(config, names),
    fallback: openConfiguredFallbackCache(config, cache, logger, 'gateway'),
    logger,
    service: 'gateway',
  });
}
