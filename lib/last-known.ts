import { preserveDates, reviveDates } from './dated-json.ts';
import type { FallbackCache } from './fallback-cache.ts';
import { DependencyUnavailableError } from './http-client.ts';
import type { Logger } from './logger.ts';
import { principalKey, type Principal } from './principal.ts';
import type { LastKnown } from './resilience.ts';
import { resilienceMetricsOf } from './resilience-metrics.ts';

/**
 * A partner's last known values, the mechanism behind the subgraphs' partners/last-known-values.ts
 * (accounts: the banks; identity: the KYC provider), which say what is kept for which call:
 *
 * - Every good answer of a call is kept in the fallback cache (lib/fallback-cache.ts: sealed with
 *   AES-256-GCM under FALLBACK_CACHE_KEY, named by an HMAC; memory, or Redis). Only mapped,
 *   validated answers reach this layer, so an off-contract payload is never kept.
 * - Keyed by the request's principal (principalKey: customer, client, scopes and consented
 *   accounts), the operation and its arguments: what was read for one principal is never served to
 *   another.
 * - Served only when the partner is down (DependencyUnavailableError: timeout, network, 5xx, 429
 *   exhausted, breaker open, deadline), never when it refused the call (a 4xx) or sent an
 *   off-contract payload: those are answers, not outages.
 * - What is served is stamped (`stamp`) with when it was read, for the resolvers' `asOf` and
 *   `extensions.stale`; a kept value that cannot carry the stamp (stamp gives null) is not served.
 */
export interface LastKnownCalls {
  /** The live answer of `operation(args)`, kept; or, when the partner is down, the kept one, stamped. */
  call<T>(
    operation: string,
    args: unknown[],
    live: () => Promise<T>,
    stamp: (kept: T, lastKnownAt: string) => T | null,
  ): Promise<T>;
}

export interface LastKnownCallsOptions {
  cache: FallbackCache;
  logger: Logger;
  /** Registry of the stale-serve counter (the subgraph's). */
  service: string;
  /** The partner's name: the cache target, the counter's label and the log lines'. */
  partner: string;
  /** Whom this request reads for: every key holds it. */
  principal: Principal | null;
}

export function lastKnownCalls(opts: LastKnownCallsOptions): LastKnownCalls {
  const principalScope = principalKey(opts.principal);
  const staleServes = resilienceMetricsOf(opts.service).staleServes;
  const log = opts.logger.child({ partner: opts.partner, component: 'last-known-values' });
  return {
    async call(operation, args, live, stamp) {
      const scope = JSON.stringify([principalScope, operation, args]);
      let value: Awaited<ReturnType<typeof live>>;
      try {
        value = await live();
      } catch (err) {
        if (!(err instanceof DependencyUnavailableError) || err.reason === 'cancelled') throw err;
        const kept = await opts.cache.recall(opts.partner, scope);
        const served = kept ? stamp(reviveDates(kept.value) as typeof value, kept.asOf) : null;
        if (!kept || served === null) throw err;
        staleServes.labels(opts.partner).inc();
        log.warn(
          { operation, reason: err.reason, asOf: kept.asOf },
          'partner unavailable; served its last known value',
        );
        return served;
      }
      // Not awaited: keeping the answer must not delay it (the cache bounds and swallows its own failures).
      void opts.cache.remember(opts.partner, scope, preserveDates(value));
      return value;
    },
  };
}

/** Each value of a list stamped with when it was read. */
export const stampEach = <V extends LastKnown>(list: V[], lastKnownAt: string): V[] =>
  list.map((v) => ({ ...v, lastKnownAt }));
