import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../lib/database.ts';
import { createLogger } from '../../lib/logger.ts';
import { startPlatform } from '../../scripts/platform.ts';

/**
 * Embedded PGlite is shared: one instance per data directory (or named in-memory database) in a
 * process, so that `npm start` runs one instead of four. Sharing must not weaken the rule that a
 * subgraph never reads another's tables: each schema belongs to a role of its own and every
 * statement of a subgraph runs as that role (lib/database.ts).
 */
const logger = createLogger('test', 'silent');
const migrations = (table: string) => [
  { name: '001', sql: `CREATE TABLE ${table} (id text PRIMARY KEY, secret text NOT NULL)` },
];
const dirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'db-isolation-'));
  dirs.push(dir);
  return dir;
};

afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

async function pair(pgliteDir: string): Promise<[Database, Database]> {
  const accounts = await openDatabase({ schema: 'accounts', pgliteDir, migrations: migrations('ledger'), logger });
  const payments = await openDatabase({ schema: 'payments', pgliteDir, migrations: migrations('ledger'), logger });
  await accounts.query(`INSERT INTO ledger (id, secret) VALUES ('a1', 'accounts-only')`);
  await payments.query(`INSERT INTO ledger (id, secret) VALUES ('p1', 'payments-only')`);
  return [accounts, payments];
}

async function expectIsolated(accounts: Database, payments: Database): Promise<void> {
  // The same unqualified name is each one's own table.
  expect(await accounts.query('SELECT secret FROM ledger')).toEqual([{ secret: 'accounts-only' }]);
  expect(await payments.query('SELECT secret FROM ledger')).toEqual([{ secret: 'payments-only' }]);
  // Naming the other schema does not help: reading, writing, even looking a table up is refused.
  await expect(accounts.query('SELECT secret FROM payments.ledger')).rejects.toThrow(
    /permission denied for schema payments/,
  );
  await expect(payments.query('SELECT secret FROM accounts.ledger')).rejects.toThrow(
    /permission denied for schema accounts/,
  );
  await expect(accounts.query(`INSERT INTO payments.ledger (id, secret) VALUES ('x', 'y')`)).rejects.toThrow(
    /permission denied for schema payments/,
  );
  await expect(accounts.exec('CREATE TABLE payments.planted (id int)')).rejects.toThrow(
    /permission denied for schema payments/,
  );
  await expect(payments.transaction((tx) => tx.query('SELECT name FROM accounts.schema_migrations'))).rejects.toThrow(
    /permission denied for schema accounts/,
  );
  // Nor can a subgraph widen its own search path to reach another's tables, or open another schema.
  await expect(
    accounts.transaction(async (tx) => {
      await tx.query('SET LOCAL search_path TO payments, accounts');
      return tx.query('SELECT secret FROM ledger');
    }),
  ).resolves.toEqual([{ secret: 'accounts-only' }]);
  await expect(accounts.exec('CREATE SCHEMA stolen')).rejects.toThrow(/permission denied/);
}

