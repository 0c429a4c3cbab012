import { randomBytes } from 'node:crypto';
import { openDatabase, type Database } from '../../lib/database.ts';
import { newId } from '../../lib/ids.ts';
import { createLogger } from '../../lib/logger.ts';
import type { Principal } from '../../lib/principal.ts';
import { consentsMigrations } from '../../subgraphs/consents/storage/migrations.ts';
import { seedSandboxClients } from '../../subgraphs/consents/storage/seed.ts';

/** Real PostgreSQL for storage and concurrency tests, when the environment provides it. */
export const DATABASE_URL = process.env.DATABASE_URL;

export const silentLogger = createLogger('consents-test', 'silent');

/** Storage back ends to run the storage tests against: PGlite always, PostgreSQL when DATABASE_URL is set. */
export const BACKENDS: ('pglite' | 'postgres')[] = DATABASE_URL ? ['pglite', 'postgres'] : ['pglite'];

export interface TestDatabase {
  db: Database;
  schema: string;
  /** Drops the run's schema (PostgreSQL) and closes the database. */
  dispose(): Promise<void>;
}

/**
 * A migrated consents database with the sandbox client registry. On PostgreSQL each call gets
 * its own schema (consents_test_<random>), so parallel runs never collide; dispose() drops it.
 */
export async function openTestDatabase(kind: 'pglite' | 'postgres', opts: { poolSize?: number } = {}): Promise<TestDatabase> {
  const schema = kind === 'postgres' ? `consents_test_${randomBytes(6).toString('hex')}` : 'consents';
  if (kind === 'postgres' && !DATABASE_URL) throw new Error('DATABASE_URL is not set');
  const db = await openDatabase({
    schema,
    databaseUrl: kind === 'postgres' ? DATABASE_URL : undefined,
    pgliteDir: 'memory://',
    migrations: consentsMigrations,
    logger: silentLogger,
    ...(opts.poolSize ? { poolSize: opts.poolSize } : {}),
  });
  await seedSandboxClients(db);
  return {
    db,
    schema,
    async dispose() {
      try {
        if (kind === 'postgres') await db.exec(`DROP SCHEMA ${schema} CASCADE`);
      } finally {
        await db.close();
      }
    },
  };
}

export const T0 = new Date('2026-11-23T10:00:00.000Z');
export const at = (msFromT0: number) => new Date(T0.getTime() + msFromT0);
export const SECOND = 1000;
export const DAY = 24 * 60 * 60 * 1000;

export const ALICE = 'cus_u57fz5zj7ojayz6np3d6x6kon4';
export const BEN = 'cus_dlmblpad2mvahd62midhwuwg7j';

export const principal = {
  /** The customer through the platform's web app. */
  firstParty: (customerId: string, clientId = 'web-app'): Principal => ({ customerId, clientId, scopes: ['consents:read', 'consents:write'] }),
  /** A third-party client acting for the customer. */
  thirdParty: (customerId: string, clientId = 'budgetly'): Principal => ({ customerId, clientId, scopes: ['consents:read', 'consents:write'] }),
  staff: (): Principal => ({ customerId: null, clientId: 'ops-console', scopes: ['consents:read'] }),
};

export const accountId = () => newId('acc');
