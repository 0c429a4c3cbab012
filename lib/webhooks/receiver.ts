import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Queryable } from '../database.ts';
import { readRequestBody } from '../http-server.ts';
import type { Logger } from '../logger.ts';
import { pickHeaders, storeEvent, type DescribedEvent } from './inbox.ts';
import { headerValue, WebhookRejected, type HeaderBag } from './verify.ts';

/**
 * The HTTP side of a webhook source: verify, store raw, answer. Nothing here applies an event
 * (that is the worker's job, after the answer), so the sender gets its 2xx within one INSERT.
 *
 * Answers (JSON):
 *   200 { received: true, id, duplicate }      stored now, or already stored (a redelivery)
 *   400 { error: { code: WEBHOOK_HEADERS_MISSING } }   signature headers missing or malformed
 *   401 { error: { code: WEBHOOK_SIGNATURE_INVALID | WEBHOOK_TIMESTAMP_INVALID } }
 *   405 / 413                                  not a POST / body over maxBodyBytes
 * A correctly signed body that `describe` cannot understand is stored as `dead` with the reason
 * and answered 200: the sender did its part, and an operator can see it (and replay it after a fix).
 */
export interface WebhookSource {
  /** Name stored with each event (northwind, onfido). */
  source: string;
  /** Path the source posts to, e.g. /webhooks/northwind. */
  path: string;
  /** Throws WebhookRejected: standardWebhooksVerifier(secrets) or onfidoVerifier(tokens). */
  verify: (rawBody: string, headers: HeaderBag) => void;
  /**
   * What the event is: its type, the aggregate it is about and its order there. `eventId` may be
   * left out: then the `webhook-id` header is used, or, for senders without an id (Onfido), the
   * SHA-256 of the raw body (an identical redelivery is then a duplicate). Throw when the payload
   * is not understood.
   */
  describe: (payload: unknown, headers: HeaderBag) => Omit<DescribedEvent, 'eventId'> & { eventId?: string };
  /**
   * Headers stored with the event (lower-case). Default: the signature headers, content-type, user-agent, x-request-id.
   */
  keepHeaders?: readonly string[];
}

export interface WebhookReceiverOptions {
  db: Queryable;
  sources: readonly WebhookSource[];
  logger: Logger;
  /** Largest accepted body (default 256 KiB; Standard Webhooks recommends payloads under 20 KB). */
  maxBodyBytes?: number;
  /** Clock for received_at (default the system clock). */
  now?: () => Date;
  /** Called after an event was stored (pass the worker's nudge). */
  onStored?: (source: string) => void;
}

export interface ReceiveResult {
  status: number;
  body: Record<string, unknown>;
}

export interface WebhookReceiver {
  /** Handles one delivery of `source` given its raw body and headers (the HTTP route calls this). */
  receive(source: string, delivery: { rawBody: string; headers: HeaderBag }): Promise<ReceiveResult>;
  /**
   * A lib/http-server.ts `routes` hook: answers POSTs to each source's path and resolves true,
   * false for any other path. Combine with other routes: `routes: (req, res, url) => receiver.routes(req, res, url)`.
   */
  routes(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean>;
}

const DEFAULT_KEEP = [
  'webhook-id',
  'webhook-timestamp',
  'webhook-signature',
  'x-sha2-signature',
  'content-type',
  'user-agent',
  'x-request-id',
];

export function createWebhookReceiver(options: WebhookReceiverOptions): WebhookReceiver {
  const log = options.logger.child({ component: 'webhook-receiver' });
  const maxBody = options.maxBodyBytes ?? 256 * 1024;
  const now = options.now ?? (() => new Date());
  const bySource = new Map(options.sources.map((s) => [s.source, s]));
  const byPath = new Map(options.sources.map((s) => [s.path, s]));
  if (bySource.size !== options.sources.length || byPath.size !== options.sources.length)
    throw new RangeError('webhook sources need distinct names and paths');

  async function receive(source: string, delivery: { rawBody: string; headers: HeaderBag }): Promise<ReceiveResult> {
    const config = bySource.get(source);
    if (!config) throw new RangeError(`unknown webhook source ${source}`);
    try {
      config.verify(delivery.rawBody, delivery.headers);
    } catch (err) {
      if (!(err instanceof WebhookRejected)) throw err;
      log.warn({ source, code: err.code }, 'webhook delivery refused');
      return { status: err.status, body: { error: { code: err.code, message: err.message } } };
    }
    const headers = pickHeaders(delivery.headers, config.keepHeaders ?? DEFAULT_KEEP);
    const fallbackId =
      headerValue(delivery.headers, 'webhook-id') ??
      `sha256:${createHash('sha256').update(delivery.rawBody, 'utf8').digest('hex')}`;
    let event: DescribedEvent;
    let dead: { error: string } | undefined;
    try {
      const described = config.describe(JSON.parse(delivery.rawBody) as unknown, delivery.headers);
      event = { ...described, eventId: described.eventId ?? fallbackId };
    } catch (err) {
      event = { eventId: fallbackId, type: '' };
      dead = { error: `payload not understood: ${(err as Error).message}`.slice(0, 2_000) };
    }
    const stored = await storeEvent(options.db, {
      source,
      event,
      rawBody: delivery.rawBody,
      headers,
      receivedAt: now(),
      ...(dead ? { dead } : {}),
    });
    if (dead) log.error({ source, eventId: event.eventId, error: dead.error }, 'signed webhook stored as dead');
    else if (!stored.duplicate) options.onStored?.(source);
    log.debug({ source, eventId: event.eventId, duplicate: stored.duplicate }, 'webhook received');
    return { status: 200, body: { received: true, id: stored.id, duplicate: stored.duplicate } };
  }

  async function routes(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
    const config = byPath.get(url.pathname);
    if (!config) return false;
    const reply = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
      res.end(JSON.stringify(body));
      return true;
    };
    if (req.method !== 'POST')
      return reply(
        405,
        { error: { code: 'WEBHOOK_METHOD_NOT_ALLOWED', message: 'webhooks are POSTed' } },
        { allow: 'POST' },
      );
    let rawBody: string;
    try {
      // The exact bytes the sender signed: never parse-and-reserialise before verifying.
      rawBody = await readRequestBody(req, maxBody);
    } catch {
      return reply(413, { error: { code: 'WEBHOOK_BODY_TOO_LARGE', message: `body over ${maxBody} bytes` } });
    }
    const result = await receive(config.source, { rawBody, headers: req.headers });
    return reply(result.status, result.body);
  }

  return { receive, routes };
}
