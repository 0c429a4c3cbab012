import { createHttpClient, fetchVia, type HttpClient } from './http-client.ts';
import type { ReadinessReport } from './http-server.ts';
import type { Logger } from './logger.ts';
import type { DependencyClients } from './resilience-clients.ts';

/**
 * What makes a gateway ready, and what it only reports.
 *
 * Not ready (503), so the load balancer sends it nothing:
 * - it is shutting down (lib/http-server.ts answers 503 from the first step of a graceful stop);
 * - it cannot verify any access token: the JWKS has never been fetched and cannot be fetched now.
 *   Once fetched, the keys are kept (jose's cache), so an authorization-server blip does not take
 *   the gateway out of rotation.
 * A gateway without a valid supergraph never starts (and a bad reload keeps the old schema), so a
 * listening gateway always has one.
 *
 * Reported, never deciding: each subgraph's state (its /readyz through the subgraph's own client,
 * the breaker state, calls running and waiting in its bulkhead). One subgraph down must not take
 * every gateway replica out of the load balancer at once: the gateway answers without it (its
 * fields null with SERVICE_UNAVAILABLE naming it, or their last good value marked stale).
 */
export interface GatewayReadinessOptions {
  /** The subgraphs of the schema being served (it can change on a reload). */
  subgraphs: () => readonly { name: string; url: string }[];
  clients: DependencyClients;
  jwks: JwksAccess;
  /** Longest wait for one probe. */
  timeoutMs: number;
}

export function gatewayReadiness(opts: GatewayReadinessOptions): () => Promise<ReadinessReport> {
  return async () => {
    const [jwksReachable, ...subgraphs] = await Promise.all([
      opts.jwks.reachable(opts.timeoutMs),
      ...opts.subgraphs().map(async (s) => {
        const client = opts.clients.client(s.name, s.url);
        const reachable = await probe(client, new URL('readyz', s.url), opts.timeoutMs);
        const { active, queued } = client.load();
        return [`subgraph:${s.name}`, { reachable, breaker: client.state(), active, queued }] as const;
      }),
    ]);
    return {
      checks: { jwks: jwksReachable || opts.jwks.fetchedOnce() },
      dependencies: {
        jwks: { reachable: jwksReachable, fetched: opts.jwks.fetchedOnce(), breaker: opts.jwks.client.state() },
        ...Object.fromEntries(subgraphs),
      },
    };
  };
}

/** A dependency's /readyz through its client (no retry: a probe reports, it does not insist). */
async function probe(client: HttpClient, url: URL, timeoutMs: number): Promise<boolean> {
  try {
    const res = await client.request({
      method: 'GET',
      path: '',
      url: url.href,
      operation: 'readyz',
      noRetry: true,
      responseType: 'text',
      // Probes are not traced, as the /readyz they call is not (lib/http-server.ts).
      trace: false,
      signal: AbortSignal.timeout(timeoutMs),
    });
    return res.status >= 200 && res.status < 300;
  } catch {
    return false;
  }
}

export interface JwksAccess {
  /** The fetch to give jose (createRemoteJWKSet's customFetch) and the authenticator's reachability check. */
  fetch: (url: string | URL, init?: RequestInit) => Promise<Response>;
  /** Whether a JWKS was ever fetched (the keys are then in jose's cache). */
  fetchedOnce(): boolean;
  /** Whether the JWKS answers now with at least one key. */
  reachable(timeoutMs: number): Promise<boolean>;
  client: HttpClient;
}

/** The JWKS through its own resilient client (`jwks`): timeout, breaker, retry of the GET, figures. */
export function jwksAccess(opts: { url: string; timeoutMs: number; logger: Logger }): JwksAccess {
  const client = createHttpClient({
    name: 'jwks',
    baseUrl: opts.url,
    timeoutMs: opts.timeoutMs,
    logger: opts.logger,
    service: 'gateway',
    // One authorization server for every request: a small queue is enough, a long one only waits.
    bulkhead: { limit: 8, queue: 64 },
  });
  const viaClient = fetchVia(client, 'getJwks');
  let fetched = false;
  const fetchJwks = async (url: string | URL, init?: RequestInit) => {
    const res = await viaClient(url, init);
    if (res.ok) fetched = true;
    return res;
  };
  return {
    fetch: fetchJwks,
    fetchedOnce: () => fetched,
    client,
    async reachable(timeoutMs) {
      try {
        const res = await fetchJwks(opts.url, {
          signal: AbortSignal.timeout(timeoutMs),
          headers: { accept: 'application/json' },
        });
        if (!res.ok) return false;
        const body = (await res.json()) as { keys?: unknown };
        return Array.isArray(body.keys) && body.keys.length > 0;
      } catch {
        return false;
      }
    },
  };
}
