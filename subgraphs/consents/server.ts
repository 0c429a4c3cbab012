import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper/resolverMap.js';
import { openDatabase } from '../../lib/database.ts';
import type { RunningServer } from '../../lib/http-server.ts';
import type { Logger } from '../../lib/logger.ts';
import { configuredSeed } from '../../lib/seed.ts';
import { startSubgraphServer } from '../../lib/subgraph-server.ts';
import type { ConsentsConfig } from './config.ts';
import { createConsentsContext, type ConsentsContext, type ConsentsPorts } from './context.ts';
import { createConsentService } from './domain/service.ts';
import { resolvers } from './resolvers.ts';
import { migrations } from './storage/migrations.ts';
import { createConsentRepository } from './storage/repository.ts';
import { applySeed } from './storage/seed.ts';

export interface ConsentsSubgraphOptions {
  logger: Logger;
  /** Clock for statuses, expiry and transitions; tests inject one to cross an expiry exactly. */
  now?: () => Date;
}

/**
 * Starts the consents subgraph: opens its storage (PostgreSQL schema `consents`, migrated; the
 * seed's clients and a few consents written when SEED_FILE is set), starts the expiry
 * sweep and serves the subgraph. close() stops the sweep, the server and the database.
 *
 * Expiry: reads compute EXPIRED from `expiresAt` at the request's instant (exact, and the only
 * thing access decisions depend on); the sweep then records the status change with a 'system'
 * event at the expiry instant, so the stored evidence catches up within CONSENTS_EXPIRY_SWEEP_MS.
 * Its single conditional UPDATE makes it safe to run on every replica.
 */
export async function startConsentsSubgraph(
  config: ConsentsConfig,
  options: ConsentsSubgraphOptions,
): Promise<RunningServer> {
  const logger = options.logger.child({ subgraph: 'consents' });
  const now = options.now ?? (() => new Date());
  const db = await openDatabase({
    schema: 'consents',
    databaseUrl: config.DATABASE_URL,
    pgliteDir: config.PGLITE_DIR,
    migrations,
    logger,
  });
  let sweepTimer: NodeJS.Timeout | undefined;
  let sweeping: Promise<void> = Promise.resolve();
  try {
    const seed = configuredSeed(config);
    if (seed) await applySeed(db, seed, { idHashSecret: config.ID_HASH_SECRET, now: now() });
    const repo = createConsentRepository(db);
    const ports: ConsentsPorts = {
      repository: repo,
      lifecycle: createConsentService(repo, { maxPendingPerClient: config.CONSENTS_MAX_PENDING_PER_CLIENT }),
      now,
    };

    const sweep = () => {
      sweeping = repo.recordDueExpiries(now()).then(
        (count) => void (count > 0 && logger.info({ count }, 'recorded expired consents')),
        (err: unknown) => logger.error({ err }, 'consent expiry sweep failed'),
      );
      return sweeping;
    };
    await sweep();
    sweepTimer = setInterval(() => void sweep(), config.CONSENTS_EXPIRY_SWEEP_MS);
    sweepTimer.unref();

    const running = await startSubgraphServer<ConsentsContext>({
      name: 'consents',
      resolvers: resolvers as GraphQLResolverMap<ConsentsContext>,
      context: (base) => createConsentsContext(base, ports),
      logger,
      common: config,
      port: config.CONSENTS_PORT,
      database: db,
    });
    return {
      ...running,
      close: async () => {
        clearInterval(sweepTimer);
        await running.close();
        await sweeping;
        await db.close();
      },
    };
  } catch (err) {
    clearInterval(sweepTimer);
    await sweeping;
    await db.close();
    throw err;
  }
}
