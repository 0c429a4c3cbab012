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
}

/** The customers table. */
export interface CustomerRepository {
  findByIds(ids: readonly string[]): Promise<CustomerModel[]>;
}

/** The KYC provider (Onfido), already speaking the canonical model. */
export interface KycProvider {
  getApplicant(applicantId: string): Promise<VerifiedIdentity | null>;
  listChecks(applicantId: string): Promise<ProviderKycCheck[]>;
  listReports(providerCheckId: string): Promise<KycReportModel[]>;
}
