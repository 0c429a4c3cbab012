import { isId } from '../../../lib/ids.ts';
import type { Connection } from '../../../lib/pagination.ts';
import type { Principal } from '../../../lib/principal.ts';
import {
  replayWebhookEvents,
  requireWebhookOperator,
  webhookEventConnection,
  webhookEventsQuery,
  webhookEventView,
  type InboxEvent,
  type WebhookEventsArgs,
  type WebhookReplayArgs,
  type WebhookReplayView,
} from '../../../lib/webhooks/index.ts';
import { kycCheckId, mergeKycChecks, NOT_STARTED, summariseKyc } from './kyc.ts';
import type {
  CustomerModel,
  KycCheckModel,
  KycReportModel,
  KycVerificationModel,
  KycWebhookEventModel,
  VerifiedIdentity,
} from './model.ts';
import type { IdentityLoaders, KycWebhookInbox } from './ports.ts';
import { olderReadTime, oldestLastKnown } from '../../../lib/resilience.ts';

/**
 * The identity use cases for one request, bound to its principal.
 *
 * Ownership is decided here and only here (docs/architecture.md): loaders, storage and the
 * Onfido client read by id and decide nothing. A customer principal sees only its own customer.
 * Any other id - someone else's, a non-existent one, or junk - gives the same null, so the API
 * never reveals whether an id exists. A principal without a customer id (staff, machines) sees
 * no customer; operators reach only the webhook inbox (webhooks:read / webhooks:replay).
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
  /**
   * Customer.profileAsOf, before the request's own read time: the oldest read time of the parts of
   * this customer's profile named by `parts` that are last known values (served while the KYC
   * provider is down); undefined when all of them are live. The customer's own row is always read
   * live. Reads through the request's loaders, so it asks the provider nothing the fields do not ask;
   * a part that failed is not answered, so it does not count.
   */
  profileLastKnownAt(customer: CustomerModel, parts: ProfileParts): Promise<string | undefined>;
  /**
   * Query.kycWebhookEvents: operators only (no customer, webhooks:read). A page of the inbox
   * (lib/webhooks/operations.ts), each event with the KYC check it is about.
   */
  kycWebhookEvents(args: WebhookEventsArgs): Promise<Connection<KycWebhookEventModel>>;
  /** Mutation.replayKycWebhookEvents: operators only (no customer, webhooks:replay). */
  replayKycWebhookEvents(input: WebhookReplayArgs): Promise<WebhookReplayView>;
}

/** Which of the profile's provider-backed parts a response answers (what Customer.profileAsOf covers). */
export interface ProfileParts {
  /** legalName, dateOfBirth or address. */
  verifiedIdentity: boolean;
  kyc: boolean;
  /** The reports of kyc's checks. */
  kycReports: boolean;
}

export interface IdentityServiceDeps {
  principal: Principal | null;
  loaders: IdentityLoaders;
  /** ID_HASH_SECRET: key of the derived kyc_ ids. */
  idSecret: string;
  /** The webhook inbox (Onfido's events), for the operators' list and replay. */
  webhookInbox: KycWebhookInbox;
}

/**
 * The check an inbox event is about, by the platform's id: the webhook adapter names a check's
 * events `check:<provider check id>` (partners/onfido/webhooks.ts), and the kyc_ id is derived from
 * it as for the checks `kyc` shows, so an operator can match the two. Report events: null.
 */
function checkIdOf(event: InboxEvent, idSecret: string): string | null {
  const providerCheckId = event.aggregateId?.startsWith('check:') ? event.aggregateId.slice('check:'.length) : null;
  return providerCheckId ? kycCheckId(idSecret, event.source, providerCheckId) : null;
}

/** The value, or undefined when it failed: the field that asked for it reports the failure. */
const answered = <T>(value: Promise<T>): Promise<T | undefined> => value.catch(() => undefined);

export function createIdentityService({
  principal,
  loaders,
  idSecret,
  webhookInbox,
}: IdentityServiceDeps): IdentityService {
  const own = async (id: string): Promise<CustomerModel | null> => {
    const customerId = principal?.customerId;
    if (!customerId || !isId(id, 'cus') || id !== customerId) return null;
    return loaders.customers.load(id);
  };
  const verifiedIdentity = async (customer: CustomerModel): Promise<VerifiedIdentity | null> =>
    customer.kycApplicantId ? loaders.applicants.load(customer.kycApplicantId) : null;
  const kyc = async (customer: CustomerModel): Promise<KycVerificationModel> => {
    if (!customer.kycApplicantId) return NOT_STARTED;
    // What the webhooks recorded is merged with the live read, so a result shows as soon as its event is applied.
    const [live, recorded] = await Promise.all([
      loaders.checks.load(customer.kycApplicantId),
      loaders.kycRecords?.load(customer.kycApplicantId) ?? [],
    ]);
    const summary = summariseKyc(mergeKycChecks(live, recorded), idSecret);
    // The provider's checks may be its last known ones (the webhooks' records are the platform's own, read now).
    const lastKnownAt = oldestLastKnown(live);
    return lastKnownAt ? { ...summary, lastKnownAt } : summary;
  };
  const reports = (check: KycCheckModel): Promise<KycReportModel[]> => loaders.reports.load(check.providerCheckId);
  return {
    me: async () => (principal?.customerId ? own(principal.customerId) : null),
    customer: own,
    customerReference: own,
    verifiedIdentity,
    kyc,
    reports,
    async profileLastKnownAt(customer, parts) {
      if (!customer.kycApplicantId) return undefined;
      const [identity, summary] = await Promise.all([
        parts.verifiedIdentity ? answered(verifiedIdentity(customer)) : undefined,
        parts.kyc || parts.kycReports ? answered(kyc(customer)) : undefined,
      ]);
      let at = olderReadTime(identity?.lastKnownAt ?? undefined, parts.kyc ? summary?.lastKnownAt : undefined);
      if (parts.kycReports && summary) {
        const lists = await Promise.all(summary.checks.map((check) => answered(reports(check))));
        at = olderReadTime(at, oldestLastKnown(lists.flatMap((list) => list ?? [])));
      }
      return at;
    },
    async kycWebhookEvents(args) {
      // The gateway lets only operators with webhooks:read here; decided again where the data is.
      requireWebhookOperator(principal, 'webhooks:read');
      const { first, filter } = webhookEventsQuery(args);
      const events = await webhookInbox.list(filter);
      return webhookEventConnection(events, first, (e) => ({
        ...webhookEventView(e),
        checkId: checkIdOf(e, idSecret),
      }));
    },
    async replayKycWebhookEvents(input) {
      requireWebhookOperator(principal, 'webhooks:replay');
      return replayWebhookEvents(webhookInbox, input);
    },
  };
}
