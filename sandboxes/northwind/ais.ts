import { SANDBOX_CUSTOMERS, type SandboxCustomer } from '../manifest.ts';
import { DAY } from '../lib/clock.ts';
import { NORTHWIND_BIC, northwindNumbers } from '../lib/identifiers.ts';
import { formatMinor, type Ledger, type LedgerAccount, type LedgerEntry, type LedgerStore } from '../lib/ledger.ts';
import type { LoadedSpec } from '../lib/openapi.ts';
import { createPrng } from '../lib/prng.ts';
import { bearerToken, type Route, type SandboxReply, type SandboxRequest } from '../lib/server.ts';
import { OBIE_AIS_BASE, obError, unauthorized } from './dialect.ts';

/**
 * Northwind Account and Transaction API 4.0 (the read subset the platform uses):
 *   GET /open-banking/v4.0/aisp/accounts
 *   GET /open-banking/v4.0/aisp/accounts/{AccountId}
 *   GET /open-banking/v4.0/aisp/accounts/{AccountId}/balances
 *   GET /open-banking/v4.0/aisp/accounts/{AccountId}/transactions?fromBookingDateTime&toBookingDateTime&page
 *
 * Access: `Authorization: Bearer <accessToken>` from the manifest, bound to that PSU's
 * account-access-consent; unknown or revoked token -> 401 (no body); consent no longer
 * authorised -> 403 U028; an AccountId that exists but is not the PSU's -> 403 U011; an
 * AccountId that does not exist -> 400 U011 (OBIE: 400 rather than 404 for unknown ids).
 *
 * Transactions (OBTransaction6), newest first, `pageSize` (default 100) per page; follow
 * `Links.Next` (absolute URL, `page=N`), `Meta.TotalPages` says how many:
 * - TransactionId: the bank's id, stable while the entry goes from pending to booked.
 * - Status: `PDNG` while pending, `BOOK` once booked (ISO 20022 ExternalEntryStatus1Code);
 *   TransactionMutability `Mutable` / `Immutable` accordingly.
 * - BookingDateTime: the authorisation time while pending, the booking time once booked (so it
 *   moves when the entry books; key on TransactionId). ValueDateTime: authorisation/value time.
 *   fromBookingDateTime / toBookingDateTime filter on that BookingDateTime, inclusive; as the
 *   spec says, a timezone in the parameter is ignored (the local part is read as UTC).
 * - Amount.Amount is positive; CreditDebitIndicator says Credit or Debit.
 * - BankTransactionCode: ISO 20022 family and sub-family codes (domain PMNT/ACMT implied), e.g.
 *   CCRD/POSD card payment, CCRD/CWDL cash withdrawal, RCDT/SALA salary, RCDT/DMCT and
 *   ICDT/DMCT transfers in/out, ICDT/STDO standing order, RDDT/PMDD direct debit,
 *   MCOP/INTR interest, ICDT/RRTN reversal (returned transfer), CCRD/CAJT chargeback.
 * - ProprietaryBankTransactionCode: { Code, Issuer: 'Northwind' } with Code one of CARD_PAYMENT,
 *   CASH_WITHDRAWAL, SALARY, TRANSFER_IN, TRANSFER_OUT, STANDING_ORDER, DIRECT_DEBIT,
 *   INTERNAL_TRANSFER, CARD_REPAYMENT, INTEREST, REVERSAL, CHARGEBACK, PAYMENT.
 * - Reversals and chargebacks (CreditDebitIndicator Credit, same amount as the original):
 *   SupplementaryData = { OriginalTransactionId: <TransactionId of the original>,
 *   OriginalTransactionReference: <TransactionReference of the original>, ReversalReason: text }.
 *   The original is an earlier entry of the same account and stays BOOK.
 * - Payments initiated through the sandbox PIS appear on the debtor account with
 *   ProprietaryBankTransactionCode PAYMENT, TransactionReference = the payment's
 *   EndToEndIdentification and SupplementaryData.DomesticPaymentId; pending until settlement.
 * - Balance (booked entries only): the interim booked balance after the entry (Type ITBD).
 *
 * Balances: ITBD (booked now), ITAV (booked minus pending debits; card accounts include the
 * credit line, CreditLine[0].Included = true) and CLBD (booked at the start of today, UTC).
 * ITBD equals the newest booked transaction's Balance.
 */

