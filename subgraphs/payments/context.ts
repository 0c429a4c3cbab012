import type { BaseSubgraphContext } from '../../lib/subgraph-server.ts';
import type { PaymentInitiation } from './domain/initiation.ts';
import type { ReconciliationReport } from './domain/reconciliation.ts';
import type { PaymentsLoaders, PaymentsRepository, PaymentWebhookInbox } from './domain/ports.ts';
import { createPaymentsService, type PaymentsService } from './domain/service.ts';
import { createPaymentsLoaders } from './loaders.ts';

/**
 * Per-request context of the payments subgraph, the same shape in every subgraph: the base
 * (principal, request id, logger), the request's DataLoaders and the domain service bound to the
 * principal. Resolvers call only `service`.
 */
export interface PaymentsContext extends BaseSubgraphContext {
  loaders: PaymentsLoaders;
  service: PaymentsService;
}

/** What the context is made from: the long-lived ports (server.ts builds them once). */
export interface PaymentsPorts {
  repository: PaymentsRepository;
  /** Initiation, cancellation and following payments through the bank (domain/initiation.ts). */
  initiation: PaymentInitiation;
  /** The day's reconciliation with the bank's settlement report (domain/reconciliation.ts). */
  reconcile: (date: string) => Promise<ReconciliationReport>;
  /** The webhook inbox, for the operators' list and replay (storage/repository.ts createPaymentWebhookInbox). */
  webhookInbox: PaymentWebhookInbox;
}

export function createPaymentsContext(base: BaseSubgraphContext, ports: PaymentsPorts): PaymentsContext {
  const loaders = createPaymentsLoaders(ports.repository);
  return {
    ...base,
    loaders,
    service: createPaymentsService({
      principal: base.principal,
      loaders,
      repository: ports.repository,
      initiation: ports.initiation,
      reconcile: ports.reconcile,
      webhookInbox: ports.webhookInbox,
    }),
  };
}
