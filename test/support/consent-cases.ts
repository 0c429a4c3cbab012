import { derivedId, newId } from '../../lib/ids.ts';
import { CONSENT_PERMISSIONS, type ConsentPermission, type ConsentStatus } from '../../lib/consent.ts';
import type { ConsentEventModel, ConsentModel } from '../../subgraphs/consents/domain/model.ts';

/**
 * ONE table of consent cases, with ONE set of expected answers, run against every place that
 * decides what a consent grants:
 * - test/lib/consent.test.ts: lib/consent.ts `consentGrants` and `consentedAccountsOf` directly;
 * - test/gateway/consents-lookup.test.ts: the gateway's side, `createConsentLookup(...).forRequest()`
 *   (`grants`, `active`) fed by `consentsSubgraphFetcher` from a real consents subgraph holding the
 *   case's consents, and the engine's caller-level check (`callerDenial`);
 * - test/consents/consent-cases.test.ts: the consents subgraph's side, its storage and domain
 *   (`service.activeConsents`, the third party's `reader.customerConsents(AUTHORISED)`) with the
 *   domain's `consentGrants` and `grantedAccountIds`, on PGlite and PostgreSQL.
 *
 * Every case is asked the full grid: each permission without an account and on each of A1, A2, A3.
 * `grants` lists, by hand, every question of the grid that must answer yes; every other question
 * must answer no. The caller is always budgetly acting for the case's customer; each runner gives
 * every case a customer of its own.
 */

export const ACCOUNT_NAMES = ['A1', 'A2', 'A3'] as const;
export type AccountName = (typeof ACCOUNT_NAMES)[number];

/** The asking client. */
export const CASE_CLIENT = 'budgetly';

/** A question of the grid: `PERMISSION` (no account: the caller-level question) or `PERMISSION ACCOUNT`. */
export type Question = ConsentPermission | `${ConsentPermission} ${AccountName}`;

export interface CaseConsent {
  /** The client holding it; budgetly (the asking client) unless said. */
  client?: 'budgetly' | 'taxpal';
  status: ConsentStatus;
  permissions: ConsentPermission[];
  accounts: AccountName[];
  /** Expiry, in ms after CASE_T0. */
  expiresIn: number;
}

export interface ConsentCase {
  name: string;
  consents: CaseConsent[];
  /** When the questions are asked, in ms after CASE_T0 (default: one second). */
  at?: number;
  /** Every question of the grid that answers yes; all others answer no. */
  grants: Question[];
}

export const CASE_T0 = new Date('2026-11-23T10:00:00.000Z');
const SECOND = 1000;
const DAY = 24 * 60 * 60 * SECOND;
const IN_FORCE = 30 * DAY;

/** Every question about one account permission granted on `accounts`, with and without naming an account. */
const on = (permission: ConsentPermission, ...accounts: AccountName[]): Question[] => [
  permission,
  ...accounts.map((a): Question => `${permission} ${a}`),
];
/** IDENTITY is about the customer: granted, it answers yes with or without any account. */
const IDENTITY_GRANTED: Question[] = on('IDENTITY', ...ACCOUNT_NAMES);