export type AisConsentStatus = 'AUTH' | 'CANC' | 'EXPD' | 'RJCT';

export interface NorthwindAisState {
  seed: number;
  ledger: LedgerStore;
  pageSize: number;
  /** Undefined when the OBIE AIS spec is not available (PARTNER_SPECS_DIR): no validation then. */
  spec: LoadedSpec | undefined;
  consentStatus: Map<string, AisConsentStatus>;
  revokedTokens: Set<string>;
}

const ACCOUNT_TYPE: Record<LedgerAccount['account']['kind'], string> = {
  current: 'CACC',
  savings: 'SVGS',
  'credit-card': 'CARD',
};

type Psu = { customer: SandboxCustomer; psuId: string; accounts: LedgerAccount[] };

function authenticate(state: NorthwindAisState, req: SandboxRequest): Psu | SandboxReply {
  const token = bearerToken(req);
  const customer =
    token && !state.revokedTokens.has(token)
      ? SANDBOX_CUSTOMERS.find((c) => c.banks.northwind?.accessToken === token)
      : undefined;
  if (!customer || !customer.banks.northwind) return unauthorized();
  const psuId = customer.banks.northwind.psuId;
  const status = state.consentStatus.get(psuId) ?? 'AUTH';
  if (status !== 'AUTH') {
    return obError(403, req.requestId, [
      {
        ErrorCode: 'U028',
        Message: `The account-access-consent ${customer.banks.northwind.consentId} is ${status}; the PSU must re-authorise`,
        Path: 'ConsentId',
      },
    ]);
  }
  return { customer, psuId, accounts: state.ledger.accounts().filter((a) => a.psuId === psuId) };
}

/** Authenticates the PSU and resolves the AccountId it asks for: the preamble of every per-account route. */
function accountFor(state: NorthwindAisState, req: SandboxRequest): LedgerAccount | SandboxReply {
  const psu = authenticate(state, req);
  if (isReply(psu)) return psu;
  const id = req.params.AccountId ?? '';
  const own = psu.accounts.find((a) => a.account.bankAccountId === id);
  if (own) return own;
  const exists = state.ledger.accounts().some((a) => a.account.bankAccountId === id);
  return exists
    ? obError(403, req.requestId, [
        { ErrorCode: 'U011', Message: 'The AccountId is not covered by the account-access-consent', Path: 'AccountId' },
      ])
    : obError(400, req.requestId, [
        { ErrorCode: 'U011', Message: 'No account with this AccountId', Path: 'AccountId' },
      ]);
}

const isReply = (x: unknown): x is SandboxReply =>
  typeof x === 'object' && x !== null && 'status' in x && typeof (x as SandboxReply).status === 'number';

function openingDate(seed: number, id: string): string {
  const p = createPrng(seed, 'northwind-opened', id);
  return new Date(Date.UTC(p.int(2012, 2022), p.int(0, 11), p.int(1, 28), 9, 0, 0)).toISOString();
}

export function renderNorthwindAccount(seed: number, la: LedgerAccount): Record<string, unknown> {
  const { account } = la;
  const numbers = northwindNumbers(seed, account.bankAccountId);
  const name = la.holderName.toUpperCase();
  const identifications =
    account.kind === 'credit-card'
      ? [{ SchemeName: 'UK.OBIE.PAN', Identification: numbers.maskedPan, Name: name }]
      : [
          { SchemeName: 'UK.OBIE.SortCodeAccountNumber', Identification: numbers.sortCodeAccountNumber, Name: name },
          { SchemeName: 'UK.OBIE.IBAN', Identification: numbers.iban, Name: name },
        ];
  const opened = openingDate(seed, account.bankAccountId);
  return {
    AccountId: account.bankAccountId,
    Status: 'Enabled',
    StatusUpdateDateTime: opened,
    Currency: account.currency,
    AccountCategory: 'Personal',
    AccountTypeCode: ACCOUNT_TYPE[account.kind],
    Description: account.name.slice(0, 35),
    Nickname: account.name.slice(0, 70),
    OpeningDate: opened,
    Account: identifications,
    Servicer: { SchemeName: 'UK.OBIE.BICFI', Identification: NORTHWIND_BIC },
  };
}

const money = (minor: number, currency: string) => ({ Amount: formatMinor(Math.abs(minor)), Currency: currency });
const indicator = (minor: number) => (minor < 0 ? 'Debit' : 'Credit');

