import { z } from 'zod';
import { ISO_DATE, RFC3339_WITH_ZONE } from '../bank-http.ts';

/**
 * zod mirrors of the parts of Berlin Group NextGenPSD2 XS2A 1.3.12
 * (shared/partner-specs/berlin-group-nextgenpsd2-1.3.12.yaml) that the adapter reads:
 * accountList / accountDetails, readAccountBalanceResponse-200 / balance,
 * transactionsResponse-200_json / accountReport / transactions, hrefType links.
 * Required fields, enums, patterns and lengths follow the spec; fields the adapter does not read
 * are not checked (nor rejected).
 */
const date = z.string().regex(ISO_DATE, 'must be an ISO 8601 date');
const dateTime = z.string().regex(RFC3339_WITH_ZONE, 'must be an ISO 8601 date-time with a time zone');
const currency = z.string().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code');
/** amountValue: "-?[0-9]{1,14}(\.[0-9]{1,3})?" (the spec's pattern is unanchored; an amount is the whole string). */
const amount = z.object({
  currency,
  amount: z.string().regex(/^-?[0-9]{1,14}(\.[0-9]{1,3})?$/, 'must be a signed decimal amount string'),
});
const href = z.object({ href: z.string().optional() });

export const balanceType = z.enum([
  'closingBooked',
  'expected',
  'openingBooked',
  'interimAvailable',
  'interimBooked',
  'forwardAvailable',
  'nonInvoiced',
]);

export const bgBalance = z.object({
  balanceAmount: amount,
  balanceType,
  creditLimitIncluded: z.boolean().optional(),
  lastChangeDateTime: dateTime.optional(),
  referenceDate: date.optional(),
  lastCommittedTransaction: z.string().max(35).optional(),
});

export const bgAccountDetails = z.object({
  resourceId: z.string().optional(),
  // The spec's iban/bban patterns are unanchored (OpenAPI semantics), so they are checked the same way.
  iban: z
    .string()
    .regex(/[A-Z]{2}[0-9]{2}[a-zA-Z0-9]{1,30}/, 'must contain an IBAN')
    .optional(),
  bban: z
    .string()
    .regex(/[a-zA-Z0-9]{1,30}/, 'must contain a BBAN')
    .optional(),
  msisdn: z.string().max(35).optional(),
  currency,
  ownerName: z.string().max(140).optional(),
  name: z.string().max(70).optional(),
  displayName: z.string().max(70).optional(),
  product: z.string().max(35).optional(),
  cashAccountType: z.string().optional(),
  status: z.enum(['enabled', 'deleted', 'blocked']).optional(),
  usage: z.enum(['PRIV', 'ORGA']).optional(),
  balances: z.array(bgBalance).optional(),
});

export const bgAccountList = z.object({ accounts: z.array(bgAccountDetails) });

export const bgBalances = z.object({
  account: z.record(z.string(), z.unknown()).optional(),
  balances: z.array(bgBalance),
});

export const bgTransaction = z.object({
  transactionId: z.string().optional(),
  entryReference: z.string().max(35).optional(),
  endToEndId: z.string().max(35).optional(),
  bookingDate: date.optional(),
  valueDate: date.optional(),
  transactionAmount: amount,
  creditorName: z.string().max(70).optional(),
  ultimateCreditor: z.string().max(70).optional(),
  debtorName: z.string().max(70).optional(),
  ultimateDebtor: z.string().max(70).optional(),
  remittanceInformationUnstructured: z.string().max(140).optional(),
  remittanceInformationUnstructuredArray: z.array(z.string().max(140)).optional(),
  remittanceInformationStructured: z
    .object({
      reference: z.string().max(140),
      referenceType: z.string().max(140).optional(),
      referenceIssuer: z.string().max(140).optional(),
    })
    .optional(),
  additionalInformation: z.string().max(500).optional(),
  bankTransactionCode: z.string().optional(),
  proprietaryBankTransactionCode: z.string().max(35).optional(),
});

export const bgAccountReport = z.object({
  booked: z.array(bgTransaction).optional(),
  pending: z.array(bgTransaction).optional(),
  information: z.array(bgTransaction).optional(),
  _links: z.object({ account: href, next: href.optional() }).catchall(href),
});

export const bgTransactionsResponse = z.object({
  account: z.record(z.string(), z.unknown()).optional(),
  transactions: bgAccountReport.optional(),
  balances: z.array(bgBalance).optional(),
  _links: z.record(z.string(), href).optional(),
});

export type BgAccountDetails = z.infer<typeof bgAccountDetails>;
export type BgBalance = z.infer<typeof bgBalance>;
export type BgTransaction = z.infer<typeof bgTransaction>;
