import { describe, expect, it } from 'vitest';
import type { GraphQLError } from 'graphql';
import { newId } from '../../lib/ids.ts';
import { CONSENT_STATUSES, type ConsentModel, type ConsentStatus } from '../../subgraphs/consents/domain/model.ts';
import {
  canView,
  consentGrants,
  decideTransition,
  effectiveStatus,
  grantedAccountIds,
  historyOf,
  normaliseAccountIds,
  normalisePermissions,
  resolveExpiry,
  viewerFor,
} from '../../subgraphs/consents/domain/rules.ts';
import { ALICE, BEN, DAY, SECOND, T0, at, principal } from './helpers.ts';

const ACC_1 = newId('acc');
const ACC_2 = newId('acc');

function consent(overrides: Partial<ConsentModel> = {}): ConsentModel {
  return {
    id: newId('cns'),
    customerId: ALICE,
    clientId: 'budgetly',
    status: 'AUTHORISED',
    permissions: ['ACCOUNTS', 'BALANCES', 'TRANSACTIONS'],
    accountIds: [ACC_1],
    createdAt: at(-DAY),
    authorisedAt: at(-DAY + 60 * SECOND),
    rejectedAt: null,
    revokedAt: null,
    expiresAt: at(30 * DAY),
    ...overrides,
  };
}

function codeOf(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return (err as GraphQLError).extensions?.code;
  }
  return 'no error';
}

describe('effective status and expiry', () => {
  const expiresAt = at(10 * SECOND);

  it('an AUTHORISED consent reads as EXPIRED exactly from its expiry instant', () => {
    const c = consent({ expiresAt });
    expect(effectiveStatus(c, at(10 * SECOND - 1))).toBe('AUTHORISED');
    expect(effectiveStatus(c, expiresAt)).toBe('EXPIRED');
    expect(effectiveStatus(c, at(11 * SECOND))).toBe('EXPIRED');
  });

  it('a request left AWAITING_AUTHORISATION past its expiry reads as EXPIRED too', () => {
    expect(
      effectiveStatus(consent({ status: 'AWAITING_AUTHORISATION', authorisedAt: null, expiresAt }), expiresAt),
    ).toBe('EXPIRED');
  });

  it('terminal statuses never change with time', () => {
    for (const status of ['REJECTED', 'REVOKED', 'EXPIRED'] as const) {
      expect(effectiveStatus(consent({ status, expiresAt }), at(DAY))).toBe(status);
    }
  });
});

/**
 * consentGrants is lib/consent.ts's, re-exported by the domain: the full table of cases, run
 * against both the gateway and this subgraph, is test/support/consent-cases.ts. These are the
 * domain's own uses of it.
 */
describe('consentGrants (the domain re-exports lib/consent.ts)', () => {
  const now = T0;

  it('grants a listed permission on a covered account while the consent is in force, and nothing on another account', () => {
    const c = consent();
    expect(consentGrants([c], 'TRANSACTIONS', { accountId: ACC_1, at: now })).toBe(true);
    expect(consentGrants([c], 'BALANCES', { accountId: ACC_1, at: now })).toBe(true);
    expect(consentGrants([c], 'TRANSACTIONS', { accountId: ACC_2, at: now })).toBe(false);
  });

  it('without an account: the caller-level question, never a grant on an account that was not determined', () => {
    expect(consentGrants([consent()], 'ACCOUNTS', { at: now })).toBe(true);
    expect(consentGrants([consent({ accountIds: [] })], 'ACCOUNTS', { at: now })).toBe(false);
    // A present but missing account id is refused, not read as "some account".
    expect(consentGrants([consent()], 'ACCOUNTS', { accountId: undefined, at: now })).toBe(false);
    expect(consentGrants([consent()], 'ACCOUNTS', { accountId: null as unknown as string, at: now })).toBe(false);
    expect(consentGrants([consent()], 'ACCOUNTS', { accountId: '', at: now })).toBe(false);
  });

  it('stops granting at the exact expiry instant, like effectiveStatus', () => {
    const c = consent({ expiresAt: at(5 * SECOND) });
    expect(consentGrants([c], 'TRANSACTIONS', { accountId: ACC_1, at: at(5 * SECOND - 1) })).toBe(true);
    expect(effectiveStatus(c, at(5 * SECOND - 1))).toBe('AUTHORISED');
    expect(consentGrants([c], 'TRANSACTIONS', { accountId: ACC_1, at: at(5 * SECOND) })).toBe(false);
    expect(effectiveStatus(c, at(5 * SECOND))).toBe('EXPIRED');
  });

  it('grantedAccountIds lists the covered accounts only while in force, and none for IDENTITY', () => {
    const c = consent({ permissions: ['BALANCES', 'IDENTITY'], accountIds: [ACC_1, ACC_2] });
    expect(grantedAccountIds(c, 'BALANCES', now)).toEqual([ACC_1, ACC_2]);
    expect(grantedAccountIds(c, 'PAYMENTS_INITIATION', now)).toEqual([]);
    expect(grantedAccountIds(c, 'IDENTITY', now)).toEqual([]);
    expect(grantedAccountIds({ ...c, status: 'REVOKED' }, 'BALANCES', now)).toEqual([]);
  });
});

