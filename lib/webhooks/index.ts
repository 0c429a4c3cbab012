/**
 * Receiving webhooks, for any subgraph: verify -> store raw in an inbox -> answer 2xx -> apply
 * asynchronously, in order per aggregate, with retries, a dead letter and operator replay.
 *
 * Wiring a subgraph (the payments subgraph for Northwind, identity for Onfido):
 *
 *   import {
 *     createWebhookReceiver, createWebhookWorker, standardWebhooksVerifier, webhookInboxMigrations,
 *   } from '../../lib/webhooks/index.ts';
 *
 *   // 1. the table, in the subgraph's own schema
 *   openDatabase({ schema: 'payments', migrations: [...paymentsMigrations, ...webhookInboxMigrations], ... });
 *
 *   // 2. the worker: apply(event, { tx, lastApplied }) writes through tx; its writes and the
 *   //    'applied' mark commit together. Never move state backwards: compare event.sequence /
 *   //    event.occurredAt with what the payment already has (lastApplied helps) and return
 *   //    { result: 'stale' } to record a no-op. Throw to retry (backoff; dead after maxAttempts).
 *   const worker = createWebhookWorker({ db, logger, sources: ['northwind'], apply: applyNorthwindEvent });
 *   worker.start();   // ... await worker.stop() on shutdown (before db.close())
 *
 *   // 3. the route, mounted through lib/http-server.ts's `routes` hook
 *   const receiver = createWebhookReceiver({
 *     db, logger, onStored: () => worker.nudge(),
 *     sources: [{
 *       source: 'northwind', path: '/webhooks/northwind',
 *       verify: standardWebhooksVerifier(
 *         [config.NORTHWIND_WEBHOOK_SECRET, config.NORTHWIND_WEBHOOK_PREVIOUS_SECRET].filter(Boolean),
 *       ),
 *       // eventId defaults to the webhook-id header
 *       describe: (p) => ({
 *         type: p.type, aggregateId: p.data.DomesticPaymentId, sequence: p.data.Sequence,
 *         occurredAt: new Date(p.data.StatusUpdateDateTime),
 *       }),
 *     }],
 *   });
 *   routes: (req, res, url) => receiver.routes(req, res, url)
 *
 * Steps 2 and 3 for one partner in one call: startWebhookEndpoint({ db, logger, source, apply }) (endpoint.ts),
 * as the payments and identity subgraphs do.
 *
 * Such a route is called by the partner, not by the gateway: it is authenticated by the webhook
 * signature, not by the gateway's internal signature.
 *
 * Operators: `npm run webhooks -- list|replay` (scripts/webhooks.ts) over the same functions
 * (listEvents, replayEvents), and the same through GraphQL for callers with webhooks:read /
 * webhooks:replay (operations.ts; the payments and identity subgraphs' webhook event fields).
 *
 * Files: verify.ts (Standard Webhooks through the `standardwebhooks` package; Onfido's
 * X-SHA2-Signature), inbox.ts (table, store, list, replay), worker.ts (claiming and applying),
 * receiver.ts (HTTP), endpoint.ts (worker + receiver for one partner), operations.ts (the operators' GraphQL surface).
 */
export {
  headerValue,
  onfidoSignature,
  onfidoVerifier,
  standardWebhooksVerifier,
  WebhookRejected,
  type HeaderBag,
  type RejectionCode,
} from './verify.ts';
export {
  countByStatus,
  getEvent,
  INBOX_STATUSES,
  listEvents,
  replayEvents,
  storeEvent,
  webhookInboxMigrations,
  type DescribedEvent,
  type InboxEvent,
  type InboxStatus,
  type ListFilter,
  type ReplayResult,
  type ReplaySelector,
} from './inbox.ts';
export {
  createWebhookWorker,
  defaultBackoffMs,
  type ApplyContext,
  type ApplyFn,
  type ApplyOutcome,
  type ClaimedEvent,
  type RunResult,
  type WebhookWorker,
  type WebhookWorkerOptions,
} from './worker.ts';
export { startWebhookEndpoint, type WebhookEndpointOptions } from './endpoint.ts';
export {
  OPERATOR_STATUSES,
  REPLAY_IDS_SHOWN,
  replayWebhookEvents,
  requireWebhookOperator,
  webhookEventConnection,
  webhookEventsQuery,
  webhookEventView,
  webhookInboxPort,
  webhookReplaySelector,
  type OperatorEventStatus,
  type WebhookEventsArgs,
  type WebhookEventView,
  type WebhookInboxPort,
  type WebhookReplayArgs,
  type WebhookReplayView,
  type WebhookScope,
} from './operations.ts';
export {
  createWebhookReceiver,
  type ReceiveResult,
  type WebhookReceiver,
  type WebhookReceiverOptions,
  type WebhookSource,
} from './receiver.ts';
