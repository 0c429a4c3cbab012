import type { BankConnection } from '../../subgraphs/accounts/domain/model.ts';
import type { AccountRef, AccountsRepository, TransactionRef } from '../../subgraphs/accounts/domain/ports.ts';

/** In-memory AccountsRepository for domain tests (the SQL one is tested in storage.test.ts). */
export function createMemoryRepo(
  connections: BankConnection[] = [],
): AccountsRepository & { transactionRefsAll: TransactionRef[] } {
  const accountRefs: AccountRef[] = [];
  const transactionRefsAll: TransactionRef[] = [];
  return {
    transactionRefsAll,
    async connectionsOfCustomers(ids) {
      return connections.filter((c) => ids.includes(c.customerId));
    },
    async upsertConnection(c) {
      const conn = { ...c, id: c.id ?? `conn-${connections.length}` };
      connections.push(conn);
      return conn;
    },
    async upsertAccountRefs(refs) {
      for (const r of refs)
        if (!accountRefs.some((a) => a.accountId === r.accountId && a.customerId === r.customerId)) accountRefs.push(r);
    },
    async accountRefs(ids) {
      return accountRefs.filter((r) => ids.includes(r.accountId));
    },
    async upsertTransactionRefs(refs) {
      for (const r of refs) {
        const i = transactionRefsAll.findIndex(
          (t) => t.transactionId === r.transactionId && t.customerId === r.customerId,
        );
        if (i >= 0)
          transactionRefsAll[i] = {
            ...r,
            reversesTransactionId: r.reversesTransactionId ?? transactionRefsAll[i]!.reversesTransactionId,
          };
        else transactionRefsAll.push(r);
      }
    },
    async transactionRefs(ids) {
      return transactionRefsAll.filter((r) => ids.includes(r.transactionId));
    },
    async reversalsOf(customerId, ids) {
      const m = new Map<string, string>();
      for (const r of transactionRefsAll)
        if (r.customerId === customerId && r.reversesTransactionId && ids.includes(r.reversesTransactionId))
          m.set(r.reversesTransactionId, r.transactionId);
      return m;
    },
    async ping() {
      return true;
    },
  };
}
