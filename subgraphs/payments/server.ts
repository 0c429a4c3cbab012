import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper/resolverMap.js';
import { openDatabase } from '../../lib/database.ts';
import type { RunningServer } from '../../lib/http-server.ts';
import type { Logger } from '../../lib/logger.ts';
import { startSubgraphServer } from '../../lib/subgraph-server.ts';
import type { PaymentsConfig } from './config.ts';
import type { PaymentsContext } from './context.ts';
import { createPaymentsService } from './domain/payments-service.ts';
import { createPaymentsLoaders } from './loaders.ts';
import { resolvers } from './resolvers.ts';
import { paymentsMigrations } from './storage/migrations.ts';
import { createPaymentsRepository } from './storage/payments.ts';
import { seedSandboxPayments } from './storage/seed.ts';

export interface PaymentsSubgraphOptions {
  logger: Logger;
  /** Clock; the sandbox seed places its payments relative to it. */
  now?: () => Date;
}

/**
 * Starts the payments subgraph: opens the ledger (PostgreSQL schema `payments`, migrated; the
 * sandbox payments seeded in the sandbox profile) and serves the subgraph. close() stops the
 * server and the database.
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
    migrations: paymentsMigrations,
    logger,
  });
  try {
    if (config.PROFILE === 'sandbox')
      await seedSandboxPayments(db, { idSecret: config.ID_HASH_SECRET, now: now(), logger });
    const repository = createPaymentsRepository(db);
    const running = await startSubgraphServer<PaymentsContext>({
      name: 'payments',
      resolvers: resolvers as GraphQLResolverMap<PaymentsContext>,
      context: (base) => {
        const customerId = base.principal?.customerId ?? null;
        return {
          ...base,
          payments: createPaymentsService({
            principal: base.principal,
            loaders: createPaymentsLoaders(repository, customerId),
            repository,
          }),
        };
      },
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
