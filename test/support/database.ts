import { randomBytes } from 'node:crypto';
import { openDatabase, type Database, type Migration } from '../../lib/database.ts';
import { createLogger } from '../../lib/logger.ts';

/**
 * Test databases: PGlite always, and the real PostgreSQL too when DATABASE_URL is set. On
 * PostgreSQL every database gets its own schema (<name>_test_<random>), so parallel runs never
 * collide, and dispose() drops it.
 */
export const DATABASE_URL = process.env.DATABASE_URL;

export type Backend = 'pglite' | 'postgres';

/** Back ends to run storage tests against. */
export const BACKENDS: Backend[] = DATABASE_URL ? ['pglite', 'postgres'] : ['pglite'];

/** Display names of the back ends, for test titles. */
export const BACKEND_NAMES: Record<Backend, string> = { pglite: 'PGlite', postgres: 'PostgreSQL' };

export interface TestDatabase {
  db: Database;
  schema: string;
  /** Drops the run's schema (PostgreSQL) and closes the database. */
  dispose(): Promise<void>;
}

export interface TestDatabaseOptions {
  /** The subgraph's schema name; on PostgreSQL the run's schema is <schema>_test_<random>. */
  schema: string;
  migrations: Migration[];
  poolSize?: number;
  /** Runs after migrating (seeds); the database is disposed if it throws. */
  setup?: (db: Database) => Promise<unknown>;
}

/** A schema name of its own for one test run: <base>_test_<random>. */
export function uniqueSchema(base: string): string {
  return `${base}_test_${randomBytes(6).toString('hex')}`;
}

/** Drops a run's schema on PostgreSQL (on PGlite the in-memory database goes with its handle). */
export async function dropTestSchema(db: Database, schema: string): Promise<void> {
  if (db.kind === 'postgres') await db.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
}

const silentLogger = createLogger('test-database', 'silent');

/** A migrated database on the given back end. */
export async function openTestDatabase(kind: Backend, opts: TestDatabaseOptions): Promise<TestDatabase> {
  if (kind === 'postgres' && !DATABASE_URL) throw new Error('DATABASE_URL is not set');
  const schema = kind === 'postgres' ? uniqueSchema(opts.schema) : opts.schema;
  const db = await openDatabase({
    schema,
    databaseUrl: kind === 'postgres' ? DATABASE_URL : undefined,
    pgliteDir: 'memory://',
    migrations: opts.migrations,
    logger: silentLogger,
    ...(opts.poolSize ? { poolSize: opts.poolSize } : {}),
  });
  const dispose = async () => {
    try {
      await dropTestSchema(db, schema);
    } finally {
      await db.close();
    }
  };
  try {
    await opts.setup?.(db);
  } catch (err) {
    await dispose();
    throw err;
  }
  return { db, schema, dispose };
}
