import type { Money } from '../../../lib/money.ts';
import type { WebhookEventView } from '../../../lib/webhooks/index.ts';

/**
 * The canonical payments model, as the resolvers return it. The ledger's partner columns
 * (which bank, the bank's payment and consent ids) never enter this model, so they cannot leak
 * through the API.
 */
export const PAYMENT_STATUSES = [
  'CREATED',
  'AWAITING_AUTHORISATION',
  'AUTHORISED',
  'PENDING',
  'ACCEPTED',
  'SETTLED',
  'REJECTED',
  'FAILED',
  'CANCELLED',
  'REFUNDED',
  'UNKNOWN',
] as const;
export type PaymentStatus = (typeof PAYMENT_STATUSES)[number];

export const CREDITOR_SCHEMES = ['SORT_CODE_ACCOUNT_NUMBER', 'IBAN'] as const;
export type CreditorScheme = (typeof CREDITOR_SCHEMES)[number];

export interface CreditorModel {
  name: string;
  scheme: CreditorScheme;
  /** Full identification without separators. Personal data. */
  identification: string;
}

export interface PaymentModel {
  id: string;
  customerId: string;
  /** Canonical account id (lib/ids.ts bankAccountId), owned by the accounts subgraph. */
  debtorAccountId: string;
  amount: Money;
  creditor: CreditorModel;
  reference: string | null;
  status: PaymentStatus;
  statusReason: string | null;
  createdAt: Date;
  updatedAt: Date;
  settledAt: Date | null;
  /** The bank's strong customer authentication page; shown only while AWAITING_AUTHORISATION. */
  authorisationUrl: string | null;
  /** Internal: created_at at full database precision (microseconds, UTC), the keyset position. */
  createdAtKey: string;
}

/** A validated request to initiate a payment (domain/initiation.ts parses the GraphQL input into it). */
export interface PaymentRequest {
  debtorAccountId: string;
  creditor: CreditorModel;
  amount: Money;
  reference: string | null;
}

export interface PaymentStatusChangeModel {
  status: PaymentStatus;
  at: Date;
  reason: string | null;
}

/** Customer as payments knows it: only the key. */
export interface CustomerRef {
  id: string;
}

/** Account reference resolved by the accounts subgraph. */
export interface AccountRef {
  __typename: 'Account';
  id: string;
}

/** A keyset position in a customer's payments (newest first by created_at, then id). */
export interface PaymentPosition {
  /** created_at as "YYYY-MM-DDTHH:MM:SS.ffffffZ". */
  createdAt: string;
  id: string;
}

/** One page request against the ledger, already validated. */
export interface PaymentListQuery {
  customerId: string;
  /** Rows to fetch: the page size plus one (the extra one only signals hasNextPage). */
  limit: number;
  after: PaymentPosition | null;
  /** Inclusive lower bound of created_at. */
  createdFrom: Date | null;
  /** Exclusive upper bound of created_at. */
  createdBefore: Date | null;
  /** Null: any status. */
  statuses: PaymentStatus[] | null;
  /** Null: any debtor account; otherwise only payments debiting one of these (a third party's consented accounts). */
  debtorAccountIds?: string[] | null;
}

/** A webhook event of the inbox as operators see it (lib/webhooks/operations.ts), with the payment it is about. */
export interface PaymentWebhookEventModel extends WebhookEventView {
  /** The platform's payment id; null when the ledger knows no payment for the event. */
  paymentId: string | null;
}
