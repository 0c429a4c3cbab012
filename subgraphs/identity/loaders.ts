import DataLoader from 'dataloader';
import type { CustomerModel, KycReportModel, ProviderKycCheck, VerifiedIdentity } from './domain/model.ts';
import type { CustomerRepository, IdentityLoaders, KycCheckStore, KycProvider } from './domain/ports.ts';

/**
 * DataLoaders for one request: customers are fetched in one query per tick; Onfido has no
 * batch endpoints, so its loaders only deduplicate (one call per applicant or check per
 * request, however many fields and entities ask). A failing key fails only its own fields.
 */
function perKey<K, V>(fn: (key: K) => Promise<V>): DataLoader<K, V> {
  return new DataLoader<K, V>(async (keys) => {
    const settled = await Promise.allSettled(keys.map(fn));
    return settled.map((s) =>
      s.status === 'fulfilled' ? s.value : s.reason instanceof Error ? s.reason : new Error(String(s.reason)),
    );
  });
}

export function createIdentityLoaders(deps: {
  customers: CustomerRepository;
  kyc: KycProvider;
  /** The webhooks' records (kyc_checks); absent when the webhooks are off. */
  kycRecords?: KycCheckStore;
}): IdentityLoaders {
  const records = deps.kycRecords;
  return {
    // One query per tick for every applicant the request asks about.
    ...(records
      ? {
          kycRecords: new DataLoader<string, ProviderKycCheck[]>(async (applicantIds) => {
            const rows = await records.findByApplicants(applicantIds);
            return applicantIds.map((id) => rows.filter((r) => r.applicantId === id.toLowerCase()));
          }),
        }
      : {}),
    customers: new DataLoader<string, CustomerModel | null>(async (ids) => {
      const rows = await deps.customers.findByIds(ids);
      const byId = new Map(rows.map((r) => [r.id, r]));
      return ids.map((id) => byId.get(id) ?? null);
    }),
    applicants: perKey<string, VerifiedIdentity | null>((id) => deps.kyc.getApplicant(id)),
    checks: perKey<string, ProviderKycCheck[]>((id) => deps.kyc.listChecks(id)),
    reports: perKey<string, KycReportModel[]>((id) => deps.kyc.listReports(id)),
  };
}
