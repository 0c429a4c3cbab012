import type { GraphQLResolveInfo } from 'graphql';
import { markStale, responsePath, type StaleMark } from '../lib/resilience.ts';

/** What this reads of a subgraph request (an @graphql-tools ExecutionRequest has these). */
interface SubgraphRequest {
  info?: GraphQLResolveInfo | undefined;
  variables?: unknown;
}

/**
 * Passes on what a subgraph served from a partner's last known value (its `extensions.stale`,
 * e.g. the accounts subgraph while a bank is down) to the client's response, so the client's
 * `extensions.stale` lists the bank's stale parts next to those the gateway served from its own
 * fallbacks (gateway/subgraph-fetch.ts).
 *
 * Paths are the client's where the gateway can know them: a root field keeps its path; an entity
 * fetched alone gets the path of the field that fetched it plus the rest of the subgraph's path.
 * When the gateway fetched several entities in one call (a list across parents), the subgraph's
 * index does not say which parent, and the mark names the list path above them instead.
 *
 * Records the marks of one subgraph answer (its `extensions`) on the current request.
 */
export function recordStaleMarks(request: SubgraphRequest, extensions: unknown): void {
  const marks = (extensions as { stale?: unknown } | null | undefined)?.stale;
  if (!Array.isArray(marks)) return;
  for (const mark of marks) if (isStaleMark(mark)) markStale({ ...mark, path: clientPath(request, mark.path) });
}

function clientPath(request: SubgraphRequest, subgraphPath: string): string {
  const keys = subgraphPath.split('.');
  if (keys[0] !== '_entities') {
    // A root field; the batching executor prefixes merged root fields (_v0_account): the client's key follows.
    keys[0] = keys[0]!.replace(/^_v\d+_/, '');
    return keys.join('.');
  }
  const at = request.info ? responsePath(request.info.path) : '';
  const representations = (request.variables as { representations?: unknown } | undefined)?.representations;
  const alone = Array.isArray(representations) && representations.length === 1;
  return [at, ...(alone ? keys.slice(2) : [])].filter((k) => k !== '').join('.');
}

function isStaleMark(value: unknown): value is StaleMark {
  const m = value as Partial<StaleMark> | null;
  return (
    typeof m === 'object' &&
    m !== null &&
    typeof m.path === 'string' &&
    typeof m.source === 'string' &&
    typeof m.asOf === 'string'
  );
}
