import { isId } from '../../lib/ids.ts';
import { pageSize } from '../../lib/pagination.ts';
import { chooseCurrentBalance } from './domain/accounts.ts';
import type { Resolvers } from './generated/resolvers-types.ts';

/**
 * Thin resolvers: ownership and partner calls live in the per-request loaders (loaders.ts),
 * bound to the principal's customer. An id that is malformed, unknown or someone else's
 * resolves to null (or [] for lists), never to an error that would reveal it exists.
 */
export const resolvers: Resolvers = {
  Query: {
    account: (_parent, { id }, { loaders }) => (isId(id, 'acc') ? loaders.accountById.load(id) : null),
    transaction: (_parent, { id }, { loaders }) => (isId(id, 'txn') ? loaders.transactionById.load(id) : null),
  },

  Customer: {
    __resolveReference: (ref) => ({ id: ref.id }),
    accounts: async (customer, _args, { loaders }) => {
      if (loaders.customerId === null || customer.id !== loaders.customerId) return [];
      return (await loaders.customerAccounts.load(customer.id)).accounts;
    },
    unavailableInstitutions: async (customer, _args, { loaders }) => {
      if (loaders.customerId === null || customer.id !== loaders.customerId) return [];
      return (await loaders.customerAccounts.load(customer.id)).unavailable;
    },
  },

  Account: {
    __resolveReference: (ref, { loaders }) =>
      typeof ref.id === 'string' && isId(ref.id, 'acc') ? loaders.accountById.load(ref.id) : null,
    holder: (account) => ({ id: account.customerId }),
    balances: (account, _args, { loaders }) => loaders.balances.load(account),
    currentBalance: async (account, _args, { loaders }) => chooseCurrentBalance(await loaders.balances.load(account)),
    transactions: (account, { first, after, filter }, { loaders }) =>
      loaders.transactionsPage.load({
        account,
        request: { first: pageSize(first), after: after ?? null, filter: filter ?? null },
      }),
  },

  Transaction: {
    __resolveReference: (ref, { loaders }) =>
      typeof ref.id === 'string' && isId(ref.id, 'txn') ? loaders.transactionById.load(ref.id) : null,
    account: async (transaction, _args, { loaders }) => {
      const account = await loaders.accountById.load(transaction.accountId);
      if (!account)
        throw new Error(`account ${transaction.accountId} of transaction ${transaction.id} is no longer reachable`);
      return account;
    },
    reverses: (transaction, _args, { loaders }) =>
      transaction.reversesId ? loaders.transactionById.load(transaction.reversesId) : null,
    reversedBy: (transaction, _args, { loaders }) =>
      transaction.reversedById ? loaders.transactionById.load(transaction.reversedById) : null,
  },
};
