import type { GraphQLResolveInfo } from 'graphql';
import { pageSize } from '../../lib/pagination.ts';
import { markedAnswer, markStale, oldestLastKnown, responsePath } from '../../lib/resilience.ts';
import type { AccountModel } from './domain/model.ts';
import type { Resolvers } from './generated/resolvers-types.ts';

/**
 * Thin resolvers over the request's accounts service (context.service), which decides ownership:
 * an id that is malformed, unknown or someone else's resolves to null (or [] for lists), never to
 * an error that would reveal it exists.
 */
export const resolvers: Resolvers = {
  Query: {
    account: (_parent, { id }, ctx, info) => markedAnswer(ctx.service.account(id), info, institutionOf),
    transaction: (_parent, { id }, ctx, info) => markedAnswer(ctx.service.transaction(id), info, (t) => t.institution),
  },
  Customer: {
    __resolveReference: (ref) => ({ id: ref.id }),
    accounts: (customer, _args, ctx, info) => markedEach(ctx.service.customerAccounts(customer.id), info),
    unavailableInstitutions: (customer, _args, ctx) => ctx.service.unavailableInstitutions(customer.id),
  },
  Account: {
    __resolveReference: (ref, ctx, info) => markedAnswer(ctx.service.account(ref.id), info, institutionOf),
    holder: (account) => ({ id: account.customerId }),
    balances: (account, _args, ctx, info) =>
      markedAnswer(ctx.service.balances(account), info, account.institution.id, oldestLastKnown),
    currentBalance: (account, _args, ctx, info) =>
      markedAnswer(ctx.service.currentBalance(account), info, account.institution.id),
    transactions: async (account, { first, after, filter }, ctx, info) => {
      const page = await markedAnswer(
        ctx.service.transactions(account, { first: pageSize(first), after: after ?? null, filter: filter ?? null }),
        info,
        account.institution.id,
      );
      return { ...page, asOf: page.lastKnownAt ?? ctx.readAt };
    },
    // Read during this request, or when the bank's last known value served now was read; a last
    // good answer served by the gateway (accounts subgraph down) keeps the time it was read too.
    asOf: (account, _args, ctx) => account.lastKnownAt ?? ctx.readAt,
  },
  Transaction: {
    __resolveReference: (ref, ctx, info) => markedAnswer(ctx.service.transaction(ref.id), info, (t) => t.institution),
    account: (transaction, _args, ctx, info) => markedAnswer(ctx.service.accountOf(transaction), info, institutionOf),
    reverses: (transaction, _args, ctx, info) =>
      transaction.reversesId
        ? markedAnswer(ctx.service.transaction(transaction.reversesId), info, (t) => t.institution)
        : null,
    reversedBy: (transaction, _args, ctx, info) =>
      transaction.reversedById
        ? markedAnswer(ctx.service.transaction(transaction.reversedById), info, (t) => t.institution)
        : null,
  },
};

/** A list of accounts, each marked at its own index. */
async function markedEach(answer: Promise<AccountModel[]>, info: GraphQLResolveInfo): Promise<AccountModel[]> {
  const accounts = await answer;
  const path = responsePath(info.path);
  accounts.forEach((a, i) => {
    if (a.lastKnownAt) markStale({ path: `${path}.${i}`, source: a.institution.id, asOf: a.lastKnownAt });
  });
  return accounts;
}

const institutionOf = (account: AccountModel) => account.institution.id;
