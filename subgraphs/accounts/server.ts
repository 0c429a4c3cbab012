import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper/resolverMap.js';
import { openSharedCache, type SharedCache } from '../../lib/cache.ts';
import { openDatabase } from '../../lib/database.ts';
import { openConfiguredFallbackCache } from '../../lib/fallback-cache.ts';
import type { HttpClient } from '../../lib/http-client.ts';
import type { RunningServer } from '../../lib/http-server.ts';
import type { Logger } from '../../lib/logger.ts';
import { dependencySettingsOf } from '../../lib/resilience-config.ts';
import { configuredSeed } from '../../lib/seed.ts';
import { startSubgraphServer } from '../../lib/subgraph-server.ts';
import type { AccountsConfig } from './config.ts';
import { createAccountsContext, type AccountsContext, type AccountsPorts } from './context.ts';
import type { BankAdapter, BankAdapterRegistry } from './domain/ports.ts';
import { createNorthwindAdapter } from './partners/northwind/client.ts';
import { createRheinbankAdapter } from './partners/rheinbank/client.ts';
import { resolvers } from './resolvers.ts';
import { migrations } from './storage/migrations.ts';
import { createAccountsRepository } from './storage/repository.ts';
import { applySeed } from './storage/seed.ts';

export interface AccountsSubgraphOptions {
  logger: Logger;
  /** Clock for "today" in transaction date windows; tests inject one. */
  now?: () => Date;
}

/**
 * The banks the platform reaches. Adding a bank = writing its adapter (partners/<bank>/) and
 * adding it here; the domain, loaders, resolvers and storage are bank-agnostic.
 */
function createBankAdapters(
  config: AccountsConfig,
  logger: Logger,
  now: () => Date,
): (BankAdapter & { readonly http: HttpClient })[] {
  // Each bank's timeout, retries, bulkhead and breaker from its <BANK>_* variables (config.ts).
  const { timeoutMs: northwindTimeout, ...northwind } = dependencySettingsOf(config, 'NORTHWIND');
  const { timeoutMs: rheinbankTimeout, ...rheinbank } = dependencySettingsOf(config, 'RHEINBANK');
  return [
    createNorthwindAdapter({
      baseUrl: config.NORTHWIND_URL,
      timeoutMs: northwindTimeout,
      protections: northwind,
      logger,
    }),
    createRheinbankAdapter({
      baseUrl: config.RHEINBANK_URL,
      timeoutMs: rheinbankTimeout,
      protections: rheinbank,
      logger,
      now,
    }),
  ];
}

/**
 * Starts the accounts subgraph: opens its storage (PostgreSQL schema `accounts`, migrated; the
 * seed's bank connections written when SEED_FILE is set), builds one resilient
 * client per bank and the cache of their last known values (memory, or Redis with REDIS_URL),
 * and serves the subgraph. close() closes the server, the circuit breakers, the cache and the
 * database.
 */
export async function startAccountsSubgraph(
  config: AccountsConfig,
  options: AccountsSubgraphOptions,
): Promise<RunningServer> {
  const logger = options.logger.child({ subgraph: 'accounts' });
  const now = options.now ?? (() => new Date());
  const db = await openDatabase({
    schema: 'accounts',
    databaseUrl: config.DATABASE_URL,
    pgliteDir: config.PGLITE_DIR,
    migrations,
    logger,
  });
  const adapterList = createBankAdapters(config, logger, now);
  let cache: SharedCache | undefined;
  const shutdownAdapters = async () => {
    for (const adapter of adapterList) adapter.http.shutdown();
    await cache?.close();
  };
  try {
    // Only a cache here: the subgraph starts, and serves live answers, while Redis is down.
    cache = await openSharedCache({ redisUrl: config.REDIS_URL, logger, prefix: 'fdg:accounts', required: false });
    const fallback = openConfiguredFallbackCache(config, cache, logger, 'accounts');
    const repo = createAccountsRepository(db);
    const seed = configuredSeed(config);
    if (seed) logger.info({ connections: await applySeed(repo, seed) }, 'seeded sandbox bank connections');
    const adapters: BankAdapterRegistry = new Map(adapterList.map((a) => [a.institution.id, a]));
    const ports: AccountsPorts = {
      adapters,
      repo,
      idSecret: config.ID_HASH_SECRET,
      now,
      logger,
      lastKnown: fallback ? { cache: fallback, logger, service: 'accounts' } : null,
    };
    const running = await startSubgraphServer<AccountsContext>({
      name: 'accounts',
      resolvers: resolvers as GraphQLResolverMap<AccountsContext>,
      context: (base) => createAccountsContext(base, ports),
      logger,
      common: config,
      port: config.ACCOUNTS_PORT,
      // Ready when the database answers; a bank being down degrades answers, it does not make the subgraph unready.
      database: db,
    });
    return {
      ...running,
      close: async () => {
        await running.close();
        await shutdownAdapters();
        await db.close();
      },
    };
  } catch (err) {
    await shutdownAdapters();
    await db.close();
    throw err;
  }
}
