import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../lib/database.ts';
import { createLogger } from '../../lib/logger.ts';

const logger = createLogger('test', 'silent');
const migrations = [
  {
    name: '001_items',
    sql: 'CREATE TABLE items (id text PRIMARY KEY, n integer NOT NULL); CREATE INDEX items_n ON items (n);',
  },
  { name: '002_items_note', sql: 'ALTER TABLE items ADD COLUMN note text;' },
];

// The same behaviour is required of the embedded PGlite and of a real PostgreSQL (CI sets DATABASE_URL).
const backends: [string, string | undefined][] = [['PGlite', undefined]];
if (process.env.DATABASE_URL) backends.push(['PostgreSQL', process.env.DATABASE_URL]);

describe.each(backends)('database on %s', (_name, databaseUrl) => {
  const schema = `t_${randomBytes(5).toString('hex')}`;
  const open = () => openDatabase({ schema, databaseUrl, migrations, logger });

  async function withDb<T>(fn: (db: Database) => Promise<T>): Promise<T> {
    const db = await open();
    try {
      return await fn(db);
    } finally {
      if (databaseUrl) await db.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await db.close();
    }
  }

  it('applies migrations once, in order, in the service schema', () =>
    withDb(async (db) => {
      await db.query('INSERT INTO items (id, n, note) VALUES ($1, $2, $3)', ['a', 1, 'x']);
      const applied = await db.query<{ name: string }>(`SELECT name FROM ${schema}.schema_migrations ORDER BY name`);
      expect(applied.map((r) => r.name)).toEqual(['001_items', '002_items_note']);
      if (databaseUrl) {
        // A second replica starting against the same database applies nothing twice.
        const again = await open();
        await again.close();
        expect((await db.query(`SELECT count(*)::int AS c FROM ${schema}.schema_migrations`))[0]).toEqual({ c: 2 });
      }
    }));

  it('rolls a failed transaction back completely', () =>
    withDb(async (db) => {
      await expect(
        db.transaction(async (tx) => {
          await tx.query('INSERT INTO items (id, n) VALUES ($1, $2)', ['b', 2]);
          await tx.query('INSERT INTO items (id, n) VALUES ($1, $2)', ['b', 3]);
        }),
      ).rejects.toThrow();
      expect(await db.query('SELECT * FROM items WHERE id = $1', ['b'])).toEqual([]);
    }));

  it('refuses unsafe schema names', async () => {
    await expect(openDatabase({ schema: 'x; DROP TABLE y', databaseUrl, migrations, logger })).rejects.toThrow(
      /invalid schema name/,
    );
  });
});
