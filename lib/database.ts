import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, openAsBlob, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve, sep } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import type { Logger } from './logger.ts';
import { currentService } from './request-context.ts';
import { SpanKind, withSpan, type SpanSpec } from './tracing.ts';

/**
 * One SQL dialect everywhere: PostgreSQL. With DATABASE_URL a real PostgreSQL is used
 * through a pg pool; without it an embedded PGlite runs in-process (nothing to install).
 * Each subgraph keeps its tables in its own PostgreSQL schema (accounts, payments, ...), so
 * they can share one server and still never read each other's tables.
 *
 * Embedded PGlite: one instance per data directory in a process. Under `npm start` the four
 * subgraphs share one (a PGlite instance costs about 200 MB and seconds to start), each in its
 * own schema, and isolation is enforced by PostgreSQL privileges rather than by convention: each
 * schema belongs to a role of the same name that has no privilege on any other schema, and every
 * statement of a subgraph runs as its role with its schema alone on the search_path. A query that
 * names another subgraph's table fails with "permission denied for schema". (PGlite has one
 * session whose user is a superuser; the role is set with SET ROLE before each subgraph's turn,
 * so this guards against mistakes and against data from one schema leaking through another
 * subgraph's queries, not against a subgraph's own code deliberately resetting its role.)
 * With DATABASE_URL nothing of this applies: each service connects with its own URL.
 */
export interface Database extends Queryable {
  /** Runs fn inside one transaction on one connection; rolls back if fn throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  readonly kind: 'postgres' | 'pglite';
  close(): Promise<void>;
}

export interface Queryable {
  query<R extends Record<string, unknown> = Record<string, unknown>>(
    sql: string,
    params?: unknown[],
    options?: QueryOptions,
  ): Promise<R[]>;
  /** Runs a script of several statements without parameters (migrations, seeds). */
  exec(sql: string): Promise<void>;
}

