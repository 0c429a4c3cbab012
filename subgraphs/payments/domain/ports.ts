import type { PaymentListQuery, PaymentModel, PaymentStatusChangeModel } from './model.ts';

export interface Loader<K, V> {
  load(key: K): Promise<V>;
}

/** Per-request lookups, batched and deduplicated; both are already scoped to the request's customer. */
export interface PaymentsLoaders {
  /** The principal's payment by id; null when absent or someone else's. */
  paymentById: Loader<string, PaymentModel | null>;
  /** A payment's status history, oldest first. */
  statusHistory: Loader<string, PaymentStatusChangeModel[]>;
}

/** The payments ledger. */
export interface PaymentsRepository {
  /** Payments by id, only those of customerId. */
  findByIds(customerId: string, ids: readonly string[]): Promise<PaymentModel[]>;
  /** One page of a customer's payments, newest first by created_at then id. */
  list(query: PaymentListQuery): Promise<PaymentModel[]>;
  /** Status histories of payments, oldest first each. */
  historyOf(paymentIds: readonly string[]): Promise<Map<string, PaymentStatusChangeModel[]>>;
}
