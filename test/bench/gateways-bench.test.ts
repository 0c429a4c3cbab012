import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  ARMS,
  foreignSupergraph,
  formatGatewaysResult,
  judgeAnswer,
  QUERIES,
  runGatewaysBench,
  type LoadCaller,
} from '../../bench/gateways.ts';
import { parseSupergraph } from '../../gateway/supergraph.ts';
import { scaled } from '../support/time.ts';

/**
 * Keeps `npm run bench:gateways` working: every arm (this gateway secured, policy off and with
 * principal sharing; Apollo Gateway; Hive Gateway with and without its deduplication) on every
 * query, with very short phases, over the real platform. Checks only that each produces finite
 * numbers, that nothing failed and that no caller received another caller's data. Throughput and
 * latency are never asserted (timings belong in the benchmark, not in tests).
 */
describe('gateways benchmark harness', () => {
  it(
    'runs all gateways on all queries and reports finite numbers, no failure and no foreign answer',
    async () => {
      const result = await runGatewaysBench({ durationMs: 300, warmupMs: 150, connections: 3, rounds: 1 });
      expect(result.notes).toEqual([]);
      expect(result.results).toHaveLength(ARMS.length * QUERIES.length);
      for (const r of result.results) {
        expect(r.requests, `${r.arm} ${r.query}`).toBeGreaterThan(0);
        for (const value of [r.rps, r.p50Ms, r.p99Ms, r.cpuMsPerRequest, r.rssMb])
          expect(Number.isFinite(value), `${r.arm} ${r.query}`).toBe(true);
        expect(r.failed, `${r.arm} ${r.query}: ${r.firstError}`).toBe(0);
        expect(r.foreign, `${r.arm} ${r.query}`).toBe(0);
      }
      expect(formatGatewaysResult(result)).toMatch(/\| light \| secured \/ Hive \(dedup off\) \| \d+\.\d\d \|/);
    },
    scaled(300_000),
  );

  // The leak detector must be able to say "foreign": otherwise its zero proves nothing.
  describe('answer check', () => {
    const alice: LoadCaller = {
      name: 'Alice',
      token: '',
      expected: JSON.stringify({ me: { id: 'cus_alice', displayName: 'Alice A.' } }),
      othersIds: ['cus_ben', 'acc_ben1'],
    };
    const answer = (data: unknown, errors?: unknown[]) => JSON.stringify(errors ? { data, errors } : { data });

    it("accepts the caller's own answer and flags another caller's data as foreign", () => {
      expect(judgeAnswer(alice, 200, answer({ me: { id: 'cus_alice', displayName: 'Alice A.' } }))).toEqual({
        ok: true,
      });
      expect(judgeAnswer(alice, 200, answer({ me: { id: 'cus_ben', displayName: 'Ben B.' } }))).toMatchObject({
        ok: false,
        foreign: true,
      });
      expect(
        judgeAnswer(
          alice,
          200,
          answer({ me: { id: 'cus_alice', displayName: 'Alice A.', accounts: [{ id: 'acc_ben1' }] } }),
        ),
      ).toMatchObject({ ok: false, foreign: true });
    });

    it('counts errors, other differences and non-JSON as failed, not foreign', () => {
      expect(
        judgeAnswer(alice, 200, answer(null, [{ message: 'down', extensions: { code: 'SERVICE_UNAVAILABLE' } }])),
      ).toEqual({ ok: false, error: 'SERVICE_UNAVAILABLE: down' });
      expect(judgeAnswer(alice, 200, answer({ me: { id: 'cus_alice', displayName: 'A.' } }))).toMatchObject({
        ok: false,
        error: expect.stringMatching(/differs/),
      });
      expect(judgeAnswer(alice, 502, 'Bad Gateway')).toMatchObject({
        ok: false,
        error: expect.stringMatching(/not JSON/),
      });
    });
  });

  it('gives the foreign gateways the platform URLs and a supergraph without the authorization directives', () => {
    const sdl = readFileSync(new URL('../../schema/supergraph.graphql', import.meta.url), 'utf8');
    const urls = { identity: 'http://127.0.0.1:1/graphql', accounts: 'http://127.0.0.1:2/graphql' };
    const out = foreignSupergraph(sdl, urls);
    expect(out).not.toMatch(/@(authenticated|requiresScopes|policy)\b|for: SECURITY/);
    const subgraphs = parseSupergraph(out).subgraphs;
    expect(subgraphs.find((s) => s.name === 'identity')?.url).toBe(urls.identity);
    expect(subgraphs.find((s) => s.name === 'accounts')?.url).toBe(urls.accounts);
    expect(subgraphs).toHaveLength(parseSupergraph(sdl).subgraphs.length);
  });
});
