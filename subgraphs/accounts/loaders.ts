import DataLoader from 'dataloader';
import type { Logger } from '../../lib/logger.ts';
import type { Connection } from '../../lib/pagination.ts';
import { loadBalances, loadCustomersAccounts, type CustomerAccounts } from './domain/accounts.ts';
import type { AccountsLoaders } from './domain/service.ts';
import type { AccountModel, BalanceModel, BankConnection, TransactionModel } from './domain/model.ts';
import type { AccountsRepository, BankAdapterRegistry } from './domain/ports.ts';
import { findTransactions, transactionsPage, type TransactionPageRequest } from './domain/transactions.ts';

/** Long-lived dependencies of the loaders (one set per process): the ports and what the domain functions need. */
export interface AccountsPorts {
  adapters: BankAdapterRegistry;
  repo: AccountsRepository;
  idSecret: string;
  now: () => Date;
  logger: Logger;
}

/**
 * DataLoaders created per request: they batch lookups of the same kind made by different
 * resolvers (all accounts of a customer, balances of many accounts, transactions by id) and
 * dedupe partner calls within the request. They read what `customerId` (the principal's customer)
 * holds; whether the caller may see it is the service's decision (domain/service.ts), which does
 * not call them for a principal without a customer.
 */
export function createAccountsLoaders(services: AccountsPorts, customerId: string | null): AccountsLoaders {
  const deps = { ...services };

  const connections = new DataLoader<string, BankConnection[]>(async (customerIds) => {
    const all = await services.repo.connectionsOfCustomers(customerIds);
    return customerIds.map((id) => all.filter((c) => c.customerId === id));
  });

  const customerAccounts = new DataLoader<string, CustomerAccounts>(async (customerIds) => {
    const result = await loadCustomersAccounts(deps, customerIds);
    return customerIds.map((id) => result.get(id)!);
  });

  const accountById = new DataLoader<string, AccountModel | null>(async (ids) => {
    if (customerId === null) return ids.map(() => null);
    // The principal's accounts come from their banks (listing them also records the id
    // references); only accounts in that list can be returned, so ownership holds by
    // construction. The reference table adds what the banks cannot say right now: that an
    // id is the principal's account at a bank that is down.
    const [refs, { accounts, errors }] = await Promise.all([
      services.repo.accountRefs(customerId, ids),
      customerAccounts.load(customerId),
    ]);
    return ids.map((id) => {
      const account = accounts.find((a) => a.id === id);
      if (account) return account;
      const ref = refs.find((r) => r.accountId === id);
      if (!ref) return null;
      // Known account at a bank that cannot be reached now: say so instead of pretending it does not exist.
      const error = errors.get(ref.institution);
      if (error) return error;
      return null;
    });
  });

  const balances = new DataLoader<AccountModel, BalanceModel[], string>((accounts) => loadBalances(deps, accounts), {
    cacheKeyFn: (a) => a.id,
  });

  const transactionsPageLoader = new DataLoader<
    { account: AccountModel; request: TransactionPageRequest },
    Connection<TransactionModel>,
    string
  >(
    async (keys) =>
      Promise.all(
        keys.map(async ({ account, request }) => {
          try {
            const adapter = services.adapters.get(account.institution.id);
            const connection = (await connections.load(account.customerId)).find((c) => c.id === account.connectionId);
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
    const refs = await services.repo.transactionRefs(customerId, ids);
    if (refs.length === 0) return ids.map(() => null);
    const customerConnections = await connections.load(customerId);
    const found = await findTransactions(
      deps,
      (institution) => services.adapters.get(institution),
      (institution) => customerConnections.find((c) => c.institution === institution),
      refs,
    );
    return ids.map((id) => found.get(id) ?? null);
  });

  return {
    customerAccounts,
    accountById,
    balances,
    transactionsPage: transactionsPageLoader,
    transactionById,
  };
}
