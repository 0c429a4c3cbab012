import { describe, expect, it } from 'vitest';
import {
  addedLatency,
  formatPaymentsResult,
  runPaymentsBench,
  spreadOf,
  TARGET_ADDED_P99_MS,
  type RoundSamples,
  type Variant,
} from '../../bench/payments.ts';
import { DATABASE_URL } from '../support/database.ts';
import { scaled } from '../support/time.ts';

/**
 * Keeps `npm run bench:payments` honest and working: its statistics on known samples (the verdict
 * is the median of per-round p99 differences, so one slow round does not decide it), and the
 * harness end to end with a handful of requests. Latencies of the real run are never asserted
 * (timings belong in the benchmark, not in tests).
 */

/** 100 latencies 1..100 ms, shifted by `add`; `slow` of them (the last) replaced by 500 ms. */
const samples = (add: number, slow = 0): RoundSamples => ({
  latencies: Array.from({ length: 100 }, (_, i) => (i >= 100 - slow ? 500 : i + 1 + add)),
  elapsedMs: 1_000,
});
const round = (withLayer: RoundSamples, without: RoundSamples, first: Variant = 'with') => ({
  with: withLayer,
  without,
  first,
});

describe('bench:payments statistics', () => {
  it('pairs each round, and one slow round moves the pooled p99 but not the verdict', () => {
    const rounds = [
      round(samples(2), samples(0)),
      round(samples(2), samples(0), 'without'),
      // A neighbour's burst hits the layer's turn in one round: six requests of 500 ms.
      round(samples(2, 6), samples(0)),
      round(samples(2), samples(0), 'without'),
      round(samples(2), samples(0)),
    ];
    const r = addedLatency(rounds);
    // Nearest-rank p99 of 100 samples is the 99th: 99 without, 101 with, 500 in the slow round.
    expect(r.rounds.map((f) => f.addedP99)).toEqual([2, 2, 401, 2, 2]);
    expect(r.rounds.map((f) => f.addedP50)).toEqual([2, 2, 2, 2, 2]);
    expect(r.rounds.map((f) => f.first)).toEqual(['with', 'without', 'with', 'without', 'with']);
    expect(r.addedP99).toEqual({ min: 2, q1: 2, median: 2, q3: 2, max: 401 });
    expect(r.roundsWithinTarget).toBe(4);
    expect(r.withinTarget).toBe(true);
    // Pooled over 500 samples, the p99 (the 495th) is one of the slow round's six.
    expect(r.pooled.with.p99).toBe(500);
    expect(r.pooled.without.p99).toBe(99);
    expect(r.pooledAddedP99).toBe(401);
    expect(r.pooled.with.requests).toBe(500);
    expect(r.pooled.with.reqPerSec).toBe(100);
  });

  it('a layer that adds more than the target in most rounds is over it', () => {
    const over = TARGET_ADDED_P99_MS + 1;
    const r = addedLatency([
      round(samples(over), samples(0)),
      round(samples(0), samples(0)),
      round(samples(over), samples(0)),
    ]);
    expect(r.addedP99.median).toBe(over);
    expect(r.roundsWithinTarget).toBe(1);
    expect(r.withinTarget).toBe(false);
  });

  it('spreads interpolate between the middle values', () => {
    expect(spreadOf([4, 1, 3, 2])).toEqual({ min: 1, q1: 1.75, median: 2.5, q3: 3.25, max: 4 });
    expect(spreadOf([7])).toEqual({ min: 7, q1: 7, median: 7, q3: 7, max: 7 });
  });
});

describe('bench:payments harness', () => {
  it(
    'runs paired rounds through both gateways, one payment at the bank per request, and prints its verdict',
    async () => {
      const options = { rounds: 2, requests: 3, block: 2, concurrency: 2, warmup: 1, databaseUrl: DATABASE_URL };
      const result = await runPaymentsBench(options);
      expect(result.rounds).toHaveLength(2);
      expect(result.rounds.map((f) => f.first)).toEqual(['with', 'without']);
      for (const v of ['with', 'without'] as const) {
        expect(result.pooled[v].requests).toBe(6);
        for (const x of [result.pooled[v].p50, result.pooled[v].p99, result.pooled[v].reqPerSec])
          expect(Number.isFinite(x)).toBe(true);
      }
      expect(Number.isFinite(result.addedP99.median)).toBe(true);
      expect(result.requestsSent).toBe(14);
      expect(result.paymentsAtBank).toBe(14);
      const report = formatPaymentsResult(result);
      expect(report).toMatch(/round {3}2 {8}without/);
      expect(report).toMatch(/verdict: the layer adds -?\d+\.\d\d ms at p99 \(median of the per-round differences\)/);
      expect(report).toContain('payments at the bank: 14 for 14 requests (one each)');
    },
    scaled(120_000),
  );
});
