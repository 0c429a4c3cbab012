import { derivedId } from '../../../lib/ids.ts';
import type { KycCheckModel, KycCheckStatus, KycStatus, KycVerificationModel, ProviderKycCheck } from './model.ts';

/**
 * How the platform summarises a customer's KYC from the provider's checks. The overall status
 * comes from the LATEST check (by creation time):
 *
 * | latest check                      | KycStatus          |
 * |-----------------------------------|--------------------|
 * | none (no applicant, or no checks) | NOT_STARTED        |
 * | in_progress, paused, reopened     | IN_PROGRESS        |
 * | awaiting_applicant                | AWAITING_APPLICANT |
 * | complete + clear                  | APPROVED           |
 * | complete + consider / no result   | REVIEW_REQUIRED    |
 * | withdrawn                         | WITHDRAWN          |
 *
 * A paused check is still open at the provider and a reopened one is being worked again, so
 * both count as in progress. A complete check without a clear result is never treated as
 * approved: anything but an explicit "clear" needs a human (Onfido's "unidentified" report
 * results surface as a "consider" or missing check result).
 *
 * `completedAt` comes from Onfido's check.completed webhook (its check resource carries no
 * completion time): null until that event has been applied (mergeKycChecks).
 */
export const NOT_STARTED: KycVerificationModel = {
  status: 'NOT_STARTED',
  startedAt: null,
  completedAt: null,
  checks: [],
};

/** The opaque id of a provider check: stable, unguessable, and not the provider's id. */
export function kycCheckId(idSecret: string, provider: string, providerCheckId: string): string {
  return derivedId('kyc', idSecret, provider, providerCheckId);
}

export function overallKycStatus(latest: Pick<ProviderKycCheck, 'status' | 'result'> | undefined): KycStatus {
  if (!latest) return 'NOT_STARTED';
  switch (latest.status) {
    case 'IN_PROGRESS':
    case 'PAUSED':
    case 'REOPENED':
      return 'IN_PROGRESS';
    case 'AWAITING_APPLICANT':
      return 'AWAITING_APPLICANT';
    case 'COMPLETE':
      return latest.result === 'CLEAR' ? 'APPROVED' : 'REVIEW_REQUIRED';
    case 'WITHDRAWN':
      return 'WITHDRAWN';
  }
}

export function summariseKyc(
  checks: readonly ProviderKycCheck[],
  idSecret: string,
  provider = 'onfido',
): KycVerificationModel {
  const newestFirst = [...checks].sort(
    (a, b) =>
      b.createdAt.getTime() - a.createdAt.getTime() ||
      (a.providerCheckId < b.providerCheckId ? 1 : a.providerCheckId > b.providerCheckId ? -1 : 0),
  );
  const models: KycCheckModel[] = newestFirst.map((c) => ({
    id: kycCheckId(idSecret, provider, c.providerCheckId),
    providerCheckId: c.providerCheckId,
    status: c.status,
    result: c.result,
    createdAt: c.createdAt,
  }));
  const latest = newestFirst[0];
  return {
    status: overallKycStatus(latest),
    startedAt: latest?.createdAt ?? null,
    completedAt: latest?.status === 'COMPLETE' ? (latest.completedAt ?? null) : null,
    checks: models,
  };
}

/** Lifecycle states a check leaves for good once it completes or is withdrawn (REOPENED comes after COMPLETE). */
const BEFORE_DECISION = new Set<KycCheckStatus>(['IN_PROGRESS', 'AWAITING_APPLICANT', 'PAUSED']);
const DECIDED = new Set<KycCheckStatus>(['COMPLETE', 'WITHDRAWN']);

/**
 * The provider's checks as read now, merged with what its webhooks told the platform (the
 * kyc_checks records): a check the webhooks say is complete or withdrawn is never shown as still
 * running because a read lags behind the event; a check the read does not list yet is added; the
 * completion time comes from the webhook. Otherwise the live read wins: it is the provider's
 * current state (a check reopened after completion, for instance).
 */
export function mergeKycChecks(
  live: readonly ProviderKycCheck[],
  records: readonly ProviderKycCheck[],
): ProviderKycCheck[] {
  const byId = new Map(records.map((r) => [r.providerCheckId.toLowerCase(), r]));
  const merged = live.map((check) => {
    const record = byId.get(check.providerCheckId.toLowerCase());
    if (!record) return check;
    byId.delete(check.providerCheckId.toLowerCase());
    const behind = BEFORE_DECISION.has(check.status) && DECIDED.has(record.status);
    const chosen = behind ? { ...check, status: record.status, result: record.result } : check;
    return { ...chosen, completedAt: chosen.status === 'COMPLETE' ? (record.completedAt ?? null) : null };
  });
  return [...merged, ...byId.values()];
}
