import type { Logger } from '../../../../lib/logger.ts';
import { signedToMoney, type CreditDebit, type Money } from '../../../../lib/money.ts';
import { accountTypeFromIsoCode, kindFromBankTransactionCode } from '../../domain/codes.ts';
import { startOfDateUtc } from '../../domain/dates.ts';
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
  bgAccountList,
  bgBalances,
  bgTransactionsResponse,
  type BgAccountDetails,
  type BgBalance,
  type BgTransaction,
} from './schemas.ts';

/**
 * Berlin Group NextGenPSD2 1.3.12 payloads -> canonical model. Pure functions: they validate the
 * payload (schemas.ts) and throw PartnerError('rheinbank', 'contract', ...) for anything that
 * breaks the contract or cannot be represented without guessing.
 *
 * Berlin Group amounts are signed strings: the sign becomes `direction` and the magnitude a
 * non-negative Money with the currency's minor units. Transactions carry calendar dates only
 * (bookingDate, valueDate); occurredAt is the booking date at 00:00 UTC, so date filters and
 * the Date shown to clients are the bank's own dates.
 */
export interface MappingContext {
  partner: string;
  logger: Logger;
  /** Today, for pending entries without any date. */
  now: () => Date;
}

const signed = (
  ctx: MappingContext,
  operation: string,
  value: { amount: string; currency: string },
): { money: Money; direction: CreditDebit } =>
  representableAmount(ctx.partner, ctx.logger, operation, value.amount, value.currency, () =>
    signedToMoney(value.amount, value.currency),
  );

// ---------------------------------------------------------------- accounts

const ACCOUNT_STATUS: Record<NonNullable<BgAccountDetails['status']>, AccountStatus> = {
  enabled: 'ENABLED',
  blocked: 'DISABLED',
  deleted: 'CLOSED',
};

function identification(a: BgAccountDetails): AccountIdentification | null {
  if (a.iban) return { scheme: 'IBAN', value: a.iban.replace(/\s/g, '').toUpperCase() };
  if (a.bban) return { scheme: 'OTHER', value: a.bban.replace(/\s/g, '') };
  if (a.msisdn) return { scheme: 'OTHER', value: a.msisdn };
  return null;
}

export function mapAccounts(ctx: MappingContext, body: unknown): BankAccount[] {
  const operation = 'getAccountList';
  const payload = parsePayload(ctx.partner, ctx.logger, operation, bgAccountList, body);
  return payload.accounts.map((a) => {
    // The spec: resourceId "shall be filled, if addressable resource are created by the ASPSP on the /accounts
    // endpoint".
    if (!a.resourceId) throw contractViolation(ctx.partner, ctx.logger, operation, 'account without resourceId');
    knownCurrency(ctx.partner, ctx.logger, operation, a.currency);
    return {
      bankAccountRef: a.resourceId,
      name: a.name ?? a.displayName ?? a.product ?? null,
      type: accountTypeFromIsoCode(a.cashAccountType),
      status: a.status ? ACCOUNT_STATUS[a.status] : 'ENABLED',
      currency: a.currency,
      identification: identification(a),
    };
  });
}

// ---------------------------------------------------------------- balances

const BALANCE_TYPE: Record<BgBalance['balanceType'], BalanceType> = {
  closingBooked: 'CLOSING_BOOKED',
  expected: 'EXPECTED',
  openingBooked: 'OPENING_BOOKED',
  interimAvailable: 'INTERIM_AVAILABLE',
  interimBooked: 'INTERIM_BOOKED',
  forwardAvailable: 'FORWARD_AVAILABLE',
  nonInvoiced: 'OTHER',
};

export function mapBalance(ctx: MappingContext, operation: string, b: BgBalance): BalanceModel {
  const { money, direction } = signed(ctx, operation, b.balanceAmount);
  // asOf: when the balance last changed; else its reference date; else now (the bank reports it as current).
  const asOf = b.lastChangeDateTime
    ? new Date(b.lastChangeDateTime)
    : b.referenceDate
      ? startOfDateUtc(b.referenceDate)
      : ctx.now();
  if (Number.isNaN(asOf.getTime()))
    throw contractViolation(ctx.partner, ctx.logger, operation, 'balance date is not a real date');
  return {
    type: BALANCE_TYPE[b.balanceType],
    amount: money,
    direction,
    asOf,
    includesCreditLine: b.creditLimitIncluded ?? false,
  };
}

