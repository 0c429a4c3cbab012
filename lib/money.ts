/**
 * Money rules of the canonical model: amounts are decimal strings, never floats; the number
 * of fraction digits is bounded by the currency's ISO 4217 minor units; the sign is carried
 * separately (CreditDebit), so canonical amounts are never negative.
 *
 * Currency codes and minor units come from ICU's ISO 4217 data through Intl, which ships with
 * Node and is maintained with the standard.
 */
const KNOWN_CURRENCIES = new Set(Intl.supportedValuesOf('currency'));
const DECIMAL = /^(\d{1,13})(?:\.(\d{1,5}))?$/;

export function isCurrencyCode(value: string): boolean {
  return /^[A-Z]{3}$/.test(value) && KNOWN_CURRENCIES.has(value);
}

export function minorUnits(currency: string): number {
  if (!isCurrencyCode(currency)) throw new RangeError(`unknown ISO 4217 currency ${JSON.stringify(currency)}`);
  return new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2;
}

/** True for a non-negative decimal string of at most 13 integer and 5 fraction digits. */
export function isDecimalString(value: string): boolean {
  return DECIMAL.test(value);
}

/**
 * Normalises a non-negative decimal string to exactly the currency's minor units
 * ("10.5" GBP -> "10.50", "7" JPY -> "7"). Throws when the value has more precision than the
 * currency allows: rounding money silently is a bug, not a convenience.
 */
export function normaliseAmount(amount: string, currency: string): string {
  const match = DECIMAL.exec(amount);
  if (!match) throw new RangeError(`invalid decimal amount ${JSON.stringify(amount)}`);
  const digits = minorUnits(currency);
  const intPart = match[1]!.replace(/^0+(?=\d)/, '');
  const fraction = (match[2] ?? '').replace(/0+$/, '');
  if (fraction.length > digits)
    throw new RangeError(`${amount} has more fraction digits than ${currency} allows (${digits})`);
  return digits === 0 ? intPart : `${intPart}.${fraction.padEnd(digits, '0')}`;
}

export interface Money {
  amount: string;
  currency: string;
}

export type CreditDebit = 'CREDIT' | 'DEBIT';

/**
 * Splits a signed partner amount ("-12.30") into a canonical Money and direction.
 * Used by adapters whose partner encodes direction in the sign (Berlin Group).
 */
export function signedToMoney(signed: string, currency: string): { money: Money; direction: CreditDebit } {
  const negative = signed.startsWith('-');
  const magnitude = negative || signed.startsWith('+') ? signed.slice(1) : signed;
  const amount = normaliseAmount(magnitude, currency);
  return { money: { amount, currency }, direction: negative && !/^0(\.0+)?$/.test(amount) ? 'DEBIT' : 'CREDIT' };
}
