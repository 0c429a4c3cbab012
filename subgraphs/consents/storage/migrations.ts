import type { Migration } from '../../../lib/database.ts';

/**
 * Tables of the consents subgraph, in its own PostgreSQL schema (`consents`; lib/database.ts
 * sets the search_path, so no statement names the schema). Never edit a shipped migration;
 * add a new one.
 *
 * The CHECK constraints repeat the domain rules the database can enforce on its own, so a bug
 * elsewhere cannot store a consent that contradicts itself (an AUTHORISED consent without an
 * authorisation time, an unknown status, a malformed id). consent_events is append-only: a
 * trigger refuses UPDATE, DELETE and TRUNCATE, because it is the evidence auditors rely on.
 */
export const migrations: Migration[] = [
  {
    name: '001_consents',
    sql: `
CREATE TABLE client_apps (
  id         text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
  name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  kind       text NOT NULL CHECK (kind IN ('FIRST_PARTY', 'THIRD_PARTY', 'STAFF', 'MACHINE')),
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE consents (
  id            text PRIMARY KEY CHECK (id ~ '^cns_[a-z2-7]{26}$'),
  customer_id   text NOT NULL CHECK (customer_id ~ '^cus_[a-z2-7]{26}$'),
  client_id     text NOT NULL REFERENCES client_apps (id),
  status        text NOT NULL CHECK (status IN ('AWAITING_AUTHORISATION', 'AUTHORISED', 'REJECTED', 'REVOKED', 'EXPIRED')),
  permissions   text[] NOT NULL CHECK (cardinality(permissions) > 0
                  AND permissions <@ ARRAY['ACCOUNTS', 'BALANCES', 'TRANSACTIONS', 'PAYMENTS_INITIATION', 'IDENTITY']::text[]),
  expires_at    timestamptz NOT NULL,
  created_at    timestamptz NOT NULL,
  authorised_at timestamptz,
  rejected_at   timestamptz,
  revoked_at    timestamptz,
  CHECK (expires_at > created_at),
  CHECK (status NOT IN ('AUTHORISED', 'REVOKED') OR authorised_at IS NOT NULL),
  CHECK (status <> 'REJECTED' OR rejected_at IS NOT NULL),
  CHECK (status <> 'REVOKED' OR revoked_at IS NOT NULL),
  CHECK (status <> 'AWAITING_AUTHORISATION' OR (authorised_at IS NULL AND rejected_at IS NULL AND revoked_at IS NULL))
);
CREATE INDEX consents_by_customer ON consents (customer_id, created_at DESC, id DESC);
CREATE INDEX consents_active ON consents (customer_id, client_id) WHERE status = 'AUTHORISED';
CREATE INDEX consents_due ON consents (expires_at) WHERE status IN ('AUTHORISED', 'AWAITING_AUTHORISATION');

CREATE TABLE consent_accounts (
  consent_id text NOT NULL REFERENCES consents (id),
  account_id text NOT NULL CHECK (account_id ~ '^acc_[a-z2-7]{26}$'),
  PRIMARY KEY (consent_id, account_id)
);

CREATE TABLE consent_events (
  seq        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  consent_id text NOT NULL REFERENCES consents (id),
  status     text NOT NULL CHECK (status IN ('AWAITING_AUTHORISATION', 'AUTHORISED', 'REJECTED', 'REVOKED', 'EXPIRED')),
  at         timestamptz NOT NULL,
  actor      text NOT NULL CHECK (actor = 'system' OR actor ~ '^customer:cus_[a-z2-7]{26}$' OR actor ~ '^client:[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
  request_id text
);
CREATE INDEX consent_events_by_consent ON consent_events (consent_id, at, seq);

CREATE FUNCTION consent_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'consent_events is append-only evidence; % is not allowed', TG_OP;
END
$$;
CREATE TRIGGER consent_events_append_only BEFORE UPDATE OR DELETE ON consent_events
  FOR EACH ROW EXECUTE FUNCTION consent_events_append_only();
CREATE TRIGGER consent_events_no_truncate BEFORE TRUNCATE ON consent_events
  FOR EACH STATEMENT EXECUTE FUNCTION consent_events_append_only();
`,
  },
  {
    // Counting a client's requests awaiting a customer's decision (the pending-request cap,
    // createConsentRequest) reads only these rows.
    name: '002_consents_pending_index',
    sql: `CREATE INDEX consents_pending ON consents (customer_id, client_id, expires_at) WHERE status = 'AWAITING_AUTHORISATION';`,
  },
];
