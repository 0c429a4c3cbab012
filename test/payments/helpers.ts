import { randomBytes } from 'node:crypto';
import { DEV_INTERNAL_SECRET } from '../../lib/config.ts';
import { openDatabase, type Database } from '../../lib/database.ts';
import { INTERNAL_AUTH_HEADER, signInternalContext } from '../../lib/internal-auth.ts';
import { createLogger } from '../../lib/logger.ts';
import type { Principal } from '../../lib/principal.ts';
import { paymentsMigrations } from '../../subgraphs/payments/storage/migrations.ts';

export const silentLogger = createLogger('payments-test', 'silent');

export const ALICE = 'cus_u57fz5zj7ojayz6np3d6x6kon4';
export const BEN = 'cus_dlmblpad2mvahd62midhwuwg7j';
export const CLARA = 'cus_nhmbjwhl2n4f6c7hq5m2tv5mjg';

/** The clock the tests start the subgraph and the seed with. */
export const NOW = new Date('2026-11-23T12:00:00.000Z');

export const customerPrincipal = (customerId: string): Principal => ({ customerId, clientId: 'web-app', scopes: ['payments:read', 'pii:read'] });
export const machinePrincipal: Principal = { customerId: null, clientId: 'reconciler', scopes: ['payments:read'] };

export const DATABASE_URL = process.env.DATABASE_URL;
export const BACKENDS: ('pglite' | 'postgres')[] = DATABASE_URL ? ['pglite', 'postgres'] : ['pglite'];

export interface TestDatabase {
  db: Database;
  schema: string;
  dispose(): Promise<void>;
}

/** A migrated payments ledger; on PostgreSQL in its own schema (payments_test_<random>), dropped by dispose(). */
export async function openTestDatabase(kind: 'pglite' | 'postgres'): Promise<TestDatabase> {
  const schema = kind === 'postgres' ? `payments_test_${randomBytes(6).toString('hex')}` : 'payments';
  const db = await openDatabase({
    schema,
    databaseUrl: kind === 'postgres' ? DATABASE_URL : undefined,
    pgliteDir: 'memory://',
    migrations: paymentsMigrations,
    logger: silentLogger,
  });
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

export interface GraphQLResult {
  status: number;
  data?: Record<string, any> | null;
  errors?: { message: string; path?: (string | number)[]; extensions?: Record<string, unknown> }[];
}

export async function graphql(
  url: string,
  query: string,
  opts: { principal?: Principal | null; variables?: Record<string, unknown>; signed?: boolean } = {},
): Promise<GraphQLResult> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (opts.signed !== false) headers[INTERNAL_AUTH_HEADER] = await signInternalContext(DEV_INTERNAL_SECRET, 'payments', opts.principal ?? null, 'test-request');
  const res = await fetch(url, { method: 'POST', headers, body: JSON.stringify({ query, variables: opts.variables ?? {} }) });
  return { status: res.status, ...((await res.json()) as Omit<GraphQLResult, 'status'>) };
}
