/**
 * Closed-loop load helpers shared by the benchmarks (bench/authorization.ts, bench/sharing.ts).
 *
 * Load is generated from the benchmark's own process: a fixed number of workers, each sending
 * its next request as soon as the previous one answered (closed loop), until a fixed number of
 * requests has been sent. That measures the throughput the system sustains at that concurrency
 * without an open-loop generator's queueing artefacts, and it ends after a known amount of work.
 */

/** One request's result as the benchmark judges it (an exception counts as a failure too). */
export interface Outcome {
  ok: boolean;
  error?: string;
}

/** One closed-loop run: every latency (ms, in completion order), how many failed, and the wall time it took. */
export interface Phase {
  latencies: number[];
  failed: number;
  elapsedMs: number;
  firstError?: string;
}

/** Sends `n` requests through `concurrency` workers, each awaiting its answer before sending the next. */
export async function closedLoop(n: number, concurrency: number, one: () => Promise<Outcome>): Promise<Phase> {
  const latencies: number[] = [];
  let next = 0;
  let failed = 0;
  let firstError: string | undefined;
  const worker = async () => {
    while (next < n) {
      next++;
      const t0 = performance.now();
      let outcome: Outcome;
      try {
        outcome = await one();
      } catch (err) {
        outcome = { ok: false, error: (err as Error).message };
      }
      latencies.push(performance.now() - t0);
      if (!outcome.ok) {
        failed++;
        firstError ??= outcome.error;
      }
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, n)) }, worker));
  return { latencies, failed, elapsedMs: performance.now() - started, ...(firstError ? { firstError } : {}) };
}

/** Nearest-rank percentile of an ascending list (NaN when empty). */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/**
 * A positive integer option from the environment, or `fallback` when unset; a bad value stops the process (exit 2)
 * naming the variable.
 */
/** A figure for a report table with one or two decimals; 'n/a' where it could not be measured (NaN, no requests). */
export const f1 = (x: number): string => (Number.isFinite(x) ? x.toFixed(1) : 'n/a');
export const f2 = (x: number): string => (Number.isFinite(x) ? x.toFixed(2) : 'n/a');

export function intFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) {
    console.error(`${name}: must be a positive integer, got ${JSON.stringify(raw)}`);
    process.exit(2);
  }
  return value;
}

/**
 * Runs a benchmark as a script (`npm run bench:*`): prints its report on stdout and exits 0. A run
 * still going after `abortAfterMs` (its phases are sized to end well before) exits 1 saying so, as
 * a last resort against a hang.
 */
export async function runBenchScript(name: string, abortAfterMs: number, run: () => Promise<string>): Promise<never> {
  setTimeout(() => {
    console.error(`${name}: no result after ${Math.round(abortAfterMs / 1000)} s; aborting`);
    process.exit(1);
  }, abortAfterMs).unref();
  console.log(await run());
  process.exit(0);
}
