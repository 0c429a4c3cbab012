import { clientError, ErrorCode } from './errors.ts';

/** Hard maximum page size of every connection; the schema descriptions state it too. */
export const MAX_PAGE_SIZE = 100;
export const DEFAULT_PAGE_SIZE = 20;

export function pageSize(first: number | null | undefined): number {
  const n = first ?? DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(n) || n < 0 || n > MAX_PAGE_SIZE) {
    throw clientError(ErrorCode.BAD_USER_INPUT, `first must be between 0 and ${MAX_PAGE_SIZE}`, {
      argument: 'first',
      max: MAX_PAGE_SIZE,
    });
  }
  return n;
}

/**
 * Cursors are base64url JSON of a position (for example the sort key of the last item).
 * They are opaque to clients; a cursor that does not decode to the expected shape is a
 * BAD_USER_INPUT, never a crash. Ownership is enforced by the query, not by the cursor.
 */
export function encodeCursor(position: Record<string, string | number>): string {
  return Buffer.from(JSON.stringify(position)).toString('base64url');
}

export function decodeCursor<K extends string>(
  cursor: string | null | undefined,
  keys: readonly K[],
): Record<K, string | number> | null {
  if (cursor == null) return null;
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (
      typeof value === 'object' &&
      value !== null &&
      keys.every((k) => ['string', 'number'].includes(typeof (value as Record<string, unknown>)[k]))
    ) {
      return value as Record<K, string | number>;
    }
  } catch {
    // fall through to the error below
  }
  throw clientError(ErrorCode.BAD_USER_INPUT, 'after is not a valid cursor', { argument: 'after' });
}

export interface Connection<T> {
  edges: { cursor: string; node: T }[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

/** Builds a connection from up to first+1 fetched items (the extra one only signals hasNextPage). */
export function toConnection<T>(items: T[], first: number, cursorOf: (item: T) => string): Connection<T> {
  const page = items.slice(0, first);
  const edges = page.map((node) => ({ cursor: cursorOf(node), node }));
  return { edges, pageInfo: { hasNextPage: items.length > first, endCursor: edges.at(-1)?.cursor ?? null } };
}
