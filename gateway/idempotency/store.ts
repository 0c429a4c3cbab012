import { randomUUID } from 'node:crypto';
import type { Database, Migration } from '../../lib/database.ts';

/**
 * The gateway's idempotency records, in PostgreSQL (schema `gateway`), shared by every replica.
 *
 * One row per (client, customer, key): the fingerprint of the first request that used the key,
 * its state, and once it finished the response it got. Every decision is made by the database in
 * one statement, on its own clock, so two replicas racing on one key cannot both win:
 *
 * - claim(): `INSERT ... ON CONFLICT DO UPDATE ... WHERE` takes the key when nobody holds it, or
 *   takes it over when the holder's lease has run out (a gateway that died mid-request) and the
 *   payload is the same; the row lock of the conflicting insert makes that takeover atomic too.
 *   Whoever did not get the key gets the row in the same statement (CLAIM_OR_READ), which then
 *   only reads: another payload (REUSED), still running (IN_USE) or finished (replay).
 * - complete() stores the response, only while the caller still holds the claim (its `owner`
 *   token), so a request whose lease was taken over cannot overwrite the newer attempt's answer.
 * - release() gives a key back after a failure that changed nothing a retry could not resume
 *   (a subgraph that did not answer): the next request with the key runs again.
 * - purge() deletes records older than the retention (at least 24 hours, enforced by the
 *   configuration and again here) that are finished or abandoned; never a younger one.
 *
 * Cost on the request path (issue 10: at most 3 ms at p99, npm run bench:payments): a new key is
 * two statements, each one round trip and one commit (claim before execution, complete after);
 * a replay, a reused key or a key in use is one read. No transaction is opened: each statement is
 * atomic on its own. Both are prepared once per connection (QueryOptions.prepared: no parse and
 * plan per request, about a quarter of a statement's time on the local PostgreSQL), and the pool
 * keeps connections open while idle (gateway/idempotency/index.ts), so a payment after a quiet spell
 * does not open one. The purge is a timer's job, never a request's.
 *
 * Because the statements are prepared, a migration must not change the type of a column they
 * return: a replica still running would fail them ("cached plan must not change result type") on
 * every connection it holds. Add a column instead, as 002 would be written today.
 */
export const idempotencyMigrations: Migration[] = [
  {
    name: '001_idempotency_records',
    sql: `
      CREATE TABLE idempotency_records (
        client_id text COLLATE "C" NOT NULL,
        -- '' for a principal without a customer (staff, machine clients).
        customer_id text COLLATE "C" NOT NULL,
        key text COLLATE "C" NOT NULL CHECK (char_length(key) BETWEEN 1 AND 40),
        -- sha256 of the operation and its variables (gateway/idempotency/operation.ts).
        fingerprint text NOT NULL,
        -- The money-moving field the key was used for, for operators.
        field text NOT NULL,
        state text NOT NULL CHECK (state IN ('in_flight', 'completed')),
        -- Random token of the attempt that holds the claim.
        owner text NOT NULL,
        lease_until timestamptz NOT NULL,
        attempts integer NOT NULL DEFAULT 1,
        -- The formatted GraphQL result (data, errors, extensions) and HTTP status, once completed.
        response jsonb,
        http_status integer,
        created_at timestamptz NOT NULL DEFAULT now(),
        completed_at timestamptz,
        PRIMARY KEY (client_id, customer_id, key),
        CHECK ((state = 'completed') = (response IS NOT NULL))
      );
      CREATE INDEX idempotency_records_created_idx ON idempotency_records (created_at);
    `,
  },
  {
    // A replay must be the stored response unchanged, field order included (GraphQL answers in the
    // order of the selection): jsonb reorders object keys, json keeps the text as it was written.
    name: '002_idempotency_response_as_written',
    sql: `ALTER TABLE idempotency_records ALTER COLUMN response TYPE json USING response::json;`,
  },
];

export interface IdempotencyScope {
  clientId: string;
  /** Null for a principal without a customer. */
  customerId: string | null;
  key: string;
}

