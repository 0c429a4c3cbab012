import { pageSize } from '../../lib/pagination.ts';
import type { Resolvers } from './generated/resolvers-types.ts';

/**
 * Thin resolvers over the request's accounts service (context.service), which decides ownership:
 * an id that is malformed, unknown or someone else's resolves to null (or [] for lists), never to
 * an error that would reveal it exists.
 */
export const resolvers: Resolvers = {
  Query: {
    account: (_parent, { id }, ctx) => ctx.service.account(id),
    transaction: (_parent, { id }, ctx) => ctx.service.transaction(id),
  },
  Customer: {
    __resolveReference: (ref) => ({ id: ref.id }),
    accounts: (customer, _args, ctx) => ctx.service.customerAccounts(customer.id),
    unavailableInstitutions: (customer, _args, ctx) => ctx.service.unavailableInstitutions(customer.id),
  },
  Account: {
    __resolveReference: (ref, ctx) => ctx.service.account(ref.id),
    holder: (account) => ({ id: account.customerId }),
    balances: (account, _args, ctx) => ctx.service.balances(account),
    currentBalance: (account, _args, ctx) => ctx.service.currentBalance(account),
    // The page read during this request (asOf: see below).
    transactions: async (account, { first, after, filter }, ctx) => ({
      ...(await ctx.service.transactions(account, {
        first: pageSize(first),
        after: after ?? null,
        filter: filter ?? null,
      })),
      asOf: ctx.readAt,
    }),
    // Read during this request; a last good answer served by the gateway keeps the time it was read.
    asOf: (_account, _args, ctx) => ctx.readAt,
  },
  Transaction: {
    __resolveReference: (ref, ctx) => ctx.service.transaction(ref.id),
    account: (transaction, _args, ctx) => ctx.service.accountOf(transaction),
    reverses: (transaction, _args, ctx) =>
      transaction.reversesId ? ctx.service.transaction(transaction.reversesId) : null,
    reversedBy: (transaction, _args, ctx) =>
      transaction.reversedById ? ctx.service.transaction(transaction.reversedById) : null,
  },
};
