import type { PaymentListQuery, PaymentModel, PaymentStatusChangeModel } from './model.ts';

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
