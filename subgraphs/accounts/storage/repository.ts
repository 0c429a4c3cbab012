import { randomUUID } from 'node:crypto';
import type { Database, Queryable } from '../../../lib/database.ts';
import type { BankConnection } from '../domain/model.ts';
import type { AccountsRepository } from '../domain/ports.ts';

export type { AccountRef, AccountsRepository, TransactionRef } from '../domain/ports.ts';

interface ConnectionRow extends Record<string, unknown> {
  id: string;
  customer_id: string;
  institution: string;
  psu_id: string | null;
  consent_id: string;
  access_token: string;
}

interface TransactionRefRow extends Record<string, unknown> {
  transaction_id: string;
  customer_id: string;
  account_id: string;
  institution: string;
  bank_account_ref: string;
  bank_transaction_ref: string;
  occurred_on: string | Date;
  reverses_transaction_id: string | null;
}

function toConnection(r: ConnectionRow): BankConnection {
  return {
    id: r.id,
    customerId: r.customer_id,
    institution: r.institution,
    psuId: r.psu_id,
    consentId: r.consent_id,
    accessToken: r.access_token,
  };
}

/** pg returns `date` columns as local-midnight Date objects, PGlite as Date too; normalise to ISO dates. */
function isoDate(value: string | Date): string {
  if (typeof value === 'string') return value.slice(0, 10);
  const y = value.getFullYear();
  const m = String(value.getMonth() + 1).padStart(2, '0');
  const d = String(value.getDate()).padStart(2, '0');
  return `${y}-${m}-${d}`;
}

export function createAccountsRepository(db: Database | Queryable): AccountsRepository {
  return {
    async connectionsOfCustomers(customerIds) {
      if (customerIds.length === 0) return [];
      const rows = await db.query<ConnectionRow>(
        `SELECT id, customer_id, institution, psu_id, consent_id, access_token FROM bank_connections
          WHERE customer_id = ANY($1::text[]) ORDER BY customer_id, institution`,
        [customerIds],
      );
      return rows.map(toConnection);
    },

    async upsertConnection(c) {
      const rows = await db.query<ConnectionRow>(
        `INSERT INTO bank_connections (id, customer_id, institution, psu_id, consent_id, access_token)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (customer_id, institution) DO UPDATE
           SET psu_id = EXCLUDED.psu_id, consent_id = EXCLUDED.consent_id, access_token = EXCLUDED.access_token, updated_at = now()
         RETURNING id, customer_id, institution, psu_id, consent_id, access_token`,
        [c.id ?? randomUUID(), c.customerId, c.institution, c.psuId, c.consentId, c.accessToken],
      );
      return toConnection(rows[0]!);
    },

    async upsertAccountRefs(refs) {
      if (refs.length === 0) return;
      await db.query(
        `INSERT INTO account_refs (account_id, customer_id, institution, bank_account_ref)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])
         ON CONFLICT (account_id, customer_id) DO NOTHING`,
        [
          refs.map((r) => r.accountId),
          refs.map((r) => r.customerId),
          refs.map((r) => r.institution),
          refs.map((r) => r.bankAccountRef),
        ],
      );
    },

    async accountRefs(accountIds) {
      if (accountIds.length === 0) return [];
      const rows = await db.query<{
        account_id: string;
        customer_id: string;
        institution: string;
        bank_account_ref: string;
      }>(
        `SELECT account_id, customer_id, institution, bank_account_ref FROM account_refs WHERE account_id = ANY($1::text[])
          ORDER BY account_id, customer_id`,
        [accountIds],
      );
      return rows.map((r) => ({
        accountId: r.account_id,
        customerId: r.customer_id,
        institution: r.institution,
        bankAccountRef: r.bank_account_ref,
      }));
    },

    async upsertTransactionRefs(refs) {
      if (refs.length === 0) return;
      // A pending transaction that books keeps its id; its date hint and reversal link follow the latest sighting.
      await db.query(
        `INSERT INTO transaction_refs (transaction_id, customer_id, account_id, institution, bank_account_ref, bank_transaction_ref, occurred_on, reverses_transaction_id)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::date[], $8::text[])
         ON CONFLICT (transaction_id, customer_id) DO UPDATE
           SET occurred_on = EXCLUDED.occurred_on,
               reverses_transaction_id = COALESCE(EXCLUDED.reverses_transaction_id, transaction_refs.reverses_transaction_id)`,
        [
          refs.map((r) => r.transactionId),
          refs.map((r) => r.customerId),
          refs.map((r) => r.accountId),
          refs.map((r) => r.institution),
          refs.map((r) => r.bankAccountRef),
          refs.map((r) => r.bankTransactionRef),
          refs.map((r) => r.occurredOn),
          refs.map((r) => r.reversesTransactionId),
        ],
      );
    },

    async transactionRefs(transactionIds) {
      if (transactionIds.length === 0) return [];
      const rows = await db.query<TransactionRefRow>(
        `SELECT transaction_id, customer_id, account_id, institution, bank_account_ref, bank_transaction_ref, to_char(occurred_on, 'YYYY-MM-DD') AS occurred_on, reverses_transaction_id
           FROM transaction_refs WHERE transaction_id = ANY($1::text[]) ORDER BY transaction_id, customer_id`,
        [transactionIds],
      );
      return rows.map((r) => ({
        transactionId: r.transaction_id,
        customerId: r.customer_id,
        accountId: r.account_id,
        institution: r.institution,
        bankAccountRef: r.bank_account_ref,
        bankTransactionRef: r.bank_transaction_ref,
        occurredOn: isoDate(r.occurred_on),
        reversesTransactionId: r.reverses_transaction_id,
      }));
    },

    async reversalsOf(customerId, transactionIds) {
      const result = new Map<string, string>();
      if (transactionIds.length === 0) return result;
      const rows = await db.query<{ transaction_id: string; reverses_transaction_id: string }>(
        `SELECT transaction_id, reverses_transaction_id FROM transaction_refs
          WHERE customer_id = $1 AND reverses_transaction_id = ANY($2::text[]) ORDER BY transaction_id`,
        [customerId, transactionIds],
      );
      for (const r of rows)
        if (!result.has(r.reverses_transaction_id)) result.set(r.reverses_transaction_id, r.transaction_id);
      return result;
    },

    async ping() {
      const rows = await db.query<{ ok: number }>('SELECT 1 AS ok');
      return rows[0]?.ok === 1;
    },
  };
}