export interface StoredResponse {
  body: Record<string, unknown>;
  httpStatus: number;
}

export type ClaimResult =
  /** The caller holds the key (first use, or the takeover of an abandoned claim) and must complete or release it. */
  | { kind: 'claimed'; owner: string; takeover: boolean }
  /** The key was used with another payload. */
  | { kind: 'reused' }
  /** A request with the key is still running (its lease has not run out). */
  | { kind: 'in-use' }
  /** The request finished before: its response, unchanged. */
  | { kind: 'completed'; response: StoredResponse };

export interface IdempotencyStore {
  claim(scope: IdempotencyScope, fingerprint: string, field: string): Promise<ClaimResult>;
  complete(scope: IdempotencyScope, owner: string, response: StoredResponse): Promise<boolean>;
  release(scope: IdempotencyScope, owner: string): Promise<boolean>;
  /** Deletes records older than the retention; returns how many. */
  purge(): Promise<number>;
}

export interface IdempotencyStoreOptions {
  leaseMs: number;
  retentionHours: number;
  /** Records per purge statement (default 1000). */
  purgeBatchSize?: number;
}

/** The retention below which nothing is ever purged, whatever a caller passes. */
export const MIN_RETENTION_HOURS = 24;

/**
 * Claims the key or, when it is taken, reads its record, in one round trip.
 *
 * `seen` reads the record as the statement's snapshot shows it. Only when that leaves the key
 * claimable (no record, or an abandoned claim of the same payload: in flight, lease run out) does
 * `claimed` insert, and its ON CONFLICT decides on the newest version of the row: a concurrent first
 * use (it waits for that one's commit) or a takeover raced by another replica gets nothing. So a
 * replay, a reused key or a key in use is a read: no row lock, nothing written, no commit to flush,
 * and a storm of retries on one key does not queue on its row.
 *
 * The answer is the claim when there is one, else the record as seen. The snapshot can miss a record
 * committed while the claim waited for it, or show an older state of it: no row, or an abandoned
 * claim that could not be taken, sends the caller round again with a new statement (claim() below).
 */
const CLAIM_OR_READ = `
  WITH seen AS (
    SELECT attempts, fingerprint, state, lease_until <= now() AS expired, response, http_status
      FROM idempotency_records
     WHERE client_id = $1 AND customer_id = $2 AND key = $3
  ), claimed AS (
    INSERT INTO idempotency_records (client_id, customer_id, key, fingerprint, field, state, owner, lease_until)
      SELECT $1, $2, $3, $4, $5::text, 'in_flight', $6::text,
             now() + make_interval(secs => $7::double precision / 1000)
       WHERE NOT EXISTS (
         SELECT 1 FROM seen WHERE NOT (seen.state = 'in_flight' AND seen.expired AND seen.fingerprint = $4)
       )
      ON CONFLICT (client_id, customer_id, key) DO UPDATE
        SET owner = EXCLUDED.owner, lease_until = EXCLUDED.lease_until, attempts = idempotency_records.attempts + 1
        WHERE idempotency_records.state = 'in_flight'
          AND idempotency_records.lease_until <= now()
          AND idempotency_records.fingerprint = EXCLUDED.fingerprint
      RETURNING attempts
  )
  SELECT true AS claimed, attempts, NULL::text AS fingerprint, NULL::text AS state, false AS expired,
         NULL::json AS response, NULL::integer AS http_status
    FROM claimed
  UNION ALL
  SELECT false, attempts, fingerprint, state, expired, response, http_status
    FROM seen
   WHERE NOT EXISTS (SELECT 1 FROM claimed)`;

interface ClaimRow extends Record<string, unknown> {
  /** This request holds the key now, under the owner token it sent. */
  claimed: boolean;
  attempts: number;
  fingerprint: string | null;
  state: 'in_flight' | 'completed' | null;
  expired: boolean;
  response: Record<string, unknown> | string | null;
  http_status: number | null;
}

