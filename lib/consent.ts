import type {
  ConsentPermission as SchemaConsentPermission,
  ConsentStatus as SchemaConsentStatus,
} from './generated/consent-enums.ts';

/**
 * The one meaning of consent, shared by the gateway (gateway/authorization/consents.ts: the
 * caller-level check before execution, the per-object checks, the consented accounts it signs
 * into the principal) and the consents subgraph (subgraphs/consents/domain: effective status,
 * grants). Neither side evaluates a consent any other way, so they cannot disagree.
 *
 * The permission and status lists come from schema/consents.graphql: the tables below are
 * typed `satisfies Record<…>` against the unions `npm run codegen` generates from its enums
 * (lib/generated/consent-enums.ts; test/schema/codegen.test.ts fails when that file is stale),
 * so a value added to or removed from an enum is a type error here until the table follows, and
 * test/lib/consent.test.ts compares the tables with the SDL itself. lib/ imports no subgraph, so
 * the unions are generated here rather than borrowed from the consents subgraph's types.
 *
 * Semantics of `consentGrants(consents, permission, { accountId?, at })`: true when at least one
 * of `consents` (all held by the one client, for the one customer, asking) grants it, where a
 * consent grants a permission when all of these hold:
 * - it is in force at `at`: recorded status AUTHORISED (AWAITING_AUTHORISATION, REJECTED,
 *   REVOKED and EXPIRED never grant anything) and `at` strictly before `expiresAt`, so it stops
 *   granting exactly at its expiry instant whatever any sweep has recorded, and an expiry that
 *   cannot be read grants nothing;
 * - it lists the permission;
 * - for an account-scoped permission (ACCOUNTS, BALANCES, TRANSACTIONS, PAYMENTS_INITIATION):
 *   - with `accountId`: the consent itself covers that account. Permission and account must
 *     come from the same consent: BALANCES on one consent and an account on another grant
 *     nothing together;
 *   - without `accountId` (the property absent): the caller-level question "may this client
 *     reach fields of this permission at all", answered yes only when the consent covers at
 *     least one account, i.e. exactly when the question with some account id would answer yes.
 *     It never authorises an object: every per-object check names the account, and the
 *     subgraphs filter by the accounts of `consentedAccountsOf`. A consent that lists an account
 *     permission but covers no account grants nothing at all;
 *   - an `accountId` property that is present but not a non-empty string (undefined, null, '')
 *     is refused: an object whose account could not be determined never falls back to the
 *     caller-level "some account" answer;
 * - for a customer-scoped permission (IDENTITY): nothing more. It is about the customer, not an
 *   account, so the accounts a consent covers (none, or some for its other permissions) and any
 *   `accountId` asked play no part.
 */

/** What a permission is about: one of the customer's accounts, or the customer. */
export type PermissionScope = 'account' | 'customer';

/** THE permission table: every value of `enum ConsentPermission`, in the schema's order, with its scope. */
const PERMISSION_SCOPES = {
  ACCOUNTS: 'account',
  BALANCES: 'account',
  TRANSACTIONS: 'account',
  PAYMENTS_INITIATION: 'account',
  IDENTITY: 'customer',
} as const satisfies Record<SchemaConsentPermission, PermissionScope>;

export type ConsentPermission = keyof typeof PERMISSION_SCOPES;
/**
 * Permissions granted per account: the customer picks the accounts when authorising, and a per-object check names the
 * account.
 */
export type AccountPermission = {
  [P in ConsentPermission]: (typeof PERMISSION_SCOPES)[P] extends 'account' ? P : never;
}[ConsentPermission];
/** Permissions about the customer rather than an account. */
export type CustomerPermission = Exclude<ConsentPermission, AccountPermission>;

/** Every permission, in the schema's order (the canonical order permissions are stored in). */
export const CONSENT_PERMISSIONS = Object.freeze(Object.keys(PERMISSION_SCOPES)) as readonly [
  ConsentPermission,
  ...ConsentPermission[],
];

export function isConsentPermission(value: unknown): value is ConsentPermission {
  return typeof value === 'string' && Object.hasOwn(PERMISSION_SCOPES, value);
}

export function isAccountPermission(value: unknown): value is AccountPermission {
  return isConsentPermission(value) && PERMISSION_SCOPES[value] === 'account';
}

export function permissionScope(permission: ConsentPermission): PermissionScope {
  return PERMISSION_SCOPES[permission];
}

/** The account-scoped permissions, in the schema's order. */
export const ACCOUNT_PERMISSIONS = Object.freeze(CONSENT_PERMISSIONS.filter(isAccountPermission)) as readonly [
  AccountPermission,
  ...AccountPermission[],
];

