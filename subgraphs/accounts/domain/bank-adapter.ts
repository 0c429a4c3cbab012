import type { BalanceModel, BankAccount, BankConnection, BankTransaction, InstitutionModel } from './model.ts';

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

export interface BankTransactionPage {
  transactions: BankTransaction[];
  /** Token of the next page, or null on the last page. */
  next: string | null;
  /** The earliest date the bank holds transactions for, when it says (lets the domain stop walking back). */
  earliestAvailable: string | null;
}

/** The adapters of every bank the platform can reach, keyed by institution id. */
export type BankAdapterRegistry = ReadonlyMap<string, BankAdapter>;