export function renderNorthwindBalances(ledger: Ledger, now: Date): Array<Record<string, unknown>> {
  const { account } = ledger.account;
  const booked = ledger.bookedBalanceMinor(now);
  const pending = ledger.pendingMinor(now);
  const startOfToday = new Date(Math.floor(now.getTime() / DAY) * DAY);
  const closing = ledger.bookedBalanceMinor(new Date(startOfToday.getTime() - 1));
  const limit = ledger.creditLimitMinor;
  const available = booked - pending.debits + (limit ?? 0);
  return [
    {
      AccountId: account.bankAccountId,
      CreditDebitIndicator: indicator(booked),
      Type: 'ITBD',
      DateTime: now.toISOString(),
      Amount: money(booked, account.currency),
    },
    {
      AccountId: account.bankAccountId,
      CreditDebitIndicator: indicator(available),
      Type: 'ITAV',
      DateTime: now.toISOString(),
      Amount: money(available, account.currency),
      ...(limit !== undefined
        ? { CreditLine: [{ Included: true, Type: 'Credit', Amount: money(limit, account.currency) }] }
        : {}),
    },
    {
      AccountId: account.bankAccountId,
      CreditDebitIndicator: indicator(closing),
      Type: 'CLBD',
      DateTime: startOfToday.toISOString(),
      Amount: money(closing, account.currency),
    },
  ];
}

export function renderNorthwindTransaction(
  entry: LedgerEntry,
  status: 'pending' | 'booked',
  accountId: string,
  currency: string,
): Record<string, unknown> {
  const booked = status === 'booked';
  const counterparty = entry.counterparty
    ? {
        SchemeName: /^\d{14}$/.test(entry.counterparty.account) ? 'UK.OBIE.SortCodeAccountNumber' : 'UK.OBIE.IBAN',
        Identification: entry.counterparty.account,
        Name: entry.counterparty.name.slice(0, 350),
      }
    : undefined;
  const supplementary: Record<string, unknown> = {};
  if (entry.original) {
    supplementary.OriginalTransactionId = entry.original.id;
    supplementary.OriginalTransactionReference = entry.original.reference;
    supplementary.ReversalReason = entry.original.reason;
  }
  if (entry.paymentId) supplementary.DomesticPaymentId = entry.paymentId;
  return {
    AccountId: accountId,
    TransactionId: entry.id,
    TransactionReference: entry.reference,
    CreditDebitIndicator: entry.direction === 'CREDIT' ? 'Credit' : 'Debit',
    Status: booked ? 'BOOK' : 'PDNG',
    TransactionMutability: booked ? 'Immutable' : 'Mutable',
    BookingDateTime: (booked ? entry.bookingAt : entry.createdAt).toISOString(),
    ValueDateTime: entry.valueAt.toISOString(),
    TransactionInformation: entry.description.slice(0, 500),
    Amount: { Amount: formatMinor(entry.amountMinor), Currency: currency },
    BankTransactionCode: { Code: entry.iso.family, SubCode: entry.iso.subFamily },
    ProprietaryBankTransactionCode: { Code: entry.proprietaryCode, Issuer: 'Northwind' },
    ...(booked
      ? {
          Balance: {
            CreditDebitIndicator: indicator(entry.balanceAfterMinor),
            Type: 'ITBD',
            Amount: money(entry.balanceAfterMinor, currency),
          },
        }
      : {}),
    ...(entry.merchant
      ? { MerchantDetails: { MerchantName: entry.merchant.name, MerchantCategoryCode: entry.merchant.mcc } }
      : {}),
    ...(entry.card
      ? {
          CardInstrument: {
            CardSchemeName: entry.card.scheme,
            AuthorisationType: entry.card.authorisation,
            Identification: `************${entry.card.last4}`,
          },
        }
      : {}),
    ...(counterparty &&
      (entry.direction === 'DEBIT' ? { CreditorAccount: counterparty } : { DebtorAccount: counterparty })),
    ...(Object.keys(supplementary).length ? { SupplementaryData: supplementary } : {}),
  };
}

/** The date-time of a filter parameter, ignoring any timezone (OBIE: the ASPSP must ignore it). */
export function parseFilterDateTime(value: string | null): number | undefined {
  if (!value) return undefined;
  const local = /^(\d{4}-\d{2}-\d{2})(?:T(\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?))?/.exec(value);
  if (!local) return undefined;
  const ms = Date.parse(`${local[1]}T${local[2] ?? '00:00:00'}Z`);
  return Number.isNaN(ms) ? undefined : ms;
}

