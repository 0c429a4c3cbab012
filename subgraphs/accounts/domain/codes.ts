import type { AccountType, TransactionKind } from './model.ts';

/**
 * Standards-level code knowledge shared by adapters (ISO 20022 code sets are used by both OBIE
 * and Berlin Group). Partner-specific field extraction stays in each adapter.
 */

/**
 * ISO 20022 ExternalCashAccountType1Code (OBIE AccountTypeCode, Berlin Group cashAccountType) to the canonical type.
 */
export function accountTypeFromIsoCode(code: string | undefined): AccountType {
  switch (code) {
    case 'CACC':
    case 'TRAN':
    case 'SLRY':
    case 'ODFT':
    case 'NREX':
    case 'NFCA':
      return 'CURRENT';
    case 'SVGS':
    case 'LLSV':
    case 'ONDP':
    case 'MOMA':
      return 'SAVINGS';
    case 'CARD':
      return 'CREDIT_CARD';
    case 'LOAN':
    case 'MORT':
    case 'MGLD':
      return 'LOAN';
    case 'WALT':
    case 'VACC':
      return 'E_MONEY';
    default:
      return 'OTHER';
  }
}

/**
 * ISO 20022 bank transaction sub-family codes that mean "this entry undoes an earlier one":
 * RRTN reversal due to a payment return, RPCR reversal due to a cancellation request,
 * UPDD reversal of a direct debit (unpaid/returned), RVSL reversal.
 */
const REVERSAL_SUBFAMILIES = new Set(['RRTN', 'RPCR', 'UPDD', 'RVSL', 'RVSA']);
/** Card chargeback sub-family codes (CHBK, and CHRB used by some card processors). */
const CHARGEBACK_SUBFAMILIES = new Set(['CHBK', 'CHRB']);
/** ISO 20022 card families (customer card transactions, merchant card transactions). */
const CARD_FAMILIES = new Set(['CCRD', 'MCRD', 'ICCD', 'RCCD']);

/**
 * Classifies an entry from its ISO family/sub-family codes and any proprietary code text.
 * A reversal on a card family with a chargeback code is a CHARGEBACK; proprietary codes
 * containing "CHARGEBACK" or "REVERSAL" are honoured because banks often only use those.
 */
export function kindFromBankTransactionCode(
  family: string | null,
  subFamily: string | null,
  proprietary: readonly (string | null | undefined)[] = [],
): TransactionKind {
  const text = proprietary
    .filter((p): p is string => typeof p === 'string')
    .join(' ')
    .toUpperCase();
  if ((subFamily && CHARGEBACK_SUBFAMILIES.has(subFamily)) || /CHARGE\s*-?BACK/.test(text)) return 'CHARGEBACK';
  if (subFamily && REVERSAL_SUBFAMILIES.has(subFamily))
    return family && CARD_FAMILIES.has(family) && /CHARGE/.test(text) ? 'CHARGEBACK' : 'REVERSAL';
  if (/REVERSAL|RETURN(ED)?\b/.test(text)) return 'REVERSAL';
  return 'STANDARD';
}
