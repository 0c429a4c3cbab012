import type { Migration } from '../../../lib/database.ts';
import { webhookInboxMigrations } from '../../../lib/webhooks/index.ts';

/**
 * The payments ledger, in the `payments` PostgreSQL schema (search_path is set by
 * lib/database.ts, so nothing here names the schema). Never edit a migration that has shipped.
 *
 * Room for what comes next: payment initiation adds an `idempotency_records` table (key,
 * principal, request hash, payment id, response, expiry) and a webhook inbox; both reference
 * payments(id). The partner columns below hold the bank's consent and payment ids that
 * initiation and reconciliation need; they are never exposed through the API.
 */
export const migrations: Migration[] = [
  {
    name: '001_create_payments',
    sql: `
      CREATE TABLE payments (
        id text COLLATE "C" PRIMARY KEY CHECK (id ~ '^pay_[a-z2-7]{26}$'),
        customer_id text NOT NULL CHECK (customer_id ~ '^cus_[a-z2-7]{26}$'),
        debtor_account_id text NOT NULL CHECK (debtor_account_id ~ '^acc_[a-z2-7]{26}$'),
        -- Exact decimal, never a float: at most 13 integer and 5 fraction digits, positive.
        amount numeric NOT NULL CHECK (amount > 0 AND amount < 10000000000000 AND scale(amount) <= 5),
        currency text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
        creditor_name text NOT NULL CHECK (length(creditor_name) BETWEEN 1 AND 140),
        creditor_scheme text NOT NULL CHECK (creditor_scheme IN ('SORT_CODE_ACCOUNT_NUMBER', 'IBAN')),
        creditor_identification text NOT NULL CHECK (
          (creditor_scheme = 'SORT_CODE_ACCOUNT_NUMBER' AND creditor_identification ~ '^[0-9]{14}$')
          OR (creditor_scheme = 'IBAN' AND creditor_identification ~ '^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$')
        ),
        reference text CHECK (reference IS NULL OR length(reference) <= 140),
        status text NOT NULL CHECK (status IN (
          'CREATED', 'AWAITING_AUTHORISATION', 'AUTHORISED', 'PENDING', 'ACCEPTED', 'SETTLED',
          'REJECTED', 'FAILED', 'CANCELLED', 'REFUNDED', 'UNKNOWN')),
        status_reason text,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        settled_at timestamptz,
        -- The bank that executes the payment and its identifiers there. Internal only.
        partner text NOT NULL CHECK (partner IN ('northwind', 'rheinbank')),
        partner_consent_id text,
        partner_payment_id text,
        CHECK (updated_at >= created_at),
        UNIQUE (partner, partner_payment_id)
      );
      -- Keyset pagination of a customer's payments, newest first.
      CREATE INDEX payments_customer_created_idx ON payments (customer_id, created_at DESC, id DESC);
      -- Reconciliation will scan payments whose outcome is still open.
      CREATE INDEX payments_open_status_idx ON payments (status, updated_at) WHERE status IN ('PENDING', 'ACCEPTED', 'UNKNOWN', 'AUTHORISED');

      CREATE TABLE payment_status_history (
        payment_id text COLLATE "C" NOT NULL REFERENCES payments (id) ON DELETE CASCADE,
        -- Order of the change within its payment, from 1.
        seq integer NOT NULL CHECK (seq >= 1),
        status text NOT NULL CHECK (status IN (
          'CREATED', 'AWAITING_AUTHORISATION', 'AUTHORISED', 'PENDING', 'ACCEPTED', 'SETTLED',
          'REJECTED', 'FAILED', 'CANCELLED', 'REFUNDED', 'UNKNOWN')),
        at timestamptz NOT NULL,
        reason text,
        PRIMARY KEY (payment_id, seq)
      );
    `,
  },
  {
    // Payment initiation (issue 10): who asked and with which idempotency key, the request it was
    // first used with, the bank's SCA page and the bank's id of the debtor account. The unique
    // constraint is the second layer of idempotency: whatever reaches this subgraph (through the
    // gateway's layer, around it, or after its records expired) cannot create a second payment for
    // one (client, customer, key). Seeded payments predate keys (NULLs never collide).
    name: '002_payment_initiation',
    sql: `
      ALTER TABLE payments
        ADD COLUMN client_id text,
        ADD COLUMN idempotency_key text CHECK (idempotency_key IS NULL OR char_length(idempotency_key) BETWEEN 1 AND 40),
        ADD COLUMN request_hash text,
        ADD COLUMN authorisation_url text,
        ADD COLUMN partner_account_id text,
        ADD CONSTRAINT payments_idempotency_key UNIQUE (client_id, customer_id, idempotency_key),
        ADD CONSTRAINT payments_key_has_client CHECK ((idempotency_key IS NULL) = (client_id IS NULL));
      -- The poller looks for payments whose outcome the bank has not told yet.
      CREATE INDEX payments_in_progress_idx ON payments (updated_at)
        WHERE status IN ('AWAITING_AUTHORISATION', 'AUTHORISED', 'PENDING', 'ACCEPTED', 'UNKNOWN');
    `,
  },
  {
    // Consent webhooks name the bank's consent: find its payment without a scan.
    name: '003_payments_by_consent',
    sql: `CREATE INDEX payments_partner_consent_idx ON payments (partner, partner_consent_id) WHERE partner_consent_id IS NOT NULL;`,
  },
  {
    // The poller follows payments in progress round-robin: each round takes those looked at longest
    // ago (polled or changed) and stamps them, so payments a customer never authorises cannot fill
    // every batch and starve newer ones, and a stuck payment is asked about once per grace period.
    name: '004_payments_polled_at',
    sql: `
      ALTER TABLE payments ADD COLUMN polled_at timestamptz;
      CREATE INDEX payments_poll_order_idx ON payments ((COALESCE(polled_at, updated_at)))
        WHERE status IN ('AWAITING_AUTHORISATION', 'AUTHORISED', 'PENDING', 'ACCEPTED', 'UNKNOWN');
    `,
  },
  // The webhook inbox of lib/webhooks (Northwind's payment events), in this subgraph's schema.
  ...webhookInboxMigrations,
];
