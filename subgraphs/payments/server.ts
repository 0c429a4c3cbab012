import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper/resolverMap.js';
import { openDatabase } from '../../lib/database.ts';
import type { RunningServer } from '../../lib/http-server.ts';
import type { Logger } from '../../lib/logger.ts';
import { dependencySettingsOf } from '../../lib/resilience-config.ts';
import { configuredSeed } from '../../lib/seed.ts';
import { startSubgraphServer } from '../../lib/subgraph-server.ts';
import type { PaymentsConfig } from './config.ts';
import { createPaymentsContext, type PaymentsContext, type PaymentsPorts } from './context.ts';
import { resolvers } from './resolvers.ts';
import { migrations } from './storage/migrations.ts';
import { createPaymentsLedger, createPaymentsRepository, createPaymentWebhookInbox } from './storage/repository.ts';
import { applySeed, debtorAccountsFromSeed } from './storage/seed.ts';
import { createPaymentInitiation, type PaymentInitiation } from './domain/initiation.ts';
import type { PaymentsLedger } from './domain/ports.ts';
import { createNorthwindPis } from './partners/northwind/client.ts';
import { startPaymentPoller, type PaymentPoller } from './domain/poller.ts';
import { reconcilePayments } from './domain/reconciliation.ts';
import { startWebhookEndpoint, type WebhookWorker } from '../../lib/webhooks/index.ts';
import { applyNorthwindEvent, northwindWebhookSource } from './partners/northwind/webhooks.ts';

export interface PaymentsSubgraphOptions {
  logger: Logger;
  /** Clock; the sandbox seed places its payments relative to it. */
  now?: () => Date;
  /** Tests only: wraps the ledger (to make a commit fail after the bank call). */
  wrapLedger?: (ledger: PaymentsLedger) => PaymentsLedger;
}

export interface RunningPaymentsSubgraph extends RunningServer {
  /** Follows payments in progress at the bank (the poller's round, callable by tests). */
  poller: PaymentPoller;
  /** Applies Northwind's webhook events from the inbox; null without NORTHWIND_WEBHOOK_SECRET. */
  webhooks: WebhookWorker | null;
  initiation: PaymentInitiation;
}

/** timeoutMs and protections of the bank's payment initiation client, from the NORTHWIND_PIS_* variables. */
function pisSettings(config: PaymentsConfig) {
  const { timeoutMs, ...protections } = dependencySettingsOf(config, 'NORTHWIND_PIS');
  return { timeoutMs, protections };
}
/**
 * Starts the payments subgraph: opens the ledger (PostgreSQL schema `payments`, migrated; the
 * seed's payments written when SEED_FILE is set), builds the ports (the ledger, Northwind payment
 * initiation, the debtor accounts), starts the poller that follows payments whose webhook is late
 * and serves the subgraph. close() stops the server and the database.
 */
export async function startPaymentsSubgraph(
  config: PaymentsConfig,
  options: PaymentsSubgraphOptions,
): Promise<RunningPaymentsSubgraph> {
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
    // The bank's SCA page of a consent: new payments link to it, and so do seeded ones awaiting authorisation.
    const authorisationUrlTemplate =
      config.NORTHWIND_AUTHORISATION_URL ??
      `${config.NORTHWIND_URL.replace(/\/+$/, '')}/sandbox/pis/authorise/{ConsentId}`;
    const seed = configuredSeed(config);
    if (seed)
      await applySeed(db, seed, { idSecret: config.ID_HASH_SECRET, now: now(), logger, authorisationUrlTemplate });
    const ledgerStore = createPaymentsLedger(db);
    const ledger = options.wrapLedger ? options.wrapLedger(ledgerStore) : ledgerStore;
    const bank = config.NORTHWIND_PIS_TOKEN
      ? createNorthwindPis({
          baseUrl: config.NORTHWIND_URL,
          // The bank's timeout, retries, bulkhead and breaker: NORTHWIND_PIS_* (config.ts).
          ...pisSettings(config),
          token: config.NORTHWIND_PIS_TOKEN,
          signingKeyPem: config.NORTHWIND_PIS_SIGNING_KEY,
          signingKeyId: config.NORTHWIND_PIS_SIGNING_KEY_ID,
          authorisationUrlTemplate,
          logger,
        })
      : null;
    if (!bank) logger.warn('NORTHWIND_PIS_TOKEN is not set: payments cannot be initiated (PARTNER_UNAVAILABLE)');
    const debtors = debtorAccountsFromSeed(seed, config.ID_HASH_SECRET);
    const initiation = createPaymentInitiation({ ledger, bank, debtors, now, logger });
    const ports: PaymentsPorts = {
      repository: createPaymentsRepository(db),
      initiation,
      reconcile: (date) => reconcilePayments(date, { bank, ledger: ledgerStore, now: now() }),
      // Operators list and replay the inbox; a replay wakes the worker (below) rather than wait for its next poll.
      webhookInbox: createPaymentWebhookInbox(db, { now, onRequeued: () => webhooks?.worker.nudge() }),
    };
    // Northwind's webhooks (lib/webhooks): verified, stored in the inbox, applied in order by the worker.
    const webhookSecrets = [config.NORTHWIND_WEBHOOK_SECRET, config.NORTHWIND_WEBHOOK_PREVIOUS_SECRET].filter(
      (s): s is string => Boolean(s),
    );
    const webhooks =
      webhookSecrets.length > 0
        ? startWebhookEndpoint({
            db,
            logger,
            now,
            source: northwindWebhookSource(webhookSecrets),
            apply: applyNorthwindEvent({
              inTransaction: (tx) =>
                createPaymentInitiation({ ledger: createPaymentsLedger(tx), bank, debtors, now, logger }),
              // A consent the customer authorised: submit the payment once the event's transaction has committed.
              afterCommit: (paymentId) =>
                void setTimeout(() => {
                  initiation
                    .advance(paymentId)
                    .catch((err: unknown) =>
                      logger.warn(
                        { paymentId, err: (err as Error).message },
                        'submission after consent webhook failed; the poller retries',
                      ),
                    );
                }, 20).unref(),
              logger,
            }),
          })
        : null;
    const poller = startPaymentPoller({
      ledger,
      initiation,
      intervalMs: config.PAYMENTS_POLL_INTERVAL_MS,
      graceMs: config.PAYMENTS_WEBHOOK_GRACE_MS,
      now,
      logger,
    });
    const running = await startSubgraphServer<PaymentsContext>({
      name: 'payments',
      resolvers: resolvers as GraphQLResolverMap<PaymentsContext>,
      context: (base) => createPaymentsContext(base, ports),
      logger,
      common: config,
      port: config.PAYMENTS_PORT,
      database: db,
      ...(webhooks ? { routes: (req, res, url) => webhooks.receiver.routes(req, res, url) } : {}),
    });
    return {
      ...running,
      poller,
      initiation,
      webhooks: webhooks?.worker ?? null,
      close: async () => {
        await poller.stop();
        await webhooks?.worker.stop();
        await running.close();
        bank?.http.shutdown();
        await db.close();
      },
    };
  } catch (err) {
    await db.close();
    throw err;
  }
}
