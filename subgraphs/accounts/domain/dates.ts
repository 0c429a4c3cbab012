/** Calendar-date helpers; dates are ISO strings "YYYY-MM-DD" interpreted in UTC. */
const DAY_MS = 86_400_000;

export function utcDateOf(instant: Date): string {
  return instant.toISOString().slice(0, 10);
}

export function addDays(date: string, days: number): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + days * DAY_MS).toISOString().slice(0, 10);
}

export function daysBetween(from: string, to: string): number {
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / DAY_MS);
}

export function minDate(...dates: (string | null | undefined)[]): string | null {
  const present = dates.filter((d): d is string => typeof d === 'string');
  return present.length ? present.reduce((a, b) => (a < b ? a : b)) : null;
}

export function maxDate(...dates: (string | null | undefined)[]): string | null {
  const present = dates.filter((d): d is string => typeof d === 'string');
  return present.length ? present.reduce((a, b) => (a > b ? a : b)) : null;
}

/** Midnight UTC of a calendar date, for partners that report only dates. */
export function startOfDateUtc(date: string): Date {
  return new Date(`${date}T00:00:00.000Z`);
}
