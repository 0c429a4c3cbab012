/**
 * Values that go through JSON (the fallback cache, lib/fallback-cache.ts) and come back with their
 * Date objects: JSON would turn a Date into a string, and a model read back with a string where it
 * had a Date serialises differently (or not at all) in the resolvers. Dates are kept tagged and
 * revived; everything else is left as it is.
 */
const DATE_TAG = '$date';

/** `value` with every Date replaced by a tagged RFC 3339 string, ready for JSON. */
export function preserveDates(value: unknown): unknown {
  if (value instanceof Date) return { [DATE_TAG]: value.toISOString() };
  if (Array.isArray(value)) return value.map(preserveDates);
  if (value && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, preserveDates(v)]));
  return value;
}

/** The inverse of preserveDates, on a value parsed from JSON. */
export function reviveDates(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reviveDates);
  if (value && typeof value === 'object') {
    const entries = Object.entries(value);
    if (entries.length === 1 && entries[0]![0] === DATE_TAG && typeof entries[0]![1] === 'string')
      return new Date(entries[0]![1]);
    return Object.fromEntries(entries.map(([k, v]) => [k, reviveDates(v)]));
  }
  return value;
}
