import type { Migration } from '../../../lib/database.ts';

/**
 * Identity's tables, in its own PostgreSQL schema (search_path is set by lib/database.ts, so
 * nothing here names the schema). Never edit a migration that has shipped; add a new one.
 */
export const migrations: Migration[] = [
  {
    name: '001_create_customers',
    sql: `
      CREATE TABLE customers (
        id text PRIMARY KEY CHECK (id ~ '^cus_[a-z2-7]{26}$'),
        display_name text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 200),
        email text,
        phone text CHECK (phone IS NULL OR phone ~ '^\\+[1-9][0-9]{6,14}$'),
        created_at timestamptz NOT NULL,
        -- The KYC provider's applicant id. Internal: never exposed through the API.
        kyc_applicant_id text UNIQUE
      );
    `,
  },
];