export const CONSENT_CASES: ConsentCase[] = [
  {
    name: 'no consent at all',
    consents: [],
    grants: [],
  },
  {
    name: 'AUTHORISED: the listed permissions on the covered account; no other account, no other permission',
    consents: [
      {
        status: 'AUTHORISED',
        permissions: ['ACCOUNTS', 'BALANCES', 'TRANSACTIONS'],
        accounts: ['A1'],
        expiresIn: IN_FORCE,
      },
    ],
    grants: [...on('ACCOUNTS', 'A1'), ...on('BALANCES', 'A1'), ...on('TRANSACTIONS', 'A1')],
  },
  {
    name: 'AUTHORISED on two accounts, PAYMENTS_INITIATION only',
    consents: [
      { status: 'AUTHORISED', permissions: ['PAYMENTS_INITIATION'], accounts: ['A1', 'A3'], expiresIn: IN_FORCE },
    ],
    grants: on('PAYMENTS_INITIATION', 'A1', 'A3'),
  },
  {
    name: 'one millisecond before expiresAt: still in force',
    consents: [
      { status: 'AUTHORISED', permissions: ['ACCOUNTS', 'IDENTITY'], accounts: ['A1'], expiresIn: 5 * SECOND },
    ],
    at: 5 * SECOND - 1,
    grants: [...on('ACCOUNTS', 'A1'), ...IDENTITY_GRANTED],
  },
  {
    name: 'exactly at expiresAt, recorded AUTHORISED (the sweep has not run): expired, nothing',
    consents: [
      { status: 'AUTHORISED', permissions: ['ACCOUNTS', 'IDENTITY'], accounts: ['A1'], expiresIn: 5 * SECOND },
    ],
    at: 5 * SECOND,
    grants: [],
  },
  {
    name: 'recorded EXPIRED: nothing',
    consents: [{ status: 'EXPIRED', permissions: ['ACCOUNTS', 'BALANCES'], accounts: ['A1'], expiresIn: -DAY }],
    grants: [],
  },
  {
    name: 'REVOKED: nothing',
    consents: [
      {
        status: 'REVOKED',
        permissions: ['ACCOUNTS', 'TRANSACTIONS', 'IDENTITY'],
        accounts: ['A1', 'A2'],
        expiresIn: IN_FORCE,
      },
    ],
    grants: [],
  },
  {
    name: 'REJECTED: nothing',
    consents: [{ status: 'REJECTED', permissions: ['ACCOUNTS', 'IDENTITY'], accounts: [], expiresIn: IN_FORCE }],
    grants: [],
  },
  {
    name: 'AWAITING_AUTHORISATION: nothing, even with accounts recorded on it',
    consents: [
      {
        status: 'AWAITING_AUTHORISATION',
        permissions: ['ACCOUNTS', 'IDENTITY'],
        accounts: ['A1'],
        expiresIn: IN_FORCE,
      },
    ],
    grants: [],
  },
  {
    name: "another client's consent grants the asking client nothing",
    consents: [
      {
        client: 'taxpal',
        status: 'AUTHORISED',
        permissions: ['ACCOUNTS', 'TRANSACTIONS', 'IDENTITY'],
        accounts: ['A1', 'A2'],
        expiresIn: IN_FORCE,
      },
    ],
    grants: [],
  },
  {
    name: "the asking client's own consent counts, another client's does not",
    consents: [
      { status: 'AUTHORISED', permissions: ['ACCOUNTS'], accounts: ['A1'], expiresIn: IN_FORCE },
      {
        client: 'taxpal',
        status: 'AUTHORISED',
        permissions: ['BALANCES', 'IDENTITY'],
        accounts: ['A1', 'A2'],
        expiresIn: IN_FORCE,
      },
    ],
    grants: on('ACCOUNTS', 'A1'),
  },
  {
    name: 'multiple consents: permission and account must come from the same consent; a revoked one adds nothing',
    consents: [
      { status: 'AUTHORISED', permissions: ['ACCOUNTS'], accounts: ['A1'], expiresIn: IN_FORCE },
      { status: 'AUTHORISED', permissions: ['BALANCES'], accounts: ['A2'], expiresIn: IN_FORCE },
      {
        status: 'REVOKED',
        permissions: ['TRANSACTIONS', 'IDENTITY'],
        accounts: ['A1', 'A2', 'A3'],
        expiresIn: IN_FORCE,
      },
    ],
    grants: [...on('ACCOUNTS', 'A1'), ...on('BALANCES', 'A2')],
  },
  {
    name: 'multiple consents for one permission: the union of their accounts, minus the expired one',
    consents: [
      { status: 'AUTHORISED', permissions: ['TRANSACTIONS'], accounts: ['A1'], expiresIn: 10 * SECOND },
      { status: 'AUTHORISED', permissions: ['TRANSACTIONS'], accounts: ['A2'], expiresIn: IN_FORCE },
      { status: 'AUTHORISED', permissions: ['TRANSACTIONS', 'BALANCES'], accounts: ['A3'], expiresIn: IN_FORCE },
    ],
    at: 10 * SECOND,
    grants: [...on('TRANSACTIONS', 'A2', 'A3'), ...on('BALANCES', 'A3')],
  },
  {
    name: 'an account permission with empty accounts grants nothing, not even the caller-level question',
    consents: [{ status: 'AUTHORISED', permissions: ['ACCOUNTS', 'BALANCES'], accounts: [], expiresIn: IN_FORCE }],
    grants: [],
  },
  {
    name: 'IDENTITY without accounts: the customer-scoped permission, whatever account is named',
    consents: [{ status: 'AUTHORISED', permissions: ['IDENTITY'], accounts: [], expiresIn: IN_FORCE }],
    grants: IDENTITY_GRANTED,
  },
  {
    name: 'IDENTITY with accounts: IDENTITY whatever account is named; the account permission only on its accounts',
    consents: [
      { status: 'AUTHORISED', permissions: ['IDENTITY', 'TRANSACTIONS'], accounts: ['A1'], expiresIn: IN_FORCE },
    ],
    grants: [...IDENTITY_GRANTED, ...on('TRANSACTIONS', 'A1')],
  },
  {
    name: 'IDENTITY not listed: accounts covered for other permissions do not grant it',
    consents: [
      {
        status: 'AUTHORISED',
        permissions: ['ACCOUNTS', 'BALANCES', 'TRANSACTIONS', 'PAYMENTS_INITIATION'],
        accounts: ['A2'],
        expiresIn: IN_FORCE,
      },
    ],
    grants: [
      ...on('ACCOUNTS', 'A2'),
      ...on('BALANCES', 'A2'),
      ...on('TRANSACTIONS', 'A2'),
      ...on('PAYMENTS_INITIATION', 'A2'),
    ],
  },
];

