import type { Database } from '../database.ts';
import type { Logger } from '../logger.ts';
import { createWebhookReceiver, type WebhookReceiver, type WebhookSource } from './receiver.ts';
import { createWebhookWorker, type ApplyFn, type WebhookWorker, type WebhookWorkerOptions } from './worker.ts';

export interface WebhookEndpointOptions {
  db: Database;
  logger: Logger;
  now?: () => Date;
  /** The partner's route: path, signature check and how its events are described. */
  source: WebhookSource;
  /** Applies one stored event of that source (see worker.ts: writes through ctx.tx). */
  apply: ApplyFn;
  /** Retry settings of the worker (tests: fewer attempts, a short backoff). */
  worker?: Pick<WebhookWorkerOptions, 'maxAttempts' | 'backoffMs'>;
}

/**
 * One partner's webhooks in a subgraph, wired the one way both such subgraphs need (payments for
 * Northwind, identity for Onfido): a worker that applies only that source's events, already
 * started, and the receiver whose route verifies and stores them and then wakes the worker.
 * Mount `receiver.routes` through lib/http-server.ts's `routes` hook; `await worker.stop()` on
 * shutdown, before the database closes.
 */
export function startWebhookEndpoint(opts: WebhookEndpointOptions): {
  worker: WebhookWorker;
  receiver: WebhookReceiver;
} {
  const clock = opts.now ? { now: opts.now } : {};
  const worker = createWebhookWorker({
    db: opts.db,
    logger: opts.logger,
    ...clock,
    sources: [opts.source.source],
    ...opts.worker,
    apply: opts.apply,
  });
  const receiver = createWebhookReceiver({
    db: opts.db,
    logger: opts.logger,
    ...clock,
    onStored: () => worker.nudge(),
    sources: [opts.source],
  });
  worker.start();
  return { worker, receiver };
}