describe('PGlite shared between subgraphs', () => {
  it('in memory: one database per name, each subgraph confined to its schema', async () => {
    const [accounts, payments] = await pair(`memory://isolation-${randomUUID()}`);
    try {
      await expectIsolated(accounts, payments);
    } finally {
      await accounts.close();
      await payments.close();
    }
  });

  it('keeps each statement on its own schema while the subgraphs interleave, transactions included', async () => {
    const [accounts, payments] = await pair(`memory://interleave-${randomUUID()}`);
    try {
      // A transaction of one subgraph that waits between its statements, with the other's statements queued meanwhile.
      const slow = accounts.transaction(async (tx) => {
        await tx.query(`INSERT INTO ledger (id, secret) VALUES ('a2', 'accounts-again')`);
        await new Promise((resolve) => setTimeout(resolve, 20));
        return tx.query<{ n: number }>('SELECT count(*)::int AS n FROM ledger');
      });
      const others = Promise.all(
        Array.from({ length: 5 }, () => payments.query<{ secret: string }>('SELECT secret FROM ledger')),
      );
      expect(await slow).toEqual([{ n: 2 }]);
      for (const rows of await others) expect(rows).toEqual([{ secret: 'payments-only' }]);
      // A failed transaction rolls back its own work and leaves the session to the next subgraph as it should be.
      await expect(
        payments.transaction(async (tx) => {
          await tx.query(`INSERT INTO ledger (id, secret) VALUES ('p2', 'rolled back')`);
          await tx.query('SELECT secret FROM accounts.ledger');
        }),
      ).rejects.toThrow(/permission denied/);
      expect(await payments.query('SELECT id FROM ledger ORDER BY id')).toEqual([{ id: 'p1' }]);
      expect(await accounts.query('SELECT id FROM ledger ORDER BY id')).toEqual([{ id: 'a1' }, { id: 'a2' }]);
    } finally {
      await accounts.close();
      await payments.close();
    }
  });

  it('plain memory:// stays a private database per handle', async () => {
    const one = await openDatabase({
      schema: 'accounts',
      pgliteDir: 'memory://',
      migrations: migrations('ledger'),
      logger,
    });
    const two = await openDatabase({
      schema: 'accounts',
      pgliteDir: 'memory://',
      migrations: migrations('ledger'),
      logger,
    });
    try {
      await one.query(`INSERT INTO ledger (id, secret) VALUES ('only-in-one', 's')`);
      expect(await two.query('SELECT id FROM ledger')).toEqual([]);
    } finally {
      await one.close();
      await two.close();
    }
  });

  it('on disk: one database in the directory, isolation kept when it is opened again', async () => {
    const dir = tempDir();
    const [accounts, payments] = await pair(dir);
    await accounts.close();
    // The instance stays open for the other handle, and closes with the last one.
    expect(await payments.query('SELECT secret FROM ledger')).toEqual([{ secret: 'payments-only' }]);
    await payments.close();
    expect(existsSync(join(dir, 'PG_VERSION'))).toBe(true);

    // A cold start on the existing data: nothing re-initialised, the data and the isolation are there.
    const again = await openDatabase({ schema: 'accounts', pgliteDir: dir, migrations: migrations('ledger'), logger });
    const paymentsAgain = await openDatabase({
      schema: 'payments',
      pgliteDir: dir,
      migrations: migrations('ledger'),
      logger,
    });
    try {
      await expectIsolated(again, paymentsAgain);
    } finally {
      await again.close();
      await paymentsAgain.close();
    }
  });

  it('hands a schema created by an earlier version (as the superuser) over to its role, and confines it', async () => {
    const dir = tempDir();
    // The layout of a single-subgraph PGLITE_DIR before schemas had roles.
    const legacy = await PGlite.create(dir);
    await legacy.exec(`CREATE SCHEMA accounts; CREATE TABLE accounts.ledger (id text PRIMARY KEY, secret text NOT NULL);
      CREATE TABLE accounts.schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now());
      INSERT INTO accounts.schema_migrations (name) VALUES ('001'); INSERT INTO accounts.ledger VALUES ('old', 'from before');`);
    await legacy.close();

    const accounts = await openDatabase({
      schema: 'accounts',
      pgliteDir: dir,
      migrations: migrations('ledger'),
      logger,
    });
    const payments = await openDatabase({
      schema: 'payments',
      pgliteDir: dir,
      migrations: migrations('ledger'),
      logger,
    });
    try {
      expect(await accounts.query('SELECT secret FROM ledger')).toEqual([{ secret: 'from before' }]);
      await accounts.query(`INSERT INTO ledger (id, secret) VALUES ('new', 'after')`);
      await expect(payments.query('SELECT secret FROM accounts.ledger')).rejects.toThrow(
        /permission denied for schema accounts/,
      );
    } finally {
      await accounts.close();
      await payments.close();
    }
  });
});

describe('the all-in-one platform on embedded defaults', () => {
  it('keeps the four subgraphs in one database, each schema owned by its own role and closed to the others', async () => {
    const dir = tempDir();
    const platform = await startPlatform({
      ports: 'free',
      env: { PGLITE_DIR: dir, DATABASE_URL: undefined, REDIS_URL: undefined, LOG_LEVEL: 'silent' },
      logger,
    });
    await platform.close();

    // One data directory, not one per subgraph.
    expect(existsSync(join(dir, 'PG_VERSION'))).toBe(true);
    for (const name of ['identity', 'accounts', 'payments', 'consents'])
      expect(existsSync(join(dir, name)), name).toBe(false);

    const lite = await PGlite.create(dir);
    try {
      const subgraphs = ['identity', 'accounts', 'payments', 'consents'];
      const owners = await lite.query<{ nspname: string; owner: string }>(
        `SELECT nspname, nspowner::regrole::text AS owner FROM pg_namespace WHERE nspname = ANY($1) ORDER BY nspname`,
        [subgraphs],
      );
      expect(owners.rows).toEqual([...subgraphs].sort().map((name) => ({ nspname: name, owner: name })));
      for (const reader of subgraphs) {
        for (const schema of subgraphs) {
          const { rows } = await lite.query<{ usage: boolean }>(
            `SELECT has_schema_privilege($1, $2, 'USAGE') AS usage`,
            [reader, schema],
          );
          expect(rows[0]!.usage, `${reader} on ${schema}`).toBe(reader === schema);
        }
        // Every table of a subgraph belongs to its role (so no other role has a grant on it).
        const foreign = await lite.query(`SELECT tablename FROM pg_tables WHERE schemaname = $1 AND tableowner <> $1`, [
          reader,
        ]);
        expect(foreign.rows, reader).toEqual([]);
      }
    } finally {
      await lite.close();
    }
  }, 120_000);
});
