import type { Database, Queryable } from '../../../lib/database.ts';
import { normaliseAmount } from '../../../lib/money.ts';
import type { CreditorScheme, PaymentModel, PaymentStatus, PaymentStatusChangeModel } from '../domain/model.ts';
import type { LedgerPayment, PaymentsLedger, PaymentsRepository, PaymentWebhookInbox } from '../domain/ports.ts';
import { webhookInboxPort } from '../../../lib/webhooks/index.ts';

interface PaymentRow extends Record<string, unknown> {
  id: string;
  customer_id: string;
  debtor_account_id: string;
  amount: string;
  currency: string;
  creditor_name: string;
  creditor_scheme: CreditorScheme;
  creditor_identification: string;
  reference: string | null;
  status: PaymentStatus;
  status_reason: string | null;
  created_at: Date | string;
  updated_at: Date | string;
  settled_at: Date | string | null;
  authorisation_url: string | null;
  created_key: string;
}

const date = (v: Date | string) => (v instanceof Date ? v : new Date(v));

/** Partner columns are deliberately not selected: they never reach the domain model. */
const COLUMNS = `id, customer_id, debtor_account_id, amount::text AS amount, currency, creditor_name, creditor_scheme,
  creditor_identification, reference, status, status_reason, created_at, updated_at, settled_at, authorisation_url,
  to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_key`;

function toModel(row: PaymentRow): PaymentModel {
  return {
    id: row.id,
    customerId: row.customer_id,
    debtorAccountId: row.debtor_account_id,
    // The numeric column may carry trailing zeros ("12.50000"); normalise to the currency's minor units.
    amount: { amount: normaliseAmount(row.amount, row.currency), currency: row.currency },
    creditor: { name: row.creditor_name, scheme: row.creditor_scheme, identification: row.creditor_identification },
    reference: row.reference,
    status: row.status,
    statusReason: row.status_reason,
    createdAt: date(row.created_at),
    updatedAt: date(row.updated_at),
    settledAt: row.settled_at === null ? null : date(row.settled_at),
    // The SCA page means something only while the bank waits for the customer.
    authorisationUrl: row.status === 'AWAITING_AUTHORISATION' ? row.authorisation_url : null,
    createdAtKey: row.created_key,
  };
}

/** A ledger entry to record, with its full history (used by the sandbox seed, later by initiation). */
export interface NewPayment {
  id: string;
  customerId: string;
  debtorAccountId: string;
  amount: string;
  currency: string;
  creditor: { name: string; scheme: CreditorScheme; identification: string };
  reference: string | null;
  status: PaymentStatus;
  statusReason: string | null;
  createdAt: Date;
  updatedAt: Date;
  settledAt: Date | null;
  partner: 'northwind' | 'rheinbank';
  partnerConsentId: string | null;
  partnerPaymentId: string | null;
  /** The bank's SCA page, for a payment awaiting the customer's authorisation. */
  authorisationUrl?: string | null;
  history: PaymentStatusChangeModel[];
}

export interface PaymentsStore extends PaymentsRepository {
  /**
   * Inserts a payment and its history unless a payment with that id exists; returns whether it inserted. Run inside a
   * transaction.
   */
  insertIfAbsent(payment: NewPayment): Promise<boolean>;
}

