import type { BaseSubgraphContext } from '../../lib/subgraph-server.ts';
import type { PaymentsService } from './domain/payments-service.ts';

/** Per-request context of the payments subgraph: the principal-bound payments service (with its DataLoaders). */
export interface PaymentsContext extends BaseSubgraphContext {
  payments: PaymentsService;
}
