import { maskIdentifier } from './domain/creditor.ts';
import type { Resolvers } from './generated/resolvers-types.ts';

/**
 * Thin resolvers over the request's payments service (context.service), which owns the
 * ownership rules, pagination and status logic.
 */
export const resolvers: Resolvers = {
  Query: {
    payment: (_parent, { id }, ctx) => ctx.service.payment(id),
    paymentReconciliation: (_parent, { date }, ctx) => ctx.service.paymentReconciliation(String(date)),
    paymentWebhookEvents: (_parent, args, ctx) => ctx.service.paymentWebhookEvents(args),
  },
  Mutation: {
    initiatePayment: (_parent, { input }, ctx) => ctx.service.initiatePayment(input),
    cancelPayment: (_parent, { id, idempotencyKey }, ctx) => ctx.service.cancelPayment(id, idempotencyKey),
    replayPaymentWebhookEvents: (_parent, { input }, ctx) => ctx.service.replayPaymentWebhookEvents(input),
  },
  Customer: {
    __resolveReference: (ref, ctx) => ctx.service.customerReference(ref.id),
    payments: (customer, args, ctx) => ctx.service.customerPayments(customer, args),
  },
  Payment: {
    __resolveReference: (ref, ctx) => ctx.service.paymentReference(ref.id),
    debtorAccount: (payment, _args, ctx) => ctx.service.debtorAccount(payment),
    statusHistory: (payment, _args, ctx) => ctx.service.statusHistory(payment),
  },
  PaymentCreditor: {
    maskedIdentifier: (creditor) => maskIdentifier(creditor.identification),
    identification: (creditor) => ({ scheme: creditor.scheme, value: creditor.identification }),
  },
};
