/**
 * npm run bench:payments (issue 10, "Benchmark"): the latency the gateway's idempotency layer
 * (gateway/idempotency/) adds to initiatePayment, target at most 3 ms at p99.
 *
 * - One stack in this process: the partner sandboxes, the consents and payments subgraphs, and two
 *   gateways that differ only in that layer (the one without it has no money-moving field, the code
 *   path the policy takes for any other mutation). With DATABASE_URL (and REDIS_URL) everything uses
 *   a PostgreSQL database made for the run and dropped at the end, as production would; otherwise
 *   one embedded PGlite.
 * - Every request is a new payment (a fresh key): the layer's claim, the execution, the stored
 *   response. Every answer must be a payment; a failed request aborts the run.
 * - Rounds: each round sends BENCH_REQUESTS through each gateway, in alternating blocks of
 *   BENCH_BLOCK requests (which variant opens the round alternates too), so drift (caches warming,
 *   the ledger growing, the neighbours' load on a shared machine, which changes within seconds)
 *   falls on both alike and each round is a paired comparison over the same stretch of time.
 * - The verdict is the median over rounds of (p99 with the layer - p99 without) in the same round,
 *   so one outlier (a GC pause, a neighbour's burst) decides neither one round's pair nor the
 *   verdict. The report prints what it rests on: every round's p50 and p99 of both variants and
 *   their differences, their spread (min, quartiles, max), and beside it the pooled figures over
 *   every sample (whose p99 difference one bad round can move by several ms).
 *
 * BENCH_ROUNDS (default 10) rounds of BENCH_REQUESTS (default 200: a round's p99 is then its
 * second slowest request, not its slowest) per variant in blocks of BENCH_BLOCK (default 10),
 * sent by BENCH_CONCURRENCY (default 1) clients; BENCH_WARMUP (default 50) requests per variant
 * first, not measured.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import pg from 'pg';
import { loadGatewayConfig } from '../gateway/config.ts';
import { startGateway, type RunningGateway } from '../gateway/server.ts';
import { DEV_ID_HASH_SECRET } from '../lib/config.ts';
import { bankAccountId } from '../lib/ids.ts';
import { createLogger } from '../lib/logger.ts';
import { startSandboxes } from '../sandboxes/index.ts';
import { PLATFORM_PARTNER_CREDENTIALS, SANDBOX_CUSTOMERS } from '../sandboxes/manifest.ts';
import { SANDBOX_SEED_FILE } from '../sandboxes/seed.ts';
import { loadConsentsConfig } from '../subgraphs/consents/config.ts';
import { startConsentsSubgraph } from '../subgraphs/consents/server.ts';
import { loadPaymentsConfig } from '../subgraphs/payments/config.ts';
import { startPaymentsSubgraph } from '../subgraphs/payments/server.ts';
import { closedLoop, f2, intFromEnv, percentile, runBenchScript } from './load.ts';

/** The issue's target: what the layer may add at p99. */
export const TARGET_ADDED_P99_MS = 3;

export type Variant = 'with' | 'without';
const VARIANTS: readonly Variant[] = ['with', 'without'];

export interface PaymentsBenchOptions {
  rounds: number;
  /** Measured requests per variant and round. */
  requests: number;
  /** Requests sent through one variant before switching to the other, within a round. */
  block: number;
  concurrency: number;
  /** Unmeasured requests per variant before the first round. */
  warmup: number;
  /** PostgreSQL for the run (a database is made and dropped); PGlite without it. */
  databaseUrl?: string | undefined;
  redisUrl?: string | undefined;
}

/** One round of one variant: every latency (ms) and how long the round took. */
export interface RoundSamples {
  latencies: number[];
  elapsedMs: number;
}

export interface RoundFigures {
  p50: Record<Variant, number>;
  p99: Record<Variant, number>;
  /** with - without, in this round. */
  addedP50: number;
  addedP99: number;
  /** Which variant opened this round (its first block). */
  first: Variant;
}

export interface VariantFigures {
  requests: number;
  reqPerSec: number;
  p50: number;
  p95: number;
  p99: number;
  mean: number;
  max: number;
}

/** Minimum, quartiles and maximum of a list of figures. */
export interface Spread {
  min: number;
  q1: number;
  median: number;
  q3: number;
  max: number;
}

