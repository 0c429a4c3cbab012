import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../lib/database.ts';
import { createLogger } from '../../lib/logger.ts';
import { SANDBOX_CUSTOMERS } from '../../sandboxes/manifest.ts';
import type { AccountsRepository } from '../../subgraphs/accounts/domain/ports.ts';
import { migrations } from '../../subgraphs/accounts/storage/migrations.ts';
import { createAccountsRepository } from '../../subgraphs/accounts/storage/repository.ts';
import { applySeed } from '../../subgraphs/accounts/storage/seed.ts';
import { SANDBOX_SEED } from '../support/seed.ts';
import { BACKEND_NAMES, BACKENDS, DATABASE_URL, dropTestSchema, uniqueSchema } from '../support/database.ts';
import { ALICE, BEN } from './helpers.ts';

/**
 * Storage of the accounts subgraph on embedded PGlite, and on the real PostgreSQL when
 * DATABASE_URL is set (each run in its own schema, dropped afterwards).
 */
const logger = createLogger('test', 'silent');

interface AccountsStorage {
  db: Database;
  repo: AccountsRepository;
  close(): Promise<void>;
}

/** The accounts schema as server.ts opens it (migrated), optionally seeded from the sandbox seed. */
async function openAccountsStorage(opts: {
  databaseUrl: string | undefined;
  schema: string;
  seed: boolean;
}): Promise<AccountsStorage> {
  const db = await openDatabase({ schema: opts.schema, databaseUrl: opts.databaseUrl, migrations, logger });
  const repo = createAccountsRepository(db);
  if (opts.seed) await applySeed(repo, SANDBOX_SEED);
  return { db, repo, close: () => db.close() };
}
const targets = BACKENDS.map((kind) => ({
  name: BACKEND_NAMES[kind],
  databaseUrl: kind === 'postgres' ? DATABASE_URL : undefined,
}));

describe.each(targets)('accounts storage on $name', ({ databaseUrl }) => {
  const schema = uniqueSchema('accounts');
  let storage: AccountsStorage;

  beforeAll(async () => {
    storage = await openAccountsStorage({ databaseUrl, schema, seed: true });
  });

  afterAll(async () => {
    await dropTestSchema(storage.db, schema);
    await storage.close();
  });

  it('seeds the sandbox bank connections from the manifest, idempotently', async () => {
    const expected = SANDBOX_CUSTOMERS.reduce((n, c) => n + Object.keys(c.banks).length, 0);
    const before = await storage.repo.connectionsOfCustomers(SANDBOX_CUSTOMERS.map((c) => c.customerId));
    expect(before).toHaveLength(expected);
    expect(await applySeed(storage.repo, SANDBOX_SEED)).toBe(expected);
    const after = await storage.repo.connectionsOfCustomers(SANDBOX_CUSTOMERS.map((c) => c.customerId));
    expect(after).toEqual(before);
    const alice = await storage.repo.connectionsOfCustomers([ALICE.customerId]);
    expect(alice.map((c) => [c.institution, c.consentId, c.accessToken, c.psuId])).toEqual([
      ['northwind', ALICE.banks.northwind!.consentId, ALICE.banks.northwind!.accessToken, ALICE.banks.northwind!.psuId],
      ['rheinbank', ALICE.banks.rheinbank!.consentId, ALICE.banks.rheinbank!.accessToken, ALICE.banks.rheinbank!.psuId],
    ]);
  });

  it('migrates once: reopening the same schema keeps the data', async () => {
    if (!databaseUrl) return; // an in-memory PGlite does not outlive its handle
    const again = await openAccountsStorage({ databaseUrl, schema, seed: false });
    try {
      expect(await again.repo.connectionsOfCustomers([ALICE.customerId])).toHaveLength(2);
    } finally {
      await again.close();
    }
  });

  it('keeps account references per owner and reads them by id, each with its owner', async () => {
    await storage.repo.upsertAccountRefs([
      { accountId: 'acc_one', customerId: ALICE.customerId, institution: 'northwind', bankAccountRef: '22289' },
      { accountId: 'acc_one', customerId: ALICE.customerId, institution: 'northwind', bankAccountRef: '22289' },
    ]);
    expect(await storage.repo.accountRefs(['acc_one', 'acc_other'])).toEqual([
      { accountId: 'acc_one', customerId: ALICE.customerId, institution: 'northwind', bankAccountRef: '22289' },
    ]);
    // A joint account reached through a second customer's connection: one reference per owner.
    await storage.repo.upsertAccountRefs([
      { accountId: 'acc_one', customerId: BEN.customerId, institution: 'northwind', bankAccountRef: '22289' },
    ]);
    expect((await storage.repo.accountRefs(['acc_one'])).map((r) => r.customerId).sort()).toEqual(
      [ALICE.customerId, BEN.customerId].sort(),
    );
  });

  it('upserts transaction references, follows a pending item that booked, and remembers reversal links', async () => {
    const base = {
      customerId: ALICE.customerId,
      accountId: 'acc_one',
      institution: 'northwind',
      bankAccountRef: '22289',
    };
    await storage.repo.upsertTransactionRefs([
      {
        ...base,
        transactionId: 'txn_orig',
        bankTransactionRef: 'T-1',
        occurredOn: '2026-11-01',
        reversesTransactionId: null,
      },
      {
        ...base,
        transactionId: 'txn_rev',
        bankTransactionRef: 'T-2',
        occurredOn: '2026-11-03',
        reversesTransactionId: 'txn_orig',
      },
    ]);
    await storage.repo.upsertTransactionRefs([
      {
        ...base,
        transactionId: 'txn_orig',
        bankTransactionRef: 'T-1',
        occurredOn: '2026-11-04',
        reversesTransactionId: null,
      },
    ]);
    await storage.repo.upsertTransactionRefs([
      {
        ...base,
        transactionId: 'txn_rev',
        bankTransactionRef: 'T-2',
        occurredOn: '2026-11-03',
        reversesTransactionId: null,
      },
    ]);
    const refs = await storage.repo.transactionRefs(['txn_orig', 'txn_rev', 'txn_none']);
    expect(refs.sort((a, b) => a.transactionId.localeCompare(b.transactionId))).toEqual([
      {
        ...base,
        transactionId: 'txn_orig',
        bankTransactionRef: 'T-1',
        occurredOn: '2026-11-04',
        reversesTransactionId: null,
      },
      {
        ...base,
        transactionId: 'txn_rev',
        bankTransactionRef: 'T-2',
        occurredOn: '2026-11-03',
        reversesTransactionId: 'txn_orig',
      },
    ]);
    expect(await storage.repo.reversalsOf(ALICE.customerId, ['txn_orig', 'txn_rev'])).toEqual(
      new Map([['txn_orig', 'txn_rev']]),
    );
    // Reversal links are read within the customer whose reads recorded them.
    expect(await storage.repo.reversalsOf(BEN.customerId, ['txn_orig'])).toEqual(new Map());
  });

  it('reports readiness', async () => {
    expect(await storage.repo.ping()).toBe(true);
  });
});
