import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper/resolverMap.js';
import { openDatabase } from '../../lib/database.ts';
import type { RunningServer } from '../../lib/http-server.ts';
import type { Logger } from '../../lib/logger.ts';
import { configuredSeed } from '../../lib/seed.ts';
import { startSubgraphServer } from '../../lib/subgraph-server.ts';
import type { IdentityConfig } from './config.ts';
import { createIdentityContext, type IdentityContext, type IdentityPorts } from './context.ts';
import { createOnfidoClient } from './partners/onfido/client.ts';
import { resolvers } from './resolvers.ts';
import { migrations } from './storage/migrations.ts';
import { createCustomerRepository } from './storage/repository.ts';
import { applySeed } from './storage/seed.ts';

export interface IdentitySubgraphOptions {
  logger: Logger;
  /** Clock; identity reads no time of its own today, accepted for the common start signature. */
  now?: () => Date;
}

/**
 * Starts the identity subgraph: opens its storage (PostgreSQL schema `identity`, migrated; the
 * seed's customers written when SEED_FILE is set), builds the ports (the customers table, the Onfido client) and serves
 * the subgraph. close() stops the server, the Onfido breaker and the database.
 */
export async function startIdentitySubgraph(
  config: IdentityConfig,
  options: IdentitySubgraphOptions,
): Promise<RunningServer> {
  const logger = options.logger;
  const db = await openDatabase({
    schema: 'identity',
    databaseUrl: config.DATABASE_URL,
    pgliteDir: config.PGLITE_DIR,
    migrations,
    logger,
  });
  const onfido = createOnfidoClient({
    url: config.ONFIDO_URL,
    apiToken: config.ONFIDO_API_TOKEN,
    timeoutMs: config.ONFIDO_TIMEOUT_MS,
    logger,
  });
  try {
    const seed = configuredSeed(config);
    if (seed) await applySeed(db, seed, logger);
    if (!config.ONFIDO_API_TOKEN) logger.warn('ONFIDO_API_TOKEN is not set: Onfido will refuse the KYC lookups');
    const ports: IdentityPorts = {
      repository: createCustomerRepository(db),
      kyc: onfido,
      idSecret: config.ID_HASH_SECRET,
    };
    const running = await startSubgraphServer<IdentityContext>({
      name: 'identity',
      resolvers: resolvers as GraphQLResolverMap<IdentityContext>,
      context: (base) => createIdentityContext(base, ports),
      logger,
      common: config,
      port: config.IDENTITY_PORT,
      // Ready when the database answers. Onfido is deliberately not a readiness check: Onfido
      // being down degrades KYC fields only; it must not take identity out of rotation.
      database: db,
    });
    return {
      ...running,
      close: async () => {
        await running.close();
        onfido.shutdown();
        await db.close();
      },
    };
  } catch (err) {
    onfido.shutdown();
    await db.close();
    throw err;
  }
}
