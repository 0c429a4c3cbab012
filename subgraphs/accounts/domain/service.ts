import DataLoader from 'dataloader';
import { isId } from '../../../lib/ids.ts';
import type { Logger } from '../../../lib/logger.ts';
import type { Connection } from '../../../lib/pagination.ts';
import type { Principal } from '../../../lib/principal.ts';
import { chooseCurrentBalance, loadBalances, loadCustomersAccounts, type CustomerAccounts } from './accounts.ts';
import type { AccountModel, BalanceModel, InstitutionModel, LastKnown, TransactionModel } from './model.ts';
import type { AccountsLoaders, AccountsRepository, BankAdapterRegistry } from './ports.ts';
import {
  findTransactions,
  transactionsPage,
  type TransactionFilterInput,
  type TransactionPageRequest,
} from './transactions.ts';

/**
 * The accounts use cases for one request, bound to its principal.
 *
 * Ownership is decided here and only here (docs/architecture.md): a customer principal sees its
 * own accounts and transactions; an id that is malformed, unknown or someone else's resolves to
 * null (or [] for lists), never to an error that would reveal it exists, and a principal without
 * a customer (staff, machines) sees nothing. The loaders and the repository read references by
 * id, whoever they belong to; the service keeps only the principal's customer's.
 *
 * Call direction (docs/architecture.md): resolvers -> this service -> the domain rules
 * (accounts.ts, transactions.ts) -> the ports (repository, banks, and the request's loaders).
 * The use cases' own reads are batched and deduplicated here with DataLoader, per request: a
 * customer's accounts once however many fields ask, balances one bank call per connection, a
 * transaction page once per account and arguments, transactions by id one bank walk per account.
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
  ): Promise<Connection<TransactionModel> & LastKnown>;
  /** The account of a transaction already read (so the principal's); it must still be reachable. */
  accountOf(transaction: TransactionModel): Promise<AccountModel>;
}

/** What one request's service is made of: its principal, its loaders, and the long-lived ports. */
export interface AccountsServiceDeps {
  principal: Principal | null;
  loaders: AccountsLoaders;
  adapters: BankAdapterRegistry;
  repo: AccountsRepository;
  /** ID_HASH_SECRET: key of the derived account and transaction ids. */
  idSecret: string;
  now: () => Date;
  logger: Logger;
}

export function createAccountsService(deps: AccountsServiceDeps): AccountsService {
  const { principal, loaders, adapters } = deps;
  const customerId = principal?.customerId ?? null;
  const own = <T extends { customerId: string }>(object: T | null): T | null =>
    object && customerId !== null && object.customerId === customerId ? object : null;
  const isOwnCustomer = (id: string) => customerId !== null && id === customerId;

  const customerAccounts = new DataLoader<string, CustomerAccounts>(async (customerIds) => {
    const result = await loadCustomersAccounts(deps, customerIds);
    return customerIds.map((id) => result.get(id)!);
  });

  /** An account of the principal's customer; null for anyone else's, unknown or junk ids. */
  const accountById = async (id: string): Promise<AccountModel | null> => {
    if (customerId === null) return null;
    // The principal's accounts come from their banks (listing them also records the id
    // references); only accounts in that list can be returned, so ownership holds by
    // construction. The principal's reference adds what the banks cannot say right now: that an
    // id is the principal's account at a bank that is down.
    const [refs, { accounts, errors }] = await Promise.all([
      loaders.accountRefs.load(id),
      customerAccounts.load(customerId),
    ]);
    const account = accounts.find((a) => a.id === id);
    if (account) return account;
    const ref = refs.find((r) => r.customerId === customerId);
    if (!ref) return null;
    // Known account at a bank that cannot be reached now: say so instead of pretending it does not exist.
    const error = errors.get(ref.institution);
    if (error) throw error;
    return null;
  };

  const balances = new DataLoader<AccountModel, BalanceModel[], string>((accounts) => loadBalances(deps, accounts), {
    cacheKeyFn: (a) => a.id,
  });

  const pages = new DataLoader<
    { account: AccountModel; request: TransactionPageRequest },
    Connection<TransactionModel> & LastKnown,
    string
  >(
    async (keys) =>
      Promise.all(
        keys.map(async ({ account, request }) => {
          try {
            const adapter = adapters.get(account.institution.id);
            const connection = (await loaders.connections.load(account.customerId)).find(
              (c) => c.id === account.connectionId,
            );
            if (!adapter || !connection) throw new Error(`no bank connection for account ${account.id}`);
            const page = await transactionsPage(
              deps,
              adapter,
              connection,
              {
                id: account.id,
                customerId: account.customerId,
                institution: account.institution.id,
                bankAccountRef: account.bankAccountRef,
              },
              request,
            );
            for (const edge of page.edges) transactionById.prime(edge.node.id, edge.node);
            return page;
          } catch (err) {
            return err as Error;
          }
        }),
      ),
    {
      cacheKeyFn: ({ account, request }) =>
        JSON.stringify([account.id, request.first, request.after ?? null, request.filter ?? null]),
    },
  );

  const transactionById: DataLoader<string, TransactionModel | null> = new DataLoader(async (ids) => {
    if (customerId === null) return ids.map(() => null);
    const refs = (await Promise.all(ids.map((id) => loaders.transactionRefs.load(id))))
      .flat()
      .filter((r) => r.customerId === customerId);
    if (refs.length === 0) return ids.map(() => null);
    const customerConnections = await loaders.connections.load(customerId);
    const found = await findTransactions(
      deps,
      (institution) => adapters.get(institution),
      (institution) => customerConnections.find((c) => c.institution === institution),
      refs,
    );
    return ids.map((id) => found.get(id) ?? null);
  });

  return {
    account: async (id) =>
      customerId !== null && typeof id === 'string' && isId(id, 'acc') ? own(await accountById(id)) : null,
    transaction: async (id) =>
      customerId !== null && typeof id === 'string' && isId(id, 'txn') ? own(await transactionById.load(id)) : null,
    customerAccounts: async (id) => (isOwnCustomer(id) ? (await customerAccounts.load(id)).accounts : []),
    unavailableInstitutions: async (id) => (isOwnCustomer(id) ? (await customerAccounts.load(id)).unavailable : []),
    balances: (account) => balances.load(account),
    currentBalance: async (account) => chooseCurrentBalance(await balances.load(account)),
    transactions: (account, request) => pages.load({ account, request }),
    async accountOf(transaction) {
      const account = own(await accountById(transaction.accountId));
      if (!account)
        throw new Error(`account ${transaction.accountId} of transaction ${transaction.id} is no longer reachable`);
      return account;
    },
  };
}