export function createPaymentsRepository(db: Queryable): PaymentsStore {
  return {
    async findByIds(ids) {
      if (ids.length === 0) return [];
      const rows = await db.query<PaymentRow>(`SELECT ${COLUMNS} FROM payments WHERE id = ANY($1::text[])`, [[...ids]]);
      return rows.map(toModel);
    },

    async list(q) {
      const where = ['customer_id = $1'];
      const params: unknown[] = [q.customerId];
      const param = (value: unknown) => {
        params.push(value);
        return `$${params.length}`;
      };
      if (q.after)
        where.push(`(created_at, id) < (${param(q.after.createdAt)}::timestamptz, ${param(q.after.id)}::text)`);
      if (q.createdFrom) where.push(`created_at >= ${param(q.createdFrom.toISOString())}::timestamptz`);
      if (q.createdBefore) where.push(`created_at < ${param(q.createdBefore.toISOString())}::timestamptz`);
      if (q.statuses) where.push(`status = ANY(${param(q.statuses)}::text[])`);
      if (q.debtorAccountIds) where.push(`debtor_account_id = ANY(${param(q.debtorAccountIds)}::text[])`);
      const rows = await db.query<PaymentRow>(
        `SELECT ${COLUMNS} FROM payments WHERE ${where.join(' AND ')} ORDER BY created_at DESC, id DESC LIMIT ${param(q.limit)}`,
        params,
      );
      return rows.map(toModel);
    },

    async historyOf(paymentIds) {
      const result = new Map<string, PaymentStatusChangeModel[]>(paymentIds.map((id) => [id, []]));
      if (paymentIds.length === 0) return result;
      const rows = await db.query<{
        payment_id: string;
        status: PaymentStatus;
        at: Date | string;
        reason: string | null;
      }>(
        'SELECT payment_id, status, at, reason FROM payment_status_history WHERE payment_id = ANY($1::text[]) ORDER BY payment_id, seq',
        [[...paymentIds]],
      );
      for (const r of rows) result.get(r.payment_id)?.push({ status: r.status, at: date(r.at), reason: r.reason });
      return result;
    },

    async insertIfAbsent(p) {
      const inserted = await db.query(
        `INSERT INTO payments (id, customer_id, debtor_account_id, amount, currency, creditor_name, creditor_scheme, creditor_identification,
           reference, status, status_reason, created_at, updated_at, settled_at, partner, partner_consent_id, partner_payment_id,
           authorisation_url)
         VALUES ($1, $2, $3, $4::numeric, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
         ON CONFLICT (id) DO NOTHING RETURNING id`,
        [
          p.id,
          p.customerId,
          p.debtorAccountId,
          normaliseAmount(p.amount, p.currency),
          p.currency,
          p.creditor.name,
          p.creditor.scheme,
          p.creditor.identification,
          p.reference,
          p.status,
          p.statusReason,
          p.createdAt.toISOString(),
          p.updatedAt.toISOString(),
          p.settledAt?.toISOString() ?? null,
          p.partner,
          p.partnerConsentId,
          p.partnerPaymentId,
          p.authorisationUrl ?? null,
        ],
      );
      if (inserted.length === 0) return false;
      for (const [i, h] of p.history.entries()) {
        await db.query(
          'INSERT INTO payment_status_history (payment_id, seq, status, at, reason) VALUES ($1, $2, $3, $4, $5)',
          [p.id, i + 1, h.status, h.at.toISOString(), h.reason],
        );
      }
      return true;
    },
  };
}

interface LedgerRow extends PaymentRow {
  client_id: string | null;
  idempotency_key: string | null;
  request_hash: string | null;
  partner_consent_id: string | null;
  partner_payment_id: string | null;
  partner_account_id: string | null;
}

const LEDGER_COLUMNS = `${COLUMNS}, client_id, idempotency_key, request_hash, partner_consent_id, partner_payment_id, partner_account_id`;

function toLedger(row: LedgerRow): LedgerPayment {
  return {
    ...toModel(row),
    clientId: row.client_id,
    idempotencyKey: row.idempotency_key,
    requestHash: row.request_hash,
    partnerConsentId: row.partner_consent_id,
    partnerPaymentId: row.partner_payment_id,
    partnerAccountId: row.partner_account_id,
  };
}

/**
 * The writes of payment initiation (domain/ports.ts PaymentsLedger). Every status change is a
 * compare-and-set on the current status inside one transaction with its history row, so two
 * writers (a webhook and the poller, two replicas) can never both move a payment, nor move it
 * backwards: the loser sees that the status moved on and does nothing.
 */