/** The stable acc_ id of a case account. */
export function caseAccountId(name: AccountName): string {
  return derivedId('acc', 'consent-cases', name);
}

export interface GridQuestion {
  question: Question;
  permission: ConsentPermission;
  /** Absent for the caller-level question. */
  accountId?: string;
  expected: boolean;
}

/** The full grid of a case: every permission without an account and on each case account, with the expected answer. */
export function gridOf(consentCase: ConsentCase): GridQuestion[] {
  const yes = new Set<Question>(consentCase.grants);
  return CONSENT_PERMISSIONS.flatMap((permission) => [
    { question: permission, permission, expected: yes.has(permission) },
    ...ACCOUNT_NAMES.map((name): GridQuestion => {
      const question: Question = `${permission} ${name}`;
      return { question, permission, accountId: caseAccountId(name), expected: yes.has(question) };
    }),
  ]);
}

/** The instant a case's questions are asked at. */
export function caseAt(consentCase: ConsentCase): Date {
  return new Date(CASE_T0.getTime() + (consentCase.at ?? SECOND));
}

/**
 * The case's consents as the consents subgraph stores them, for `customerId`, with the
 * timestamps each status requires (the table's CHECK constraints), and each one's first event.
 */
export function storedConsents(
  consentCase: ConsentCase,
  customerId: string,
): { consent: ConsentModel; event: ConsentEventModel }[] {
  const createdAt = new Date(CASE_T0.getTime() - 2 * DAY);
  const decidedAt = new Date(createdAt.getTime() + 60 * SECOND);
  return consentCase.consents.map((c) => {
    const consent: ConsentModel = {
      id: newId('cns'),
      customerId,
      clientId: c.client ?? CASE_CLIENT,
      status: c.status,
      permissions: CONSENT_PERMISSIONS.filter((p) => c.permissions.includes(p)),
      accountIds: c.accounts.map(caseAccountId).sort(),
      createdAt,
      expiresAt: new Date(CASE_T0.getTime() + c.expiresIn),
      authorisedAt: ['AUTHORISED', 'REVOKED', 'EXPIRED'].includes(c.status) ? decidedAt : null,
      rejectedAt: c.status === 'REJECTED' ? decidedAt : null,
      revokedAt: c.status === 'REVOKED' ? new Date(decidedAt.getTime() + 60 * SECOND) : null,
    };
    return {
      consent,
      event: {
        consentId: consent.id,
        status: 'AWAITING_AUTHORISATION',
        at: createdAt,
        actor: `client:${consent.clientId}`,
        requestId: 'req-consent-cases',
      },
    };
  });
}
