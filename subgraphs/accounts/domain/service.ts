import { isId } from '../../../lib/ids.ts';
import type { Connection } from '../../../lib/pagination.ts';
import type { Principal } from '../../../lib/principal.ts';
import { chooseCurrentBalance, type CustomerAccounts } from './accounts.ts';
import type { AccountModel, BalanceModel, InstitutionModel, TransactionModel } from './model.ts';
import type { TransactionFilterInput, TransactionPageRequest } from './transactions.ts';

interface Loader<K, V> {
  load(key: K): Promise<V>;
}

/**
 * Per-request lookups the service needs (loaders.ts implements them with DataLoader): batched and
 * deduplicated, reading what the principal's customer holds at the banks and in the reference table.
 */
export interface AccountsLoaders {
  /** All accounts of a customer (plus which banks could not be read). */
  customerAccounts: Loader<string, CustomerAccounts>;
  /** An account of the principal's customer by canonical id; null when unknown. */
  accountById: Loader<string, AccountModel | null>;
  balances: Loader<AccountModel, BalanceModel[]>;
  transactionsPage: Loader<{ account: AccountModel; request: TransactionPageRequest }, Connection<TransactionModel>>;
  /** A transaction of the principal's customer by canonical id; null when unknown. */
  transactionById: Loader<string, TransactionModel | null>;
}

/**
 * The accounts use cases for one request, bound to its principal.
 *
 * Ownership is decided here and only here (docs/architecture.md): a customer principal sees its
 * own accounts and transactions; an id that is malformed, unknown or someone else's resolves to
 * null (or [] for lists), never to an error that would reveal it exists, and a principal without
 * a customer (staff, machines) sees nothing. The loaders only fetch (from the banks and the
 * reference table) what the principal's customer holds, batched per request.
 */
export interface AccountsService {
  account(id: string): Promise<AccountModel | null>;
  transaction(id: string): Promise<TransactionModel | null>;
  customerAccounts(customerId: string): Promise<AccountModel[]>;
  unavailableInstitutions(customerId: string): Promise<InstitutionModel[]>;
  balances(account: AccountModel): Promise<BalanceModel[]>;
  currentBalance(account: AccountModel): Promise<BalanceModel | null>;
  transactions(
    account: AccountModel,
    request: { first: number; after: string | null; filter: TransactionFilterInput | null },
  ): Promise<Connection<TransactionModel>>;
  /** The account of a transaction already read (so the principal's); it must still be reachable. */
  accountOf(transaction: TransactionModel): Promise<AccountModel>;
}

export function createAccountsService(principal: Principal | null, loaders: AccountsLoaders): AccountsService {
  const customerId = principal?.customerId ?? null;
  const own = <T extends { customerId: string }>(object: T | null): T | null =>
    object && customerId !== null && object.customerId === customerId ? object : null;
  const isOwnCustomer = (id: string) => customerId !== null && id === customerId;
  return {
    account: async (id) =>
      customerId !== null && typeof id === 'string' && isId(id, 'acc') ? own(await loaders.accountById.load(id)) : null,
    transaction: async (id) =>
      customerId !== null && typeof id === 'string' && isId(id, 'txn')
        ? own(await loaders.transactionById.load(id))
        : null,
    customerAccounts: async (id) => (isOwnCustomer(id) ? (await loaders.customerAccounts.load(id)).accounts : []),
    unavailableInstitutions: async (id) =>
      isOwnCustomer(id) ? (await loaders.customerAccounts.load(id)).unavailable : [],
    balances: (account) => loaders.balances.load(account),
    currentBalance: async (account) => chooseCurrentBalance(await loaders.balances.load(account)),
    transactions: (account, request) => loaders.transactionsPage.load({ account, request }),
    async accountOf(transaction) {
      const account = own(await loaders.accountById.load(transaction.accountId));
      if (!account)
        throw new Error(`account ${transaction.accountId} of transaction ${transaction.id} is no longer reachable`);
      return account;
    },
  };
}
