import type { CreditorScheme } from './model.ts';

/** UK sort code (6 digits) followed by the account number (8 digits), no separators. */
const SORT_CODE_ACCOUNT_NUMBER = /^\d{14}$/;
/** IBAN without spaces: country, check digits, up to 30 alphanumerics. */
const IBAN = /^[A-Z]{2}\d{2}[A-Z0-9]{11,30}$/;

export function isValidCreditorIdentification(scheme: CreditorScheme, value: string): boolean {
  return scheme === 'IBAN' ? IBAN.test(value) && ibanChecksumOk(value) : SORT_CODE_ACCOUNT_NUMBER.test(value);
}

/** ISO 13616 mod-97 check. */
function ibanChecksumOk(iban: string): boolean {
  const rearranged = iban.slice(4) + iban.slice(0, 4);
  let remainder = 0;
  for (const ch of rearranged) {
    const digits = /\d/.test(ch) ? ch : String(ch.charCodeAt(0) - 55);
    for (const d of digits) remainder = (remainder * 10 + Number(d)) % 97;
  }
  return remainder === 1;
}

/**
 * The display form of a creditor's identification: the last four characters behind bullets,
 * the same format as Account.maskedIdentifier (e.g. "••••4821"). Safe to show without pii:read.
 */
export function maskIdentifier(value: string): string {
  return `••••${value.slice(-4)}`;
}
