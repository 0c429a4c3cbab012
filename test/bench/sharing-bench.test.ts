import { describe, expect, it } from 'vitest';
import { formatSharingResult, judge, runSharingBench, type Caller, type Owned } from '../../bench/sharing.ts';
import { scaled } from '../support/time.ts';

/**
 * Keeps `npm run bench:sharing` working: runs the harness on the real platform with a handful of
 * requests and checks only that it produces numbers for every query and arm, that no request
 * failed and that no caller received the other customer's data. Throughput and latency values
 * are never asserted (timings belong in the benchmark, not in tests).
 */
describe('request sharing benchmark harness', () => {
  it(
    'runs both queries on both arms and reports finite numbers, no failure and no foreign answer',
    async () => {
      const result = await runSharingBench({
        concurrency: 2,
        dashboardRequests: 4,
        lightRequests: 6,
        rounds: 2,
        warmup: 2,
        deadlineMs: scaled(60_000),
        signIterations: 20,
      });
      expect(result.roundsRun).toBe(2);
      for (const workload of ['dashboard', 'light'] as const) {
        for (const arm of [result.arms[workload].off, result.arms[workload].principal]) {
          expect(arm.requests).toBe(workload === 'dashboard' ? 8 : 12);
          for (const value of [arm.rps, arm.p50Ms, arm.p95Ms, arm.p99Ms, arm.shared])
            expect(Number.isFinite(value)).toBe(true);
          expect(arm.failed, arm.firstError).toBe(0);
          expect(arm.foreign).toBe(0);
        }
        // Sharing off means nothing shared, whatever the timing.
        expect(result.arms[workload].off.shared).toBe(0);
        for (const value of Object.values(result.ratios[workload])) expect(Number.isFinite(value)).toBe(true);
      }
      expect(result.signing.map((s) => s.label)).toContain('one dashboard request');
      for (const s of result.signing) {
        expect(s.calls).toBeGreaterThan(0);
        expect(Number.isFinite(s.signUs) && Number.isFinite(s.verifyUs)).toBe(true);
      }
      expect(result.signing.find((s) => s.label === 'one dashboard request')!.calls).toBeGreaterThanOrEqual(4);
      expect(formatSharingResult(result)).toMatch(/\| dashboard \| after: principal \| \d+\.\d \|/);
    },
    scaled(240_000),
  );

  // The benchmark's leak detector must be able to say "foreign": otherwise its zero proves nothing.
  describe('answer check', () => {
    const alice: Caller = { name: 'Alice', customerId: 'cus_alice', token: '' };
    const aliceOwns: Owned = {
      ids: new Set(['cus_alice', 'acc_a1', 'txn_a1', 'pay_a1', 'cns_a1']),
      displayName: 'Alice A.',
    };
    const benOwns: Owned = { ids: new Set(['cus_ben', 'acc_b1', 'txn_b1', 'pay_b1', 'cns_b1']), displayName: 'Ben B.' };
    const dashboard = (me: Record<string, unknown>) => ({
      data: { me: { accounts: [], payments: { edges: [] }, consents: [], ...me } },
    });

    it("accepts the caller's own answer", () => {
      const own = dashboard({
        id: 'cus_alice',
        displayName: 'Alice A.',
        accounts: [{ id: 'acc_a1', transactions: { edges: [{ node: { id: 'txn_a1' } }] } }],
      });
      expect(judge(alice, aliceOwns, benOwns, 'dashboard', 200, own)).toEqual({ ok: true });
    });

    it("flags another customer's me, account, transaction, payment, consent or name as foreign", () => {
      const foreign = [
        dashboard({ id: 'cus_ben', displayName: 'Ben B.' }),
        dashboard({ id: 'cus_alice', displayName: 'Alice A.', accounts: [{ id: 'acc_b1' }] }),
        dashboard({
          id: 'cus_alice',
          displayName: 'Alice A.',
          accounts: [{ id: 'acc_a1', transactions: { edges: [{ node: { id: 'txn_b1' } }] } }],
        }),
        dashboard({ id: 'cus_alice', displayName: 'Alice A.', payments: { edges: [{ node: { id: 'pay_b1' } }] } }),
        dashboard({ id: 'cus_alice', displayName: 'Alice A.', consents: [{ id: 'cns_b1' }] }),
      ];
      for (const body of foreign)
        expect(judge(alice, aliceOwns, benOwns, 'dashboard', 200, body)).toMatchObject({ ok: false, foreign: true });
      expect(
        judge(alice, aliceOwns, benOwns, 'light', 200, { data: { me: { id: 'cus_alice', displayName: 'Ben B.' } } }),
      ).toMatchObject({ ok: false, foreign: true });
    });

    it('counts errors and incomplete answers as failed, not foreign', () => {
      const errored = judge(alice, aliceOwns, benOwns, 'light', 200, {
        data: null,
        errors: [{ message: 'no', extensions: { code: 'SERVICE_UNAVAILABLE' } }],
      });
      expect(errored).toEqual({ ok: false, error: 'SERVICE_UNAVAILABLE: no' });
      expect(judge(alice, aliceOwns, benOwns, 'light', 200, { data: { me: null } })).toMatchObject({
        ok: false,
        error: expect.stringMatching(/incomplete/),
      });
    });
  });
});