describe('lifecycle transitions', () => {
  const now = T0;
  const expected: Record<'authorise' | 'reject' | 'revoke', Record<ConsentStatus, string>> = {
    authorise: {
      AWAITING_AUTHORISATION: 'apply:AUTHORISED',
      AUTHORISED: 'refuse',
      REJECTED: 'refuse',
      REVOKED: 'refuse',
      EXPIRED: 'refuse',
    },
    reject: {
      AWAITING_AUTHORISATION: 'apply:REJECTED',
      AUTHORISED: 'refuse',
      REJECTED: 'refuse',
      REVOKED: 'refuse',
      EXPIRED: 'refuse',
    },
    revoke: {
      AWAITING_AUTHORISATION: 'refuse',
      AUTHORISED: 'apply:REVOKED',
      REJECTED: 'refuse',
      REVOKED: 'unchanged',
      EXPIRED: 'refuse',
    },
  };

  for (const [action, byStatus] of Object.entries(expected) as [
    keyof typeof expected,
    Record<ConsentStatus, string>,
  ][]) {
    for (const status of CONSENT_STATUSES) {
      it(`${action} from ${status} → ${byStatus[status]}`, () => {
        const decision = decideTransition(consent({ status }), action, now);
        const summary = decision.kind === 'apply' ? `apply:${decision.to}` : decision.kind;
        expect(summary).toBe(byStatus[status]);
        if (decision.kind === 'apply') expect(decision.from).toBe(status);
      });
    }
  }

  it('refusals explain themselves', () => {
    const revokeRejected = decideTransition(consent({ status: 'REJECTED' }), 'revoke', now);
    expect(revokeRejected.kind === 'refuse' && revokeRejected.message).toMatch(/REJECTED/);
    const revokeAwaiting = decideTransition(consent({ status: 'AWAITING_AUTHORISATION' }), 'revoke', now);
    expect(revokeAwaiting.kind === 'refuse' && revokeAwaiting.message).toMatch(/reject it instead/);
  });

  it('a consent past expiry cannot be authorised, rejected or revoked, even before the sweep records it', () => {
    const due = at(-1);
    expect(
      decideTransition(consent({ status: 'AWAITING_AUTHORISATION', expiresAt: due }), 'authorise', now),
    ).toMatchObject({ kind: 'refuse', message: expect.stringMatching(/expired/) });
    expect(decideTransition(consent({ status: 'AWAITING_AUTHORISATION', expiresAt: due }), 'reject', now).kind).toBe(
      'refuse',
    );
    expect(decideTransition(consent({ status: 'AUTHORISED', expiresAt: due }), 'revoke', now)).toMatchObject({
      kind: 'refuse',
      message: expect.stringMatching(/EXPIRED/),
    });
  });
});

describe('input validation', () => {
  it('permissions: at least one, deduplicated, in canonical order', () => {
    expect(normalisePermissions(['TRANSACTIONS', 'ACCOUNTS', 'TRANSACTIONS'])).toEqual(['ACCOUNTS', 'TRANSACTIONS']);
    expect(codeOf(() => normalisePermissions([]))).toBe('BAD_USER_INPUT');
    expect(codeOf(() => normalisePermissions(['ACCOUNTS', 'EVERYTHING']))).toBe('BAD_USER_INPUT');
  });

  it('expiry: defaults to 90 days, must be in the future and at most 90 days ahead', () => {
    expect(resolveExpiry(undefined, T0)).toEqual(at(90 * DAY));
    expect(resolveExpiry(null, T0)).toEqual(at(90 * DAY));
    expect(resolveExpiry(at(90 * DAY), T0)).toEqual(at(90 * DAY));
    expect(resolveExpiry(at(SECOND), T0)).toEqual(at(SECOND));
    expect(codeOf(() => resolveExpiry(at(90 * DAY + 1), T0))).toBe('BAD_USER_INPUT');
    expect(codeOf(() => resolveExpiry(T0, T0))).toBe('BAD_USER_INPUT');
    expect(codeOf(() => resolveExpiry(at(-DAY), T0))).toBe('BAD_USER_INPUT');
    expect(codeOf(() => resolveExpiry(new Date('nope'), T0))).toBe('BAD_USER_INPUT');
  });

  it('accounts: valid acc_ ids, deduplicated, at least one for account permissions', () => {
    expect(normaliseAccountIds([ACC_2, ACC_1, ACC_2], ['ACCOUNTS'])).toEqual([ACC_1, ACC_2].sort());
    expect(codeOf(() => normaliseAccountIds([], ['ACCOUNTS', 'IDENTITY']))).toBe('BAD_USER_INPUT');
    expect(codeOf(() => normaliseAccountIds(['22289'], ['ACCOUNTS']))).toBe('BAD_USER_INPUT');
    expect(codeOf(() => normaliseAccountIds([newId('txn')], ['ACCOUNTS']))).toBe('BAD_USER_INPUT');
    expect(normaliseAccountIds([], ['IDENTITY'])).toEqual([]);
    expect(codeOf(() => normaliseAccountIds([ACC_1], ['IDENTITY']))).toBe('BAD_USER_INPUT');
  });
});

