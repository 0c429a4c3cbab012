import { randomUUID } from 'node:crypto';
import type { Logger } from '../lib/logger.ts';
import { SANDBOX_CUSTOMERS, SANDBOX_SEED, type SandboxCustomer } from './manifest.ts';
import { DAY, systemClock, type Now } from './lib/clock.ts';
import { RHEINBANK_BIC, rheinbankIban } from './lib/identifiers.ts';
import {
  createLedgerStore,
  formatMinor,
  type Ledger,
  type LedgerAccount,
  type LedgerEntry,
  type LedgerStore,
} from './lib/ledger.ts';
import { optionalPartnerSpec, type Violation } from './lib/openapi.ts';
import {
  bearerToken,
  breakSchema,
  header,
  startSandboxServer,
  type Dialect,
  type Route,
  type SandboxReply,
  type SandboxRequest,
  type SandboxServer,
} from './lib/server.ts';

/**
 * Rheinbank: a Berlin Group NextGenPSD2 1.3.12 bank (AIS subset). Routes are served both at the
 * root and under the spec's server path `/psd2` (`/v1/accounts` == `/psd2/v1/accounts`); links
 * in answers use the prefix of the request.
 *
 *   GET    /v1/accounts?withBalance
 *   GET    /v1/accounts/{account-id}?withBalance
 *   GET    /v1/accounts/{account-id}/balances
 *   GET    /v1/accounts/{account-id}/transactions?bookingStatus=booked|pending|both|information|all
 *            &dateFrom&dateTo&pageIndex&itemsPerPage&withBalance
 *   GET    /v1/accounts/{account-id}/transactions/{transactionId}
 *   GET    /v1/consents/{consentId}            GET /v1/consents/{consentId}/status
 *   DELETE /v1/consents/{consentId}            (terminatedByTpp; later AIS calls -> 401 CONSENT_INVALID)
 *
 * Required on every call: `X-Request-ID` (UUID; echoed in the answer), `Authorization: Bearer
 * <accessToken>` (manifest) and, on /v1/accounts*, `Consent-ID` (the manifest consentId of the
 * same PSU). Errors are `{ tppMessages: [{ category: 'ERROR', code, path?, text }] }`:
 *   400 FORMAT_ERROR (spec violation: missing header/parameter, bad UUID, bad date...),
 *   400 PERIOD_INVALID (dateFrom after dateTo), 400 PARAMETER_NOT_SUPPORTED (entryReferenceFrom, deltaList),
 *   401 TOKEN_INVALID (missing/unknown bearer token), 401 CONSENT_INVALID (Consent-ID of another PSU,
 *   or consent revoked/terminated), 401 CONSENT_EXPIRED, 403 CONSENT_UNKNOWN (no such Consent-ID),
 *   404 RESOURCE_UNKNOWN (account or transaction not covered), 429 ACCESS_EXCEEDED (injected).
 * 500/503 carry no body (as documented).
 *
 * Transactions: amounts are signed strings (`"-12.30"` debit, `"1250.00"` credit) in
 * transactionAmount; `transactions.booked` and `transactions.pending` split by status at the
 * sandbox clock, newest first, pending before booked across pages; page with `pageIndex`
 * (0-based) and `itemsPerPage` (default 100, max 500), follow `transactions._links.next.href`.
 * - transactionId == entryReference: the bank's id, the same while pending and once booked.
 * - pending entries have no bookingDate; booked ones do. valueDate is always set. dateFrom/dateTo
 *   filter bookingDate (booked) or valueDate (pending), inclusive; default dateFrom is the start
 *   of the available history (~18 months).
 * - bankTransactionCode: ISO 20022 DOMAIN-FAMILY-SUBFAMILY, e.g. PMNT-CCRD-POSD card payment,
 *   PMNT-CCRD-CWDL cash, PMNT-RCDT-SALA salary, PMNT-RCDT-ESCT / PMNT-ICDT-ESCT SEPA transfers,
 *   PMNT-ICDT-STDO standing order, PMNT-RDDT-ESDD SEPA direct debit, ACMT-MCOP-INTR interest,
 *   PMNT-ICDT-RRTN reversal (returned transfer), PMNT-CCRD-CAJT card chargeback.
 *   proprietaryBankTransactionCode: CARD_PAYMENT, ..., REVERSAL, CHARGEBACK (as Northwind).
 * - reversals and chargebacks (positive amount = credit, equal to the original's):
 *   remittanceInformationStructured = { reference: <original transactionId/entryReference>,
 *   referenceType: 'ORIGINAL_TRANSACTION', referenceIssuer: 'RHEINBANK' } and
 *   additionalInformation = 'ORIGINAL:<original transactionId> <reason>'.
 * - counterparties: creditorName/creditorAccount.iban on debits, debtorName/debtorAccount.iban
 *   on credits; card payments name the merchant as creditorName.
 * - booked entries carry balanceAfterTransaction (interimBooked).
 * Balances: closingBooked (end of yesterday, referenceDate), interimBooked and interimAvailable
 * (booked minus pending debits), lastChangeDateTime = now.
 */
