import type { Logger } from '../../../../lib/logger.ts';
import { normaliseAmount, type CreditDebit, type Money } from '../../../../lib/money.ts';
import { accountTypeFromIsoCode, kindFromBankTransactionCode } from '../../domain/codes.ts';
import type {
  AccountIdentification,
  AccountStatus,
  BalanceModel,
  BalanceType,
  BankAccount,
  BankTransaction,
  TransactionKind,
} from '../../domain/model.ts';
import {
  contractViolation,
  knownCurrency,
  parsePayload,
  representableAmount,
  syntheticTransactionRef,
} from '../bank-http.ts';
import {
  obReadAccount,
  obReadBalance,
  obReadTransaction,
  type ObAccount,
  type ObBalance,
  type ObTransaction,
} from './schemas.ts';

/**
 * Open Banking UK 4.0 payloads -> canonical model. Pure functions: they validate the payload
 * (schemas.ts) and throw PartnerError('northwind', 'contract', ...) for anything that breaks
 * the contract or cannot be represented without guessing.
 */
export interface MappingContext {
  partner: string;
  logger: Logger;
}

/** OBIE amounts are unsigned decimals; the direction is CreditDebitIndicator. */
const money = (ctx: MappingContext, operation: string, amount: string, currency: string): Money =>
  representableAmount(ctx.partner, ctx.logger, operation, amount, currency, () => ({
    amount: normaliseAmount(amount, currency),
    currency,
  }));

const direction = (indicator: 'Credit' | 'Debit'): CreditDebit => (indicator === 'Credit' ? 'CREDIT' : 'DEBIT');

// ---------------------------------------------------------------- accounts

const ACCOUNT_STATUS: Record<NonNullable<ObAccount['Status']>, AccountStatus> = {
  Enabled: 'ENABLED',
  Disabled: 'DISABLED',
  Deleted: 'CLOSED',
  Pending: 'PENDING',
  ProForma: 'PENDING',
};

const SCHEME_PREFERENCE = ['UK.OBIE.SortCodeAccountNumber', 'UK.OBIE.IBAN', 'UK.OBIE.PAN'];

function identification(account: ObAccount): AccountIdentification | null {
  const ids = account.Account ?? [];
  const chosen = SCHEME_PREFERENCE.map((s) => ids.find((i) => i.SchemeName === s)).find(Boolean) ?? ids[0];
  if (!chosen) return null;
  switch (chosen.SchemeName) {
    case 'UK.OBIE.SortCodeAccountNumber':
      return { scheme: 'SORT_CODE_ACCOUNT_NUMBER', value: chosen.Identification.replace(/[\s-]/g, '') };
    case 'UK.OBIE.IBAN':
      return { scheme: 'IBAN', value: chosen.Identification.replace(/\s/g, '').toUpperCase() };
    case 'UK.OBIE.PAN':
      return { scheme: 'MASKED_PAN', value: chosen.Identification.replace(/\s/g, '') };
    default:
      return { scheme: 'OTHER', value: chosen.Identification };
  }
}

export function mapAccounts(ctx: MappingContext, body: unknown): BankAccount[] {
  const operation = 'getAccounts';
  const payload = parsePayload(ctx.partner, ctx.logger, operation, obReadAccount, body);
  return (payload.Data.Account ?? []).map((a) => {
    // Currency is optional in the spec but an account without one cannot be shown in the canonical model.
    if (!a.Currency) throw contractViolation(ctx.partner, ctx.logger, operation, `account has no Currency`);
    knownCurrency(ctx.partner, ctx.logger, operation, a.Currency);
    return {
      bankAccountRef: a.AccountId,
      name: a.Nickname ?? a.Description ?? null,
      type: accountTypeFromIsoCode(a.AccountTypeCode),
      status: a.Status ? ACCOUNT_STATUS[a.Status] : 'ENABLED',
      currency: a.Currency,
      identification: identification(a),
    };
  });
}

// ---------------------------------------------------------------- balances

/** OBIE 4.0 uses ISO 20022 ExternalBalanceType1Code. */
const BALANCE_TYPE: Record<ObBalance['Type'], BalanceType> = {
  CLAV: 'CLOSING_AVAILABLE',
  CLBD: 'CLOSING_BOOKED',
  FWAV: 'FORWARD_AVAILABLE',
  INFO: 'OTHER',
  ITAV: 'INTERIM_AVAILABLE',
  ITBD: 'INTERIM_BOOKED',
  OPAV: 'OTHER',
  OPBD: 'OPENING_BOOKED',
  PRCD: 'OTHER',
  XPCD: 'EXPECTED',
};

/** Balances of one account; a balance of any other account is a contract violation, never shown. */
export function mapBalances(ctx: MappingContext, body: unknown, expectedAccountId: string): BalanceModel[] {
  const operation = 'getBalances';
  const payload = parsePayload(ctx.partner, ctx.logger, operation, obReadBalance, body);
  return payload.Data.Balance.map((b) => {
    if (b.AccountId !== expectedAccountId)
      throw contractViolation(ctx.partner, ctx.logger, operation, 'balance of a different account than requested');
    return {
      type: BALANCE_TYPE[b.Type],
      amount: money(ctx, operation, b.Amount.Amount, b.Amount.Currency),
      direction: direction(b.CreditDebitIndicator),
      asOf: new Date(b.DateTime),
      includesCreditLine: (b.CreditLine ?? []).some((l) => l.Included),
    };
  });
}