describe('visibility', () => {
  const c = consent();
  const firstParty = { id: 'web-app', name: 'Web', kind: 'FIRST_PARTY' } as const;
  const budgetly = { id: 'budgetly', name: 'Budgetly', kind: 'THIRD_PARTY' } as const;
  const taxpal = { id: 'taxpal', name: 'TaxPal', kind: 'THIRD_PARTY' } as const;
  const ops = { id: 'ops-console', name: 'Ops', kind: 'STAFF' } as const;

  it('the customer through a first-party app sees their own consents only', () => {
    expect(canView(viewerFor(principal.firstParty(ALICE), firstParty), c)).toBe(true);
    expect(canView(viewerFor(principal.firstParty(BEN), firstParty), c)).toBe(false);
  });

  it('a third-party client sees only the consents granted to it by that customer', () => {
    expect(canView(viewerFor(principal.thirdParty(ALICE, 'budgetly'), budgetly), c)).toBe(true);
    expect(canView(viewerFor(principal.thirdParty(ALICE, 'taxpal'), taxpal), c)).toBe(false);
    expect(canView(viewerFor(principal.thirdParty(BEN, 'budgetly'), budgetly), c)).toBe(false);
  });

  it('staff, machines, unregistered clients and callers without a customer see nothing', () => {
    expect(viewerFor(principal.staff(), ops)).toBeNull();
    expect(viewerFor({ customerId: ALICE, clientId: 'ops-console', scopes: [] }, ops)).toBeNull();
    expect(viewerFor(principal.firstParty(ALICE, 'unknown-app'), null)).toBeNull();
    expect(viewerFor(null, firstParty)).toBeNull();
    expect(viewerFor({ customerId: 'not-a-customer-id', clientId: 'web-app', scopes: [] }, firstParty)).toBeNull();
    // A principal must match the client record it is judged by.
    expect(viewerFor(principal.firstParty(ALICE, 'mobile-app'), firstParty)).toBeNull();
  });
});

describe('history', () => {
  it('appends the expiry as a system event when it has not been recorded yet', () => {
    const c = consent({ expiresAt: at(SECOND) });
    const events = [
      {
        consentId: c.id,
        status: 'AUTHORISED' as const,
        at: at(-DAY + 60 * SECOND),
        actor: `customer:${ALICE}`,
        requestId: 'r2',
      },
      {
        consentId: c.id,
        status: 'AWAITING_AUTHORISATION' as const,
        at: at(-DAY),
        actor: 'client:budgetly',
        requestId: 'r1',
      },
    ];
    expect(historyOf(c, events, T0).map((e) => e.status)).toEqual(['AWAITING_AUTHORISATION', 'AUTHORISED']);
    const later = historyOf(c, events, at(SECOND));
    expect(later.map((e) => [e.status, e.actor])).toEqual([
      ['AWAITING_AUTHORISATION', 'client:budgetly'],
      ['AUTHORISED', `customer:${ALICE}`],
      ['EXPIRED', 'system'],
    ]);
    expect(later[2]!.at).toEqual(at(SECOND));
    // Once the sweep has recorded it, nothing is added twice.
    const recorded = [
      ...events,
      { consentId: c.id, status: 'EXPIRED' as const, at: at(SECOND), actor: 'system', requestId: null },
    ];
    expect(
      historyOf({ ...c, status: 'EXPIRED' }, recorded, at(DAY)).filter((e) => e.status === 'EXPIRED'),
    ).toHaveLength(1);
  });
});
