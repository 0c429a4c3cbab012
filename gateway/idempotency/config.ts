import { z } from 'zod';

/**
 * The gateway's idempotency settings (gateway/idempotency/): where its records live and how long
 * claims and records last. Spread into the gateway's configuration schema (gateway/config.ts), so
 * they are validated with every other variable at start.
 *
 * - DATABASE_URL / PGLITE_DIR: the same variables the subgraphs read. The gateway keeps its
 *   records in a PostgreSQL schema of its own (`gateway`), so replicas pointed at one PostgreSQL
 *   share their claims; without DATABASE_URL an embedded PGlite (one process, one replica).
 * - IDEMPOTENCY_LEASE_MS: how long a claim protects a request in flight. A gateway that dies
 *   mid-request leaves its claim behind; once the lease has run out a retry may take it over
 *   (the payments subgraph's own ledger key makes that retry converge on the same payment). It
 *   must outlast a slow but healthy request, so it may not be shorter than 1 s and defaults to
 *   60 s, well above SUBGRAPH_TIMEOUT_MS.
 * - IDEMPOTENCY_RETENTION_HOURS: how long a record is kept (Stripe, the IETF draft and OBIE all
 *   say at least 24 hours); lower values are refused, so the purge can never remove a younger one.
 * - IDEMPOTENCY_PURGE_INTERVAL_MS: how often the purge job runs.
 */
export const idempotencyConfigShape = {
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')
    .optional(),
  PGLITE_DIR: z.string().default('memory://'),
  IDEMPOTENCY_LEASE_MS: z.coerce.number().int().min(1_000).max(3_600_000).default(60_000),
  IDEMPOTENCY_RETENTION_HOURS: z.coerce
    .number()
    .int()
    .min(24, 'must be at least 24: clients may retry for 24 hours')
    .max(24 * 90)
    .default(24),
  IDEMPOTENCY_PURGE_INTERVAL_MS: z.coerce.number().int().min(1_000).max(86_400_000).default(3_600_000),
};

export interface IdempotencyConfig {
  DATABASE_URL?: string | undefined;
  PGLITE_DIR: string;
  IDEMPOTENCY_LEASE_MS: number;
  IDEMPOTENCY_RETENTION_HOURS: number;
  IDEMPOTENCY_PURGE_INTERVAL_MS: number;
}
