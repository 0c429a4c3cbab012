import { openDatabase, type Database } from '../../../lib/database.ts';
import type { Logger } from '../../../lib/logger.ts';
import { ACCOUNTS_MIGRATIONS } from './migrations.ts';
import { createAccountsRepository, type AccountsRepository } from './repository.ts';
import { seedSandboxConnections } from './seed.ts';

export interface AccountsStorage {
  db: Database;
  repo: AccountsRepository;
  close(): Promise<void>;
}

export interface AccountsStorageOptions {
  databaseUrl?: string | undefined;
  pgliteDir?: string | undefined;
  logger: Logger;
  /** PostgreSQL schema; "accounts" except in tests that need an isolated schema. */
  schema?: string;
  /** Seed the sandbox bank connections (sandbox profile only). */
  seedSandbox: boolean;
}

/** Opens the accounts schema (migrating it) and, in the sandbox profile, seeds the sandbox connections. */
export async function openAccountsStorage(opts: AccountsStorageOptions): Promise<AccountsStorage> {
  const db = await openDatabase({
    schema: opts.schema ?? 'accounts',
    databaseUrl: opts.databaseUrl,
    pgliteDir: opts.pgliteDir,
    migrations: ACCOUNTS_MIGRATIONS,
    logger: opts.logger,
  });
  const repo = createAccountsRepository(db);
  try {
    if (opts.seedSandbox) {
      const n = await seedSandboxConnections(repo);
      opts.logger.info({ connections: n }, 'seeded sandbox bank connections');
    }
  } catch (err) {
    await db.close();
    throw err;
  }
  return { db, repo, close: () => db.close() };
}