export function createPaymentsLedger(db: Database | Queryable): PaymentsLedger {
  // On a Database each write is its own transaction; on a transaction already open (the webhook
  // worker's claim, lib/webhooks) the writes join it and commit with the event's 'applied' mark.
  const atomic = <T>(fn: (q: Queryable) => Promise<T>): Promise<T> =>
    'transaction' in db ? db.transaction(fn) : fn(db);
  const byId = async (q: Queryable, id: string) =>
    (await q.query<LedgerRow>(`SELECT ${LEDGER_COLUMNS} FROM payments WHERE id = $1`, [id])).map(toLedger)[0] ?? null;
  return {
    byId: (id) => byId(db, id),
    async byConsentId(consentId) {
      const rows = await db.query<LedgerRow>(
        `SELECT ${LEDGER_COLUMNS} FROM payments WHERE partner = 'northwind' AND partner_consent_id = $1`,
        [consentId],
      );
      return rows.map(toLedger)[0] ?? null;
    },

    async createOrGet(e) {
      return atomic(async (tx) => {
        const at = e.at.toISOString();
        const inserted = await tx.query<{ id: string }>(
          `INSERT INTO payments (id, customer_id, debtor_account_id, amount, currency, creditor_name, creditor_scheme,
             creditor_identification, reference, status, status_reason, created_at, updated_at, settled_at, partner,
             client_id, idempotency_key, request_hash, partner_account_id)
           VALUES ($1, $2, $3, $4::numeric, $5, $6, $7, $8, $9, 'CREATED', NULL, $10, $10, NULL, 'northwind', $11, $12, $13, $14)
           ON CONFLICT (client_id, customer_id, idempotency_key) DO NOTHING RETURNING id`,
          [
            e.id,
            e.customerId,
            e.request.debtorAccountId,
            normaliseAmount(e.request.amount.amount, e.request.amount.currency),
            e.request.amount.currency,
            e.request.creditor.name,
            e.request.creditor.scheme,
            e.request.creditor.identification,
            e.request.reference,
            at,
            e.clientId,
            e.idempotencyKey,
            e.requestHash,
            e.partnerAccountId,
          ],
        );
        if (inserted.length === 1) {
          await tx.query(
            `INSERT INTO payment_status_history (payment_id, seq, status, at, reason) VALUES ($1, 1, 'CREATED', $2, NULL)`,
            [e.id, at],
          );
          return { payment: (await byId(tx, e.id))!, created: true };
        }
        const existing = await tx.query<LedgerRow>(
          `SELECT ${LEDGER_COLUMNS} FROM payments WHERE client_id = $1 AND customer_id = $2 AND idempotency_key = $3`,
          [e.clientId, e.customerId, e.idempotencyKey],
        );
        return { payment: toLedger(existing[0]!), created: false };
      });
    },

    async transition(u) {
      return atomic(async (tx) => {
        const moved = await tx.query<{ id: string }>(
          `UPDATE payments SET status = $2, updated_at = GREATEST(updated_at, $3::timestamptz),
             status_reason = CASE WHEN $4::boolean THEN $5 ELSE status_reason END,
             partner_consent_id = COALESCE($6, partner_consent_id),
             partner_payment_id = COALESCE($7, partner_payment_id),
             authorisation_url = CASE WHEN $8::boolean THEN $9 ELSE authorisation_url END,
             settled_at = CASE WHEN $10::boolean THEN $11::timestamptz ELSE settled_at END
           WHERE id = $1 AND status = ANY($12::text[]) RETURNING id`,
          [
            u.id,
            u.to,
            u.at.toISOString(),
            u.reason !== undefined,
            u.reason ?? null,
            u.partnerConsentId ?? null,
            u.partnerPaymentId ?? null,
            u.authorisationUrl !== undefined,
            u.authorisationUrl ?? null,
            u.settledAt !== undefined,
            u.settledAt?.toISOString() ?? null,
            [...u.from],
          ],
        );
        if (moved.length === 0) return null;
        await tx.query(
          `INSERT INTO payment_status_history (payment_id, seq, status, at, reason)
           SELECT $1, COALESCE(MAX(seq), 0) + 1, $2, $3, $4 FROM payment_status_history WHERE payment_id = $1`,
          [u.id, u.to, u.at.toISOString(), u.reason ?? null],
        );
        return byId(tx, u.id);
      });
    },

    async settledBetween(start, end) {
      const rows = await db.query<LedgerRow>(
        `SELECT ${LEDGER_COLUMNS} FROM payments
          WHERE partner = 'northwind' AND partner_payment_id IS NOT NULL
            AND ((status IN ('SETTLED', 'REFUNDED') AND settled_at >= $1 AND settled_at < $2)
              OR (status = 'REJECTED' AND updated_at >= $1 AND updated_at < $2))
          ORDER BY id`,
        [start.toISOString(), end.toISOString()],
      );
      return rows.map(toLedger);
    },

    async byIds(ids) {
      if (ids.length === 0) return [];
      const rows = await db.query<LedgerRow>(`SELECT ${LEDGER_COLUMNS} FROM payments WHERE id = ANY($1::text[])`, [
        [...ids],
      ]);
      return rows.map(toLedger);
    },

    async byBankIds(bankIds) {
      if (bankIds.length === 0) return [];
      const rows = await db.query<LedgerRow>(
        `SELECT ${LEDGER_COLUMNS} FROM payments WHERE partner = 'northwind' AND partner_payment_id = ANY($1::text[])`,
        [[...bankIds]],
      );
      return rows.map(toLedger);
    },

    async open(before, limit, now) {
      // Takes the batch and stamps it in one statement: the next round starts with the others, and
      // replicas polling at once skip each other's rows (SKIP LOCKED) instead of asking twice.
      const rows = await db.query<LedgerRow>(
        `WITH due AS (
           SELECT id, COALESCE(polled_at, updated_at) AS since FROM payments
            WHERE status IN ('AWAITING_AUTHORISATION', 'AUTHORISED', 'PENDING', 'ACCEPTED', 'UNKNOWN')
              AND updated_at <= $1 AND (polled_at IS NULL OR polled_at <= $1)
              AND partner = 'northwind' AND partner_consent_id IS NOT NULL
            ORDER BY since LIMIT $2
            FOR UPDATE SKIP LOCKED
         ), stamped AS (
           UPDATE payments p SET polled_at = $3 FROM due WHERE p.id = due.id
           RETURNING p.*, due.since
         )
         SELECT ${LEDGER_COLUMNS} FROM stamped ORDER BY since`,
        [before.toISOString(), limit, now.toISOString()],
      );
      return rows.map(toLedger);
    },
  };
}

