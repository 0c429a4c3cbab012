import type { Migration } from '../../../lib/database.ts';
import { webhookInboxMigrations } from '../../../lib/webhooks/index.ts';

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
  {
    name: '002_create_kyc_checks',
    sql: `
      -- What Onfido's webhooks told the platform about each check (the inbox keeps the raw events).
      CREATE TABLE kyc_checks (
        provider text NOT NULL DEFAULT 'onfido',
        provider_check_id text NOT NULL,
        applicant_id text NOT NULL,
        status text NOT NULL
          CHECK (status IN ('IN_PROGRESS', 'AWAITING_APPLICANT', 'PAUSED', 'REOPENED', 'COMPLETE', 'WITHDRAWN')),
        result text CHECK (result IS NULL OR result IN ('CLEAR', 'CONSIDER', 'UNIDENTIFIED')),
        created_at timestamptz NOT NULL,
        completed_at timestamptz,
        -- Time of the event the status comes from: an event older than this changes nothing (never backwards).
        state_at timestamptz NOT NULL,
        -- The inbox event that set the status (source onfido), for operators.
        event_id text NOT NULL,
        PRIMARY KEY (provider, provider_check_id)
      );
      CREATE INDEX kyc_checks_applicant_idx ON kyc_checks (applicant_id);
    `,
  },
  // The webhook inbox (lib/webhooks), in identity's schema: Onfido's events, stored raw before they are applied.
  ...webhookInboxMigrations,
];
