import type { Queryable } from '../../../lib/database.ts';
import type { CustomerModel, KycCheckStatus, KycResult } from '../domain/model.ts';
import type { CustomerRepository, KycCheckRecord, KycCheckStore } from '../domain/ports.ts';

interface CustomerRow extends Record<string, unknown> {
  id: string;
  display_name: string;
  email: string | null;
  phone: string | null;
  created_at: Date | string;
  kyc_applicant_id: string | null;
}

function toModel(row: CustomerRow): CustomerModel {
  return {
    id: row.id,
    displayName: row.display_name,
    email: row.email,
    phone: row.phone,
    createdAt: row.created_at instanceof Date ? row.created_at : new Date(row.created_at),
    kycApplicantId: row.kyc_applicant_id,
  };
}

export interface NewCustomer {
  id: string;
  displayName: string;
  email: string | null;
  phone: string | null;
  createdAt: Date;
  kycApplicantId: string | null;
}

export function createCustomerRepository(db: Queryable): CustomerRepository & {
  /**
   * Inserts customers that do not exist yet (by id); existing rows are left untouched. Returns how many were inserted.
   */
  insertMissing(customers: readonly NewCustomer[]): Promise<number>;
} {
  return {
    async findByIds(ids) {
      if (ids.length === 0) return [];
      const rows = await db.query<CustomerRow>(
        'SELECT id, display_name, email, phone, created_at, kyc_applicant_id FROM customers WHERE id = ANY($1::text[])',
        [[...ids]],
      );
      return rows.map(toModel);
    },
    async insertMissing(customers) {
      let inserted = 0;
      for (const c of customers) {
        const rows = await db.query(
          `INSERT INTO customers (id, display_name, email, phone, created_at, kyc_applicant_id)
           VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING RETURNING id`,
          [c.id, c.displayName, c.email, c.phone, c.createdAt.toISOString(), c.kycApplicantId],
        );
        inserted += rows.length;
      }
      return inserted;
    },
  };
}

/**
 * kyc_checks: the platform's record of the provider's checks as its webhooks reported them. The
 * webhook worker writes through the transaction that claims the event (`db` is that transaction),
 * so a record and the event's 'applied' mark commit together.
 */
interface KycCheckRow extends Record<string, unknown> {
  provider_check_id: string;
  applicant_id: string;
  status: KycCheckStatus;
  result: KycResult | null;
  created_at: Date | string;
  completed_at: Date | string | null;
}

const date = (v: Date | string) => (v instanceof Date ? v : new Date(v));

export function createKycCheckStore(db: Queryable, provider = 'onfido'): KycCheckStore {
  return {
    async record(check, at, eventId) {
      // Only a newer state replaces the held one (strictly newer: a redelivered or older event is stale). The
      // completion time, once known, is kept.
      const rows = await db.query(
        `INSERT INTO kyc_checks (provider, provider_check_id, applicant_id, status, result, created_at, completed_at,
                                 state_at, event_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (provider, provider_check_id) DO UPDATE SET
           status = EXCLUDED.status,
           result = EXCLUDED.result,
           completed_at = COALESCE(EXCLUDED.completed_at, kyc_checks.completed_at),
           state_at = EXCLUDED.state_at,
           event_id = EXCLUDED.event_id
         WHERE EXCLUDED.state_at > kyc_checks.state_at
         RETURNING provider_check_id`,
        [
          provider,
          check.providerCheckId.toLowerCase(),
          check.applicantId.toLowerCase(),
          check.status,
          check.result,
          check.createdAt,
          check.completedAt ?? null,
          at,
          eventId,
        ],
      );
      return rows.length > 0 ? 'applied' : 'stale';
    },
    async findByApplicants(applicantIds) {
      if (applicantIds.length === 0) return [];
      const rows = await db.query<KycCheckRow>(
        `SELECT provider_check_id, applicant_id, status, result, created_at, completed_at FROM kyc_checks
         WHERE provider = $1 AND applicant_id = ANY($2::text[])`,
        [provider, applicantIds.map((id) => id.toLowerCase())],
      );
      return rows.map((r): KycCheckRecord => ({
        providerCheckId: r.provider_check_id,
        applicantId: r.applicant_id,
        status: r.status,
        result: r.result,
        createdAt: date(r.created_at),
        completedAt: r.completed_at === null ? null : date(r.completed_at),
      }));
    },
  };
}
