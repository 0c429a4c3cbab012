import { createPrng } from './prng.ts';

/**
 * Bank identifiers with valid check digits (IBAN mod-97), deterministic per seed and account.
 */

function mod97(numeric: string): number {
  let remainder = 0;
  for (let i = 0; i < numeric.length; i += 7) remainder = Number(`${remainder}${numeric.slice(i, i + 7)}`) % 97;
  return remainder;
}

/** Builds an IBAN with correct check digits from a country code and BBAN. */
export function makeIban(country: string, bban: string): string {
  const rearranged = `${bban}${country}00`.toUpperCase().replace(/[A-Z]/g, (ch) => String(ch.charCodeAt(0) - 55));
  const check = String(98 - mod97(rearranged)).padStart(2, '0');
  return `${country}${check}${bban}`.toUpperCase();
}

export function isValidIban(iban: string): boolean {
  const clean = iban.replace(/\s/g, '').toUpperCase();
  if (!/^[A-Z]{2}\d{2}[A-Z0-9]{1,30}$/.test(clean)) return false;
  const rearranged = `${clean.slice(4)}${clean.slice(0, 4)}`.replace(/[A-Z]/g, (ch) => String(ch.charCodeAt(0) - 55));
  return mod97(rearranged) === 1;
}

/** Northwind (UK) sort code, fixed for the bank. */
export const NORTHWIND_SORT_CODE = '608371';
export const NORTHWIND_BIC = 'NWNDGB2L';
export const NORTHWIND_IBAN_BANK = 'NWND';
/** Rheinbank (DE) Bankleitzahl, fixed for the bank; fictional. */
export const RHEINBANK_BLZ = '37069912';
export const RHEINBANK_BIC = 'RHEIDE3KXXX';

export interface UkAccountNumbers {
  sortCode: string;
  accountNumber: string;
  /** Sort code + account number, 14 digits (UK.OBIE.SortCodeAccountNumber). */
  sortCodeAccountNumber: string;
  iban: string;
  /** Masked PAN for card accounts (UK.OBIE.PAN). */
  maskedPan: string;
}

export function northwindNumbers(seed: number, bankAccountId: string): UkAccountNumbers {
  const p = createPrng(seed, 'northwind-account-number', bankAccountId);
  const accountNumber = `${p.int(1, 9)}${p.digits(7)}`;
  const last4 = p.digits(4);
  return {
    sortCode: NORTHWIND_SORT_CODE,
    accountNumber,
    sortCodeAccountNumber: `${NORTHWIND_SORT_CODE}${accountNumber}`,
    iban: makeIban('GB', `${NORTHWIND_IBAN_BANK}${NORTHWIND_SORT_CODE}${accountNumber}`),
    maskedPan: `492912******${last4}`,
  };
}

export function rheinbankIban(seed: number, bankAccountId: string): string {
  const p = createPrng(seed, 'rheinbank-iban', bankAccountId);
  return makeIban('DE', `${RHEINBANK_BLZ}${p.int(1, 9)}${p.digits(9)}`);
}

/** A plausible counterparty account at some other bank. */
export function counterpartyUkAccount(seed: number, name: string): string {
  const p = createPrng(seed, 'uk-counterparty', name);
  return `${p.digits(6)}${p.int(1, 9)}${p.digits(7)}`;
}

export function counterpartyIban(seed: number, name: string): string {
  const p = createPrng(seed, 'de-counterparty', name);
  return makeIban('DE', `${p.int(1, 9)}${p.digits(7)}${p.int(1, 9)}${p.digits(9)}`);
}
