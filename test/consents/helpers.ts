import { newId } from '../../lib/ids.ts';
import { createLogger } from '../../lib/logger.ts';
import type { Principal } from '../../lib/principal.ts';
import { migrations } from '../../subgraphs/consents/storage/migrations.ts';
import { seedClients } from '../../subgraphs/consents/storage/seed.ts';
import { SANDBOX_SEED } from '../support/seed.ts';
import { principalOf } from '../support/customers.ts';
import { openTestDatabase as openDatabase, type Backend, type TestDatabase } from '../support/database.ts';

export { ALICE, BEN } from '../support/customers.ts';
export { BACKENDS, DATABASE_URL, type TestDatabase } from '../support/database.ts';

export const silentLogger = createLogger('consents-test', 'silent');

/**
 * A migrated consents database with the sandbox client registry. On PostgreSQL each call gets
 * its own schema (consents_test_<random>), so parallel runs never collide; dispose() drops it.
 */
export const openTestDatabase = (kind: Backend, opts: { poolSize?: number } = {}): Promise<TestDatabase> =>
  openDatabase(kind, { schema: 'consents', migrations, ...opts, setup: (db) => seedClients(db, SANDBOX_SEED) });

export const T0 = new Date('2026-11-23T10:00:00.000Z');
export const at = (msFromT0: number) => new Date(T0.getTime() + msFromT0);
export const SECOND = 1000;
export const DAY = 24 * 60 * 60 * 1000;

export const principal = {
  /** The customer through the platform's web app. */
  firstParty: (customerId: string, clientId = 'web-app'): Principal =>
    principalOf(customerId, ['consents:read', 'consents:write'], clientId),
  /** A third-party client acting for the customer. */
  thirdParty: (customerId: string, clientId = 'budgetly'): Principal =>
    principalOf(customerId, ['consents:read', 'consents:write'], clientId),
  staff: (): Principal => principalOf(null, ['consents:read'], 'ops-console'),
};

export const accountId = () => newId('acc');
