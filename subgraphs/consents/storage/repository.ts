import type { Database, Queryable } from '../../../lib/database.ts';
import {
  CONSENT_PERMISSIONS,
  CONSENT_STATUSES,
  type ClientAppModel,
  type ClientKind,
  type ConsentModel,
  type ConsentEventModel,
  type ConsentPermission,
  type ConsentStatus,
} from '../domain/model.ts';
import type { ConsentRepository, ConsentTransition } from '../domain/ports.ts';

/**
 * PostgreSQL (or PGlite) implementation of the consent repository. Every lifecycle transition
 * is one conditional UPDATE (`WHERE id AND customer_id AND status AND not expired`) plus its
 * event row in the same transaction: under READ COMMITTED a second concurrent UPDATE of the
 * same row waits for the first to commit, re-checks the WHERE clause against the new row and
 * matches nothing, so exactly one of two racing transitions wins and exactly one event is
 * written.
 */

const CONSENT_COLUMNS = `c.id, c.customer_id, c.client_id, c.status, c.permissions, c.expires_at, c.created_at,
  c.authorised_at, c.rejected_at, c.revoked_at,
  ARRAY(SELECT a.account_id FROM consent_accounts a WHERE a.consent_id = c.id ORDER BY a.account_id) AS account_ids`;

interface ConsentRow extends Record<string, unknown> {
  id: string;
  customer_id: string;
  client_id: string;
  status: string;
  permissions: string[];
  account_ids: string[];
  expires_at: Date;
  created_at: Date;
  authorised_at: Date | null;
  rejected_at: Date | null;
  revoked_at: Date | null;
}

interface EventRow extends Record<string, unknown> {
  consent_id: string;
  status: string;
  at: Date;
  actor: string;
  request_id: string | null;
}

function status(value: string): ConsentStatus {
  if (!(CONSENT_STATUSES as readonly string[]).includes(value))
    throw new Error(`stored consent status ${JSON.stringify(value)} is unknown`);
  return value as ConsentStatus;
}

function date(value: unknown): Date {
  const d = value instanceof Date ? value : new Date(String(value));
  if (Number.isNaN(d.getTime())) throw new Error(`stored timestamp ${JSON.stringify(value)} is invalid`);
  return d;
}

function toConsent(row: ConsentRow): ConsentModel {
  const permissions = row.permissions.filter((p): p is ConsentPermission =>
    (CONSENT_PERMISSIONS as readonly string[]).includes(p),
  );
  if (permissions.length !== row.permissions.length)
    throw new Error(`consent ${row.id} has an unknown stored permission`);
  return {
    id: row.id,
    customerId: row.customer_id,
    clientId: row.client_id,
    status: status(row.status),
    permissions,
    accountIds: row.account_ids,
    expiresAt: date(row.expires_at),
    createdAt: date(row.created_at),
    authorisedAt: row.authorised_at === null ? null : date(row.authorised_at),
    rejectedAt: row.rejected_at === null ? null : date(row.rejected_at),
    revokedAt: row.revoked_at === null ? null : date(row.revoked_at),
  };
}

function toEvent(row: EventRow): ConsentEventModel {
  return {
    consentId: row.consent_id,
    status: status(row.status),
    at: date(row.at),
    actor: row.actor,
    requestId: row.request_id,
  };
}

const CLIENT_KINDS: readonly ClientKind[] = ['FIRST_PARTY', 'THIRD_PARTY', 'STAFF', 'MACHINE'];

async function consentsWhere(q: Queryable, where: string, params: unknown[]): Promise<ConsentModel[]> {
  const rows = await q.query<ConsentRow>(
    `SELECT ${CONSENT_COLUMNS} FROM consents c WHERE ${where} ORDER BY c.created_at DESC, c.id DESC`,
    params,
  );
  return rows.map(toConsent);
}

export async function insertEvent(q: Queryable, event: ConsentEventModel): Promise<void> {
  await q.query(`INSERT INTO consent_events (consent_id, status, at, actor, request_id) VALUES ($1, $2, $3, $4, $5)`, [
    event.consentId,
    event.status,
    event.at,
    event.actor,
    event.requestId,
  ]);
}

/**
 * The consents in force between a customer and a client at `now`: AUTHORISED and not past
 * expiry. This is the query the gateway's consent checks rely on (through the consents
 * subgraph); combine with `consentGrants` for the permission and the account.
 */
export function findActiveConsents(
  q: Queryable,
  customerId: string,
  clientId: string,
  now: Date,
): Promise<ConsentModel[]> {
  return consentsWhere(q, `c.customer_id = $1 AND c.client_id = $2 AND c.status = 'AUTHORISED' AND c.expires_at > $3`, [
    customerId,
    clientId,
    now,
  ]);
}

/**
 * Writes a consent and the accounts it covers, inside the caller's transaction. With `ifAbsent`,
 * a consent whose id exists is left alone and false is returned: how the seed stays idempotent.
 */
export async function writeConsent(
  tx: Queryable,
  consent: ConsentModel,
  opts: { ifAbsent?: boolean } = {},
): Promise<boolean> {
  const inserted = await tx.query(
    `INSERT INTO consents (id, customer_id, client_id, status, permissions, expires_at, created_at, authorised_at, rejected_at, revoked_at)
     VALUES ($1, $2, $3, $4, $5::text[], $6, $7, $8, $9, $10)${opts.ifAbsent ? ' ON CONFLICT (id) DO NOTHING' : ''}
     RETURNING id`,
    [
      consent.id,
      consent.customerId,
      consent.clientId,
      consent.status,
      consent.permissions,
      consent.expiresAt,
      consent.createdAt,
      consent.authorisedAt,
      consent.rejectedAt,
      consent.revokedAt,
    ],
  );
  if (inserted.length === 0) return false;
  for (const accountId of consent.accountIds) {
    await tx.query(`INSERT INTO consent_accounts (consent_id, account_id) VALUES ($1, $2)`, [consent.id, accountId]);
  }
  return true;
}

