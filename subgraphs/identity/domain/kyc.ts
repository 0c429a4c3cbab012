import { derivedId } from '../../../lib/ids.ts';
import type { KycCheckModel, KycStatus, KycVerificationModel, ProviderKycCheck } from './model.ts';

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
 * `completedAt` stays null for now: Onfido's check resource carries no completion time (only
 * the check.completed webhook does, which arrives with the webhook issue).
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
  return { status: overallKycStatus(latest), startedAt: latest?.createdAt ?? null, completedAt: null, checks: models };
}
