import DataLoader from 'dataloader';
import type { BankConnection } from './domain/model.ts';
import type { AccountRef, AccountsLoaders, AccountsRepository, TransactionRef } from './domain/ports.ts';

/**
 * Per-request DataLoaders over the repository: bank connections by customer and the id
 * references of accounts and transactions, each one query per batch however many fields and
 * entity references ask. They read by id (or by the customer a lookup names) and decide nothing:
 * whose row may be used is the service's decision (domain/service.ts). Created per request, so
 * nothing is cached across callers.
 */
function groupBy<T>(keys: readonly string[], items: readonly T[], key: (item: T) => string): T[][] {
  const groups = new Map<string, T[]>(keys.map((k) => [k, []]));
  for (const item of items) groups.get(key(item))?.push(item);
  return keys.map((k) => groups.get(k)!);
}

export function createAccountsLoaders(repo: AccountsRepository): AccountsLoaders {
  return {
    connections: new DataLoader<string, BankConnection[]>(async (customerIds) =>
      groupBy(customerIds, await repo.connectionsOfCustomers(customerIds), (c) => c.customerId),
    ),
    accountRefs: new DataLoader<string, AccountRef[]>(async (ids) =>
      groupBy(ids, await repo.accountRefs(ids), (r) => r.accountId),
    ),
    transactionRefs: new DataLoader<string, TransactionRef[]>(async (ids) =>
      groupBy(ids, await repo.transactionRefs(ids), (r) => r.transactionId),
    ),
  };
}
