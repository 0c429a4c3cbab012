import type { BankConnection } from './model.ts';

/**
 * The storage port of the accounts domain (implemented in storage/repository.ts). Every lookup is scoped by customer id, so a
 * reference that belongs to someone else is indistinguishable from one that does not exist.
 */
export interface AccountRef {
  accountId: string;
  customerId: string;
  institution: string;
  bankAccountRef: string;
}

export interface TransactionRef {
  transactionId: string;
  customerId: string;
  accountId: string;
  institution: string;
  bankAccountRef: string;
  bankTransactionRef: string;
  /** ISO date: where to look for the transaction at the bank. */
  occurredOn: string;
  reversesTransactionId: string | null;
}

export interface AccountsRepository {
  connectionsOfCustomers(customerIds: readonly string[]): Promise<BankConnection[]>;
  upsertConnection(connection: Omit<BankConnection, 'id'> & { id?: string }): Promise<BankConnection>;
  upsertAccountRefs(refs: readonly AccountRef[]): Promise<void>;
  accountRefs(customerId: string, accountIds: readonly string[]): Promise<AccountRef[]>;
  upsertTransactionRefs(refs: readonly TransactionRef[]): Promise<void>;
  transactionRefs(customerId: string, transactionIds: readonly string[]): Promise<TransactionRef[]>;
  /** Known reversals or chargebacks of the given transactions: original id -> reversal id. */
  reversalsOf(customerId: string, transactionIds: readonly string[]): Promise<Map<string, string>>;
  ping(): Promise<boolean>;
}
