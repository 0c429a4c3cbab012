/**
 * Deadlines in tests are budgets for a machine that may be busy, never measurements: a test
 * waits at most this long for something to happen, then fails. TEST_TIME_FACTOR (default 1)
 * stretches every one of them at once, for a slow or heavily loaded machine (vitest.config.ts
 * applies it to testTimeout and hookTimeout; tests apply it to their own timeouts and waits).
 * Nothing here asserts that something was fast: timings belong in the benchmarks (bench/).
 */
export function timeFactor(environment: Record<string, string | undefined> = process.env): number {
  const raw = environment.TEST_TIME_FACTOR?.trim();
  if (!raw) return 1;
  const factor = Number(raw);
  if (!Number.isFinite(factor) || factor < 1 || factor > 100) {
    throw new Error(
      `TEST_TIME_FACTOR: must be a number from 1 to 100 (how many times longer every test deadline is), got ${JSON.stringify(raw)}`,
    );
  }
  return factor;
}

/** A deadline of `ms` milliseconds on an idle machine, stretched by TEST_TIME_FACTOR. */
export function scaled(ms: number): number {
  return Math.round(ms * timeFactor());
}

/** Options for vi.waitFor: a generous budget (5 s unless given, stretched) polled often. */
export function waitBudget(ms = 5_000): { timeout: number; interval: number } {
  return { timeout: scaled(ms), interval: 20 };
}