/**
 * Every value of `enum ConsentStatus`, and whether a consent recorded in it can grant anything (only AUTHORISED, and
 * only before expiry).
 */
const STATUS_GRANTS = {
  AWAITING_AUTHORISATION: false,
  AUTHORISED: true,
  REJECTED: false,
  REVOKED: false,
  EXPIRED: false,
} as const satisfies Record<SchemaConsentStatus, boolean>;

export type ConsentStatus = keyof typeof STATUS_GRANTS;
/** Every status, in the schema's order. */
export const CONSENT_STATUSES = Object.freeze(Object.keys(STATUS_GRANTS)) as readonly [
  ConsentStatus,
  ...ConsentStatus[],
];

export function isConsentStatus(value: unknown): value is ConsentStatus {
  return typeof value === 'string' && Object.hasOwn(STATUS_GRANTS, value);
}

/** What consent evaluation reads of a consent: the subgraph's model and the gateway's cached copy both have it. */
export interface ConsentFacts {
  /** The recorded status. */
  status: ConsentStatus;
  permissions: readonly ConsentPermission[];
  /** The accounts the customer chose when authorising. */
  accountIds: readonly string[];
  /** A Date (subgraph) or an RFC 3339 string (the gateway's cached copy). */
  expiresAt: Date | string;
}

export interface GrantQuestion {
  /** The instant the question is asked at. */
  at: Date;
  /**
   * The account an account-scoped permission is asked for; leave the property out to ask the caller-level question (see
   * the module comment).
   */
  accountId?: string;
}

function instant(value: Date | string): number {
  return value instanceof Date ? value.getTime() : Date.parse(value);
}

/**
 * The status a consent is in at `at`: AUTHORISED and AWAITING_AUTHORISATION read as EXPIRED from
 * the instant `at >= expiresAt` on (exact to the millisecond, whenever the expiry sweep records
 * it); an unreadable expiry counts as passed. Terminal statuses stay.
 */
export function effectiveStatus(consent: Pick<ConsentFacts, 'status' | 'expiresAt'>, at: Date): ConsentStatus {
  if (consent.status !== 'AUTHORISED' && consent.status !== 'AWAITING_AUTHORISATION') return consent.status;
  const expires = instant(consent.expiresAt);
  const now = at.getTime();
  return Number.isFinite(expires) && Number.isFinite(now) && now < expires ? consent.status : 'EXPIRED';
}

/** True when the consent can grant anything at `at`: AUTHORISED and not past expiry. */
export function consentInForce(consent: Pick<ConsentFacts, 'status' | 'expiresAt'>, at: Date): boolean {
  return STATUS_GRANTS[effectiveStatus(consent, at)];
}

function grantsOne(consent: ConsentFacts, permission: ConsentPermission, question: GrantQuestion): boolean {
  if (!consentInForce(consent, question.at) || !consent.permissions.includes(permission)) return false;
  if (!isAccountPermission(permission)) return true;
  if (!Object.hasOwn(question, 'accountId')) return consent.accountIds.length > 0;
  const { accountId } = question;
  return typeof accountId === 'string' && accountId !== '' && consent.accountIds.includes(accountId);
}

/**
 * Whether `consents` (those one client holds for one customer) grant `permission` at
 * `question.at`, on `question.accountId` when given. Pure, deny by default; the exact meaning is
 * in the module comment.
 */
export function consentGrants(
  consents: readonly ConsentFacts[],
  permission: ConsentPermission,
  question: GrantQuestion,
): boolean {
  if (!isConsentPermission(permission)) return false;
  return consents.some((consent) => grantsOne(consent, permission, question));
}

/**
 * For a third party acting under consent: for each account permission, the accounts some
 * consent in force grants it for. Set only for such a caller (lib/principal.ts); the subgraphs
 * return only objects inside these accounts.
 */
export type ConsentedAccounts = Partial<Record<AccountPermission, string[]>>;

/**
 * For each account permission, the accounts `consentGrants` grants it for at `at` (every
 * permission present, [] when none), in the order the consents list them. Defined through
 * consentGrants, so an account appears here exactly when the per-account question answers yes,
 * and a list is non-empty exactly when the caller-level question answers yes.
 */
export function consentedAccountsOf(
  consents: readonly ConsentFacts[],
  at: Date = new Date(),
): Required<ConsentedAccounts> {
  const candidates = [...new Set(consents.flatMap((c) => c.accountIds))];
  const result = {} as Required<ConsentedAccounts>;
  for (const permission of ACCOUNT_PERMISSIONS) {
    result[permission] = candidates.filter((accountId) => consentGrants(consents, permission, { accountId, at }));
  }
  return result;
}
