import { createLogger } from '../../lib/logger.ts';
import type { Principal } from '../../lib/principal.ts';
import { migrations } from '../../subgraphs/payments/storage/migrations.ts';
import { principalOf } from '../support/customers.ts';
import { openTestDatabase as openDatabase, type Backend, type TestDatabase } from '../support/database.ts';
import { callSubgraph, type SubgraphCallOptions, type SubgraphResult } from '../support/subgraph-client.ts';

export { ALICE, BEN, CLARA } from '../support/customers.ts';
export { BACKENDS, type TestDatabase } from '../support/database.ts';
export { SANDBOX_SEED, SANDBOX_SEED_FILE } from '../support/seed.ts';

export const silentLogger = createLogger('payments-test', 'silent');

/** The clock the tests start the subgraph and the seed with. */
export const NOW = new Date('2026-11-23T12:00:00.000Z');

export const customerPrincipal = (customerId: string): Principal =>
  principalOf(customerId, ['payments:read', 'pii:read']);
export const machinePrincipal: Principal = principalOf(null, ['payments:read'], 'reconciler');

/** A migrated payments ledger; on PostgreSQL in its own schema (payments_test_<random>), dropped by dispose(). */
export const openTestDatabase = (kind: Backend): Promise<TestDatabase> =>
  openDatabase(kind, { schema: 'payments', migrations });

/** Calls the payments subgraph as the gateway would. */
export const graphql = (url: string, query: string, opts: SubgraphCallOptions = {}): Promise<SubgraphResult> =>
  callSubgraph(url, 'payments', query, opts);