/**
 * The webhook inbox of the payments schema (lib/webhooks) for the operators' use cases, with the
 * payment each event is about: its aggregate names the bank's payment or consent
 * (partners/northwind/webhooks.ts), which the ledger's partner columns map back to the platform's
 * payment id; partner ids never leave this file. `now` is the subgraph's clock; `onRequeued` wakes
 * its webhook worker after a replay.
 */
export function createPaymentWebhookInbox(
  db: Database | Queryable,
  options: { now: () => Date; onRequeued?: () => void },
): PaymentWebhookInbox {
  return {
    ...webhookInboxPort(db, options),
    async paymentIdsOf(aggregateIds) {
      const bankIds = (prefix: string) => [
        ...new Set(aggregateIds.filter((a) => a.startsWith(prefix)).map((a) => a.slice(prefix.length))),
      ];
      const payments = bankIds('payment:');
      const consents = bankIds('consent:');
      const found = new Map<string, string>();
      if (payments.length === 0 && consents.length === 0) return found;
      const rows = await db.query<{ id: string; partner_payment_id: string | null; partner_consent_id: string | null }>(
        `SELECT id, partner_payment_id, partner_consent_id FROM payments
         WHERE partner = 'northwind' AND (partner_payment_id = ANY($1::text[]) OR partner_consent_id = ANY($2::text[]))`,
        [payments, consents],
      );
      for (const r of rows) {
        if (r.partner_payment_id !== null && payments.includes(r.partner_payment_id))
          found.set(`payment:${r.partner_payment_id}`, r.id);
        if (r.partner_consent_id !== null && consents.includes(r.partner_consent_id))
          found.set(`consent:${r.partner_consent_id}`, r.id);
      }
      return found;
    },
  };
}
