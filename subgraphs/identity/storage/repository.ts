import type { Queryable } from '../../../lib/database.ts';
import type { CustomerModel } from '../domain/model.ts';
import type { CustomerRepository } from '../domain/ports.ts';

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