const COMPLETE = `
  UPDATE idempotency_records
     SET state = 'completed', response = $5::json, http_status = $6, completed_at = now()
   WHERE client_id = $1 AND customer_id = $2 AND key = $3 AND owner = $4 AND state = 'in_flight'
  RETURNING key`;

const RELEASE = `
  DELETE FROM idempotency_records
   WHERE client_id = $1 AND customer_id = $2 AND key = $3 AND owner = $4 AND state = 'in_flight'
  RETURNING key`;

/**
 * One batch of the purge: the oldest expired records, at most $2, locked with SKIP LOCKED so that
 * the replicas' purges (each gateway runs one) share the work instead of waiting on each other and
 * a claim being taken over is left for the next run. The conditions are those of the retention:
 * older than it and finished or abandoned (lease run out).
 */
const PURGE_BATCH = `
  WITH expired AS (
    SELECT client_id, customer_id, key FROM idempotency_records
     WHERE created_at < now() - make_interval(hours => $1::int)
       AND (state = 'completed' OR lease_until <= now())
     ORDER BY created_at
     LIMIT $2
     FOR UPDATE SKIP LOCKED
  )
  DELETE FROM idempotency_records r
   USING expired e
   WHERE r.client_id = e.client_id AND r.customer_id = e.customer_id AND r.key = e.key
  RETURNING r.key`;

/** Records one purge statement deletes: short statements, so a day's backlog never makes one long write. */
const PURGE_BATCH_SIZE = 1_000;

export function createIdempotencyStore(db: Database, opts: IdempotencyStoreOptions): IdempotencyStore {
  const leaseMs = Math.max(1, Math.round(opts.leaseMs));
  const retentionHours = Math.max(MIN_RETENTION_HOURS, opts.retentionHours);
  const purgeBatchSize = Math.max(1, Math.round(opts.purgeBatchSize ?? PURGE_BATCH_SIZE));
  const prepared = { prepared: true } as const;
  const pk = (s: IdempotencyScope) => [s.clientId, s.customerId ?? '', s.key];
  const claim = async (
    scope: IdempotencyScope,
    fingerprint: string,
    field: string,
    round = 0,
  ): Promise<ClaimResult> => {
    const owner = randomUUID();
    const rows = await db.query<ClaimRow>(CLAIM_OR_READ, [...pk(scope), fingerprint, field, owner, leaseMs], prepared);
    const row = rows[0];
    if (row?.claimed) return { kind: 'claimed', owner, takeover: row.attempts > 1 };
    // Not in this statement's snapshot (a first use that committed while the claim waited for it),
    // or gone (released by its holder): another round sees it, or finds the key free.
    if (!row) return round < 3 ? claim(scope, fingerprint, field, round + 1) : { kind: 'in-use' };
    if (row.fingerprint !== fingerprint) return { kind: 'reused' };
    if (row.state === 'completed') {
      const body = typeof row.response === 'string' ? JSON.parse(row.response) : row.response;
      return { kind: 'completed', response: { body: body ?? {}, httpStatus: row.http_status ?? 200 } };
    }
    // In flight with an expired lease that the claim could not take: taken over (or completed) by
    // another request after this statement's snapshot. Another round reads what it is now.
    if (row.expired && round < 3) return claim(scope, fingerprint, field, round + 1);
    return { kind: 'in-use' };
  };
  return {
    claim: (scope, fingerprint, field) => claim(scope, fingerprint, field),

    async complete(scope, owner, response) {
      const rows = await db.query(
        COMPLETE,
        [...pk(scope), owner, JSON.stringify(response.body), response.httpStatus],
        prepared,
      );
      return rows.length === 1;
    },

    async release(scope, owner) {
      const rows = await db.query(RELEASE, [...pk(scope), owner], prepared);
      return rows.length === 1;
    },

    async purge() {
      let purged = 0;
      for (;;) {
        const rows = await db.query(PURGE_BATCH, [retentionHours, purgeBatchSize]);
        purged += rows.length;
        if (rows.length < purgeBatchSize) return purged;
      }
    },
  };
}