export interface QueryOptions {
  /**
   * PostgreSQL: prepare the statement once per connection (a named statement) and reuse it, so later
   * executions skip parsing and planning (about 0.1 ms of a 0.4 ms single-row write here; see
   * gateway/idempotency/store.ts). Only for statements whose text is fixed in the code: the name is
   * derived from the text, and a connection keeps each one until it closes. Ignored on PGlite.
   */
  prepared?: boolean;
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
  /**
   * PGlite data directory. "memory://" (the default) is a private in-memory database for this
   * handle alone; "memory://<name>" an in-memory database shared by every handle of that name in
   * the process; a directory is shared by every handle of the same directory in the process.
   */
  pgliteDir?: string | undefined;
  migrations: Migration[];
  logger: Logger;
  /** Pool size for real PostgreSQL. */
  poolSize?: number;
  /**
   * Connections the pool keeps open while idle (real PostgreSQL; default 0: every idle connection
   * closes after 10 s). For a service whose requests must not pay for a new connection after a quiet
   * spell (about 6 ms on the local PostgreSQL with trust authentication, more with TLS).
   */
  poolMin?: number;
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export async function openDatabase(opts: DatabaseOptions): Promise<Database> {
  if (!SCHEMA_NAME.test(opts.schema)) throw new Error(`invalid schema name ${opts.schema}`);
  const raw = opts.databaseUrl
    ? openPostgres(opts.databaseUrl, opts.schema, opts.poolSize ?? 10, opts.poolMin ?? 0)
    : await openPglite(opts.pgliteDir ?? 'memory://', opts.schema, opts.logger);
  const db = traced(raw, opts.schema);
  try {
    await migrate(db, opts.schema, opts.migrations, opts.logger);
  } catch (err) {
    await db.close();
    throw err;
  }
  return db;
}

function openPostgres(url: string, schema: string, max: number, min: number): Database {
  const pool = new pg.Pool({
    connectionString: url,
    max,
    min: Math.min(min, max),
    options: `-c search_path=${schema}`,
  });
  // An idle client that errors (server restart) must not crash the process.
  pool.on('error', () => {});
  // Statement names by text (prepared: true): the statements of the code, a fixed set.
  const names = new Map<string, string>();
  const named = (sql: string, params: unknown[] | undefined) => {
    let name = names.get(sql);
    if (!name) names.set(sql, (name = `s_${createHash('sha256').update(sql).digest('hex').slice(0, 32)}`));
    return { name, text: sql, values: params };
  };
  return {
    kind: 'postgres',
    async query(sql, params, options) {
      const res = options?.prepared ? await pool.query(named(sql, params)) : await pool.query(sql, params as unknown[]);
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
          query: async (sql, params, options) =>
            (options?.prepared ? await client.query(named(sql, params)) : await client.query(sql, params as unknown[]))
              .rows,
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

// ---------------------------------------------------------------------------------------------
// Embedded PGlite

/**
 * PGlite's own start parameters with 16 MB of shared buffers instead of PostgreSQL's 128 MB,
 * which PGlite touches at start and so keeps resident: the embedded databases hold megabytes,
 * and this alone saves about 150 MB per instance (measured with npm run bench:start).
 */
const PGLITE_START_PARAMS = [...PGlite.defaultStartParams, '-c', 'shared_buffers=16MB'];

/** One PGlite instance and the handles (one per schema) that use it. */
interface Engine {
  key: string;
  lite: PGlite;
  handles: number;
  /** The schema whose role and search_path the session has now. */
  active: string | undefined;
  /** Every statement of every handle runs in turn, so that a role switch and the statements it is for stay together. */
  tail: Promise<unknown>;
}

const engines = new Map<string, Promise<Engine>>();

/** The key under which handles share an instance; undefined for a private in-memory database. */
function engineKey(dataDir: string): string | undefined {
  if (dataDir === 'memory://') return undefined;
  if (dataDir.startsWith('memory://')) return dataDir;
  return resolve(dataDir);
}

async function acquireEngine(dataDir: string, logger: Logger): Promise<Engine> {
  const key = engineKey(dataDir);
  if (key === undefined)
    return {
      key: '',
      lite: await createPglite(undefined, logger),
      handles: 1,
      active: undefined,
      tail: Promise.resolve(),
    };
  let pending = engines.get(key);
  if (!pending) {
    pending = createPglite(key.startsWith('memory://') ? undefined : key, logger).then((lite) => ({
      key,
      lite,
      handles: 0,
      active: undefined,
      tail: Promise.resolve(),
    }));
    engines.set(key, pending);
    pending.catch(() => engines.delete(key));
  }
  const engine = await pending;
  engine.handles += 1;
  return engine;
}

async function releaseEngine(engine: Engine): Promise<void> {
  engine.handles -= 1;
  if (engine.handles > 0) return;
  if (engine.key) engines.delete(engine.key);
  await engine.tail.catch(() => {});
  await engine.lite.close();
}

/** Runs one unit of work (a statement, a script, a transaction) on the engine as `schema`. */
function runAs<T>(engine: Engine, schema: string, work: (lite: PGlite) => Promise<T>): Promise<T> {
  const turn = engine.tail.then(async () => {
    if (engine.active !== schema) {
      // Session-level, outside any transaction: a rollback of the work below cannot undo it.
      await engine.lite.exec(`SET ROLE ${schema}; SET search_path TO ${schema}`);
      engine.active = schema;
    }
    return work(engine.lite);
  });
  engine.tail = turn.catch(() => {});
  return turn;
}

async function openPglite(dataDir: string, schema: string, logger: Logger): Promise<Database> {
  const engine = await acquireEngine(dataDir, logger);
  try {
    await provisionSchema(engine, schema);
  } catch (err) {
    await releaseEngine(engine);
    throw err;
  }
  let closed = false;
  const open = () => {
    if (closed) throw new Error(`database of schema ${schema} is closed`);
  };
  return {
    kind: 'pglite',
    async query(sql, params) {
      open();
      return runAs(engine, schema, async (lite) => (await lite.query(sql, params as unknown[])).rows as never);
    },
    async exec(sql) {
      open();
      await runAs(engine, schema, (lite) => lite.exec(sql));
    },
    async transaction(fn) {
      open();
      return runAs(engine, schema, (lite) =>
        lite.transaction(async (tx) =>
          fn({
            query: async (sql, params) => (await tx.query(sql, params as unknown[])).rows as never,
            exec: async (sql) => void (await tx.exec(sql)),
          }),
        ),
      );
    },
    async close() {
      if (closed) return;
      closed = true;
      await releaseEngine(engine);
    },
  };
}

/**
 * As the superuser, in the engine's turn: the schema's role (same name, no login, no other
 * privilege) and the schema owned by it. Objects a role creates are its own, so another schema's
 * role cannot even look them up. A schema created by an earlier version, as the superuser, is
 * handed over to its role with everything in it.
 */
async function provisionSchema(engine: Engine, schema: string): Promise<void> {
  const turn = engine.tail.then(async () => {
    engine.active = undefined;
    await engine.lite.exec(`RESET ROLE; RESET search_path;
DO $provision$
DECLARE item record;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${schema}') THEN
    CREATE ROLE ${schema} NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = '${schema}') THEN
    CREATE SCHEMA ${schema} AUTHORIZATION ${schema};
  ELSIF (SELECT nspowner FROM pg_namespace WHERE nspname = '${schema}') <> '${schema}'::regrole THEN
    ALTER SCHEMA ${schema} OWNER TO ${schema};
    FOR item IN SELECT c.oid::regclass AS name, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = '${schema}' AND c.relkind IN ('r', 'p', 'v', 'm', 'f') LOOP
      EXECUTE format('ALTER %s %s OWNER TO ${schema}', CASE item.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END, item.name);
    END LOOP;
    FOR item IN SELECT c.oid::regclass AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = '${schema}' AND c.relkind = 'S' AND c.relowner <> '${schema}'::regrole LOOP
      EXECUTE format('ALTER SEQUENCE %s OWNER TO ${schema}', item.name);
    END LOOP;
    FOR item IN SELECT p.oid::regprocedure AS name FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = '${schema}' LOOP
      EXECUTE format('ALTER ROUTINE %s OWNER TO ${schema}', item.name);
    END LOOP;
  END IF;
END
$provision$;`);
  });
  engine.tail = turn.catch(() => {});
  await turn;
}

/**
 * A PGlite instance on a data directory (or in memory), initialised if it is new.
 *
 * PostgreSQL's initdb is the expensive part of a new database: seconds, and a second WebAssembly
 * instance whose memory the process would keep (a WebAssembly memory never shrinks, and V8 frees
 * a dropped one only when it gets round to it): an `npm start` that initialised its database held
 * about 250 MB more than one that found it on disk. So a new database is initialised by a short
 * child process (initChild), whose memory goes back to the system when it exits; the service then
 * opens the initialised directory like any existing one.
 *
 * The child also keeps a snapshot of a freshly initialised database (snapshotFile): later new
 * databases start from it in a fraction of a second instead of running initdb, and in-memory
 * databases (tests) are restored from it in the process itself.
 */
async function createPglite(dataDir: string | undefined, logger: Logger): Promise<PGlite> {
  const snapshot = snapshotFile();
  if (dataDir !== undefined) {
    if (!existsSync(join(dataDir, 'PG_VERSION'))) await initChild(dataDir, snapshot, logger);
    return PGlite.create(dataDir, { startParams: PGLITE_START_PARAMS });
  }
  if (snapshot) {
    if (!existsSync(snapshot))
      await initChild(undefined, snapshot, logger).catch((err: unknown) =>
        logger.debug({ err: (err as Error).message }, 'no PGlite snapshot'),
      );
    if (existsSync(snapshot)) {
      try {
        // A file-backed Blob: the 40 MB snapshot is read once, by PGlite, rather than copied into memory first.
        return await PGlite.create('memory://', {
          startParams: PGLITE_START_PARAMS,
          loadDataDir: await openAsBlob(snapshot),
        });
      } catch (err) {
        // A damaged snapshot must not stop a start: drop it (the next child writes a new one) and initialise here.
        logger.warn({ err: (err as Error).message, snapshot }, 'PGlite snapshot unusable; removed');
        rmSync(snapshot, { force: true });
      }
    }
  }
  // No snapshot could be written (a read-only node_modules): initdb in this process.
  return PGlite.create('memory://', { startParams: PGLITE_START_PARAMS });
}

/**
 * The child process's program (CommonJS, run with `node -e`): initialise `dir` (or an in-memory
 * database whose only purpose is the snapshot) from the snapshot when there is a usable one,
 * otherwise with initdb, then write the snapshot if there is none. A snapshot that cannot be
 * loaded is removed and initdb runs instead. The snapshot is written under a temporary name and
 * renamed, so a concurrent reader never sees half a file.
 */
const INIT_PROGRAM = `
const fs = require('node:fs');
const path = require('node:path');
const job = JSON.parse(process.argv[1]);
const { PGlite } = require(job.pglite);
const isNew = (dir) => dir === null || !fs.existsSync(path.join(dir, 'PG_VERSION'));
(async () => {
  let lite;
  if (job.snapshot && fs.existsSync(job.snapshot)) {
    try {
      lite = await PGlite.create(job.dir ?? 'memory://', { startParams: job.startParams, loadDataDir: await fs.openAsBlob(job.snapshot) });
    } catch (err) {
      fs.rmSync(job.snapshot, { force: true });
      if (!isNew(job.dir)) throw err;
    }
  }
  if (!lite) {
    lite = await PGlite.create(job.dir ?? 'memory://', { startParams: job.startParams });
    if (job.snapshot) {
      try {
        const dump = await lite.dumpDataDir('none');
        fs.mkdirSync(path.dirname(job.snapshot), { recursive: true });
        const partial = job.snapshot + '.' + process.pid + '.partial';
        fs.writeFileSync(partial, new Uint8Array(await dump.arrayBuffer()));
        fs.renameSync(partial, job.snapshot);
      } catch {
        // A read-only tree: every new database runs initdb.
      }
    }
  }
  await lite.close();
})().catch((err) => {
  process.stderr.write(String((err && err.message) || err));
  process.exit(1);
});
`;

async function initChild(dir: string | undefined, snapshot: string | undefined, logger: Logger): Promise<void> {
  const started = performance.now();
  const job = {
    pglite: createRequire(import.meta.url).resolve('@electric-sql/pglite'),
    dir: dir ?? null,
    snapshot: snapshot ?? null,
    startParams: PGLITE_START_PARAMS,
  };
  const child = spawn(process.execPath, ['-e', INIT_PROGRAM, JSON.stringify(job)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const stderr: Buffer[] = [];
  child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  });
  if (code !== 0)
    throw new Error(
      `initialising the PGlite database${dir ? ` in ${dir}` : ''} failed (exit ${code}): ${Buffer.concat(stderr).toString('utf8').slice(0, 2_000)}`,
    );
  logger.info(
    { dir: dir ?? 'memory', ms: Math.round(performance.now() - started) },
    dir ? 'initialised a new PGlite database' : 'wrote the PGlite snapshot',
  );
}

/**
 * Where the snapshot of a freshly initialised database is kept: node_modules/.cache (the
 * conventional cache folder of a project's tools, inside the project, so nobody else can plant
 * one), named after the PGlite version so that an upgrade initialises anew. Undefined when
 * PGlite's folder cannot be found.
 */
export function snapshotFile(): string | undefined {
  try {
    const entry = createRequire(import.meta.url).resolve('@electric-sql/pglite');
    const at = entry.lastIndexOf(`${sep}node_modules${sep}`);
    if (at < 0) return undefined;
    const nodeModules = entry.slice(0, at + `${sep}node_modules`.length);
    const version = (
      JSON.parse(readFileSync(join(nodeModules, '@electric-sql', 'pglite', 'package.json'), 'utf8')) as {
        version: string;
      }
    ).version;
    return join(nodeModules, '.cache', 'financial-data-graph', `pglite-${version}-initdb.tar`);
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Spans (lib/tracing.ts): one per statement, script and transaction made while serving a request.

function operationOf(sql: string): string {
  return /^\s*([A-Za-z]+)/.exec(sql)?.[1]?.toUpperCase() ?? 'QUERY';
}

function traced(db: Database, schema: string): Database {
  // The service that opens the database owns its spans (under `npm start` several share one instance).
  const service = currentService();
  const spec = (operation: string, sql?: string): SpanSpec => ({
    kind: SpanKind.CLIENT,
    service,
    // Seeds, migrations and sweeps run outside requests: spans only inside a trace.
    requireParent: true,
    attributes: {
      'db.system.name': 'postgresql',
      'db.namespace': schema,
      'db.operation.name': operation,
      // Statements are parameterised, so their text holds no values; scripts (seeds) are not recorded.
      ...(sql !== undefined ? { 'db.query.text': sql.length > 2_000 ? `${sql.slice(0, 2_000)}…` : sql } : {}),
    },
  });
  const wrap = (q: Queryable): Queryable => ({
    query: (sql, params, options) =>
      withSpan(`${operationOf(sql)} ${schema}`, spec(operationOf(sql), sql), () => q.query(sql, params, options)),
    exec: (sql) => withSpan(`script ${schema}`, spec('script'), () => q.exec(sql)),
  });
  const outer = wrap(db);
  return {
    kind: db.kind,
    query: outer.query,
    exec: outer.exec,
    transaction: (fn) =>
      withSpan(`transaction ${schema}`, spec('transaction'), () => db.transaction((tx) => fn(wrap(tx)))),
    close: () => db.close(),
  };
}

/**
 * Applies pending migrations in order, each in its own transaction, recording them in
 * <schema>.schema_migrations. An advisory lock keeps two replicas starting together from
 * applying the same migration twice.
 */
async function migrate(db: Database, schema: string, migrations: Migration[], logger: Logger): Promise<void> {
  // On PGlite the schema exists already, owned by its role, which may not create schemas.
  if (db.kind === 'postgres') await db.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
  await db.transaction(async (tx) => {
    await tx.query(`SELECT pg_advisory_xact_lock(hashtext($1))`, [`migrate:${schema}`]);
    await tx.query(
      `CREATE TABLE IF NOT EXISTS ${schema}.schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    const applied = new Set(
      (await tx.query<{ name: string }>(`SELECT name FROM ${schema}.schema_migrations`)).map((r) => r.name),
    );
    for (const m of migrations) {
      if (applied.has(m.name)) continue;
      await tx.query(`SET LOCAL search_path TO ${schema}`);
      await tx.exec(m.sql);
      await tx.query(`INSERT INTO ${schema}.schema_migrations (name) VALUES ($1)`, [m.name]);
      logger.info({ migration: m.name, schema }, 'applied migration');
    }
  });
}