export interface RheinbankOptions {
  port: number;
  host?: string;
  logger: Logger;
  now?: Now;
  seed?: number;
  anchor?: Date;
  /** Default itemsPerPage (default 100). */
  pageSize?: number;
  adminRoutes?: boolean;
}

export type BgConsentStatus = 'received' | 'rejected' | 'valid' | 'revokedByPsu' | 'expired' | 'terminatedByTpp';

export interface RunningRheinbank extends SandboxServer {
  ledger: LedgerStore;
  /** Base path of the spec's server URL; routes also answer without it. */
  basePath: string;
  setConsentStatus(consentId: string, status: BgConsentStatus): void;
  consentStatus(consentId: string): BgConsentStatus | undefined;
}

/** The Berlin Group spec's server path; every route answers with and without it. */
export const BERLIN_GROUP_BASE = '/psd2';
const BASE = BERLIN_GROUP_BASE;
const PREFIXES = ['', BASE];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function bgError(status: number, code: string, text: string, path?: string): SandboxReply {
  return {
    status,
    body: { tppMessages: [{ category: 'ERROR', code, text: text.slice(0, 500), ...(path ? { path } : {}) }] },
  };
}

const FAILURE_CODES: Record<number, string> = {
  400: 'FORMAT_ERROR',
  401: 'TOKEN_INVALID',
  403: 'SERVICE_BLOCKED',
  404: 'RESOURCE_UNKNOWN',
  405: 'SERVICE_INVALID',
  406: 'REQUESTED_FORMATS_INVALID',
  409: 'STATUS_INVALID',
  429: 'ACCESS_EXCEEDED',
};

export const rheinbankDialect: Dialect = {
  invalidRequest(violations: Violation[]) {
    return {
      status: 400,
      body: {
        tppMessages: violations.slice(0, 20).map((v) => ({
          category: 'ERROR',
          code: 'FORMAT_ERROR',
          text: v.message.slice(0, 500),
          ...(v.name ? { path: v.name } : {}),
        })),
      },
    };
  },
  failure(status) {
    const code = FAILURE_CODES[status];
    return code ? bgError(status, code, `Injected failure (HTTP ${status})`) : { status };
  },
  notFound(req, methodNotAllowed) {
    return methodNotAllowed
      ? bgError(405, 'SERVICE_INVALID', `${req.method} is not supported on ${req.path}`)
      : bgError(404, 'RESOURCE_UNKNOWN', `No resource at ${req.path}`);
  },
  schemaViolation: breakSchema,
  finalizeHeaders(req) {
    // Echo the caller's X-Request-ID; one that is not a UUID (already answered 400) is replaced.
    const sent = header(req, 'x-request-id');
    return { 'X-Request-ID': sent && UUID.test(sent) ? sent : randomUUID() };
  },
};

interface State {
  seed: number;
  ledger: LedgerStore;
  pageSize: number;
  consentStatus: Map<string, BgConsentStatus>;
}

type Psu = { customer: SandboxCustomer; psuId: string; consentId: string; accounts: LedgerAccount[] };
const isReply = (x: unknown): x is SandboxReply =>
  typeof x === 'object' && x !== null && typeof (x as SandboxReply).status === 'number' && !('customer' in x);

