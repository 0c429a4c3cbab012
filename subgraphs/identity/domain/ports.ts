import type { WebhookInboxPort } from '../../../lib/webhooks/index.ts';
import type { CustomerModel, KycReportModel, ProviderKycCheck, VerifiedIdentity } from './model.ts';

/**
 * What the identity domain needs from the outside world. The server wires these to the
 * per-request DataLoaders (loaders.ts), which in turn call storage/ and partners/onfido/.
 */
export interface Loader<K, V> {
  load(key: K): Promise<V>;
}

/** Per-request lookups, batched and deduplicated. */
export interface IdentityLoaders {
  /** Customers by id from the platform's own table; null when absent. */
  customers: Loader<string, CustomerModel | null>;
  /** The provider's verified identity of an applicant; null when the provider does not know the applicant. */
  applicants: Loader<string, VerifiedIdentity | null>;
  /** The provider's checks of an applicant, in any order. */
  checks: Loader<string, ProviderKycCheck[]>;
  /** The reports of one provider check. */
  reports: Loader<string, KycReportModel[]>;
  /**
   * What the provider's webhooks said about an applicant's checks (kyc_checks), by applicant id; absent when the
   * webhooks are not wired.
   */
  kycRecords?: Loader<string, ProviderKycCheck[]>;
}

/** The customers table. */
export interface CustomerRepository {
  findByIds(ids: readonly string[]): Promise<CustomerModel[]>;
}

/** A provider check as the webhook path records it: the check and the applicant it belongs to. */
export interface KycCheckRecord extends ProviderKycCheck {
  applicantId: string;
}

/**
 * The platform's record of the provider's checks, written by the webhook worker inside its
 * transaction. `record` never moves a check backwards: it applies only a state newer (`at`) than
 * the one it holds, and says whether it did.
 */
export interface KycCheckStore {
  record(check: KycCheckRecord, at: Date, eventId: string): Promise<'applied' | 'stale'>;
  findByApplicants(applicantIds: readonly string[]): Promise<KycCheckRecord[]>;
}

/** One provider check by its id (what a webhook's href points to); null when the provider does not know it. */
export interface KycCheckLookup {
  getCheck(providerCheckId: string): Promise<KycCheckRecord | null>;
}

/** The KYC provider (Onfido), already speaking the canonical model. */
export interface KycProvider {
  getApplicant(applicantId: string): Promise<VerifiedIdentity | null>;
  listChecks(applicantId: string): Promise<ProviderKycCheck[]>;
  listReports(providerCheckId: string): Promise<KycReportModel[]>;
}

/** The subgraph's webhook inbox (lib/webhooks: Onfido's events), as the operators' use cases list and replay it. */
export type KycWebhookInbox = WebhookInboxPort;