export interface AddedLatency {
  rounds: RoundFigures[];
  /** The per-round differences, summarised: the verdict is addedP99.median. */
  addedP50: Spread;
  addedP99: Spread;
  /** Rounds whose own p99 difference is within the target. */
  roundsWithinTarget: number;
  /** Over all samples of each variant. */
  pooled: Record<Variant, VariantFigures>;
  pooledAddedP50: number;
  pooledAddedP99: number;
  withinTarget: boolean;
}

export interface PaymentsBenchResult extends AddedLatency {
  options: PaymentsBenchOptions;
  storage: string;
  /** Payments the sandbox bank received during the run, and how many requests were sent (each must be one). */
  paymentsAtBank: number;
  requestsSent: number;
  rssMiB: number;
}

/** Median with linear interpolation between the two middle values (and the quartiles alike). */
function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const at = (sorted.length - 1) * q;
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (at - lo);
}

export function spreadOf(values: number[]): Spread {
  const s = [...values].sort((a, b) => a - b);
  return {
    min: s[0] ?? Number.NaN,
    q1: quantile(s, 0.25),
    median: quantile(s, 0.5),
    q3: quantile(s, 0.75),
    max: s[s.length - 1] ?? Number.NaN,
  };
}

function figuresOf(latencies: number[], elapsedMs: number): VariantFigures {
  const s = [...latencies].sort((a, b) => a - b);
  return {
    requests: s.length,
    reqPerSec: s.length / (elapsedMs / 1000),
    p50: percentile(s, 50),
    p95: percentile(s, 95),
    p99: percentile(s, 99),
    mean: s.reduce((a, b) => a + b, 0) / s.length,
    max: s[s.length - 1] ?? Number.NaN,
  };
}

/**
 * The added latency from paired rounds (pure, so the statistics are tested on known samples):
 * per-round nearest-rank p50/p99 of each variant and their differences, the spread of those
 * differences across rounds, and the pooled figures.
 */
export function addedLatency(
  rounds: { with: RoundSamples; without: RoundSamples; first: Variant }[],
  targetMs = TARGET_ADDED_P99_MS,
): AddedLatency {
  const figures: RoundFigures[] = rounds.map((r) => {
    const p = (v: Variant, q: number) =>
      percentile(
        [...r[v].latencies].sort((a, b) => a - b),
        q,
      );
    const p50 = { with: p('with', 50), without: p('without', 50) };
    const p99 = { with: p('with', 99), without: p('without', 99) };
    return { p50, p99, addedP50: p50.with - p50.without, addedP99: p99.with - p99.without, first: r.first };
  });
  const pooledOf = (v: Variant) =>
    figuresOf(
      rounds.flatMap((r) => r[v].latencies),
      rounds.reduce((sum, r) => sum + r[v].elapsedMs, 0),
    );
  const pooled = { with: pooledOf('with'), without: pooledOf('without') };
  const addedP99 = spreadOf(figures.map((f) => f.addedP99));
  return {
    rounds: figures,
    addedP50: spreadOf(figures.map((f) => f.addedP50)),
    addedP99,
    roundsWithinTarget: figures.filter((f) => f.addedP99 <= targetMs).length,
    pooled,
    pooledAddedP50: pooled.with.p50 - pooled.without.p50,
    pooledAddedP99: pooled.with.p99 - pooled.without.p99,
    withinTarget: addedP99.median <= targetMs,
  };
}

export function paymentsBenchOptionsFromEnv(): PaymentsBenchOptions {
  return {
    rounds: intFromEnv('BENCH_ROUNDS', 10),
    requests: intFromEnv('BENCH_REQUESTS', 200),
    block: intFromEnv('BENCH_BLOCK', 10),
    concurrency: intFromEnv('BENCH_CONCURRENCY', 1),
    warmup: intFromEnv('BENCH_WARMUP', 50),
    databaseUrl: process.env.DATABASE_URL || undefined,
    redisUrl: process.env.REDIS_URL || undefined,
  };
}

const INITIATE = `mutation($input: InitiatePaymentInput!) { initiatePayment(input: $input) { id status } }`;

