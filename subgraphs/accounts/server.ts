import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper/resolverMap.js';
import type { HttpClient } from '../../lib/http-client.ts';
import type { RunningServer } from '../../lib/http-server.ts';
import type { Logger } from '../../lib/logger.ts';
import { startSubgraphServer } from '../../lib/subgraph-server.ts';
import type { AccountsConfig } from './config.ts';
import type { AccountsContext } from './context.ts';
import type { BankAdapter, BankAdapterRegistry } from './domain/bank-adapter.ts';
import { createAccountsLoaders, type AccountsServices } from './loaders.ts';
import { createNorthwindAdapter } from './partners/northwind/adapter.ts';
import { createRheinbankAdapter } from './partners/rheinbank/adapter.ts';
import { resolvers } from './resolvers.ts';
import { openAccountsStorage } from './storage/index.ts';

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
  return [
    createNorthwindAdapter({ baseUrl: config.NORTHWIND_URL, timeoutMs: config.NORTHWIND_TIMEOUT_MS, logger }),
    createRheinbankAdapter({ baseUrl: config.RHEINBANK_URL, timeoutMs: config.RHEINBANK_TIMEOUT_MS, logger, now }),
  ];
}

/**
 * Starts the accounts subgraph: opens its storage (PostgreSQL schema `accounts`, migrated; the
 * sandbox customers' bank connections seeded in the sandbox profile), builds one resilient
 * client per bank, and serves the subgraph. close() closes the server, the circuit breakers
 * and the database.
 */
export async function startAccountsSubgraph(
  config: AccountsConfig,
  options: AccountsSubgraphOptions,
): Promise<RunningServer> {
  const logger = options.logger.child({ subgraph: 'accounts' });
  const now = options.now ?? (() => new Date());
  const storage = await openAccountsStorage({
    databaseUrl: config.DATABASE_URL,
    pgliteDir: config.PGLITE_DIR,
    logger,
    seedSandbox: config.PROFILE === 'sandbox',
  });
  const adapterList = createBankAdapters(config, logger, now);
  const shutdownAdapters = () => {
    for (const adapter of adapterList) adapter.http.shutdown();
  };
  try {
    const adapters: BankAdapterRegistry = new Map(adapterList.map((a) => [a.institution.id, a]));
    const services: AccountsServices = { adapters, repo: storage.repo, idSecret: config.ID_HASH_SECRET, now, logger };
    const running = await startSubgraphServer<AccountsContext>({
      name: 'accounts',
      resolvers: resolvers as GraphQLResolverMap<AccountsContext>,
      context: (base) => ({ ...base, loaders: createAccountsLoaders(services, base.principal) }),
      logger,
      common: config,
      port: config.ACCOUNTS_PORT,
      // Ready when the database answers; a bank being down degrades answers, it does not make the subgraph unready.
      database: storage.db,
    });
    return {
      ...running,
      close: async () => {
        await running.close();
        shutdownAdapters();
        await storage.close();
      },
    };
  } catch (err) {
    shutdownAdapters();
    await storage.close();
    throw err;
  }
}
