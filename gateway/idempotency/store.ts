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
 *   Whoever did not get the key reads the row as it is: another payload (REUSED), still running
 *   (IN_USE) or finished (replay).
 * - complete() stores the response, only while the caller still holds the claim (its `owner`
 *   token), so a request whose lease was taken over cannot overwrite the newer attempt's answer.
 * - release() gives a key back after a failure that changed nothing a retry could not resume
 *   (a subgraph that did not answer): the next request with the key runs again.
 * - purge() deletes records older than the retention (at least 24 hours, enforced by the
 *   configuration and again here) that are finished or abandoned; never a younger one.
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
}

/** The retention below which nothing is ever purged, whatever a caller passes. */
export const MIN_RETENTION_HOURS = 24;

interface RecordRow extends Record<string, unknown> {
  fingerprint: string;
  state: 'in_flight' | 'completed';
  owner: string;
  expired: boolean;
  response: Record<string, unknown> | string | null;
  http_status: number | null;
}

export function createIdempotencyStore(db: Database, opts: IdempotencyStoreOptions): IdempotencyStore {
  const leaseMs = Math.max(1, Math.round(opts.leaseMs));
  const retentionHours = Math.max(MIN_RETENTION_HOURS, opts.retentionHours);
  const pk = (s: IdempotencyScope) => [s.clientId, s.customerId ?? '', s.key];
  const claim = async (
    scope: IdempotencyScope,
    fingerprint: string,
    field: string,
    round = 0,
  ): Promise<ClaimResult> => {
    const owner = randomUUID();
    const won = await db.query<{ owner: string; attempts: number }>(
      `INSERT INTO idempotency_records (client_id, customer_id, key, fingerprint, field, state, owner, lease_until)
         VALUES ($1, $2, $3, $4, $5, 'in_flight', $6, now() + make_interval(secs => $7::double precision / 1000))
         ON CONFLICT (client_id, customer_id, key) DO UPDATE
           SET owner = EXCLUDED.owner, lease_until = EXCLUDED.lease_until, attempts = idempotency_records.attempts + 1
           WHERE idempotency_records.state = 'in_flight'
             AND idempotency_records.lease_until <= now()
             AND idempotency_records.fingerprint = EXCLUDED.fingerprint
         RETURNING owner, attempts`,
      [...pk(scope), fingerprint, field, owner, leaseMs],
    );
    if (won[0]?.owner === owner) return { kind: 'claimed', owner, takeover: won[0].attempts > 1 };
    const rows = await db.query<RecordRow>(
      `SELECT fingerprint, state, owner, lease_until <= now() AS expired, response, http_status
           FROM idempotency_records WHERE client_id = $1 AND customer_id = $2 AND key = $3`,
      pk(scope),
    );
    const row = rows[0];
    // Gone between the two statements (released by its holder): the key is free again.
    if (!row) return round < 3 ? claim(scope, fingerprint, field, round + 1) : { kind: 'in-use' };
    if (row.fingerprint !== fingerprint) return { kind: 'reused' };
    if (row.state === 'completed') {
      const body = typeof row.response === 'string' ? JSON.parse(row.response) : row.response;
      return { kind: 'completed', response: { body: body ?? {}, httpStatus: row.http_status ?? 200 } };
    }
    // In flight: its lease ran out between the two statements, so try once more to take it over.
    if (row.expired && round < 3) return claim(scope, fingerprint, field, round + 1);
    return { kind: 'in-use' };
  };
  return {
    claim: (scope, fingerprint, field) => claim(scope, fingerprint, field),

    async complete(scope, owner, response) {
      const rows = await db.query(
        `UPDATE idempotency_records
            SET state = 'completed', response = $5::json, http_status = $6, completed_at = now()
          WHERE client_id = $1 AND customer_id = $2 AND key = $3 AND owner = $4 AND state = 'in_flight'
          RETURNING key`,
        [...pk(scope), owner, JSON.stringify(response.body), response.httpStatus],
      );
      return rows.length === 1;
    },

    async release(scope, owner) {
      const rows = await db.query(
        `DELETE FROM idempotency_records
          WHERE client_id = $1 AND customer_id = $2 AND key = $3 AND owner = $4 AND state = 'in_flight'
          RETURNING key`,
        [...pk(scope), owner],
      );
      return rows.length === 1;
    },

    async purge() {
      const rows = await db.query(
        `DELETE FROM idempotency_records
          WHERE created_at < now() - make_interval(hours => $1::int)
            AND (state = 'completed' OR lease_until <= now())
          RETURNING key`,
        [retentionHours],
      );
      return rows.length;
    },
  };
}
