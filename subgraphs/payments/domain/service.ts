import { isId } from '../../../lib/ids.ts';
import { toConnection, type Connection } from '../../../lib/pagination.ts';
import { consentedAccountsFor, type Principal } from '../../../lib/principal.ts';
import type { AccountRef, CustomerRef, PaymentModel, PaymentStatusChangeModel } from './model.ts';
import { cursorOf, paymentPageRequest, type PaymentsArgs } from './pagination.ts';
import { clientError, ErrorCode } from '../../../lib/errors.ts';
import type { InitiatePaymentInput, PaymentInitiation } from './initiation.ts';
import type { ReconciliationReport } from './reconciliation.ts';
import type { PaymentsLoaders, PaymentsRepository } from './ports.ts';

/**
 * The payments use cases for one request, bound to its principal.
 *
 * Ownership is decided here and only here (docs/architecture.md): loaders and the repository read
 * by id and decide nothing. A customer principal sees only its own payments. Someone else's payment id, a
 * non-existent one and junk all give the same null (by id and by entity reference); someone
 * else's customer gives an empty connection, so nothing reveals whether an id exists. A principal without a customer id
 * (staff, machines) sees nothing for now; the gateway's authorization work adds staff access.
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
}

export interface PaymentsServiceDeps {
  principal: Principal | null;
  loaders: PaymentsLoaders;
  repository: PaymentsRepository;
  initiation: PaymentInitiation;
  /** The day's reconciliation (server.ts binds it to the ledger and the bank's settlement report). */
  reconcile: (date: string) => Promise<ReconciliationReport>;
}

const EMPTY: Connection<never> = { edges: [], pageInfo: { hasNextPage: false, endCursor: null } };

export function createPaymentsService({
  principal,
  loaders,
  repository,
  initiation,
  reconcile,
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
  };
}
