import { maskIdentifier } from './domain/creditor.ts';
import type { Resolvers } from './generated/resolvers-types.ts';

/**
 * Thin resolvers over the request's payments service (context.payments), which owns the
 * ownership rules, pagination and status logic.
 */
export const resolvers: Resolvers = {
  Query: {
    payment: (_parent, { id }, ctx) => ctx.payments.payment(id),
  },
  Customer: {
    __resolveReference: (ref, ctx) => ctx.payments.customerReference(ref.id),
    payments: (customer, args, ctx) => ctx.payments.customerPayments(customer, args),
  },
  Payment: {
    __resolveReference: (ref, ctx) => ctx.payments.paymentReference(ref.id),
    debtorAccount: (payment, _args, ctx) => ctx.payments.debtorAccount(payment),
    statusHistory: (payment, _args, ctx) => ctx.payments.statusHistory(payment),
  },
  PaymentCreditor: {
    maskedIdentifier: (creditor) => maskIdentifier(creditor.identification),
    identification: (creditor) => ({ scheme: creditor.scheme, value: creditor.identification }),
  },
};
