import type { BaseSubgraphContext } from '../../lib/subgraph-server.ts';
import type {
  CustomerRepository,
  IdentityLoaders,
  KycCheckStore,
  KycProvider,
  KycWebhookInbox,
} from './domain/ports.ts';
import { createIdentityService, type IdentityService } from './domain/service.ts';
import { createIdentityLoaders } from './loaders.ts';
import { withLastKnownValues, type LastKnownValuesOptions } from './partners/last-known-values.ts';

/**
 * Per-request context of the identity subgraph, the same shape in every subgraph: the base
 * (principal, request id, logger), the request's DataLoaders and the domain service bound to the
 * principal. Resolvers call only `service`.
 */
export interface IdentityContext extends BaseSubgraphContext {
  loaders: IdentityLoaders;
  service: IdentityService;
  /** When this request reads the profile (RFC 3339): the `profileAsOf` of what it answers live. */
  readAt: string;
}

/** What the context is made from: the long-lived ports (server.ts builds them once). */
export interface IdentityPorts {
  repository: CustomerRepository;
  kyc: KycProvider;
  /** What Onfido's webhooks recorded (kyc_checks); absent when the webhooks are off. */
  kycRecords?: KycCheckStore;
  /** ID_HASH_SECRET: key of the derived kyc_ ids. */
  idSecret: string;
  /** The webhook inbox, for the operators' list and replay (lib/webhooks webhookInboxPort). */
  webhookInbox: KycWebhookInbox;
  /** The KYC provider's last known values (FALLBACK_CACHE); null: while Onfido is down its fields are unavailable. */
  lastKnown: LastKnownValuesOptions | null;
  /** The subgraph's clock (readAt). */
  now: () => Date;
}

export function createIdentityContext(base: BaseSubgraphContext, ports: IdentityPorts): IdentityContext {
  // The KYC provider of this request keeps and recalls last known values under its principal.
  const kyc = ports.lastKnown ? withLastKnownValues(ports.kyc, base.principal, ports.lastKnown) : ports.kyc;
  const loaders = createIdentityLoaders({
    customers: ports.repository,
    kyc,
    ...(ports.kycRecords ? { kycRecords: ports.kycRecords } : {}),
  });
  return {
    ...base,
    loaders,
    service: createIdentityService({
      principal: base.principal,
      loaders,
      idSecret: ports.idSecret,
      webhookInbox: ports.webhookInbox,
    }),
    readAt: ports.now().toISOString(),
  };
}
