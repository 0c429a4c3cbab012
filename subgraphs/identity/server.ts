import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper/resolverMap.js';
import { openSharedCache, type SharedCache } from '../../lib/cache.ts';
import { openDatabase } from '../../lib/database.ts';
import { openConfiguredFallbackCache } from '../../lib/fallback-cache.ts';
import type { RunningServer } from '../../lib/http-server.ts';
import type { Logger } from '../../lib/logger.ts';
import { dependencySettingsOf } from '../../lib/resilience-config.ts';
import { configuredSeed } from '../../lib/seed.ts';
import { startSubgraphServer } from '../../lib/subgraph-server.ts';
import type { IdentityConfig } from './config.ts';
import { createIdentityContext, type IdentityContext, type IdentityPorts } from './context.ts';
import { createOnfidoClient } from './partners/onfido/client.ts';
import { resolvers } from './resolvers.ts';
import { migrations } from './storage/migrations.ts';
import { createCustomerRepository, createKycCheckStore } from './storage/repository.ts';
import { applySeed } from './storage/seed.ts';
import { startWebhookEndpoint, webhookInboxPort, type WebhookWorker } from '../../lib/webhooks/index.ts';
import { applyOnfidoEvent, onfidoWebhookSource } from './partners/onfido/webhooks.ts';

export interface IdentitySubgraphOptions {
  logger: Logger;
  /** Clock of the webhook inbox (received_at, retry due times). */
  now?: () => Date;
  /** Webhook worker settings (tests: fewer attempts, a short backoff). */
  webhookWorker?: { maxAttempts?: number; backoffMs?: (failures: number) => number };
}

export interface RunningIdentitySubgraph extends RunningServer {
  /** Applies Onfido's webhook events from the inbox; null when the route is off (no ONFIDO_WEBHOOK_TOKEN). */
  webhooks: WebhookWorker | null;
}

/**
 * Starts the identity subgraph: opens its storage (PostgreSQL schema `identity`, migrated; the
 * seed's customers written when SEED_FILE is set), builds the ports (the customers table, the Onfido client and the
 * cache of Onfido's last known values: memory, or Redis with REDIS_URL) and serves the subgraph. close() stops the
 * server, the Onfido breaker, the cache and the database.
 */
export async function startIdentitySubgraph(
  config: IdentityConfig,
  options: IdentitySubgraphOptions,
): Promise<RunningIdentitySubgraph> {
  const logger = options.logger;
  const now = options.now ?? (() => new Date());
  const db = await openDatabase({
    schema: 'identity',
    databaseUrl: config.DATABASE_URL,
    pgliteDir: config.PGLITE_DIR,
    migrations,
    logger,
  });
  // Onfido's timeout, retries, bulkhead and breaker from the ONFIDO_* variables (config.ts).
  const { timeoutMs, ...protections } = dependencySettingsOf(config, 'ONFIDO');
  const onfido = createOnfidoClient({
    url: config.ONFIDO_URL,
    apiToken: config.ONFIDO_API_TOKEN,
    timeoutMs,
    protections,
    logger,
  });
  let cache: SharedCache | undefined;
  try {
    // Only a cache here: the subgraph starts, and serves live answers, while Redis is down.
    cache = await openSharedCache({ redisUrl: config.REDIS_URL, logger, prefix: 'fdg:identity', required: false });
    const fallback = openConfiguredFallbackCache(config, cache, logger, 'identity');
    const seed = configuredSeed(config);
    if (seed) await applySeed(db, seed, logger);
    if (!config.ONFIDO_API_TOKEN) logger.warn('ONFIDO_API_TOKEN is not set: Onfido will refuse the KYC lookups');
    // Onfido's webhooks (lib/webhooks): verified, stored in the inbox, applied per check in order by the worker.
    const webhookTokens = [config.ONFIDO_WEBHOOK_TOKEN, config.ONFIDO_WEBHOOK_PREVIOUS_TOKEN].filter((t): t is string =>
      Boolean(t),
    );
    const webhooksOn = config.ONFIDO_WEBHOOKS === 'on' && webhookTokens.length > 0;
    if (config.ONFIDO_WEBHOOKS === 'on' && !webhooksOn)
      logger.warn('ONFIDO_WEBHOOK_TOKEN is not set: no /webhooks/onfido route; KYC is read from Onfido only');
    const webhooks = webhooksOn
      ? startWebhookEndpoint({
          db,
          logger,
          now,
          source: onfidoWebhookSource(webhookTokens),
          apply: applyOnfidoEvent({ checks: onfido, store: (tx) => createKycCheckStore(tx), logger }),
          ...(options.webhookWorker ? { worker: options.webhookWorker } : {}),
        })
      : null;
    const ports: IdentityPorts = {
      repository: createCustomerRepository(db),
      kyc: onfido,
      ...(webhooksOn ? { kycRecords: createKycCheckStore(db) } : {}),
      idSecret: config.ID_HASH_SECRET,
      // Operators list and replay the inbox; a replay wakes the worker instead of waiting for its poll.
      webhookInbox: webhookInboxPort(db, { now, onRequeued: () => webhooks?.worker.nudge() }),
      lastKnown: fallback ? { cache: fallback, logger, service: 'identity' } : null,
      now,
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
      // Called by Onfido, not the gateway: authenticated by the webhook signature.
      ...(webhooks ? { routes: (req, res, url) => webhooks.receiver.routes(req, res, url) } : {}),
    });
    return {
      ...running,
      webhooks: webhooks?.worker ?? null,
      close: async () => {
        await webhooks?.worker.stop();
        await running.close();
        onfido.shutdown();
        await cache?.close();
        await db.close();
      },
    };
  } catch (err) {
    onfido.shutdown();
    await cache?.close();
    await db.close();
    throw err;
  }
}
