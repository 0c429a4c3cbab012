import type { Money } from '../../../lib/money.ts';
import type { WebhookInboxPort } from '../../../lib/webhooks/index.ts';
import type {
  CreditorModel,
  PaymentListQuery,
  PaymentModel,
  PaymentRequest,
  PaymentStatus,
  PaymentStatusChangeModel,
} from './model.ts';

export interface Loader<K, V> {
  load(key: K): Promise<V>;
}

/**
 * Per-request lookups, batched and deduplicated (loaders.ts). They read by id and decide nothing:
 * whether the caller may see what they return is the service's question (domain/service.ts).
 */
export interface PaymentsLoaders {
  /** A payment by id, whoever owns it; null when there is none. */
  paymentById: Loader<string, PaymentModel | null>;
  /** A payment's status history, oldest first. */
  statusHistory: Loader<string, PaymentStatusChangeModel[]>;
}

/** The payments ledger (storage/repository.ts implements it on PostgreSQL or PGlite; the domain never sees SQL). */
export interface PaymentsRepository {
  /** Payments by id, whoever owns them (the service checks ownership). */
  findByIds(ids: readonly string[]): Promise<PaymentModel[]>;
  /** One page of the customer's payments that query.customerId names, newest first by created_at then id. */
  list(query: PaymentListQuery): Promise<PaymentModel[]>;
  /** Status histories of payments, oldest first each. */
  historyOf(paymentIds: readonly string[]): Promise<Map<string, PaymentStatusChangeModel[]>>;
}

/**
 * The subgraph's webhook inbox (lib/webhooks: Northwind's events), as the operators' use cases list and replay it,
 * and which payment each event is about (storage/repository.ts on the ledger's partner columns).
 */
export interface PaymentWebhookInbox extends WebhookInboxPort {
  /**
   * The ledger's payment id for each event aggregate it knows (`payment:<bank payment id>`, `consent:<bank consent
   * id>`, as partners/northwind/webhooks.ts names them); aggregates of no payment are left out.
   */
  paymentIdsOf(aggregateIds: readonly string[]): Promise<Map<string, string>>;
}

/** A payment in the ledger with what initiation needs beyond the canonical model. */
export interface LedgerPayment extends PaymentModel {
  clientId: string | null;
  idempotencyKey: string | null;
  /** sha256 of the request the key was first used with. */
  requestHash: string | null;
  partnerConsentId: string | null;
  partnerPaymentId: string | null;
  /** The bank's own id of the debtor account. */
  partnerAccountId: string | null;
}

/** A new ledger entry for a payment being initiated, in CREATED. */
export interface NewInitiation {
  id: string;
  clientId: string;
  customerId: string;
  idempotencyKey: string;
  requestHash: string;
  request: PaymentRequest;
  partnerAccountId: string;
  at: Date;
}

/** A status change to record, only if the payment is still in `from` (compare-and-set). */
export interface StatusUpdate {
  id: string;
  from: readonly PaymentStatus[];
  to: PaymentStatus;
  at: Date;
  reason?: string | null;
  partnerConsentId?: string;
  partnerPaymentId?: string;
  authorisationUrl?: string | null;
  settledAt?: Date | null;
}

/** Writes of initiation and of the bank's status changes. */
export interface PaymentsLedger {
  /**
   * Records a new payment unless (client, customer, key) already names one: returns the payment
   * of that key, and whether this call created it. The unique constraint decides, so two replicas
   * (or a request that bypassed the gateway) cannot both create one.
   */
  createOrGet(entry: NewInitiation): Promise<{ payment: LedgerPayment; created: boolean }>;
  byId(id: string): Promise<LedgerPayment | null>;
  /** The payment of a consent at the bank. */
  byConsentId(consentId: string): Promise<LedgerPayment | null>;
  /**
   * Applies the change when the payment's status is one of `from`; returns the payment after (null when the status had
   * moved on).
   */
  transition(update: StatusUpdate): Promise<LedgerPayment | null>;
  /**
   * Payments whose outcome the bank has not told yet, neither changed nor polled since `before`,
   * those looked at longest ago first; the batch is stamped as polled at `now`, so the next round
   * takes the others first (round-robin: a backlog of stuck payments cannot starve newer ones).
   */
  open(before: Date, limit: number, now: Date): Promise<LedgerPayment[]>;
  /**
   * Payments the bank settled (settled_at) or rejected (with a bank payment id) in [start, end): reconciliation's
   * ledger side.
   */
  settledBetween(start: Date, end: Date): Promise<LedgerPayment[]>;
  byIds(ids: readonly string[]): Promise<LedgerPayment[]>;
  /** Payments by the bank's payment id. */
  byBankIds(bankIds: readonly string[]): Promise<LedgerPayment[]>;
}

/** Where a customer's debtor account is held, as the bank knows it. */
export interface DebtorAccount {
  /** The bank's id of the account. */
  bankAccountId: string;
  currency: string;
  /** The access token of the customer's connection at the bank (to read the account's identification). */
  accessToken: string;
}

/** The customer's accounts that can be debited (Northwind GBP accounts). */
export interface DebtorAccounts {
  /** The account `accountId` of `customerId`; null when it is not theirs or cannot pay (treated as nonexistent). */
  find(customerId: string, accountId: string): Promise<DebtorAccount | null>;
}

/** What the bank is asked to pay. */
export interface PaymentOrder {
  paymentId: string;
  amount: Money;
  creditor: CreditorModel;
  reference: string | null;
  debtor: DebtorAccount;
}

/** The bank's view of a submitted payment. */
export interface BankPayment {
  bankPaymentId: string;
  status: PaymentStatus;
  reason: string | null;
  at: Date;
  amount: Money;
}

/**
 * The bank's payment initiation (partners/northwind/client.ts). Every call carries an
 * x-idempotency-key derived from the payment id, so repeating a call (after a timeout, by another
 * replica, after a crash before the ledger commit) can only return what the first one created.
 * Throws PartnerError: 'unavailable' when the bank did not answer (the outcome is unknown),
 * 'contract' when it answered off-contract.
 */
export interface PaymentInitiationBank {
  createConsent(order: PaymentOrder): Promise<{ consentId: string; authorisationUrl: string }>;
  consentState(consentId: string): Promise<'awaiting' | 'authorised' | 'rejected' | 'consumed'>;
  /** Submits the payment of an authorised consent; the same order twice is the same payment. */
  submitPayment(order: PaymentOrder, consentId: string): Promise<BankPayment>;
  payment(bankPaymentId: string): Promise<BankPayment>;
}
