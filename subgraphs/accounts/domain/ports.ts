import type {
  BalanceModel,
  BankAccount,
  BankConnection,
  BankTransaction,
  InstitutionModel,
  LastKnown,
} from './model.ts';

/**
 * The ports of the accounts domain: the repository (storage/repository.ts implements it) and the
 * bank port (partners/<bank>/client.ts implement it). The domain depends only on these.
 */

/**
 * The storage port of the accounts domain (implemented in storage/repository.ts). References are
 * kept per owner (the same bank account may be connected by two customers) and read by id: every
 * row carries its customer id, and whether the caller may use it is the service's decision
 * (domain/service.ts), not the repository's.
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
  /** Every owner's reference of these account ids. */
  accountRefs(accountIds: readonly string[]): Promise<AccountRef[]>;
  upsertTransactionRefs(refs: readonly TransactionRef[]): Promise<void>;
  /** Every owner's reference of these transaction ids. */
  transactionRefs(transactionIds: readonly string[]): Promise<TransactionRef[]>;
  /**
   * Known reversals or chargebacks of the given transactions, as recorded while reading the named
   * customer's transactions (a query within a customer, like connectionsOfCustomers): original id
   * -> reversal id.
   */
  reversalsOf(customerId: string, transactionIds: readonly string[]): Promise<Map<string, string>>;
  ping(): Promise<boolean>;
}

/**
 * The port every bank adapter implements (partners/<bank>/). The domain depends only on this;
 * adding a bank means writing an adapter and registering it in server.ts, nothing else.
 *
 * Adapters call the bank with the connection's credentials, validate every payload against
 * the bank's published contract and map it into the canonical shapes. They throw
 * PartnerError(institution, 'unavailable' | 'contract', ...) and nothing else for partner
 * problems.
 */
export interface BankAdapter {
  readonly institution: InstitutionModel;

  /** Every account the connection's consent covers. */
  listAccounts(connection: BankConnection): Promise<BankAccount[]>;

  /** Balances of some of the connection's accounts, keyed by bankAccountRef. */
  getBalances(connection: BankConnection, bankAccountRefs: readonly string[]): Promise<Map<string, BalanceModel[]>>;

  /**
   * One partner page of an account's transactions booked (or, when pending, expected) between
   * two calendar dates inclusive, as the bank interprets them; a null `toDate` means up to the
   * newest entry. `pageToken` is the `next` of the previous page (opaque to the domain). The order of
   * transactions within and across pages is whatever the bank chooses.
   */
  listTransactions(
    connection: BankConnection,
    bankAccountRef: string,
    query: BankTransactionQuery,
    pageToken: string | null,
  ): Promise<BankTransactionPage>;
}

export interface BankTransactionQuery {
  fromDate: string;
  toDate: string | null;
  /** Which entries to ask for; banks that cannot filter by status return both and the domain filters. */
  bookingStatus: 'booked' | 'pending' | 'both';
}

export interface BankTransactionPage extends LastKnown {
  transactions: BankTransaction[];
  /** Token of the next page, or null on the last page. */
  next: string | null;
  /** The earliest date the bank holds transactions for, when it says (lets the domain stop walking back). */
  earliestAvailable: string | null;
}

/** The adapters of every bank the platform can reach, keyed by institution id. */
export type BankAdapterRegistry = ReadonlyMap<string, BankAdapter>;

interface Loader<K, V> {
  load(key: K): Promise<V>;
}

/**
 * Per-request batched reads of the repository (loaders.ts implements them with DataLoader): one
 * query per kind and tick however many fields ask, by id or by customer, deciding nothing.
 */
export interface AccountsLoaders {
  /** The bank connections of a customer. */
  connections: Loader<string, BankConnection[]>;
  /** Every owner's reference of an account id. */
  accountRefs: Loader<string, AccountRef[]>;
  /** Every owner's reference of a transaction id. */
  transactionRefs: Loader<string, TransactionRef[]>;
}
