import { preserveDates, reviveDates } from '../../../lib/dated-json.ts';
import type { FallbackCache } from '../../../lib/fallback-cache.ts';
import { DependencyUnavailableError } from '../../../lib/http-client.ts';
import type { Logger } from '../../../lib/logger.ts';
import { principalKey, type Principal } from '../../../lib/principal.ts';
import { resilienceMetricsOf } from '../../../lib/resilience-metrics.ts';
import type { LastKnown } from '../domain/model.ts';
import type { KycProvider } from '../domain/ports.ts';
import { PARTNER } from './onfido/mapping.ts';

/**
 * The KYC provider's last known values: when Onfido is down, a customer still sees their verified
 * identity (legal name, date of birth, address) and their KYC (checks and reports) as they were last
 * read, marked with the time they were read, instead of errors (issue 11). It wraps the provider of
 * one request, the same way the accounts subgraph wraps its banks:
 *
 * - Every good answer is kept in the fallback cache (lib/fallback-cache.ts). These answers are
 *   personal data: the cache seals each entry with AES-256-GCM under FALLBACK_CACHE_KEY and names
 *   it by an HMAC, so neither memory nor Redis holds them readable, and nothing here logs them.
 *   Only mapped, validated answers reach this layer, so an off-contract payload is never kept.
 * - Keyed by the request's principal (lib/principal.ts principalKey: customer, client, scopes and
 *   consented accounts) and the call's arguments (the applicant, or the check). What was read for
 *   one app of a customer is never served to another app, nor to a third party; the gateway decides
 *   before anything reaches this subgraph whether a third party's IDENTITY consent still holds, so a
 *   revoked consent stops stale serving with live serving.
 * - Served only when Onfido is down (DependencyUnavailableError: timeout, network, 5xx, 429
 *   exhausted, breaker open, deadline), never when it refused the call (a 4xx, e.g. the platform's
 *   token rejected) or sent an off-contract payload: those are answers, not outages.
 * - What is served carries `lastKnownAt` on every object (the identity, each check, each report);
 *   the service and the resolvers turn it into `Customer.profileAsOf` and `extensions.stale`. A kept
 *   answer with nothing to carry the stamp (an unknown applicant's null, an empty list) is not
 *   served: it would show as current. It is still kept, so an older identity or list never outlives
 *   a newer answer that said there is none.
 *
 * Shared with no one: this layer adds nothing to the provider that outlives the request.
 */
export interface LastKnownValuesOptions {
  cache: FallbackCache;
  logger: Logger;
  /** Registry of the stale-serve counter (the subgraph's). */
  service: string;
}

export function withLastKnownValues(
  provider: KycProvider,
  principal: Principal | null,
  opts: LastKnownValuesOptions,
): KycProvider {
  const principalScope = principalKey(principal);
  const staleServes = resilienceMetricsOf(opts.service).staleServes;
  const log = opts.logger.child({ partner: PARTNER, component: 'last-known-values' });

  /**
   * The live answer, kept; or, when Onfido is down, the kept one stamped with when it was read
   * (`stamp` gives null when the kept value cannot carry the stamp: the outage is passed on).
   */
  async function lastKnown<T>(
    operation: string,
    args: unknown[],
    live: () => Promise<T>,
    stamp: (kept: T, lastKnownAt: string) => T | null,
  ): Promise<T> {
    const scope = JSON.stringify([principalScope, operation, args]);
    let value: T;
    try {
      value = await live();
    } catch (err) {
      if (!(err instanceof DependencyUnavailableError) || err.reason === 'cancelled') throw err;
      const kept = await opts.cache.recall(PARTNER, scope);
      const served = kept ? stamp(reviveDates(kept.value) as T, kept.asOf) : null;
      if (!kept || served === null) throw err;
      staleServes.labels(PARTNER).inc();
      log.warn({ operation, reason: err.reason, asOf: kept.asOf }, 'onfido unavailable; served its last known value');
      return served;
    }
    // Not awaited: keeping the answer must not delay it (the cache bounds and swallows its own failures).
    void opts.cache.remember(PARTNER, scope, preserveDates(value));
    return value;
  }

  const one = <V extends LastKnown>(v: V | null, at: string): V | null => (v ? { ...v, lastKnownAt: at } : null);
  const each = <V extends LastKnown>(list: V[], at: string): V[] | null =>
    list.length > 0 ? list.map((v) => ({ ...v, lastKnownAt: at })) : null;

  return {
    getApplicant: (applicantId) =>
      lastKnown('getApplicant', [applicantId], () => provider.getApplicant(applicantId), one),
    listChecks: (applicantId) => lastKnown('listChecks', [applicantId], () => provider.listChecks(applicantId), each),
    listReports: (providerCheckId) =>
      lastKnown('listReports', [providerCheckId], () => provider.listReports(providerCheckId), each),
  };
}
