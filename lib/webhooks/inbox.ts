import type { Migration, Queryable } from '../database.ts';
import type { HeaderBag } from './verify.ts';

/**
 * The webhook inbox: every verified event, stored raw before anything acts on it, so that the
 * sender gets its 2xx at once and nothing it sent can be lost by a crash of the processing.
 * One table per owning subgraph, in that subgraph's schema (include `webhookInboxMigrations`
 * in its migration list); events of several sources (northwind, onfido, ...) share it.
 *
 * Lifecycle of a row (`status`):
 *   received  stored, waiting for the worker (also after a replay)
 *   failed    the apply callback threw; retried at `next_attempt_at` (exponential backoff)
 *   applied   the apply callback committed (its writes and this status are one transaction)
 *   dead      failed `maxAttempts` times, or a signed payload that could not be understood;
 *             kept with its `last_error` until an operator replays it
 */
export type InboxStatus = 'received' | 'applied' | 'failed' | 'dead';
export const INBOX_STATUSES: readonly InboxStatus[] = ['received', 'applied', 'failed', 'dead'];

/**
 * Migrations of the inbox table; names are prefixed so they never collide with a subgraph's own. Never edit a shipped
 * one.
 */
export const webhookInboxMigrations: Migration[] = [
  {
    name: 'webhooks_001_inbox',
    sql: `
      CREATE TABLE webhook_inbox (
        id bigserial PRIMARY KEY,
        -- Who sent it (northwind, onfido, ...) and its id there: a second delivery of one event is dropped here.
        source text NOT NULL CHECK (length(source) BETWEEN 1 AND 64),
        event_id text NOT NULL CHECK (length(event_id) BETWEEN 1 AND 256),
        event_type text NOT NULL DEFAULT '',
        -- The thing the event is about (a payment at the bank, a KYC check): its events apply one at a time, in order.
        aggregate_id text,
        -- Order within the aggregate, as the sender gives it (a per-aggregate sequence), else by occurred_at.
        sequence bigint,
        occurred_at timestamptz,
        raw_body text NOT NULL,
        -- Only the headers needed to re-verify or trace the delivery (the receiver picks them).
        headers jsonb NOT NULL DEFAULT '{}'::jsonb,
        received_at timestamptz NOT NULL,
        status text NOT NULL DEFAULT 'received' CHECK (status IN ('received', 'applied', 'failed', 'dead')),
        attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
        next_attempt_at timestamptz NOT NULL,
        last_error text,
        -- What the apply callback said it did ('applied', 'stale: ...'), for operators.
        result text,
        applied_at timestamptz,
        UNIQUE (source, event_id)
      );
      -- What the worker looks for: events due for an attempt.
      CREATE INDEX webhook_inbox_due_idx ON webhook_inbox (next_attempt_at, id) WHERE status IN ('received', 'failed');
      -- Ordering within an aggregate, and "is an earlier event of this aggregate still open?".
      CREATE INDEX webhook_inbox_aggregate_idx ON webhook_inbox (source, aggregate_id, sequence, id);
      -- Operators list what failed, by time.
      CREATE INDEX webhook_inbox_status_idx ON webhook_inbox (status, received_at);
    `,
  },
];

/** An event as the apply callback and the operators' list see it. */
export interface InboxEvent {
  /** Row id in the inbox (what `replay --id` takes). */
  id: string;
  source: string;
  eventId: string;
  type: string;
  aggregateId: string | null;
  sequence: number | null;
  occurredAt: Date | null;
  receivedAt: Date;
  status: InboxStatus;
  /** Attempts made before this one. */
  attempts: number;
  lastError: string | null;
  result: string | null;
  appliedAt: Date | null;
  nextAttemptAt: Date;
  rawBody: string;
  headers: Record<string, string>;
}

/** What the receiver extracted from a verified delivery. */
export interface DescribedEvent {
  eventId: string;
  type: string;
  aggregateId?: string | null;
  sequence?: number | null;
  occurredAt?: Date | null;
}

export interface StoreResult {
  /** Inbox row id. */
  id: string;
  /** True when (source, event id) was already in the inbox: nothing was stored. */
  duplicate: boolean;
}

type Row = Record<string, unknown>;

