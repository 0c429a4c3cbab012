/**
 * Clocks for the sandboxes. Every sandbox takes `now: () => Date`; production-like runs use the
 * system clock, tests use a controllable one to move pending transactions to booked, payments
 * through their statuses, tokens past their expiry, without waiting.
 */
export type Now = () => Date;

export const systemClock: Now = () => new Date();

export interface TestClock {
  now: Now;
  /** Moves the clock forward (or back, with a negative value) by `ms` milliseconds. */
  advance(ms: number): Date;
  set(at: Date | string): Date;
}

export function createTestClock(start: Date | string = '2026-11-23T12:00:00.000Z'): TestClock {
  let current = new Date(start).getTime();
  if (Number.isNaN(current)) throw new RangeError(`invalid clock start ${String(start)}`);
  return {
    now: () => new Date(current),
    advance(ms) {
      current += ms;
      return new Date(current);
    },
    set(at) {
      const value = new Date(at).getTime();
      if (Number.isNaN(value)) throw new RangeError(`invalid clock time ${String(at)}`);
      current = value;
      return new Date(current);
    },
  };
}

export const SECOND_MS = 1000;
export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;