async function insertConsent(tx: Queryable, consent: ConsentModel, event: ConsentEventModel): Promise<ConsentModel> {
  await writeConsent(tx, consent);
  await insertEvent(tx, event);
  const [created] = await consentsWhere(tx, `c.id = $1`, [consent.id]);
  return created!;
}

/**
 * Class key of the transaction-scoped advisory lock that serialises the consent requests of one
 * (customer, client) ('cnsr'). The two-key form has its own key space, apart from the single-key
 * locks migrations take (lib/database.ts), and the class keeps it apart from other two-key users.
 */
const CONSENT_REQUEST_LOCK_CLASS = 0x636e7372;

/** Which timestamp column a transition into `to` sets. A fixed map: never built from input. */
const TRANSITION_COLUMN = { AUTHORISED: 'authorised_at', REJECTED: 'rejected_at', REVOKED: 'revoked_at' } as const;

export function createConsentRepository(db: Database): ConsentRepository {
  return {
    async findClients(ids) {
      if (ids.length === 0) return [];
      const rows = await db.query<{ id: string; name: string; kind: string }>(
        `SELECT id, name, kind FROM client_apps WHERE id = ANY($1::text[])`,
        [[...ids]],
      );
      return rows.map((r): ClientAppModel => {
        if (!(CLIENT_KINDS as readonly string[]).includes(r.kind))
          throw new Error(`client ${r.id} has unknown kind ${r.kind}`);
        return { id: r.id, name: r.name, kind: r.kind as ClientKind };
      });
    },

    findConsentsByIds: (ids) =>
      ids.length === 0 ? Promise.resolve([]) : consentsWhere(db, `c.id = ANY($1::text[])`, [[...ids]]),

    findConsentsByCustomers: (customerIds) =>
      customerIds.length === 0
        ? Promise.resolve([])
        : consentsWhere(db, `c.customer_id = ANY($1::text[])`, [[...customerIds]]),

    async findEvents(consentIds) {
      if (consentIds.length === 0) return [];
      const rows = await db.query<EventRow>(
        `SELECT consent_id, status, at, actor, request_id FROM consent_events WHERE consent_id = ANY($1::text[]) ORDER BY at, seq`,
        [[...consentIds]],
      );
      return rows.map(toEvent);
    },

    findActiveConsents: (customerId, clientId, now) => findActiveConsents(db, customerId, clientId, now),

    createConsent: (consent, event) => db.transaction((tx) => insertConsent(tx, consent, event)),

    async createConsentRequest(consent, event, maxPending) {
      return db.transaction(async (tx) => {
        // Count-then-insert is a race under READ COMMITTED (two requests both count 4 of 5 and both
        // insert), and no row exists yet to lock. A transaction-scoped advisory lock on the pair
        // makes the requests of one (customer, client) take turns: the next one's count runs after
        // the previous one committed (each statement reads a fresh snapshot), and the lock is
        // released at commit or rollback. Other pairs are not held up, except on a hash collision,
        // which only makes them wait.
        await tx.query(`SELECT pg_advisory_xact_lock($1::int, hashtext($2::text))`, [
          CONSENT_REQUEST_LOCK_CLASS,
          `${consent.customerId}:${consent.clientId}`,
        ]);
        const [row] = await tx.query<{ pending: number }>(
          `SELECT count(*)::int AS pending FROM consents
            WHERE customer_id = $1 AND client_id = $2 AND status = 'AWAITING_AUTHORISATION' AND expires_at > $3`,
          [consent.customerId, consent.clientId, consent.createdAt],
        );
        if ((row?.pending ?? 0) >= maxPending) return null;
        return insertConsent(tx, consent, event);
      });
    },

    async transition(change: ConsentTransition) {
      const column = TRANSITION_COLUMN[change.to];
      return db.transaction(async (tx) => {
        const updated = await tx.query(
          `UPDATE consents SET status = $4, ${column} = $5
            WHERE id = $1 AND customer_id = $2 AND status = $3 AND expires_at > $5
            RETURNING id`,
          [change.consentId, change.customerId, change.from, change.to, change.at],
        );
        if (updated.length === 0) return null;
        if (change.accountIds) {
          await tx.query(`DELETE FROM consent_accounts WHERE consent_id = $1`, [change.consentId]);
          for (const accountId of change.accountIds) {
            await tx.query(`INSERT INTO consent_accounts (consent_id, account_id) VALUES ($1, $2)`, [
              change.consentId,
              accountId,
            ]);
          }
        }
        await insertEvent(tx, {
          consentId: change.consentId,
          status: change.to,
          at: change.at,
          actor: change.actor,
          requestId: change.requestId,
        });
        const [consent] = await consentsWhere(tx, `c.id = $1`, [change.consentId]);
        return consent ?? null;
      });
    },

    async recordDueExpiries(now) {
      // One statement: the UPDATE takes the row locks, so two replicas sweeping together (or a
      // sweep racing a revoke) record each expiry exactly once.
      const rows = await db.query(
        `WITH due AS (
           UPDATE consents SET status = 'EXPIRED'
            WHERE status IN ('AUTHORISED', 'AWAITING_AUTHORISATION') AND expires_at <= $1
            RETURNING id, expires_at
         )
         INSERT INTO consent_events (consent_id, status, at, actor, request_id)
         SELECT id, 'EXPIRED', expires_at, 'system', NULL FROM due
         RETURNING consent_id`,
        [now],
      );
      return rows.length;
    },
  };
}
