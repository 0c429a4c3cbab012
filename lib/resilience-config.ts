import { z } from 'zod';

/**
 * The gateway's resilience settings: the request deadline, the protections of every subgraph call
 * (lib/http-client.ts) and the cached fallbacks (lib/fallback-cache.ts). Spread into the gateway's
 * configuration schema (gateway/config.ts) so they are validated with every other variable at start;
 * README.md (Configuration) documents the defaults and why they are what they are.
 *
 * - GATEWAY_REQUEST_DEADLINE_MS: the whole request's budget. Every subgraph call is cut when it
 *   runs out (the per-call SUBGRAPH_TIMEOUT_MS is the most one attempt may take within it), no
 *   retry starts that could not end in time, and the subgraphs receive what is left, so their
 *   partner calls stop in time too and the answer comes back with what is available.
 * - SUBGRAPH_RETRIES: extra attempts for a subgraph QUERY (never a mutation) after a network error,
 *   timeout, 5xx or 429, with exponential backoff and jitter, a 429's Retry-After honoured when it
 *   fits in the deadline.
 * - SUBGRAPH_CONCURRENCY / SUBGRAPH_QUEUE: the bulkhead of each subgraph, so one slow subgraph holds
 *   at most that many of the gateway's calls (and waiting ones) and the others keep their capacity.
 * - SUBGRAPH_BREAKER_*: the circuit breaker of each subgraph: it opens when more than THRESHOLD % of
 *   the last WINDOW calls failed (once at least MIN_CALLS were made), fails fast while open, and
 *   lets one probe through after HALF_OPEN_AFTER_MS; the probe's success closes it.
 * - FALLBACK_CACHE: on to keep the last good answer of every subgraph query per principal and serve
 *   it, marked stale, when the subgraph fails. Default on, except in production without a key.
 * - FALLBACK_CACHE_KEY: 32 bytes (base64 or hex) encrypting every entry with AES-256-GCM (the
 *   answers carry personal data). Required in production when FALLBACK_CACHE=on; unset elsewhere a
 *   random key per process is used (replicas then do not share fallbacks).
 * - FALLBACK_CACHE_TTL_SECONDS: how long a last good value may be served after it was read.
 */
export const resilienceConfigShape = {
  GATEWAY_REQUEST_DEADLINE_MS: z.coerce.number().int().min(100).max(300_000).default(15_000),
  SUBGRAPH_RETRIES: z.coerce.number().int().min(0).max(5).default(1),
  SUBGRAPH_CONCURRENCY: z.coerce.number().int().min(1).max(10_000).default(64),
  SUBGRAPH_QUEUE: z.coerce.number().int().min(0).max(100_000).default(64),
  SUBGRAPH_BREAKER_THRESHOLD_PERCENT: z.coerce.number().int().min(1).max(100).default(50),
  SUBGRAPH_BREAKER_MIN_CALLS: z.coerce.number().int().min(1).max(10_000).default(10),
  SUBGRAPH_BREAKER_WINDOW: z.coerce.number().int().min(1).max(100_000).default(50),
  SUBGRAPH_BREAKER_HALF_OPEN_AFTER_MS: z.coerce.number().int().min(100).max(600_000).default(5_000),
  FALLBACK_CACHE: z.enum(['on', 'off']).optional(),
  FALLBACK_CACHE_KEY: z
    .string()
    .optional()
    .refine((v) => v === undefined || v === '' || decodeKey(v) !== null, {
      message: 'must be 32 bytes, as 64 hex digits or base64 (openssl rand -base64 32)',
    }),
  FALLBACK_CACHE_TTL_SECONDS: z.coerce
    .number()
    .int()
    .min(1)
    .max(7 * 86_400)
    .default(86_400),
};

export interface ResilienceConfig {
  GATEWAY_REQUEST_DEADLINE_MS: number;
  SUBGRAPH_RETRIES: number;
  SUBGRAPH_CONCURRENCY: number;
  SUBGRAPH_QUEUE: number;
  SUBGRAPH_BREAKER_THRESHOLD_PERCENT: number;
  SUBGRAPH_BREAKER_MIN_CALLS: number;
  SUBGRAPH_BREAKER_WINDOW: number;
  SUBGRAPH_BREAKER_HALF_OPEN_AFTER_MS: number;
  FALLBACK_CACHE?: 'on' | 'off' | undefined;
  FALLBACK_CACHE_KEY?: string | undefined;
  FALLBACK_CACHE_TTL_SECONDS: number;
}

/** 32 bytes from 64 hex digits or base64; null for anything else. */
export function decodeKey(value: string): Buffer | null {
  const v = value.trim();
  if (/^[0-9a-fA-F]{64}$/.test(v)) return Buffer.from(v, 'hex');
  if (/^[A-Za-z0-9+/_-]{42,44}={0,2}$/.test(v)) {
    const bytes = Buffer.from(v.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    if (bytes.length === 32) return bytes;
  }
  return null;
}

/** Whether fallbacks are on: FALLBACK_CACHE, else on unless production has no key. */
export function fallbackEnabled(config: ResilienceConfig & { PROFILE: string }): boolean {
  if (config.FALLBACK_CACHE) return config.FALLBACK_CACHE === 'on';
  return config.PROFILE !== 'production' || Boolean(config.FALLBACK_CACHE_KEY);
}

/** Problems across variables, one line each (lib/config.ts reports them and exits 2). */
export function resilienceConfigProblems(config: ResilienceConfig & { PROFILE: string }): string[] {
  const problems: string[] = [];
  if (config.PROFILE === 'production' && config.FALLBACK_CACHE === 'on' && !config.FALLBACK_CACHE_KEY)
    problems.push(
      'FALLBACK_CACHE_KEY: required in production when FALLBACK_CACHE=on (cached answers carry personal data and are stored encrypted)',
    );
  return problems;
}