export function mapBalances(ctx: MappingContext, body: unknown): BalanceModel[] {
  const operation = 'getBalances';
  const payload = parsePayload(ctx.partner, ctx.logger, operation, bgBalances, body);
  return payload.balances.map((b) => mapBalance(ctx, operation, b));
}

// ---------------------------------------------------------------- transactions

/**
 * Reversal and chargeback encoding, in one place so it is easy to adjust to the bank:
 * - kind: bankTransactionCode in the ISO 20022 "DOMAIN-FAMILY-SUBFAMILY" format, e.g.
 *   PMNT-RCDT-RRTN / PMNT-ICDT-RRTN (returns, reversals), PMNT-CCRD-CHBK (card chargeback), or a
 *   proprietaryBankTransactionCode naming a reversal or chargeback.
 * - the original: Berlin Group has no dedicated field; the bank quotes the original's
 *   transactionId as the structured remittance reference (remittanceInformationStructured
 *   .reference), or in entryReference-style text "ORIGINAL:<id>" in additionalInformation.
 */
export function classifyRheinbankEntry(tx: BgTransaction): { kind: TransactionKind; reversesRef: string | null } {
  const [, family, subFamily] = (tx.bankTransactionCode ?? '').split('-');
  const kind = kindFromBankTransactionCode(family ?? null, subFamily ?? null, [tx.proprietaryBankTransactionCode]);
  if (kind === 'STANDARD') return { kind, reversesRef: null };
  const structured = tx.remittanceInformationStructured?.reference;
  const fromText = /ORIGINAL[:=\s]+([A-Za-z0-9._:-]+)/i.exec(tx.additionalInformation ?? '')?.[1];
  return { kind, reversesRef: structured ?? fromText ?? null };
}

function description(tx: BgTransaction): string | null {
  if (tx.remittanceInformationUnstructured) return tx.remittanceInformationUnstructured;
  if (tx.remittanceInformationUnstructuredArray?.length) return tx.remittanceInformationUnstructuredArray.join(' ');
  return tx.additionalInformation ?? null;
}

export function mapTransaction(ctx: MappingContext, tx: BgTransaction, status: 'BOOKED' | 'PENDING'): BankTransaction {
  const operation = 'getTransactionList';
  const { money, direction } = signed(ctx, operation, tx.transactionAmount);
  const date = tx.bookingDate ?? tx.valueDate;
  if (status === 'BOOKED' && !date)
    throw contractViolation(ctx.partner, ctx.logger, operation, 'booked transaction without bookingDate or valueDate');
  // A pending entry without any date is happening now.
  const occurredAt = date ? startOfDateUtc(date) : startOfDateUtc(ctx.now().toISOString().slice(0, 10));
  const { kind, reversesRef } = classifyRheinbankEntry(tx);
  return {
    bankTransactionRef:
      tx.transactionId ??
      tx.entryReference ??
      syntheticTransactionRef(
        tx.bookingDate,
        tx.valueDate,
        tx.transactionAmount.amount,
        tx.transactionAmount.currency,
        tx.endToEndId,
        description(tx),
      ),
    status,
    kind,
    reversesRef,
    amount: money,
    direction,
    occurredAt,
    bookedAt: status === 'BOOKED' ? occurredAt : null,
    valueDate: tx.valueDate ?? null,
    description: description(tx),
    counterpartyName:
      direction === 'DEBIT'
        ? (tx.creditorName ?? tx.ultimateCreditor ?? null)
        : (tx.debtorName ?? tx.ultimateDebtor ?? null),
  };
}

export interface MappedTransactionPage {
  transactions: BankTransaction[];
  next: string | null;
}

/** booked -> BOOKED, pending -> PENDING; `information` (standing orders) is not a movement of money. */
export function mapTransactionPage(ctx: MappingContext, body: unknown): MappedTransactionPage {
  const operation = 'getTransactionList';
  const payload = parsePayload(ctx.partner, ctx.logger, operation, bgTransactionsResponse, body);
  const report = payload.transactions;
  if (!report) return { transactions: [], next: null };
  return {
    transactions: [
      ...(report.booked ?? []).map((t) => mapTransaction(ctx, t, 'BOOKED')),
      ...(report.pending ?? []).map((t) => mapTransaction(ctx, t, 'PENDING')),
    ],
    next: report._links.next?.href ?? null,
  };
}
