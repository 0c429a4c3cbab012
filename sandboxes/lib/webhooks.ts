import { randomUUID } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { onfidoSignature } from '../../lib/webhooks/verify.ts';
import type { Logger } from '../../lib/logger.ts';
import { SECOND_MS, type Now } from './clock.ts';
import type { Route } from './server.ts';

/**
 * The sending side of a partner's webhooks: an outbox of events, delivered by POST to the
 * receiver the sandbox is configured with, signed the partner's way, retried with backoff until
 * a 2xx or `maxAttempts`.
 *
 * Time: an attempt's due time is on the sandbox clock (`now`), so a test moves retries along with
 * `clock.advance` and calls `flush()`; under the system clock a pump (a real timer,
 * `pumpIntervalMs`) does the same. The signature's timestamp (Standard Webhooks' webhook-timestamp)
 * is the wall clock of the attempt, not the sandbox clock, because the receiver checks it against
 * its own clock (5-minute tolerance); the event's own time is in the body.
 *
 * Test hooks: `duplicateNext(n)` delivers each of the next n events twice (same id);
 * `reorderNext(n)` holds the next n events and delivers them newest first; `deliveries()` is
 * the record of every event and attempt (also GET /sandbox/webhooks).
 */
export type Signer = (id: string, body: string) => Record<string, string>;

/**
 * Standard Webhooks: webhook-id/-timestamp/-signature; one `v1,` signature per secret (current first), space-separated.
 */
export function standardWebhooksSigner(secrets: readonly string[], wallClock: () => Date = () => new Date()): Signer {
  const webhooks = secrets.map((s) => new Webhook(s));
  return (id, body) => {
    const at = wallClock();
    return {
      'webhook-id': id,
      'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
      'webhook-signature': webhooks.map((w) => w.sign(id, at, body)).join(' '),
    };
  };
}

/** Onfido: X-SHA2-Signature, hex HMAC-SHA256 of the raw body under the webhook token (no id, no timestamp). */
export function onfidoSigner(token: string): Signer {
  return (_id, body) => ({ 'x-sha2-signature': onfidoSignature(token, body) });
}

export interface DeliveryAttempt {
  /** Sandbox clock. */
  at: string;
  status?: number;
  error?: string;
}

export interface Delivery {
  id: string;
  type: string;
  /** The exact body sent (and signed). */
  body: string;
  createdAt: string;
  state: 'pending' | 'held' | 'delivered' | 'failed';
  attempts: DeliveryAttempt[];
  nextAttemptAt: string | undefined;
  /** Extra deliveries of the same event forced by duplicateNext. */
  duplicates: number;
}

export interface WebhookTargetConfig {
  /** Receiver URL; undefined: events are not recorded or sent. */
  url: string | undefined;
  signer: Signer | undefined;
}

export interface WebhookOutboxOptions {
  name: string;
  now: Now;
  logger: Logger;
  /** Attempts per event (default 6). */
  maxAttempts?: number;
  /** Delay before attempt n+1 after n failures, on the sandbox clock (default 5 s * 4^(n-1): 5 s, 20 s, 80 s, ...). */
  backoffMs?: (failures: number) => number;
  /** Per-attempt timeout, real time (default 5 s). */
  timeoutMs?: number;
}

export class WebhookOutbox {
  readonly #opts: WebhookOutboxOptions;
  #target: WebhookTargetConfig = { url: undefined, signer: undefined };
  #deliveries: Delivery[] = [];
  #duplicate = 0;
  #reorder = 0;
  #held: Delivery[] = [];
  #running: Promise<void> | undefined;

  constructor(opts: WebhookOutboxOptions) {
    this.#opts = opts;
  }

  configure(target: WebhookTargetConfig): void {
    this.#target = target;
  }

  get enabled(): boolean {
    return this.#target.url !== undefined && this.#target.signer !== undefined;
  }

