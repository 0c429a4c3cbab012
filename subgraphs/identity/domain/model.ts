import type { LastKnown } from '../../../lib/resilience.ts';
import type { WebhookEventView } from '../../../lib/webhooks/index.ts';

/** `lastKnownAt`: set when a KYC provider value is its last known one (partners/last-known-values.ts). */
export type { LastKnown };

/**
 * The canonical identity model, as the resolvers return it. Nothing here knows about Onfido:
 * the partner adapter maps its payloads into these shapes (partners/onfido/mapping.ts).
 */

/** A customer as the platform stores it (identity's own table). */
export interface CustomerModel {
  id: string;
  displayName: string;
  email: string | null;
  phone: string | null;
  createdAt: Date;
  /** The KYC provider's applicant id; internal, never exposed. Null when KYC was never started. */
  kycApplicantId: string | null;
}

export interface PersonNameModel {
  givenName: string;
  familyName: string;
}

export interface PostalAddressModel {
  buildingNumber: string | null;
  street: string | null;
  town: string;
  postcode: string;
  /** ISO 3166-1 alpha-3. */
  country: string;
}

/** The identity the KYC provider verified: the source of legalName, dateOfBirth and address. */
export interface VerifiedIdentity extends LastKnown {
  legalName: PersonNameModel | null;
  /** ISO 8601 calendar date. */
  dateOfBirth: string | null;
  address: PostalAddressModel | null;
}

export type KycStatus =
  'NOT_STARTED' | 'IN_PROGRESS' | 'AWAITING_APPLICANT' | 'APPROVED' | 'REVIEW_REQUIRED' | 'WITHDRAWN';
export type KycCheckStatus = 'IN_PROGRESS' | 'AWAITING_APPLICANT' | 'PAUSED' | 'REOPENED' | 'COMPLETE' | 'WITHDRAWN';
export type KycResult = 'CLEAR' | 'CONSIDER' | 'UNIDENTIFIED';
export type KycReportKind = 'DOCUMENT' | 'FACIAL_SIMILARITY' | 'WATCHLIST' | 'IDENTITY' | 'PROOF_OF_ADDRESS' | 'OTHER';
export type KycReportStatus = 'AWAITING_DATA' | 'AWAITING_APPROVAL' | 'COMPLETE' | 'WITHDRAWN' | 'PAUSED' | 'CANCELLED';

/** A check as the KYC provider reports it, already in canonical terms but still keyed by the provider's id. */
export interface ProviderKycCheck extends LastKnown {
  /** The provider's check id; internal, used only to fetch the check's reports. */
  providerCheckId: string;
  status: KycCheckStatus;
  result: KycResult | null;
  createdAt: Date;
  /** When it completed: only Onfido's check.completed webhook says (its check resource has no such time). */
  completedAt?: Date | null;
}

/** A check as the API exposes it: an opaque kyc_ id derived from the provider id. */
export interface KycCheckModel {
  /** Opaque kyc_ id (lib/ids.ts derivedId), never the provider's id. */
  id: string;
  /** Internal: the provider's check id, for loading reports. Not in the schema. */
  providerCheckId: string;
  status: KycCheckStatus;
  result: KycResult | null;
  createdAt: Date;
}

export interface KycReportModel extends LastKnown {
  kind: KycReportKind;
  status: KycReportStatus;
  result: KycResult | null;
}

/** Carries `lastKnownAt` when the provider's checks behind it are its last known ones (the oldest read time). */
export interface KycVerificationModel extends LastKnown {
  status: KycStatus;
  startedAt: Date | null;
  completedAt: Date | null;
  /** Newest first. */
  checks: KycCheckModel[];
}

/** A webhook event of the inbox as operators see it (lib/webhooks/operations.ts), with the KYC check it is about. */
export interface KycWebhookEventModel extends WebhookEventView {
  /** The platform's check id (kyc_); null for events about something else (reports). */
  checkId: string | null;
}
