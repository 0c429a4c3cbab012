import { setTimeout as sleep } from 'node:timers/promises';
import type { Database, Queryable } from '../database.ts';
import type { Logger } from '../logger.ts';
import { eventFromRow, type InboxEvent } from './inbox.ts';

/**
 * Applies inbox events asynchronously, after the sender has had its 2xx.
 *
 * Claiming: one event per transaction, `FOR UPDATE SKIP LOCKED`, so any number of workers (in
 * one process or in replicas of the subgraph) share the queue without waiting on each other, and
 * the claimed row stays locked until the transaction that applies it commits. An event is only
 * claimable when no earlier event of the same aggregate (source + aggregate_id, ordered by
 * sequence, then occurred_at, then arrival) is still open (received or failed): events of one
 * payment are applied one at a time and in order, while different payments go in parallel. A
 * dead event no longer blocks its successors (an operator sees it and can replay it).
 *
 * Applying: the callback runs inside the claiming transaction and gets that transaction (`tx`):
 * its own writes and the event's `applied` mark commit together, so an event is applied once,
 * even with two workers, a crash in between, or a replay (an applied event is never requeued).
 * If it throws, its writes are rolled back to a savepoint and the event is marked failed in the
 * same transaction (attempts + 1, last_error, next attempt after an exponential backoff with
 * jitter), or dead after `maxAttempts`.
 *
 * Out-of-order delivery: a sender may deliver an older event after a newer one was applied. The
 * worker still hands it over (in order among what is open) with `lastApplied`, the newest event
 * of the aggregate applied so far; the callback decides what is newer (it owns the state and
 * may also have learnt it by polling the partner) and must never move state backwards: return
 * `{ result: 'stale' }` (or anything) to record that it did nothing.
 */
export interface ApplyContext {
  /** The transaction the event is claimed in: write the state change through it. */
  tx: Queryable;
  /** The newest already-applied event of the same aggregate (by sequence, occurred_at, arrival), if any. */
  lastApplied: { eventId: string; sequence: number | null; occurredAt: Date | null } | null;
}

export interface ClaimedEvent extends InboxEvent {
  /** The body parsed as JSON (the raw string when it is not JSON). */
  payload: unknown;
}

/** What the callback did, recorded in the inbox's `result` column (default 'applied'). */
export type ApplyOutcome = void | { result?: string };

export type ApplyFn = (event: ClaimedEvent, ctx: ApplyContext) => Promise<ApplyOutcome>;

export interface WebhookWorkerOptions {
  db: Database;
  apply: ApplyFn;
  logger: Logger;
  /** Only these sources (default: every source in the inbox). */
  sources?: readonly string[];
  /** Attempts before an event is dead-lettered (default 8). */
  maxAttempts?: number;
  /** Delay before attempt n+1 after n failures (default: 2 s * 2^(n-1), capped at 1 h, with jitter). */
  backoffMs?: (failures: number) => number;
  /** Sleep between polls when the queue is empty (default 1000 ms); `nudge()` wakes it at once. */
  pollIntervalMs?: number;
  /** Events applied per runOnce at most (default 100). */
  batchSize?: number;
  /** Clock for due times and applied_at (tests pass a fixed one). */
  now?: () => Date;
}

export interface RunResult {
  applied: number;
  failed: number;
  dead: number;
}

export interface WebhookWorker {
  /** Applies what is due now, one event after another, until nothing is claimable (or batchSize). */
  runOnce(): Promise<RunResult>;
  /** Starts the background loop (idempotent). */
  start(): void;
  /** Wakes the loop (the receiver calls it after storing an event). */
  nudge(): void;
  /** Stops the loop after the event in progress. */
  stop(): Promise<void>;
}

export function defaultBackoffMs(failures: number): number {
  const base = Math.min(3_600_000, 2_000 * 2 ** Math.max(0, failures - 1));
  // Equal jitter: half fixed, half random, so events that failed together do not retry together.
  return Math.round(base / 2 + (Math.random() * base) / 2);
}

const ORDER_KEY = (t: string) => `(COALESCE(${t}.sequence, 0), COALESCE(${t}.occurred_at, ${t}.received_at), ${t}.id)`;

const CLAIM_SQL = `
  SELECT w.* FROM webhook_inbox w
  WHERE w.status IN ('received', 'failed')
    AND w.next_attempt_at <= $1
    AND ($2::text[] IS NULL OR w.source = ANY($2::text[]))
    AND (w.aggregate_id IS NULL OR NOT EXISTS (
      SELECT 1 FROM webhook_inbox e
      WHERE e.source = w.source AND e.aggregate_id = w.aggregate_id
        AND e.status IN ('received', 'failed')
        AND ${ORDER_KEY('e')} < ${ORDER_KEY('w')}))
  ORDER BY w.next_attempt_at, w.id
  LIMIT 1
  FOR UPDATE OF w SKIP LOCKED`;

