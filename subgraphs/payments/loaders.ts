import DataLoader from 'dataloader';
import type { PaymentModel, PaymentStatusChangeModel } from './domain/model.ts';
import type { PaymentsLoaders, PaymentsRepository } from './domain/ports.ts';

/**
 * DataLoaders for one request: payments by id (entity references, Query.payment) in one query per
 * tick, and the status histories of all payments on a page in one query. Created per request, so
 * nothing is shared between callers; the service decides what the caller may see of what they read.
 */
export function createPaymentsLoaders(repository: PaymentsRepository): PaymentsLoaders {
  return {
    paymentById: new DataLoader<string, PaymentModel | null>(async (ids) => {
      const byId = new Map((await repository.findByIds(ids)).map((r) => [r.id, r]));
      return ids.map((id) => byId.get(id) ?? null);
    }),
    statusHistory: new DataLoader<string, PaymentStatusChangeModel[]>(async (ids) => {
      const histories = await repository.historyOf(ids);
      return ids.map((id) => histories.get(id) ?? []);
    }),
  };
}
