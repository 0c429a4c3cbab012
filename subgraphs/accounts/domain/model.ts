import type { CreditDebit, Money } from '../../../lib/money.ts';
import type { LastKnown } from '../../../lib/resilience.ts';

/** `lastKnownAt`: set when a bank's value is its last known one (partners/last-known-values.ts). */
export type { LastKnown };

/**
 * The canonical model of the accounts subgraph. Adapters translate partner payloads into the
 * Bank* shapes below; the domain adds canonical ids and ownership and hands the *Model shapes
 * to the resolvers (codegen mappers, see codegen.config.ts). Nothing here knows a partner format.
 */
export type BankingStandard = 'OBIE' | 'BERLIN_GROUP';
export type AccountType = 'CURRENT' | 'SAVINGS' | 'CREDIT_CARD' | 'LOAN' | 'E_MONEY' | 'OTHER';
export type AccountStatus = 'ENABLED' | 'DISABLED' | 'CLOSED' | 'PENDING';
export type AccountIdentificationScheme = 'SORT_CODE_ACCOUNT_NUMBER' | 'IBAN' | 'MASKED_PAN' | 'OTHER';
export type BalanceType =
  | 'CLOSING_BOOKED'
  | 'OPENING_BOOKED'
  | 'INTERIM_BOOKED'
  | 'INTERIM_AVAILABLE'
  | 'EXPECTED'
  | 'FORWARD_AVAILABLE'
  | 'CLOSING_AVAILABLE'
  | 'OTHER';
export type TransactionStatus = 'PENDING' | 'BOOKED' | 'REVERSED';
export type TransactionKind = 'STANDARD' | 'REVERSAL' | 'CHARGEBACK';

export interface InstitutionModel {
  /** Stable institution id, e.g. "northwind"; also the key of the adapter registry and of bank connections. */
  id: string;
  name: string;
  standard: BankingStandard;
}

/** The platform's stored link to a customer's bank: the partner credentials of one consent. */
export interface BankConnection {
  id: string;
  customerId: string;
  institution: string;
  /** The PSU id at the bank (Berlin Group PSU-ID), when the bank uses one. */
  psuId: string | null;
  /** OBIE account-access-consent id / Berlin Group Consent-ID. */
  consentId: string;
  /** Bearer token bound to the consent. Secret: never logged. */
  accessToken: string;
}

export interface AccountIdentification {
  scheme: AccountIdentificationScheme;
  value: string;
}

/** An account as an adapter reports it, before canonical ids. */
export interface BankAccount extends LastKnown {
  /** The bank's own account id (OBIE AccountId, Berlin Group resourceId). Never shown to clients. */
  bankAccountRef: string;
  name: string | null;
  type: AccountType;
  status: AccountStatus;
  currency: string;
  identification: AccountIdentification | null;
}

export interface AccountModel extends BankAccount {
  /** Canonical id: lib/ids.ts bankAccountId(secret, institution.id, bankAccountRef). */
  id: string;
  customerId: string;
  institution: InstitutionModel;
  connectionId: string;
  maskedIdentifier: string;
}

export interface BalanceModel extends LastKnown {
  type: BalanceType;
  amount: Money;
  direction: CreditDebit;
  asOf: Date;
  includesCreditLine: boolean;
}

/** A transaction as an adapter reports it, before canonical ids and reversal links. */
export interface BankTransaction extends LastKnown {
  /** The bank's transaction id, stable from pending to booked. */
  bankTransactionRef: string;
  /** The bank reports only these two; REVERSED is derived from reversal links (domain/transactions.ts). */
  status: 'PENDING' | 'BOOKED';
  kind: TransactionKind;
  /** For a reversal or chargeback: the bank's id of the transaction it undoes, when the bank says. */
  reversesRef: string | null;
  amount: Money;
  direction: CreditDebit;
  /** Booking time once booked, transaction (or expected booking) time while pending; UTC instant. */
  occurredAt: Date;
  bookedAt: Date | null;
  /** ISO calendar date as the bank states it. */
  valueDate: string | null;
  description: string | null;
  counterpartyName: string | null;
}

export interface TransactionModel extends Omit<BankTransaction, 'status'> {
  /** Canonical id: lib/ids.ts bankTransactionId(secret, institution, bankAccountRef, bankTransactionRef). */
  id: string;
  status: TransactionStatus;
  accountId: string;
  customerId: string;
  institution: string;
  bankAccountRef: string;
  /** Canonical id of the transaction this reversal or chargeback undoes. */
  reversesId: string | null;
  /** Canonical id of the reversal or chargeback that undid this transaction. */
  reversedById: string | null;
}

/** The Customer entity as this subgraph knows it: only its key. */
export interface CustomerRef {
  id: string;
}
