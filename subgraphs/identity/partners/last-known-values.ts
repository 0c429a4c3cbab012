import type { FallbackCache } from '../../../lib/fallback-cache.ts';
import { lastKnownCalls, stampEach } from '../../../lib/last-known.ts';
import type { Logger } from '../../../lib/logger.ts';
import type { Principal } from '../../../lib/principal.ts';
import type { LastKnown } from '../domain/model.ts';
import type { KycProvider } from '../domain/ports.ts';
import { PARTNER } from './onfido/mapping.ts';

/**
 * The KYC provider's last known values: when Onfido is down, a customer still sees their verified
 * identity (legal name, date of birth, address) and their KYC (checks and reports) as they were last
 * read, marked with the time they were read, instead of errors (issue 11). It wraps the provider of
 * one request on lib/last-known.ts (what is kept, under which key, when it is served), the same way
 * the accounts subgraph wraps its banks:
 *
 * - These answers are personal data: they exist only sealed in the fallback cache, and nothing
 *   here logs them.
 * - Kept per principal and per call's arguments (the applicant, or the check): what was read for
 *   one app of a customer is never served to another app, nor to a third party; the gateway decides
 *   before anything reaches this subgraph whether a third party's IDENTITY consent still holds, so a
 *   revoked consent stops stale serving with live serving.
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
  const calls = lastKnownCalls({ ...opts, partner: PARTNER, principal });
  const one = <V extends LastKnown>(v: V | null, at: string): V | null => (v ? { ...v, lastKnownAt: at } : null);
  const each = <V extends LastKnown>(list: V[], at: string): V[] | null =>
    list.length > 0 ? stampEach(list, at) : null;

  return {
    getApplicant: (applicantId) =>
      calls.call('getApplicant', [applicantId], () => provider.getApplicant(applicantId), one),
    listChecks: (applicantId) => calls.call('listChecks', [applicantId], () => provider.listChecks(applicantId), each),
    listReports: (providerCheckId) =>
      calls.call('listReports', [providerCheckId], () => provider.listReports(providerCheckId), each),
  };
}
