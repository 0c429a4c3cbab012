import { expect, vi } from 'vitest';
import { createLogger } from '../../lib/logger.ts';
import { metricsOf } from '../../lib/metrics.ts';
import { startPlatform, type RunningPlatform } from '../../scripts/platform.ts';
import { scaled, waitBudget } from './time.ts';

/**
 * What the platform tests of last known values share (test/resilience/bank-fallback.test.ts,
 * kyc-fallback.test.ts): a platform with fallbacks on and a partner's breaker that probes again
 * soon, a gateway call that also checks the answer carries no stack trace, the stale-serve count,
 * and a live read that waits until the partner answers again.
 */
export interface StaleMarkedAnswer {
  errors?: { message: string; path?: (string | number)[]; extensions?: Record<string, unknown> }[];
  extensions?: { stale?: { path: string; source: string; asOf: string }[] };
}

/** The whole platform in process, fallbacks on; `partner` (e.g. NORTHWIND) is taken down and back in every test. */
export function startFallbackPlatform(partner: string, name: string): Promise<RunningPlatform> {
  return startPlatform({
    ports: 'free',
    env: {
      PGLITE_DIR: 'memory://',
      DATABASE_URL: undefined,
      REDIS_URL: undefined,
      FALLBACK_CACHE: 'on',
      // Its breaker probes again soon, so each test can start from a live read.
      [`${partner}_BREAKER_HALF_OPEN_AFTER_MS`]: '300',
    },
    logger: createLogger(name, 'silent'),
  });
}
export const PLATFORM_START_BUDGET = scaled(120_000);

/** A GraphQL call through the gateway; whatever it answers, it never shows a stack trace. */
export async function askGateway<A>(
  platform: RunningPlatform,
  token: string,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<A> {
  const res = await fetch(platform.gatewayUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  const text = await res.text();
  expect(text).not.toMatch(/\n\s+at |\.ts:\d+/);
  return JSON.parse(text) as A;
}

/** fallback_stale_serves_total of `service` for `target`. */
export async function staleServes(service: string, target: string): Promise<number> {
  const text = await metricsOf(service).registry.metrics();
  const line = new RegExp(`fallback_stale_serves_total\\{target="${target}",service="${service}"\\} (\\d+)`);
  return Number(line.exec(text)?.[1] ?? 0);
}

/**
 * `ask` again until the answer is live (no errors, nothing stale, and `live` agrees): after a test
 * took the partner down, its breaker stays open until a probe succeeds.
 */
export async function untilLive<A extends StaleMarkedAnswer>(
  ask: () => Promise<A>,
  live: (answer: A) => void = () => {},
): Promise<A> {
  let answer: A | undefined;
  await vi.waitFor(
    async () => {
      answer = await ask();
      expect(answer.errors).toBeUndefined();
      expect(answer.extensions?.stale).toBeUndefined();
      live(answer);
    },
    { ...waitBudget(30_000), interval: 250 },
  );
  return answer!;
}