export async function runPaymentsBench(options: PaymentsBenchOptions): Promise<PaymentsBenchResult> {
  const logger = createLogger('bench-payments', 'silent');
  const closers: (() => Promise<unknown>)[] = [];
  try {
    const db = await database(options.databaseUrl, closers);
    const sandboxes = await startSandboxes({ ports: 0, logger });
    closers.push(() => sandboxes.close());
    const consents = await startConsentsSubgraph(
      loadConsentsConfig({ CONSENTS_PORT: '0', SEED_FILE: SANDBOX_SEED_FILE, LOG_LEVEL: 'silent', ...db }),
      { logger },
    );
    closers.push(() => consents.close());
    const payments = await startPaymentsSubgraph(
      loadPaymentsConfig({
        PAYMENTS_PORT: '0',
        SEED_FILE: SANDBOX_SEED_FILE,
        LOG_LEVEL: 'silent',
        NORTHWIND_URL: sandboxes.urls.northwind,
        NORTHWIND_PIS_TOKEN: PLATFORM_PARTNER_CREDENTIALS.northwindPisToken,
        PAYMENTS_POLL_INTERVAL_MS: '3600000',
        ...db,
      }),
      { logger },
    );
    closers.push(() => payments.close());
    const gateway = async (layer: boolean): Promise<RunningGateway> => {
      const g = await startGateway(
        loadGatewayConfig({
          GATEWAY_PORT: '0',
          LOG_LEVEL: 'silent',
          AUTH_ISSUER: sandboxes.urls.auth,
          AUTH_JWKS_URL: sandboxes.urls.jwks,
          PAYMENTS_SUBGRAPH_URL: payments.url,
          CONSENTS_SUBGRAPH_URL: consents.url,
          ACCOUNTS_SUBGRAPH_URL: 'http://127.0.0.1:9/graphql',
          IDENTITY_SUBGRAPH_URL: 'http://127.0.0.1:9/graphql',
          ...(options.redisUrl ? { REDIS_URL: options.redisUrl } : {}),
          ...db,
        }),
        // Without the layer: no field is money-moving for it (the same code path the policy would skip).
        { logger, ...(layer ? {} : { moneyMovingFields: new Map() }) },
      );
      closers.push(() => g.close());
      return g;
    };
    const urls: Record<Variant, string> = { with: (await gateway(true)).url, without: (await gateway(false)).url };
    const alice = SANDBOX_CUSTOMERS.find((c) => c.displayName === 'Alice')!;
    const account = alice.banks.northwind!.accounts.find((a) => a.kind === 'current' && a.currency === 'GBP')!;
    const debtorAccountId = bankAccountId(DEV_ID_HASH_SECRET, 'northwind', account.bankAccountId);
    const token = await sandboxes.auth.mint({ customerId: alice.customerId, clientId: 'web-app' });

    const one = async (url: string) => {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({
          query: INITIATE,
          variables: {
            input: {
              idempotencyKey: `b-${randomUUID()}`,
              debtorAccountId,
              creditor: { name: 'Sam Ellis', sortCode: '771100', accountNumber: '22334455' },
              amount: { amount: '1.00', currency: 'GBP' },
              reference: 'BENCH',
            },
          },
        }),
      });
      const json = (await res.json()) as { data?: { initiatePayment?: { id?: string } }; errors?: unknown[] };
      if (json.errors || !json.data?.initiatePayment?.id)
        return { ok: false, error: `initiatePayment: ${JSON.stringify(json.errors ?? json)}` };
      return { ok: true };
    };
    const phase = async (v: Variant, n: number): Promise<RoundSamples> => {
      const p = await closedLoop(n, options.concurrency, () => one(urls[v]));
      if (p.failed > 0) throw new Error(`bench:payments: ${p.failed} of ${n} requests failed (${v}): ${p.firstError}`);
      return { latencies: p.latencies, elapsedMs: p.elapsedMs };
    };

    // Payments the bank already has (a seeded world may hold some): each request must add one.
    const atBankBefore = sandboxes.northwind.paymentConsents().length;
    for (const v of VARIANTS) await phase(v, options.warmup);
    const rounds: { with: RoundSamples; without: RoundSamples; first: Variant }[] = [];
    for (let r = 0; r < options.rounds; r++) {
      // Alternate which opens the round, so neither always runs on a machine the other just warmed.
      const order: readonly Variant[] = r % 2 === 0 ? ['with', 'without'] : ['without', 'with'];
      const samples: Record<Variant, RoundSamples> = {
        with: { latencies: [], elapsedMs: 0 },
        without: { latencies: [], elapsedMs: 0 },
      };
      for (let sent = 0; sent < options.requests; sent += options.block) {
        for (const v of order) {
          const block = await phase(v, Math.min(options.block, options.requests - sent));
          samples[v].latencies.push(...block.latencies);
          samples[v].elapsedMs += block.elapsedMs;
        }
      }
      rounds.push({ ...samples, first: order[0]! });
      process.stderr.write(`bench:payments: round ${r + 1}/${options.rounds}\n`);
    }
    return {
      ...addedLatency(rounds),
      options,
      storage: `${db.DATABASE_URL ? 'PostgreSQL' : 'PGlite (embedded)'}${options.redisUrl ? ' + Redis' : ''}`,
      paymentsAtBank: sandboxes.northwind.paymentConsents().length - atBankBefore,
      requestsSent: VARIANTS.length * (options.warmup + options.rounds * options.requests),
      rssMiB: process.memoryUsage().rss / 1_048_576,
    };
  } finally {
    for (const c of closers.reverse()) await c().catch(() => {});
  }
}

