import type { Migration } from '../../../lib/database.ts';

/**
 * Tables of the accounts schema. Only what the platform owns lives here: the customers' bank
 * connections (the partner credentials of each consent) and references from canonical ids back
 * to partner coordinates and owners. Partner data itself (names, balances, amounts) is never
 * stored; it is read from the bank on every request.
 * Never edit a migration that has shipped; add a new one.
 */
export const migrations: Migration[] = [
  {
    name: '001_bank_connections',
    sql: `
      CREATE TABLE bank_connections (
        id            text PRIMARY KEY,
        customer_id   text NOT NULL,
        institution   text NOT NULL,
        psu_id        text,
        consent_id    text NOT NULL,
        access_token  text NOT NULL,
        created_at    timestamptz NOT NULL DEFAULT now(),
        updated_at    timestamptz NOT NULL DEFAULT now(),
        UNIQUE (customer_id, institution)
      );
    `,
  },
  {
    name: '002_references',
    sql: `
      -- Canonical account id -> owner and partner coordinates. Keyed by (id, customer) so a
      -- joint account reached through two customers' consents stays owned by both.
      CREATE TABLE account_refs (
        account_id        text NOT NULL,
        customer_id       text NOT NULL,
        institution       text NOT NULL,
        bank_account_ref  text NOT NULL,
        first_seen_at     timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (account_id, customer_id)
      );
      -- Canonical transaction id -> owner and partner coordinates. occurred_on is a lookup hint
      -- (which date window to ask the bank for); reverses_transaction_id links a reversal or
      -- chargeback to its original so the original can be shown as REVERSED later.
      CREATE TABLE transaction_refs (
        transaction_id          text NOT NULL,
        customer_id             text NOT NULL,
        account_id              text NOT NULL,
        institution             text NOT NULL,
        bank_account_ref        text NOT NULL,
        bank_transaction_ref    text NOT NULL,
        occurred_on             date NOT NULL,
        reverses_transaction_id text,
        first_seen_at           timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (transaction_id, customer_id)
      );
      CREATE INDEX transaction_refs_reverses ON transaction_refs (customer_id, reverses_transaction_id) WHERE reverses_transaction_id IS NOT NULL;
    `,
  },
];