function psuOf(state: State, req: SandboxRequest): Psu | SandboxReply {
  const token = bearerToken(req);
  const customer = token ? SANDBOX_CUSTOMERS.find((c) => c.banks.rheinbank?.accessToken === token) : undefined;
  if (!customer || !customer.banks.rheinbank)
    return bgError(401, 'TOKEN_INVALID', 'The bearer token is missing, unknown or expired');
  const bank = customer.banks.rheinbank;
  return {
    customer,
    psuId: bank.psuId,
    consentId: bank.consentId,
    accounts: state.ledger.accounts().filter((a) => a.psuId === bank.psuId),
  };
}

function checkConsent(state: State, psu: Psu, consentId: string): SandboxReply | undefined {
  const owner = SANDBOX_CUSTOMERS.find((c) => c.banks.rheinbank?.consentId === consentId);
  if (!owner) return bgError(403, 'CONSENT_UNKNOWN', 'The Consent-ID is unknown', 'Consent-ID');
  if (owner.customerId !== psu.customer.customerId)
    return bgError(401, 'CONSENT_INVALID', 'The consent does not belong to the PSU of the access token', 'Consent-ID');
  const status = state.consentStatus.get(consentId) ?? 'valid';
  if (status === 'expired') return bgError(401, 'CONSENT_EXPIRED', 'The consent has expired; a new consent is needed');
  if (status !== 'valid') return bgError(401, 'CONSENT_INVALID', `The consent is ${status}`);
  return undefined;
}

/** Authenticates an /v1/accounts* call: token, Consent-ID and (when in the path) the account. */
function access(state: State, req: SandboxRequest): { psu: Psu; account?: LedgerAccount } | SandboxReply {
  const psu = psuOf(state, req);
  if (isReply(psu)) return psu;
  const refused = checkConsent(state, psu, header(req, 'consent-id') ?? '');
  if (refused) return refused;
  const accountId = req.params['account-id'];
  if (accountId === undefined) return { psu };
  const account = psu.accounts.find((a) => a.account.bankAccountId === accountId);
  if (!account)
    return bgError(404, 'RESOURCE_UNKNOWN', 'The account is unknown or not covered by the consent', 'account-id');
  return { psu, account };
}

const prefixOf = (req: SandboxRequest) => (req.path.startsWith('/psd2/') ? '/psd2' : '');
const isoDate = (d: Date) => d.toISOString().slice(0, 10);
const amount = (minor: number, currency: string) => ({ currency, amount: formatMinor(minor) });
const PRODUCT: Record<LedgerAccount['account']['kind'], string> = {
  current: 'Girokonto',
  savings: 'Tagesgeld',
  'credit-card': 'Kreditkarte',
};
const CASH_ACCOUNT_TYPE: Record<LedgerAccount['account']['kind'], string> = {
  current: 'CACC',
  savings: 'SVGS',
  'credit-card': 'CARD',
};

function renderBalances(ledger: Ledger, now: Date): Array<Record<string, unknown>> {
  const currency = ledger.account.account.currency;
  const booked = ledger.bookedBalanceMinor(now);
  const startOfToday = Math.floor(now.getTime() / DAY) * DAY;
  const closing = ledger.bookedBalanceMinor(new Date(startOfToday - 1));
  const pending = ledger.pendingMinor(now);
  const limit = ledger.creditLimitMinor;
  return [
    {
      balanceAmount: amount(closing, currency),
      balanceType: 'closingBooked',
      referenceDate: isoDate(new Date(startOfToday - DAY)),
    },
    {
      balanceAmount: amount(booked, currency),
      balanceType: 'interimBooked',
      lastChangeDateTime: now.toISOString(),
      referenceDate: isoDate(now),
    },
    {
      balanceAmount: amount(booked - pending.debits + (limit ?? 0), currency),
      balanceType: 'interimAvailable',
      creditLimitIncluded: limit !== undefined,
      lastChangeDateTime: now.toISOString(),
      referenceDate: isoDate(now),
    },
  ];
}

