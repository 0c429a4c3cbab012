import DataLoader from 'dataloader';
import type { PaymentModel, PaymentStatusChangeModel } from './domain/model.ts';
import type { PaymentsLoaders, PaymentsRepository } from './domain/ports.ts';

/**
 * DataLoaders for one request: payments by id (entity references, Query.payment) in one query
 * per tick, scoped to the request's customer; status histories of all payments on a page in
 * one query.
 */
export function createPaymentsLoaders(repository: PaymentsRepository, customerId: string | null): PaymentsLoaders {
  return {
    paymentById: new DataLoader<string, PaymentModel | null>(async (ids) => {
      if (customerId === null) return ids.map(() => null);
      const rows = await repository.findByIds(customerId, ids);
      const byId = new Map(rows.map((r) => [r.id, r]));
      return ids.map((id) => byId.get(id) ?? null);
    }),
    statusHistory: new DataLoader<string, PaymentStatusChangeModel[]>(async (ids) => {
      const histories = await repository.historyOf(ids);
      return ids.map((id) => histories.get(id) ?? []);
    }),
  };
}
