import { z } from 'zod';
import { ISO_DATE, RFC3339_WITH_ZONE } from '../bank-http.ts';

/**
 * zod mirrors of the parts of the Open Banking UK Account and Transaction API 4.0
 * (shared/partner-specs/obie-account-info-4.0.json) that the adapter reads: OBReadAccount6,
 * OBReadBalance1, OBReadTransaction6, Links, Meta. Required fields, enums, patterns and lengths
 * follow the spec; fields the adapter does not read are not checked (nor rejected).
 */
const dateTime = z.string().regex(RFC3339_WITH_ZONE, 'must be an ISO 8601 date-time with a time zone');
const amount = z.string().regex(/^\d{1,13}$|^\d{1,13}\.\d{1,5}$/, 'must be a decimal amount string');
const currency = z.string().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code');
const accountId = z.string().min(1).max(40);
const activeAmount = z.object({ Amount: amount, Currency: currency });

export const links = z.object({
  Self: z.string(),
  First: z.string().optional(),
  Prev: z.string().optional(),
  Next: z.string().optional(),
  Last: z.string().optional(),
});

export const meta = z.object({
  TotalPages: z.number().int().optional(),
  FirstAvailableDateTime: dateTime.optional(),
  LastAvailableDateTime: dateTime.optional(),
});

export const obAccount = z.object({
  AccountId: accountId,
  Status: z.enum(['Deleted', 'Disabled', 'Enabled', 'Pending', 'ProForma']).optional(),
  Currency: currency.optional(),
  AccountCategory: z.enum(['Business', 'Personal']).optional(),
  AccountTypeCode: z
    .enum([
      'CACC',
      'CARD',
      'CASH',
      'CHAR',
      'CISH',
      'COMM',
      'CPAC',
      'LLSV',
      'LOAN',
      'MGLD',
      'MOMA',
      'NREX',
      'ODFT',
      'ONDP',
      'OTHR',
      'SACC',
      'SLRY',
      'SVGS',
      'TAXE',
      'TRAN',
      'TRAS',
      'VACC',
      'NFCA',
      'MORT',
      'WALT',
    ])
    .optional(),
  Description: z.string().min(1).max(35).optional(),
  Nickname: z.string().min(1).max(70).optional(),
  Account: z
    .array(
      z.object({
        SchemeName: z.string().min(1),
        Identification: z.string().min(1).max(256),
        Name: z.string().min(1).max(350).optional(),
        SecondaryIdentification: z.string().min(1).max(34).optional(),
      }),
    )
    .optional(),
});

export const obReadAccount = z.object({
  Data: z.object({ Account: z.array(obAccount).optional() }),
  Links: links.optional(),
  Meta: meta.optional(),
});

export const obBalance = z.object({
  AccountId: accountId,
  CreditDebitIndicator: z.enum(['Credit', 'Debit']),
  Type: z.enum(['CLAV', 'CLBD', 'FWAV', 'INFO', 'ITAV', 'ITBD', 'OPAV', 'OPBD', 'PRCD', 'XPCD']),
  DateTime: dateTime,
  Amount: activeAmount.extend({ SubType: z.enum(['BCUR', 'LCUR']).optional() }),
  CreditLine: z
    .array(
      z.object({
        Included: z.boolean(),
        Type: z.enum(['Available', 'Credit', 'Emergency', 'Pre-Agreed', 'Temporary']).optional(),
        Amount: activeAmount.optional(),
      }),
    )
    .optional(),
});

export const obReadBalance = z.object({
  Data: z.object({ Balance: z.array(obBalance).min(1) }),
  Links: links.optional(),
  Meta: meta.optional(),
});

const cashAccount = z.object({
  SchemeName: z.string().optional(),
  Identification: z.string().optional(),
  Name: z.string().min(1).max(350).optional(),
});

export const obTransaction = z.object({
  AccountId: accountId,
  TransactionId: z.string().min(1).max(210).optional(),
  TransactionReference: z.string().min(1).max(210).optional(),
  StatementReference: z.array(z.string().min(1).max(35)).optional(),
  CreditDebitIndicator: z.enum(['Credit', 'Debit']),
  Status: z.enum(['BOOK', 'FUTR', 'INFO', 'PDNG', 'RJCT']),
  TransactionMutability: z.enum(['Mutable', 'Immutable']).optional(),
  BookingDateTime: dateTime,
  ValueDateTime: dateTime.optional(),
  TransactionInformation: z.string().min(1).max(500).optional(),
  Amount: activeAmount,
  BankTransactionCode: z.object({ Code: z.string(), SubCode: z.string() }).optional(),
  ProprietaryBankTransactionCode: z
    .object({ Code: z.string().min(1).max(35), Issuer: z.string().min(1).max(35).optional() })
    .optional(),
  ExtendedProprietaryBankTransactionCodes: z
    .array(
      z.object({
        Code: z.string().min(1).max(35),
        Issuer: z.string().min(1).max(35).optional(),
        Description: z.string().min(1).max(500).optional(),
      }),
    )
    .optional(),
  MerchantDetails: z
    .object({
      MerchantName: z.string().min(1).max(350).optional(),
      MerchantCategoryCode: z.string().min(3).max(4).optional(),
    })
    .optional(),
  CreditorAccount: cashAccount.optional(),
  DebtorAccount: cashAccount.optional(),
  UltimateCreditor: z.object({ Name: z.string().optional() }).optional(),
  UltimateDebtor: z.object({ Name: z.string().optional() }).optional(),
  /** Free-form per spec ("additionalProperties": true). */
  SupplementaryData: z.record(z.string(), z.unknown()).optional(),
});

export const obReadTransaction = z.object({
  Data: z.object({ Transaction: z.array(obTransaction).optional() }),
  Links: links.optional(),
  Meta: meta.optional(),
});

export type ObAccount = z.infer<typeof obAccount>;
export type ObBalance = z.infer<typeof obBalance>;
export type ObTransaction = z.infer<typeof obTransaction>;

export { ISO_DATE };
