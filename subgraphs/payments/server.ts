import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper/resolverMap.js';
import { openDatabase } from '../../lib/database.ts';
import type { RunningServer } from '../../lib/http-server.ts';
import type { Logger } from '../../lib/logger.ts';
import { configuredSeed } from '../../lib/seed.ts';
import { startSubgraphServer } from '../../lib/subgraph-server.ts';
import type { PaymentsConfig } from './config.ts';
import { createPaymentsContext, type PaymentsContext, type PaymentsPorts } from './context.ts';
import { resolvers } from './resolvers.ts';
import { migrations } from './storage/migrations.ts';
import { createPaymentsRepository } from './storage/repository.ts';
import { applySeed } from './storage/seed.ts';

export interface PaymentsSubgraphOptions {
  logger: Logger;
  /** Clock; the sandbox seed places its payments relative to it. */
  now?: () => Date;
}

/**
 * Starts the payments subgraph: opens the ledger (PostgreSQL schema `payments`, migrated; the
 * seed's payments written when SEED_FILE is set), builds the ports (the ledger; no partner yet)
 * and serves the subgraph. close() stops the server and the database.
 */
export async function startPaymentsSubgraph(
  config: PaymentsConfig,
  options: PaymentsSubgraphOptions,
): Promise<RunningServer> {
  const logger = options.logger;
  const now = options.now ?? (() => new Date());
  const db = await openDatabase({
    schema: 'payments',
    databaseUrl: config.DATABASE_URL,
    pgliteDir: config.PGLITE_DIR,
    migrations,
    logger,
  });
  try {
    const seed = configuredSeed(config);
    if (seed) await applySeed(db, seed, { idSecret: config.ID_HASH_SECRET, now: now(), logger });
    const ports: PaymentsPorts = { repository: createPaymentsRepository(db) };
    const running = await startSubgraphServer<PaymentsContext>({
      name: 'payments',
      resolvers: resolvers as GraphQLResolverMap<PaymentsContext>,
      context: (base) => createPaymentsContext(base, ports),
      logger,
      common: config,
      port: config.PAYMENTS_PORT,
      database: db,
    });
    return {
      ...running,
      close: async () => {
        await running.close();
        await db.close();
      },
    };
  } catch (err) {
    await db.close();
    throw err;
  }
}
