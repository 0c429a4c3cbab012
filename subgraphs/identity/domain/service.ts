import { isId } from '../../../lib/ids.ts';
import type { Principal } from '../../../lib/principal.ts';
import { mergeKycChecks, NOT_STARTED, summariseKyc } from './kyc.ts';
import type { CustomerModel, KycCheckModel, KycReportModel, KycVerificationModel, VerifiedIdentity } from './model.ts';
import type { IdentityLoaders } from './ports.ts';

/**
 * The identity use cases for one request, bound to its principal.
 *
 * Ownership is decided here and only here (docs/architecture.md): loaders, storage and the
 * Onfido client read by id and decide nothing. A customer principal sees only its own customer.
 * Any other id - someone else's, a non-existent one, or junk - gives the same null, so the API
 * never reveals whether an id exists. A principal without a customer id (staff, machines) sees
 * no customer for now; the gateway's authorization work will add staff access.
 */
export interface IdentityService {
  me(): Promise<CustomerModel | null>;
  customer(id: string): Promise<CustomerModel | null>;
  /** Federation entity reference: the same rule as customer(id). */
  customerReference(id: string): Promise<CustomerModel | null>;
  /** The KYC-verified identity of a customer (legal name, date of birth, address); null without KYC data. */
  verifiedIdentity(customer: CustomerModel): Promise<VerifiedIdentity | null>;
  kyc(customer: CustomerModel): Promise<KycVerificationModel>;
  reports(check: KycCheckModel): Promise<KycReportModel[]>;
}

export interface IdentityServiceDeps {
  principal: Principal | null;
  loaders: IdentityLoaders;
  /** ID_HASH_SECRET: key of the derived kyc_ ids. */
  idSecret: string;
}

export function createIdentityService({ principal, loaders, idSecret }: IdentityServiceDeps): IdentityService {
  const own = async (id: string): Promise<CustomerModel | null> => {
    const customerId = principal?.customerId;
    if (!customerId || !isId(id, 'cus') || id !== customerId) return null;
    return loaders.customers.load(id);
  };
  return {
    me: async () => (principal?.customerId ? own(principal.customerId) : null),
    customer: own,
    customerReference: own,
    verifiedIdentity: async (customer) =>
      customer.kycApplicantId ? loaders.applicants.load(customer.kycApplicantId) : null,
    kyc: async (customer) => {
      if (!customer.kycApplicantId) return NOT_STARTED;
      // What the webhooks recorded is merged with the live read, so a result shows as soon as its event is applied.
      const [live, recorded] = await Promise.all([
        loaders.checks.load(customer.kycApplicantId),
        loaders.kycRecords?.load(customer.kycApplicantId) ?? [],
      ]);
      return summariseKyc(mergeKycChecks(live, recorded), idSecret);
    },
    reports: (check) => loaders.reports.load(check.providerCheckId),
  };
}
