import { describe, expect, it } from 'vitest';
import { formatBenchResult, runAuthorizationBench } from '../../bench/authorization.ts';
import { scaled } from '../support/time.ts';

/**
 * Keeps `npm run bench:authz` working: runs the harness with a handful of requests and checks
 * only that it produces numbers for both arms. Throughput values are never asserted (timings
 * belong in the benchmark, not in tests).
 */
describe('authorization benchmark harness', () => {
  it(
    'runs both arms and reports requests/s, latency percentiles, RSS and the overhead ratio',
    async () => {
      const result = await runAuthorizationBench({
        concurrency: 2,
        requests: 3,
        rounds: 2,
        warmup: 1,
        accounts: 5,
        transactionsPerAccount: 3,
        deadlineMs: scaled(60_000),
      });
      expect(result.roundsRun).toBe(2);
      for (const arm of [result.enforce, result.disabled]) {
        expect(arm.requests).toBe(6);
        expect(arm.roundRps).toHaveLength(2);
        for (const value of [arm.rps, arm.p50Ms, arm.p95Ms, arm.p99Ms, arm.rssMiB]) {
          expect(Number.isFinite(value)).toBe(true);
        }
        expect(arm.failed, arm.firstError).toBe(0);
      }
      expect(Number.isFinite(result.overheadPct)).toBe(true);
      expect(formatBenchResult(result)).toMatch(/authorization overhead \(1 - rps_on \/ rps_off\): -?\d+\.\d%/);
    },
    scaled(120_000),
  );
});
