import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import type { Logger } from './logger.ts';

/**
 * One SQL dialect everywhere: PostgreSQL. With DATABASE_URL a real PostgreSQL is used
 * through a pg pool; without it an embedded PGlite runs in-process (nothing to install).
 * Each subgraph keeps its tables in its own PostgreSQL schema (accounts, payments, ...), so
 * they can share one server and still never read each other's tables.
 */
export interface Database extends Queryable {
  /** Runs fn inside one transaction on one connection; rolls back if fn throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  readonly kind: 'postgres' | 'pglite';
  close(): Promise<void>;
}

export interface Queryable {
  query<R extends Record<string, unknown> = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<R[]>;
  /** Runs a script of several statements without parameters (migrations, seeds). */
  exec(sql: string): Promise<void>;
}

export interface Migration {
  /** Unique, ordered name, e.g. "001_create_consents". Never edit one that has shipped. */
  name: string;
  sql: string;
}

export interface DatabaseOptions {
  /** PostgreSQL schema that holds this service's tables. */
  schema: string;
  /** postgres:// URL; when absent PGlite is used. */
  databaseUrl?: string | undefined;
  /** PGlite data directory; "memory://" (the default) keeps everything in memory. */
  pgliteDir?: string | undefined;
  migrations: Migration[];
  logger: Logger;
  /** Pool size for real PostgreSQL. */
  poolSize?: number;
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export async function openDatabase(opts: DatabaseOptions): Promise<Database> {
  if (!SCHEMA_NAME.test(opts.schema)) throw new Error(`invalid schema name ${opts.schema}`);
  const db = opts.databaseUrl ? openPostgres(opts.databaseUrl, opts.schema, opts.poolSize ?? 10) : await openPglite(opts.pgliteDir ?? 'memory://', opts.schema);
  try {
    await migrate(db, opts.schema, opts.migrations, opts.logger);
  } catch (err) {
    await db.close();
    throw err;
  }
  return db;
}

function openPostgres(url: string, schema: string, max: number): Database {
  const pool = new pg.Pool({ connectionString: url, max, options: `-c search_path=${schema}` });
  // An idle client that errors (server restart) must not crash the process.
  pool.on('error', () => {});
  return {
    kind: 'postgres',
    async query(sql, params) {
      const res = await pool.query(sql, params as unknown[]);
      return res.rows;
    },
    async exec(sql) {
      await pool.query(sql);
    },
    async transaction(fn) {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const result = await fn({
          query: async (sql, params) => (await client.query(sql, params as unknown[])).rows,
          exec: async (sql) => void (await client.query(sql)),
        });
        await client.query('COMMIT');
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {});
        throw err;
      } finally {
        client.release();
      }
    },
    close: () => pool.end(),
  };
}

async function openPglite(dataDir: string, schema: string): Promise<Database> {
  const lite = await PGlite.create(dataDir);
  await lite.exec(`CREATE SCHEMA IF NOT EXISTS ${schema}; SET search_path TO ${schema};`);
  return {
    kind: 'pglite',
    async query(sql, params) {
      const res = await lite.query(sql, params as unknown[]);
      return res.rows as never;
    },
    async exec(sql) {
      await lite.exec(sql);
    },
    async transaction(fn) {
      return lite.transaction(async (tx) =>
        fn({
          query: async (sql, params) => (await tx.query(sql, params as unknown[])).rows as never,
          exec: async (sql) => void (await tx.exec(sql)),
        }),
      );
    },
    close: () => lite.close(),
  };
}

/**
 * Applies pending migrations in order, each in its own transaction, recording them in
 * <schema>.schema_migrations. An advisory lock keeps two replicas starting together from
 * applying the same migration twice.
 */
async function migrate(db: Database, schema: string, migrations: Migration[], logger: Logger): Promise<void> {
  await db.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
  await db.transaction(async (tx) => {
    await tx.query(`SELECT pg_advisory_xact_lock(hashtext($1))`, [`migrate:${schema}`]);
    await tx.query(`CREATE TABLE IF NOT EXISTS ${schema}.schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`);
    const applied = new Set((await tx.query<{ name: string }>(`SELECT name FROM ${schema}.schema_migrations`)).map((r) => r.name));
    for (const m of migrations) {
      if (applied.has(m.name)) continue;
      await tx.query(`SET LOCAL search_path TO ${schema}`);
      await tx.exec(m.sql);
      await tx.query(`INSERT INTO ${schema}.schema_migrations (name) VALUES ($1)`, [m.name]);
      logger.info({ migration: m.name, schema }, 'applied migration');
    }
  });
}