export function northwindAisRoutes(state: NorthwindAisState): Route[] {
  const { spec } = state;
  const self = (req: SandboxRequest) => `${req.baseUrl}${req.path}${req.url.search}`;
  return [
    {
      method: 'GET',
      path: `${OBIE_AIS_BASE}/accounts`,
      spec,
      handler(req) {
        const psu = authenticate(state, req);
        if (isReply(psu)) return psu;
        return {
          status: 200,
          body: {
            Data: { Account: psu.accounts.map((a) => renderNorthwindAccount(state.seed, a)) },
            Links: { Self: self(req) },
            Meta: { TotalPages: 1 },
          },
        };
      },
    },
    {
      method: 'GET',
      path: `${OBIE_AIS_BASE}/accounts/{AccountId}`,
      spec,
      handler(req) {
        const account = accountFor(state, req);
        if (isReply(account)) return account;
        return {
          status: 200,
          body: {
            Data: { Account: [renderNorthwindAccount(state.seed, account)] },
            Links: { Self: self(req) },
            Meta: { TotalPages: 1 },
          },
        };
      },
    },
    {
      method: 'GET',
      path: `${OBIE_AIS_BASE}/accounts/{AccountId}/balances`,
      spec,
      handler(req) {
        const account = accountFor(state, req);
        if (isReply(account)) return account;
        const ledger = state.ledger.get(account.account.bankAccountId)!;
        return {
          status: 200,
          body: {
            Data: { Balance: renderNorthwindBalances(ledger, req.now) },
            Links: { Self: self(req) },
            Meta: { TotalPages: 1 },
          },
        };
      },
    },
    {
      method: 'GET',
      path: `${OBIE_AIS_BASE}/accounts/{AccountId}/transactions`,
      spec,
      handler(req) {
        const account = accountFor(state, req);
        if (isReply(account)) return account;
        const ledger = state.ledger.get(account.account.bankAccountId)!;
        const from = parseFilterDateTime(req.query.get('fromBookingDateTime'));
        const to = parseFilterDateTime(req.query.get('toBookingDateTime'));
        const pageParam = req.query.get('page');
        const page = pageParam === null ? 1 : Number(pageParam);
        if (!Number.isInteger(page) || page < 1)
          return obError(400, req.requestId, [
            { ErrorCode: 'U002', Message: 'page must be a positive integer', Path: 'page' },
          ]);

        const rows = ledger.visible(req.now).filter(({ entry, status }) => {
          const t = (status === 'booked' ? entry.bookingAt : entry.createdAt).getTime();
          return (from === undefined || t >= from) && (to === undefined || t <= to);
        });
        // Newest first by the BookingDateTime shown.
        rows.sort(
          (a, b) =>
            (b.status === 'booked' ? b.entry.bookingAt : b.entry.createdAt).getTime() -
              (a.status === 'booked' ? a.entry.bookingAt : a.entry.createdAt).getTime() ||
            (a.entry.id < b.entry.id ? 1 : -1),
        );
        const totalPages = Math.max(1, Math.ceil(rows.length / state.pageSize));
        if (page > totalPages)
          return obError(400, req.requestId, [
            { ErrorCode: 'U002', Message: `page ${page} is beyond the last page (${totalPages})`, Path: 'page' },
          ]);
        const slice = rows.slice((page - 1) * state.pageSize, page * state.pageSize);
        const link = (n: number) => {
          const q = new URLSearchParams(req.url.search);
          q.set('page', String(n));
          return `${req.baseUrl}${req.path}?${q.toString()}`;
        };
        const { account: acct } = account;
        return {
          status: 200,
          body: {
            Data: {
              Transaction: slice.map(({ entry, status }) =>
                renderNorthwindTransaction(entry, status, acct.bankAccountId, acct.currency),
              ),
            },
            Links: {
              Self: self(req),
              First: link(1),
              ...(page > 1 ? { Prev: link(page - 1) } : {}),
              ...(page < totalPages ? { Next: link(page + 1) } : {}),
              Last: link(totalPages),
            },
            Meta: {
              TotalPages: totalPages,
              FirstAvailableDateTime: ledger.windowStart.toISOString(),
              LastAvailableDateTime: req.now.toISOString(),
            },
          },
        };
      },
    },
  ];
}