const LAST_APPLIED_SQL = `
  SELECT event_id, sequence, occurred_at FROM webhook_inbox x
  WHERE x.source = $1 AND x.aggregate_id = $2 AND x.status = 'applied'
  ORDER BY COALESCE(x.sequence, 0) DESC, COALESCE(x.occurred_at, x.received_at) DESC, x.id DESC
  LIMIT 1`;

export function createWebhookWorker(options: WebhookWorkerOptions): WebhookWorker {
  const { db, apply, logger } = options;
  const log = logger.child({ component: 'webhook-worker' });
  const maxAttempts = options.maxAttempts ?? 8;
  if (!(Number.isInteger(maxAttempts) && maxAttempts >= 1)) throw new RangeError('maxAttempts must be >= 1');
  const backoff = options.backoffMs ?? defaultBackoffMs;
  const pollMs = options.pollIntervalMs ?? 1_000;
  const batchSize = options.batchSize ?? 100;
  const now = options.now ?? (() => new Date());
  const sources = options.sources ? [...options.sources] : null;

  /** One event: 'applied' | 'failed' | 'dead', or undefined when nothing was claimable. */
  async function processOne(): Promise<'applied' | 'failed' | 'dead' | undefined> {
    return db.transaction(async (tx) => {
      const rows = await tx.query(CLAIM_SQL, [now(), sources]);
      if (!rows[0]) return undefined;
      const event = eventFromRow(rows[0]);
      let lastApplied: ApplyContext['lastApplied'] = null;
      if (event.aggregateId !== null) {
        const last = await tx.query(LAST_APPLIED_SQL, [event.source, event.aggregateId]);
        if (last[0])
          lastApplied = {
            eventId: String(last[0].event_id),
            sequence: last[0].sequence === null ? null : Number(last[0].sequence),
            occurredAt: last[0].occurred_at === null ? null : new Date(last[0].occurred_at as string),
          };
      }
      let payload: unknown;
      try {
        payload = JSON.parse(event.rawBody);
      } catch {
        payload = event.rawBody;
      }
      await tx.query('SAVEPOINT webhook_apply');
      try {
        const outcome = await apply({ ...event, payload }, { tx, lastApplied });
        await tx.query('RELEASE SAVEPOINT webhook_apply');
        await tx.query(
          `UPDATE webhook_inbox SET status = 'applied', attempts = attempts + 1, applied_at = $2, last_error = NULL, result = $3
           WHERE id = $1`,
          [event.id, now(), (outcome && outcome.result) || 'applied'],
        );
        log.debug({ source: event.source, eventId: event.eventId, type: event.type }, 'webhook event applied');
        return 'applied';
      } catch (err) {
        await tx.query('ROLLBACK TO SAVEPOINT webhook_apply');
        const attempts = event.attempts + 1;
        const dead = attempts >= maxAttempts;
        const message = (err instanceof Error ? err.message : String(err)).slice(0, 2_000) || 'apply failed';
        await tx.query(
          `UPDATE webhook_inbox SET status = $2, attempts = $3, last_error = $4, next_attempt_at = $5 WHERE id = $1`,
          [event.id, dead ? 'dead' : 'failed', attempts, message, new Date(now().getTime() + backoff(attempts))],
        );
        log[dead ? 'error' : 'warn'](
          { source: event.source, eventId: event.eventId, type: event.type, attempts, error: message },
          dead ? 'webhook event dead-lettered' : 'webhook event failed; will retry',
        );
        return dead ? 'dead' : 'failed';
      }
    });
  }

  async function runOnce(): Promise<RunResult> {
    const result: RunResult = { applied: 0, failed: 0, dead: 0 };
    for (let i = 0; i < batchSize; i++) {
      const outcome = await processOne();
      if (!outcome) break;
      result[outcome]++;
    }
    return result;
  }

  let loop: Promise<void> | undefined;
  let wake: AbortController | undefined;
  let running = false;
  /** Set by nudge() while a pass runs, so an event stored meanwhile does not wait for the next poll. */
  let nudged = false;

  async function run(): Promise<void> {
    while (running) {
      let didWork = false;
      nudged = false;
      try {
        const r = await runOnce();
        didWork = r.applied + r.failed + r.dead >= batchSize;
      } catch (err) {
        log.error({ err }, 'webhook worker pass failed');
      }
      if (!running) break;
      if (didWork || nudged) continue;
      wake = new AbortController();
      await sleep(pollMs, undefined, { signal: wake.signal, ref: false }).catch(() => {});
    }
  }

  return {
    runOnce,
    start() {
      if (running) return;
      running = true;
      loop = run();
    },
    nudge() {
      nudged = true;
      wake?.abort();
    },
    async stop() {
      running = false;
      wake?.abort();
      await loop;
      loop = undefined;
    },
  };
}