// ---------------------------------------------------------------- transactions

/**
 * Reversal and chargeback encoding, in one place so it is easy to adjust to the bank:
 * - kind: ISO 20022 family / sub-family in BankTransactionCode (Code / SubCode), e.g. sub-family
 *   RRTN (reversal after a return), RPCR, UPDD; card chargebacks CHBK; or proprietary codes
 *   (ProprietaryBankTransactionCode, ExtendedProprietaryBankTransactionCodes) naming a
 *   reversal or chargeback.
 * - the original: OBIE has no dedicated field; the bank puts the original's TransactionId in
 *   SupplementaryData (OriginalTransactionId, or ReversalOf / OriginalTransactionReference).
 */
export function classifyNorthwindEntry(tx: ObTransaction): { kind: TransactionKind; reversesRef: string | null } {
  const proprietary = [
    tx.ProprietaryBankTransactionCode?.Code,
    ...(tx.ExtendedProprietaryBankTransactionCodes ?? []).flatMap((c) => [c.Code, c.Description]),
  ];
  const kind = kindFromBankTransactionCode(
    tx.BankTransactionCode?.Code ?? null,
    tx.BankTransactionCode?.SubCode ?? null,
    proprietary,
  );
  if (kind === 'STANDARD') return { kind, reversesRef: null };
  const data = tx.SupplementaryData ?? {};
  const ref = [data.OriginalTransactionId, data.ReversalOf, data.OriginalTransactionReference].find(
    (v): v is string => typeof v === 'string' && v.length > 0,
  );
  return { kind, reversesRef: ref ?? null };
}

/** The calendar date as the bank wrote it (its local date), for ValueDateTime. */
function localDate(dateTime: string): string {
  return dateTime.slice(0, 10);
}

function counterparty(tx: ObTransaction): string | null {
  const merchant = tx.MerchantDetails?.MerchantName;
  if (merchant) return merchant;
  return tx.CreditDebitIndicator === 'Debit'
    ? (tx.CreditorAccount?.Name ?? tx.UltimateCreditor?.Name ?? null)
    : (tx.DebtorAccount?.Name ?? tx.UltimateDebtor?.Name ?? null);
}

/**
 * Status: BOOK -> BOOKED; PDNG and FUTR (future-dated) -> PENDING. INFO (informational) and
 * RJCT (rejected) entries are not movements of money and are left out.
 */
export function mapTransaction(ctx: MappingContext, tx: ObTransaction): BankTransaction | null {
  const operation = 'getTransactions';
  if (tx.Status === 'INFO' || tx.Status === 'RJCT') return null;
  const status = tx.Status === 'BOOK' ? 'BOOKED' : 'PENDING';
  const occurredAt = new Date(tx.BookingDateTime);
  if (Number.isNaN(occurredAt.getTime()))
    throw contractViolation(ctx.partner, ctx.logger, operation, 'BookingDateTime is not a real instant');
  const { kind, reversesRef } = classifyNorthwindEntry(tx);
  return {
    bankTransactionRef:
      tx.TransactionId ??
      tx.TransactionReference ??
      syntheticTransactionRef(
        tx.AccountId,
        tx.BookingDateTime,
        tx.Amount.Amount,
        tx.Amount.Currency,
        tx.CreditDebitIndicator,
        tx.TransactionInformation,
      ),
    status,
    kind,
    reversesRef,
    amount: money(ctx, operation, tx.Amount.Amount, tx.Amount.Currency),
    direction: direction(tx.CreditDebitIndicator),
    occurredAt,
    bookedAt: status === 'BOOKED' ? occurredAt : null,
    valueDate: tx.ValueDateTime ? localDate(tx.ValueDateTime) : null,
    description: tx.TransactionInformation ?? null,
    counterpartyName: counterparty(tx),
  };
}

export interface MappedTransactionPage {
  transactions: BankTransaction[];
  next: string | null;
  earliestAvailable: string | null;
}

/** A page of one account's transactions; an entry of any other account is a contract violation. */
export function mapTransactionPage(
  ctx: MappingContext,
  body: unknown,
  expectedAccountId: string,
): MappedTransactionPage {
  const operation = 'getTransactions';
  const payload = parsePayload(ctx.partner, ctx.logger, operation, obReadTransaction, body);
  const transactions: BankTransaction[] = [];
  for (const tx of payload.Data.Transaction ?? []) {
    if (tx.AccountId !== expectedAccountId)
      throw contractViolation(ctx.partner, ctx.logger, operation, 'transaction of a different account than requested');
    const mapped = mapTransaction(ctx, tx);
    if (mapped) transactions.push(mapped);
  }
  const first = payload.Meta?.FirstAvailableDateTime;
  return {
    transactions,
    next: payload.Links?.Next ?? null,
    earliestAvailable: first ? new Date(first).toISOString().slice(0, 10) : null,
  };
}