function renderAccount(
  state: State,
  la: LedgerAccount,
  prefix: string,
  withBalance: boolean,
  now: Date,
): Record<string, unknown> {
  const { account } = la;
  const href = `${prefix}/v1/accounts/${encodeURIComponent(account.bankAccountId)}`;
  return {
    resourceId: account.bankAccountId,
    iban: rheinbankIban(state.seed, account.bankAccountId),
    currency: account.currency,
    name: account.name.slice(0, 70),
    displayName: account.name.slice(0, 70),
    product: PRODUCT[account.kind],
    cashAccountType: CASH_ACCOUNT_TYPE[account.kind],
    status: 'enabled',
    bic: RHEINBANK_BIC,
    usage: 'PRIV',
    ownerName: la.holderName.slice(0, 140),
    ...(withBalance ? { balances: renderBalances(state.ledger.get(account.bankAccountId)!, now) } : {}),
    _links: { balances: { href: `${href}/balances` }, transactions: { href: `${href}/transactions` } },
  };
}

export function renderRheinbankTransaction(
  entry: LedgerEntry,
  status: 'pending' | 'booked',
  currency: string,
  accountHref: string,
): Record<string, unknown> {
  const signed = entry.direction === 'CREDIT' ? entry.amountMinor : -entry.amountMinor;
  const party = entry.counterparty;
  const parties: Record<string, unknown> =
    entry.direction === 'DEBIT'
      ? {
          ...(entry.merchant
            ? { creditorName: entry.merchant.name.slice(0, 70) }
            : party
              ? { creditorName: party.name.slice(0, 70), creditorAccount: { iban: party.account } }
              : {}),
        }
      : {
          ...(party
            ? { debtorName: party.name.slice(0, 70), debtorAccount: { iban: party.account } }
            : entry.merchant
              ? { debtorName: entry.merchant.name.slice(0, 70) }
              : {}),
        };
  return {
    transactionId: entry.id,
    entryReference: entry.id,
    ...(entry.endToEndId ? { endToEndId: entry.endToEndId.slice(0, 35) } : {}),
    ...(status === 'booked' ? { bookingDate: isoDate(entry.bookingAt) } : {}),
    valueDate: isoDate(entry.valueAt),
    transactionAmount: amount(signed, currency),
    ...parties,
    remittanceInformationUnstructured: entry.description.slice(0, 140),
    ...(entry.original
      ? {
          remittanceInformationStructured: {
            reference: entry.original.id,
            referenceType: 'ORIGINAL_TRANSACTION',
            referenceIssuer: 'RHEINBANK',
          },
          additionalInformation: `ORIGINAL:${entry.original.id} ${entry.original.reason}`.slice(0, 500),
        }
      : {}),
    bankTransactionCode: `${entry.iso.domain}-${entry.iso.family}-${entry.iso.subFamily}`,
    proprietaryBankTransactionCode: entry.proprietaryCode,
    ...(status === 'booked'
      ? {
          balanceAfterTransaction: {
            balanceAmount: amount(entry.balanceAfterMinor, currency),
            balanceType: 'interimBooked',
          },
        }
      : {}),
    _links: { transactionDetails: { href: `${accountHref}/transactions/${encodeURIComponent(entry.id)}` } },
  };
}

