import type { Queryable } from '../../../lib/database.ts';
import { normaliseAmount } from '../../../lib/money.ts';
import type { CreditorScheme, PaymentModel, PaymentStatus, PaymentStatusChangeModel } from '../domain/model.ts';
import type { PaymentsRepository } from '../domain/ports.ts';

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
  created_key: string;
}

const date = (v: Date | string) => (v instanceof Date ? v : new Date(v));

/** Partner columns are deliberately not selected: they never reach the domain model. */
const COLUMNS = `id, customer_id, debtor_account_id, amount::text AS amount, currency, creditor_name, creditor_scheme,
  creditor_identification, reference, status, status_reason, created_at, updated_at, settled_at,
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
  history: PaymentStatusChangeModel[];
}

export interface PaymentsStore extends PaymentsRepository {
  /** Inserts a payment and its history unless a payment with that id exists; returns whether it inserted. Run inside a transaction. */
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
           reference, status, status_reason, created_at, updated_at, settled_at, partner, partner_consent_id, partner_payment_id)
         VALUES ($1, $2, $3, $4::numeric, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
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
