import { isId } from '../../../lib/ids.ts';
import { toConnection, type Connection } from '../../../lib/pagination.ts';
import { consentedAccountsFor, type Principal } from '../../../lib/principal.ts';
import type { AccountRef, CustomerRef, PaymentModel, PaymentStatusChangeModel } from './model.ts';
import { cursorOf, paymentPageRequest, type PaymentsArgs } from './pagination.ts';
import { clientError, ErrorCode } from '../../../lib/errors.ts';
import type { InitiatePaymentInput, PaymentInitiation } from './initiation.ts';
import type { ReconciliationReport } from './reconciliation.ts';
import type { PaymentsLoaders, PaymentsRepository, PaymentWebhookInbox } from './ports.ts';
import {
  replayWebhookEvents,
  requireWebhookOperator,
  webhookEventConnection,
  webhookEventsQuery,
  webhookEventView,
  type WebhookEventsArgs,
  type WebhookReplayArgs,
  type WebhookReplayView,
} from '../../../lib/webhooks/index.ts';
import type { PaymentWebhookEventModel } from './model.ts';

/**
 * The payments use cases for one request, bound to its principal.
 *
 * Ownership is decided here and only here (docs/architecture.md): loaders and the repository read
 * by id and decide nothing. A customer principal sees only its own payments. Someone else's payment id, a
 * non-existent one and junk all give the same null (by id and by entity reference); someone
 * else's customer gives an empty connection, so nothing reveals whether an id exists. A principal without a customer id
 * (staff, machines) sees no payment; operators reach only the operator use cases (reconciliation with audit:read, the
 * webhook inbox with webhooks:read / webhooks:replay).
 *
 * Consent: a third-party client sees only payments debiting an account its consent covers for
 * PAYMENTS_INITIATION (principal.consentedAccounts, signed by the gateway). The filter runs in
 * the ledger query itself, so pages stay full and cursors never point at hidden payments.
 */
export interface PaymentsService {
  payment(id: string): Promise<PaymentModel | null>;
  paymentReference(id: string): Promise<PaymentModel | null>;
  /**
   * Payments only extends Customer with `payments`, so a reference is just its key; ownership is
   * enforced where data is read (customerPayments gives others an empty connection). Returning
   * the key for any id keeps the gateway's merge of identity's answer intact.
   */
  customerReference(id: string): CustomerRef;
  customerPayments(customer: CustomerRef, args: PaymentsArgs): Promise<Connection<PaymentModel>>;
  statusHistory(payment: PaymentModel): Promise<PaymentStatusChangeModel[]>;
  debtorAccount(payment: PaymentModel): AccountRef;
  /** Mutation.initiatePayment (domain/initiation.ts). */
  initiatePayment(input: InitiatePaymentInput): Promise<PaymentModel>;
  /** Mutation.cancelPayment (domain/initiation.ts). */
  cancelPayment(id: string, idempotencyKey: string | null | undefined): Promise<PaymentModel>;
  /** Query.paymentReconciliation: operators only (no customer, audit:read), domain/reconciliation.ts. */
  paymentReconciliation(date: string): Promise<ReconciliationReport>;
  /**
   * Query.paymentWebhookEvents: operators only (no customer, webhooks:read). A page of the inbox
   * (lib/webhooks/operations.ts), each event with the payment it is about.
   */
  paymentWebhookEvents(args: WebhookEventsArgs): Promise<Connection<PaymentWebhookEventModel>>;
  /** Mutation.replayPaymentWebhookEvents: operators only (no customer, webhooks:replay). */
  replayPaymentWebhookEvents(input: WebhookReplayArgs): Promise<WebhookReplayView>;
}

export interface PaymentsServiceDeps {
  principal: Principal | null;
  loaders: PaymentsLoaders;
  repository: PaymentsRepository;
  initiation: PaymentInitiation;
  /** The day's reconciliation (server.ts binds it to the ledger and the bank's settlement report). */
  reconcile: (date: string) => Promise<ReconciliationReport>;
  /** The webhook inbox (Northwind's events), for the operators' list and replay. */
  webhookInbox: PaymentWebhookInbox;
}

const EMPTY: Connection<never> = { edges: [], pageInfo: { hasNextPage: false, endCursor: null } };

export function createPaymentsService({
  principal,
  loaders,
  repository,
  initiation,
  reconcile,
  webhookInbox,
}: PaymentsServiceDeps): PaymentsService {
  const customerId = principal?.customerId ?? null;
  const isOwnCustomer = (id: string) => customerId !== null && isId(id, 'cus') && id === customerId;
  const consentedDebtors = consentedAccountsFor(principal, 'PAYMENTS_INITIATION');
  const visible = (p: PaymentModel | null) =>
    p && p.customerId === customerId && (consentedDebtors === null || consentedDebtors.includes(p.debtorAccountId))
      ? p
      : null;
  const payment = async (id: string) =>
    customerId !== null && isId(id, 'pay') ? visible(await loaders.paymentById.load(id)) : null;
  return {
    payment,
    paymentReference: payment,
    customerReference: (id) => ({ id }),
    async customerPayments(customer, args) {
      // Arguments are validated for everyone, so a bad cursor is reported the same way whoever asks.
      const { first, query } = paymentPageRequest(customer.id, args);
      if (!isOwnCustomer(customer.id)) return EMPTY;
      if (query.statuses?.length === 0 || consentedDebtors?.length === 0) return EMPTY;
      return toConnection(await repository.list({ ...query, debtorAccountIds: consentedDebtors }), first, cursorOf);
    },
    statusHistory: (p) => loaders.statusHistory.load(p.id),
    debtorAccount: (p) => ({ __typename: 'Account', id: p.debtorAccountId }),
    initiatePayment: (input) => initiation.initiate(principal, input),
    cancelPayment: (id, key) => initiation.cancel(principal, id, key),
    async paymentReconciliation(date) {
      // The gateway lets only staff with audit:read here; decided again where the data is.
      if (!principal || principal.customerId !== null || !principal.scopes.includes('audit:read'))
        throw clientError(ErrorCode.FORBIDDEN, 'Reconciliation is for operators');
      return reconcile(date);
    },
    async paymentWebhookEvents(args) {
      // The gateway lets only operators with webhooks:read here; decided again where the data is.
      requireWebhookOperator(principal, 'webhooks:read');
      const { first, filter } = webhookEventsQuery(args);
      const events = await webhookInbox.list(filter);
      const aggregates = events.slice(0, first).flatMap((e) => (e.aggregateId === null ? [] : [e.aggregateId]));
      const paymentIds = await webhookInbox.paymentIdsOf(aggregates);
      return webhookEventConnection(events, first, (e) => ({
        ...webhookEventView(e),
        paymentId: (e.aggregateId !== null && paymentIds.get(e.aggregateId)) || null,
      }));
    },
    async replayPaymentWebhookEvents(input) {
      requireWebhookOperator(principal, 'webhooks:replay');
      return replayWebhookEvents(webhookInbox, input);
    },
  };
}
