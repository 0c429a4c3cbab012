import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import type { GraphQLResolveInfo } from 'graphql';
import type { Path } from 'graphql/jsutils/Path.js';
import { currentRequestContext } from './request-context.ts';

/**
 * Request-wide resilience state shared by the outbound client (lib/http-client.ts), the fallback
 * cache (lib/fallback-cache.ts) and the servers:
 *
 * - the request deadline: one budget for the whole request. The gateway starts it
 *   (GATEWAY_REQUEST_DEADLINE_MS); every outbound call is cut when it runs out, whatever its own
 *   timeout, and no retry starts that could not finish in time. Subgraphs receive what is left in
 *   `x-request-deadline-ms` (relative, so clocks need not agree), minus a margin to answer in;
 * - the stale ledger: what this request served from a fallback instead of its source, turned into
 *   `extensions.stale` of the response by staleExtensions().
 */
export const DEADLINE_HEADER = 'x-request-deadline-ms';

/** Time left before the current request's deadline, in ms; undefined when there is none. */
export function remainingBudgetMs(now = Date.now()): number | undefined {
  const deadline = currentRequestContext()?.deadline;
  return deadline === undefined ? undefined : Math.max(0, deadline - now);
}

/**
 * Sets (or shortens) the current request's deadline to `budgetMs` from now. A deadline that is
 * already earlier (passed in by the caller) is kept.
 */
export function startDeadline(budgetMs: number, now = Date.now()): void {
  const ctx = currentRequestContext();
  if (!ctx) return;
  const at = now + budgetMs;
  if (ctx.deadline === undefined || ctx.deadline > at) ctx.deadline = at;
}

/**
 * The budget to pass to a callee: what is left minus a margin, so that the callee answers (with
 * what it has) before the caller stops waiting. Undefined when there is no deadline.
 */
export function budgetForCallee(): number | undefined {
  const left = remainingBudgetMs();
  if (left === undefined) return undefined;
  // A tenth of what is left (at least 50 ms, at most 1 s, never more than half) to answer in: the
  // callee cuts its own calls that much earlier and still has time to send what it has.
  const margin = Math.min(left / 2, Math.max(50, Math.min(1_000, left / 10)));
  return Math.max(1, Math.floor(left - margin));
}

export interface StaleMark {
  /** Response path (dot-separated) whose value is a last good value, e.g. "me.accounts". */
  path: string;
  /** The dependency that failed, e.g. "subgraph:accounts" or "northwind-ais". */
  source: string;
  /** When the served value was read from its source (RFC 3339). */
  asOf: string;
}

/** Records, for the current request, that a value was served from a fallback. */
export function markStale(mark: StaleMark): void {
  const ctx = currentRequestContext();
  if (!ctx) return;
  (ctx.stale ??= []).push(mark);
}

/**
 * Freshness of a value a subgraph got from a partner. Absent on a live value. Set only on a value
 * served from its last good copy because the partner failed (subgraphs' partners/last-known-values.ts):
 * when that copy was read (RFC 3339). Resolvers answer it as an `asOf` and mark it (markedAnswer).
 */
export interface LastKnown {
  lastKnownAt?: string | undefined;
}

/** The older of two read times (either may be absent): what was built from both is only as fresh as the older. */
export function olderReadTime(a: string | undefined, b: string | undefined): string | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Date.parse(b) < Date.parse(a) ? b : a;
}

/** The oldest read time among values that may be last known ones (undefined: all live). */
export function oldestLastKnown(values: readonly LastKnown[]): string | undefined {
  return values.reduce<string | undefined>((at, v) => olderReadTime(at, v.lastKnownAt), undefined);
}

/**
 * A resolver's answer, listed in the response's `extensions.stale` at the resolver's path when it
 * is a last known value (naming the partner `source` and when the value was read), so a client
 * never shows it as current by mistake.
 */
export async function markedAnswer<T>(
  answer: Promise<T> | T,
  info: GraphQLResolveInfo,
  source: string | ((value: NonNullable<T>) => string),
  lastKnownAt: (value: NonNullable<T>) => string | undefined = (v) => (v as LastKnown).lastKnownAt,
): Promise<T> {
  const value = await answer;
  if (value === null || value === undefined) return value;
  const asOf = lastKnownAt(value);
  if (asOf)
    markStale({ path: responsePath(info.path), source: typeof source === 'string' ? source : source(value), asOf });
  return value;
}

/** A resolver's response path (GraphQLResolveInfo.path), dot-separated as stale marks name it: "me.accounts.0". */
export function responsePath(path: Path | undefined): string {
  const keys: (string | number)[] = [];
  for (let p = path; p; p = p.prev) keys.unshift(p.key);
  return keys.join('.');
}

/** The stale marks of the current request (deduplicated by path and source, oldest asOf kept). */
export function staleMarks(): StaleMark[] {
  const marks = currentRequestContext()?.stale ?? [];
  const byKey = new Map<string, StaleMark>();
  for (const m of marks) {
    const key = `${m.path}\n${m.source}`;
    const seen = byKey.get(key);
    if (!seen || m.asOf < seen.asOf) byKey.set(key, m);
  }
  return [...byKey.values()];
}

/**
 * Adds `extensions.stale: [{ path, source, asOf }]` to a response when any part of it was served
 * from a fallback, so that a client (and its user) can tell the last known value from a live one.
 */
export function staleExtensions<C extends BaseContext>(): ApolloServerPlugin<C> {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ response }) {
          const marks = staleMarks();
          if (marks.length === 0 || response.body.kind !== 'single') return;
          const result = response.body.singleResult;
          result.extensions = { ...result.extensions, stale: marks };
        },
      };
    },
  };
}

/**
 * A promise bounded in time: rejects after `ms` instead of waiting. Used around cache calls, so
 * that a Redis that hangs or reconnects costs a request at most that long (then: no cache).
 */
export function bounded<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
    timer.unref?.();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