/** A database for the run: a new PostgreSQL database (dropped by the closers), else a named in-memory PGlite. */
async function database(url: string | undefined, closers: (() => Promise<unknown>)[]): Promise<Record<string, string>> {
  if (!url) return { PGLITE_DIR: `memory://bench-payments-${randomBytes(4).toString('hex')}` };
  const name = `bench_payments_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  closers.push(async () => {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await c.end();
  });
  const u = new URL(url);
  u.pathname = `/${name}`;
  return { DATABASE_URL: u.toString() };
}

export function formatPaymentsResult(r: PaymentsBenchResult): string {
  const o = r.options;
  const n = (x: number, w = 8) => f2(x).padStart(w);
  const spread = (s: Spread) =>
    `min ${f2(s.min)}, q1 ${f2(s.q1)}, median ${f2(s.median)}, q3 ${f2(s.q3)}, max ${f2(s.max)}`;
  const variant = (label: string, v: VariantFigures) =>
    `  ${label.padEnd(30)}${String(v.requests).padStart(8)} ${n(v.reqPerSec)} ${n(v.p50)} ${n(v.p95)} ${n(v.p99)} ${n(v.max)} ${n(v.mean)}`;
  return [
    `bench:payments — initiatePayment through the gateway with and without the idempotency layer`,
    `  ${o.rounds} paired rounds x ${o.requests} requests per variant in alternating blocks of ${o.block} (after ${o.warmup} warm-up each), concurrency ${o.concurrency}, ${r.storage}`,
    ``,
    `  per round (ms)   opens     p50 with  p50 w/o    added   p99 with  p99 w/o    added`,
    ...r.rounds.map(
      (f, i) =>
        `  round ${String(i + 1).padStart(3)}        ${f.first.padEnd(8)}${n(f.p50.with, 9)}${n(f.p50.without, 9)}${n(f.addedP50, 9)}  ${n(f.p99.with, 9)}${n(f.p99.without, 9)}${n(f.addedP99, 9)}`,
    ),
    ``,
    `  added p50 across rounds (ms): ${spread(r.addedP50)}`,
    `  added p99 across rounds (ms): ${spread(r.addedP99)}; ${r.roundsWithinTarget} of ${r.rounds.length} rounds within ${TARGET_ADDED_P99_MS} ms`,
    ``,
    `  pooled over every sample      requests    req/s   p50 ms   p95 ms   p99 ms   max ms  mean ms`,
    variant('with the idempotency layer', r.pooled.with),
    variant('without the layer', r.pooled.without),
    `  pooled added: p50 ${f2(r.pooledAddedP50)} ms, p99 ${f2(r.pooledAddedP99)} ms (one slow round can move the pooled p99 by several ms; the verdict uses the rounds)`,
    ``,
    `  verdict: the layer adds ${f2(r.addedP99.median)} ms at p99 (median of the per-round differences): ${r.withinTarget ? 'within' : 'OVER'} the target of ${TARGET_ADDED_P99_MS} ms`,
    `  payments at the bank: ${r.paymentsAtBank} for ${r.requestsSent} requests${r.paymentsAtBank === r.requestsSent ? ' (one each)' : ' (MISMATCH: expected one per request)'}`,
    `  memory: rss ${r.rssMiB.toFixed(0)} MB (one process: sandboxes, subgraphs, gateways)`,
  ].join('\n');
}

if (import.meta.main) {
  const options = paymentsBenchOptionsFromEnv();
  // A last resort against a hang: a request takes tens of ms, so a run ends far sooner than this.
  const budgetMs = 120_000 + 2 * (options.warmup + options.rounds * options.requests) * 500;
  await runBenchScript('bench:payments', budgetMs, async () => formatPaymentsResult(await runPaymentsBench(options)));
}