  /** Queues an event (no-op when no receiver is configured). */
  enqueue(type: string, payload: unknown, id = `msg_${randomUUID().replace(/-/g, '')}`): Delivery | undefined {
    if (!this.enabled) return undefined;
    const now = this.#opts.now();
    const delivery: Delivery = {
      id,
      type,
      body: JSON.stringify(payload),
      createdAt: now.toISOString(),
      state: 'pending',
      attempts: [],
      nextAttemptAt: now.toISOString(),
      duplicates: 0,
    };
    if (this.#duplicate > 0) {
      this.#duplicate--;
      delivery.duplicates = 1;
    }
    this.#deliveries.push(delivery);
    if (this.#reorder > 0) {
      delivery.state = 'held';
      delivery.nextAttemptAt = undefined;
      this.#held.push(delivery);
      this.#reorder--;
      if (this.#reorder === 0) {
        // Release newest first: the receiver sees them out of order.
        const due = this.#opts.now();
        this.#held.reverse().forEach((d) => {
          d.state = 'pending';
          d.nextAttemptAt = due.toISOString();
        });
        // Deliver in the reversed order: move them to the end of the list in that order.
        const released = new Set(this.#held);
        this.#deliveries = [...this.#deliveries.filter((d) => !released.has(d)), ...this.#held];
        this.#held = [];
      }
    }
    return delivery;
  }

  duplicateNext(count: number): void {
    this.#duplicate += count;
  }

  reorderNext(count: number): void {
    this.#reorder += count;
  }

  deliveries(): Delivery[] {
    return this.#deliveries.map((d) => structuredClone(d));
  }

  clear(): void {
    this.#deliveries = [];
    this.#held = [];
    this.#duplicate = 0;
    this.#reorder = 0;
  }

  /** Sends every pending event whose attempt is due on the sandbox clock, one at a time, in queue order. */
  deliverDue(): Promise<void> {
    // One pass at a time: a pump tick and a test's flush never send the same attempt twice.
    const pass = (this.#running ?? Promise.resolve()).then(() => this.#pass());
    this.#running = pass.catch(() => {});
    return pass;
  }

  async #pass(): Promise<void> {
    const { url, signer } = this.#target;
    if (!url || !signer) return;
    const maxAttempts = this.#opts.maxAttempts ?? 6;
    const backoff = this.#opts.backoffMs ?? ((n: number) => 5 * SECOND_MS * 4 ** (n - 1));
    for (const d of this.#deliveries) {
      if (d.state !== 'pending' || !d.nextAttemptAt) continue;
      const now = this.#opts.now();
      if (new Date(d.nextAttemptAt) > now) continue;
      const copies = 1 + d.duplicates;
      let ok = false;
      for (let i = 0; i < copies; i++) {
        const attempt = await this.#post(url, signer, d);
        d.attempts.push({ at: now.toISOString(), ...attempt });
        ok ||= attempt.status !== undefined && attempt.status >= 200 && attempt.status < 300;
      }
      if (ok) {
        d.state = 'delivered';
        d.nextAttemptAt = undefined;
      } else if (d.attempts.length >= maxAttempts) {
        d.state = 'failed';
        d.nextAttemptAt = undefined;
        this.#opts.logger.warn({ sandbox: this.#opts.name, id: d.id, type: d.type }, 'webhook not delivered; gave up');
      } else {
        d.nextAttemptAt = new Date(now.getTime() + backoff(d.attempts.length)).toISOString();
      }
    }
  }

  async #post(url: string, signer: Signer, d: Delivery): Promise<{ status?: number; error?: string }> {
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': `${this.#opts.name}-sandbox-webhooks`,
          ...signer(d.id, d.body),
        },
        body: d.body,
        signal: AbortSignal.timeout(this.#opts.timeoutMs ?? 5_000),
      });
      await res.arrayBuffer().catch(() => undefined);
      return { status: res.status };
    } catch (err) {
      return { error: (err as Error).message || 'request failed' };
    }
  }
}

/** A real-time loop calling `tick` every `intervalMs` (unref'd; stop() waits for a running tick). */
export function startPump(tick: () => Promise<void>, intervalMs: number, logger: Logger): { stop(): Promise<void> } {
  let current: Promise<void> = Promise.resolve();
  let stopped = false;
  const timer = setInterval(() => {
    if (stopped) return;
    current = current.then(tick).catch((err: unknown) => logger.warn({ err }, 'webhook pump failed'));
  }, intervalMs);
  timer.unref();
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await current;
    },
  };
}

/**
 * Sandbox-mode routes to watch and steer an outbox over HTTP (tests of other processes):
 *   GET  /sandbox/webhooks                  the deliveries (events, attempts, state)
 *   POST /sandbox/webhooks/flush            deliver what is due now
 *   POST /sandbox/webhooks/duplicate        { count }: deliver the next count events twice
 *   POST /sandbox/webhooks/reorder          { count }: hold the next count events, deliver them newest first
 */
export function webhookAdminRoutes(outbox: WebhookOutbox, flush: () => Promise<void>): Route[] {
  const count = (body: unknown): number | undefined => {
    const n = (body as { count?: unknown } | undefined)?.count;
    return typeof n === 'number' && Number.isInteger(n) && n > 0 && n <= 1000 ? n : undefined;
  };
  return [
    {
      method: 'GET',
      path: '/sandbox/webhooks',
      admin: true,
      handler: () => ({ status: 200, body: { enabled: outbox.enabled, deliveries: outbox.deliveries() } }),
    },
    {
      method: 'POST',
      path: '/sandbox/webhooks/flush',
      admin: true,
      handler: async () => {
        await flush();
        return { status: 200, body: { deliveries: outbox.deliveries() } };
      },
    },
    {
      method: 'POST',
      path: '/sandbox/webhooks/duplicate',
      admin: true,
      handler: (req) => {
        const n = count(req.body);
        if (!n) return { status: 400, body: { error: 'count must be an integer 1..1000' } };
        outbox.duplicateNext(n);
        return { status: 204 };
      },
    },
    {
      method: 'POST',
      path: '/sandbox/webhooks/reorder',
      admin: true,
      handler: (req) => {
        const n = count(req.body);
        if (!n) return { status: 400, body: { error: 'count must be an integer 1..1000' } };
        outbox.reorderNext(n);
        return { status: 204 };
      },
    },
  ];
}