export function eventFromRow(row: Row): InboxEvent {
  const date = (v: unknown) => (v === null || v === undefined ? null : new Date(v as string | Date));
  return {
    id: String(row.id),
    source: String(row.source),
    eventId: String(row.event_id),
    type: String(row.event_type),
    aggregateId: (row.aggregate_id as string | null) ?? null,
    sequence: row.sequence === null || row.sequence === undefined ? null : Number(row.sequence),
    occurredAt: date(row.occurred_at),
    receivedAt: date(row.received_at)!,
    status: row.status as InboxStatus,
    attempts: Number(row.attempts),
    lastError: (row.last_error as string | null) ?? null,
    result: (row.result as string | null) ?? null,
    appliedAt: date(row.applied_at),
    nextAttemptAt: date(row.next_attempt_at)!,
    rawBody: String(row.raw_body),
    headers: (typeof row.headers === 'string' ? JSON.parse(row.headers) : row.headers) as Record<string, string>,
  };
}

/** Keeps the headers worth keeping (lower-cased), one string each. */
export function pickHeaders(headers: HeaderBag, names: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  const wanted = new Set(names.map((n) => n.toLowerCase()));
  for (const [key, value] of Object.entries(headers)) {
    if (value === undefined || !wanted.has(key.toLowerCase())) continue;
    out[key.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

/**
 * Stores a verified delivery. A second delivery of the same (source, event id) stores nothing and
 * says `duplicate`. `dead` stores a signed event that could not be understood, so it is kept (and
 * listed for operators) rather than refused into an endless retry by the sender.
 */
export async function storeEvent(
  db: Queryable,
  input: {
    source: string;
    event: DescribedEvent;
    rawBody: string;
    headers: Record<string, string>;
    receivedAt: Date;
    dead?: { error: string };
  },
): Promise<StoreResult> {
  const { event } = input;
  const inserted = await db.query<{ id: string }>(
    `INSERT INTO webhook_inbox (source, event_id, event_type, aggregate_id, sequence, occurred_at, raw_body, headers,
                                received_at, next_attempt_at, status, last_error)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $9, $10, $11)
     ON CONFLICT (source, event_id) DO NOTHING
     RETURNING id`,
    [
      input.source,
      event.eventId,
      event.type,
      event.aggregateId ?? null,
      event.sequence ?? null,
      event.occurredAt ?? null,
      input.rawBody,
      JSON.stringify(input.headers),
      input.receivedAt,
      input.dead ? 'dead' : 'received',
      input.dead?.error ?? null,
    ],
  );
  if (inserted[0]) return { id: String(inserted[0].id), duplicate: false };
  const existing = await db.query<{ id: string }>(`SELECT id FROM webhook_inbox WHERE source = $1 AND event_id = $2`, [
    input.source,
    event.eventId,
  ]);
  return { id: String(existing[0]?.id ?? ''), duplicate: true };
}

export interface ListFilter {
  /** Default: failed and dead. */
  statuses?: readonly InboxStatus[];
  source?: string;
  /** received_at within [from, to). */
  from?: Date;
  to?: Date;
  limit?: number;
  /**
   * Keyset pagination: only events after this one in the list's order (received_at, id), so a page never skips or
   * repeats an event, whatever arrives meanwhile. received_at is always written from a JS Date (millisecond
   * precision), so the position round-trips exactly.
   */
  after?: { receivedAt: Date; id: string };
}

/** Events by status (default failed and dead), oldest first. */
export async function listEvents(db: Queryable, filter: ListFilter = {}): Promise<InboxEvent[]> {
  const statuses = filter.statuses ?? ['failed', 'dead'];
  const rows = await db.query(
    `SELECT * FROM webhook_inbox
     WHERE status = ANY($1::text[])
       AND ($2::text IS NULL OR source = $2)
       AND ($3::timestamptz IS NULL OR received_at >= $3)
       AND ($4::timestamptz IS NULL OR received_at < $4)
       AND ($6::timestamptz IS NULL OR (received_at, id) > ($6::timestamptz, $7::bigint))
     ORDER BY received_at, id
     LIMIT $5`,
    [
      statuses,
      filter.source ?? null,
      filter.from ?? null,
      filter.to ?? null,
      Math.min(filter.limit ?? 100, 10_000),
      filter.after?.receivedAt ?? null,
      filter.after?.id ?? null,
    ],
  );
  return rows.map(eventFromRow);
}

/** One event by inbox row id, or by (source, event id). */
export async function getEvent(
  db: Queryable,
  ref: { id: string } | { source: string; eventId: string },
): Promise<InboxEvent | undefined> {
  const rows =
    'id' in ref
      ? /^\d{1,18}$/.test(ref.id)
        ? await db.query(`SELECT * FROM webhook_inbox WHERE id = $1`, [ref.id])
        : []
      : await db.query(`SELECT * FROM webhook_inbox WHERE source = $1 AND event_id = $2`, [ref.source, ref.eventId]);
  return rows[0] ? eventFromRow(rows[0]) : undefined;
}

export type ReplaySelector =
  | { id: string }
  | { source: string; eventId: string }
  /** Failed and dead events received in [from, to). */
  | { from: Date; to: Date; source?: string }
  /** Every failed and dead event. */
  | { allFailed: true; source?: string };

export interface ReplayResult {
  /** Events put back to `received` with a fresh attempt budget. */
  requeued: string[];
  /** Events that were already applied: replaying them does nothing. */
  alreadyApplied: string[];
  /** Events waiting for the worker anyway (received): left as they are. */
  alreadyQueued: string[];
}

/**
 * Puts failed or dead events back in the queue (status received, attempts 0, due now); the
 * owning subgraph's worker applies them. An applied event is never touched: replaying it is a
 * no-op, reported in `alreadyApplied`. The last error stays until the event applies.
 */
export async function replayEvents(db: Queryable, selector: ReplaySelector, now: Date): Promise<ReplayResult> {
  let selected: Row[];
  if ('id' in selector) {
    selected = /^\d{1,18}$/.test(selector.id)
      ? await db.query(`SELECT id, status FROM webhook_inbox WHERE id = $1`, [selector.id])
      : [];
  } else if ('eventId' in selector) {
    selected = await db.query(`SELECT id, status FROM webhook_inbox WHERE source = $1 AND event_id = $2`, [
      selector.source,
      selector.eventId,
    ]);
  } else if ('from' in selector) {
    selected = await db.query(
      `SELECT id, status FROM webhook_inbox
       WHERE received_at >= $1 AND received_at < $2 AND ($3::text IS NULL OR source = $3)`,
      [selector.from, selector.to, selector.source ?? null],
    );
  } else {
    selected = await db.query(
      `SELECT id, status FROM webhook_inbox WHERE status IN ('failed', 'dead') AND ($1::text IS NULL OR source = $1)`,
      [selector.source ?? null],
    );
  }
  const result: ReplayResult = { requeued: [], alreadyApplied: [], alreadyQueued: [] };
  const ids = selected.filter((r) => r.status === 'failed' || r.status === 'dead').map((r) => String(r.id));
  for (const r of selected) {
    if (r.status === 'applied') result.alreadyApplied.push(String(r.id));
    if (r.status === 'received') result.alreadyQueued.push(String(r.id));
  }
  if (ids.length > 0) {
    // The status condition again: an event the worker applied meanwhile stays applied.
    const rows = await db.query<{ id: string }>(
      `UPDATE webhook_inbox SET status = 'received', attempts = 0, next_attempt_at = $2
       WHERE id = ANY($1::bigint[]) AND status IN ('failed', 'dead') RETURNING id`,
      [ids, now],
    );
    result.requeued = rows.map((r) => String(r.id));
    // The worker may have moved some on between the read and the update (it holds a claimed row
    // until it commits): say what they are now rather than leave them out of the answer.
    const movedOn = ids.filter((id) => !result.requeued.includes(id));
    if (movedOn.length > 0) {
      const current = await db.query(`SELECT id, status FROM webhook_inbox WHERE id = ANY($1::bigint[])`, [movedOn]);
      for (const r of current) {
        if (r.status === 'applied') result.alreadyApplied.push(String(r.id));
        if (r.status === 'received') result.alreadyQueued.push(String(r.id));
      }
    }
  }
  return result;
}

/** Counts per status (for /readyz-style checks, metrics and the CLI). */
export async function countByStatus(db: Queryable): Promise<Record<InboxStatus, number>> {
  const rows = await db.query<{ status: InboxStatus; n: string }>(
    `SELECT status, count(*) AS n FROM webhook_inbox GROUP BY status`,
  );
  const out: Record<InboxStatus, number> = { received: 0, applied: 0, failed: 0, dead: 0 };
  for (const r of rows) out[r.status] = Number(r.n);
  return out;
}