function routes(state: State): Route[] {
  const spec = optionalPartnerSpec('berlin-group');
  const out: Route[] = [];
  for (const prefix of PREFIXES) {
    const route = (method: string, path: string, handler: Route['handler']) =>
      out.push({ method, path: `${prefix}${path}`, ...(spec ? { spec } : {}), basePath: BASE, handler });

    route('GET', '/v1/accounts', (req) => {
      const a = access(state, req);
      if (isReply(a)) return a;
      const withBalance = req.query.get('withBalance') === 'true';
      return {
        status: 200,
        body: { accounts: a.psu.accounts.map((la) => renderAccount(state, la, prefixOf(req), withBalance, req.now)) },
      };
    });

    route('GET', '/v1/accounts/{account-id}', (req) => {
      const a = access(state, req);
      if (isReply(a)) return a;
      return {
        status: 200,
        body: {
          account: renderAccount(state, a.account!, prefixOf(req), req.query.get('withBalance') === 'true', req.now),
        },
      };
    });

    route('GET', '/v1/accounts/{account-id}/balances', (req) => {
      const a = access(state, req);
      if (isReply(a)) return a;
      const { account } = a.account!;
      return {
        status: 200,
        body: {
          account: { iban: rheinbankIban(state.seed, account.bankAccountId), currency: account.currency },
          balances: renderBalances(state.ledger.get(account.bankAccountId)!, req.now),
        },
      };
    });

    route('GET', '/v1/accounts/{account-id}/transactions', (req) => {
      const a = access(state, req);
      if (isReply(a)) return a;
      for (const unsupported of ['entryReferenceFrom', 'deltaList']) {
        if (req.query.has(unsupported))
          return bgError(400, 'PARAMETER_NOT_SUPPORTED', `${unsupported} is not supported by this ASPSP`, unsupported);
      }
      const { account } = a.account!;
      const ledger = state.ledger.get(account.bankAccountId)!;
      const bookingStatus = req.query.get('bookingStatus') ?? 'booked';
      const dateFrom = req.query.get('dateFrom') ?? isoDate(ledger.windowStart);
      const dateTo = req.query.get('dateTo') ?? isoDate(req.now);
      if (dateFrom > dateTo) return bgError(400, 'PERIOD_INVALID', 'dateFrom is after dateTo', 'dateFrom');
      const itemsPerPage = Math.min(500, Math.max(1, Number(req.query.get('itemsPerPage') ?? state.pageSize)));
      const pageIndex = Number(req.query.get('pageIndex') ?? 0);
      if (!Number.isInteger(pageIndex) || pageIndex < 0)
        return bgError(400, 'FORMAT_ERROR', 'pageIndex must be a non-negative integer', 'pageIndex');

      const wantBooked = bookingStatus === 'booked' || bookingStatus === 'both' || bookingStatus === 'all';
      const wantPending = bookingStatus === 'pending' || bookingStatus === 'both' || bookingStatus === 'all';
      const rows = ledger
        .visible(req.now)
        .filter(({ entry, status }) => {
          if (status === 'booked' ? !wantBooked : !wantPending) return false;
          const date = isoDate(status === 'booked' ? entry.bookingAt : entry.valueAt);
          return date >= dateFrom && date <= dateTo;
        })
        .sort((x, y) => {
          if (x.status !== y.status) return x.status === 'pending' ? -1 : 1;
          const tx = (x.status === 'booked' ? x.entry.bookingAt : x.entry.createdAt).getTime();
          const ty = (y.status === 'booked' ? y.entry.bookingAt : y.entry.createdAt).getTime();
          return ty - tx || (x.entry.id < y.entry.id ? 1 : -1);
        });
      const lastPage = Math.max(0, Math.ceil(rows.length / itemsPerPage) - 1);
      if (pageIndex > lastPage)
        return bgError(
          400,
          'FORMAT_ERROR',
          `pageIndex ${pageIndex} is beyond the last page (${lastPage})`,
          'pageIndex',
        );
      const slice = rows.slice(pageIndex * itemsPerPage, (pageIndex + 1) * itemsPerPage);
      const accountHref = `${prefixOf(req)}/v1/accounts/${encodeURIComponent(account.bankAccountId)}`;
      const page = (n: number) => {
        const q = new URLSearchParams(req.url.search);
        q.set('pageIndex', String(n));
        q.set('itemsPerPage', String(itemsPerPage));
        return { href: `${accountHref}/transactions?${q.toString()}` };
      };
      const render = (status: 'booked' | 'pending') =>
        slice
          .filter((r) => r.status === status)
          .map((r) => renderRheinbankTransaction(r.entry, r.status, account.currency, accountHref));
      return {
        status: 200,
        body: {
          account: { iban: rheinbankIban(state.seed, account.bankAccountId), currency: account.currency },
          transactions: {
            ...(wantBooked ? { booked: render('booked') } : {}),
            ...(wantPending ? { pending: render('pending') } : {}),
            ...(bookingStatus === 'information' || bookingStatus === 'all' ? { information: [] } : {}),
            _links: {
              account: { href: accountHref },
              first: page(0),
              ...(pageIndex > 0 ? { previous: page(pageIndex - 1) } : {}),
              ...(pageIndex < lastPage ? { next: page(pageIndex + 1) } : {}),
              last: page(lastPage),
            },
          },
          ...(req.query.get('withBalance') === 'true' ? { balances: renderBalances(ledger, req.now) } : {}),
        },
      };
    });

    route('GET', '/v1/accounts/{account-id}/transactions/{transactionId}', (req) => {
      const a = access(state, req);
      if (isReply(a)) return a;
      const { account } = a.account!;
      const row = state.ledger
        .get(account.bankAccountId)!
        .visible(req.now)
        .find((r) => r.entry.id === req.params.transactionId);
      if (!row) return bgError(404, 'RESOURCE_UNKNOWN', 'No such transaction on this account', 'transactionId');
      const accountHref = `${prefixOf(req)}/v1/accounts/${encodeURIComponent(account.bankAccountId)}`;
      return {
        status: 200,
        body: { transactionsDetails: renderRheinbankTransaction(row.entry, row.status, account.currency, accountHref) },
      };
    });

    const ownConsent = (req: SandboxRequest): Psu | SandboxReply => {
      const psu = psuOf(state, req);
      if (isReply(psu)) return psu;
      const consentId = req.params.consentId ?? '';
      if (!SANDBOX_CUSTOMERS.some((c) => c.banks.rheinbank?.consentId === consentId))
        return bgError(403, 'CONSENT_UNKNOWN', 'The consent is unknown', 'consentId');
      if (psu.consentId !== consentId)
        return bgError(403, 'CONSENT_UNKNOWN', 'The consent is unknown to this PSU', 'consentId');
      return psu;
    };

    route('GET', '/v1/consents/{consentId}/status', (req) => {
      const psu = ownConsent(req);
      if (isReply(psu)) return psu;
      return { status: 200, body: { consentStatus: state.consentStatus.get(psu.consentId) ?? 'valid' } };
    });

    route('GET', '/v1/consents/{consentId}', (req) => {
      const psu = ownConsent(req);
      if (isReply(psu)) return psu;
      const refs = psu.accounts.map((la) => ({
        iban: rheinbankIban(state.seed, la.account.bankAccountId),
        currency: la.account.currency,
      }));
      const anchor = state.ledger.get(psu.accounts[0]!.account.bankAccountId)!.anchor;
      return {
        status: 200,
        body: {
          access: { accounts: refs, balances: refs, transactions: refs },
          recurringIndicator: true,
          validUntil: isoDate(new Date(anchor.getTime() + 90 * DAY)),
          frequencyPerDay: 4,
          lastActionDate: isoDate(req.now),
          consentStatus: state.consentStatus.get(psu.consentId) ?? 'valid',
          _links: { account: { href: `${prefixOf(req)}/v1/accounts` } },
        },
      };
    });

    route('DELETE', '/v1/consents/{consentId}', (req) => {
      const psu = ownConsent(req);
      if (isReply(psu)) return psu;
      state.consentStatus.set(psu.consentId, 'terminatedByTpp');
      return { status: 204 };
    });
  }
  return out;
}

export async function startRheinbank(options: RheinbankOptions): Promise<RunningRheinbank> {
  const now = options.now ?? systemClock;
  const seed = options.seed ?? SANDBOX_SEED;
  const state: State = {
    seed,
    ledger: createLedgerStore('rheinbank', { seed, anchor: options.anchor ?? now() }),
    pageSize: options.pageSize ?? 100,
    consentStatus: new Map(),
  };
  const server = await startSandboxServer({
    name: 'rheinbank',
    port: options.port,
    ...(options.host ? { host: options.host } : {}),
    logger: options.logger,
    now,
    routes: routes(state),
    dialect: rheinbankDialect,
    ...(options.adminRoutes !== undefined ? { adminRoutes: options.adminRoutes } : {}),
  });
  return {
    ...server,
    ledger: state.ledger,
    basePath: BASE,
    setConsentStatus: (consentId, status) => {
      state.consentStatus.set(consentId, status);
    },
    consentStatus: (consentId) =>
      SANDBOX_CUSTOMERS.some((c) => c.banks.rheinbank?.consentId === consentId)
        ? (state.consentStatus.get(consentId) ?? 'valid')
        : undefined,
  };
}
