import { readFileSync } from 'node:fs';
import { Kind, parse, type EnumTypeDefinitionNode } from 'graphql';
import { describe, expect, it } from 'vitest';
import {
  ACCOUNT_PERMISSIONS,
  CONSENT_PERMISSIONS,
  CONSENT_STATUSES,
  consentedAccountsOf,
  consentGrants,
  consentInForce,
  effectiveStatus,
  isAccountPermission,
  isConsentPermission,
  permissionScope,
  type ConsentFacts,
  type ConsentPermission,
} from '../../lib/consent.ts';
import { newId } from '../../lib/ids.ts';
import {
  ACCOUNT_NAMES,
  CASE_CLIENT,
  CONSENT_CASES,
  caseAccountId,
  caseAt,
  gridOf,
  storedConsents,
} from '../support/consent-cases.ts';

/** The values of `enum <name>` in schema/consents.graphql, in declaration order. */
function schemaEnum(name: string): string[] {
  const document = parse(readFileSync(new URL('../../schema/consents.graphql', import.meta.url), 'utf8'));
  const node = document.definitions.find(
    (d): d is EnumTypeDefinitionNode => d.kind === Kind.ENUM_TYPE_DEFINITION && d.name.value === name,
  );
  if (!node) throw new Error(`schema/consents.graphql has no enum ${name}`);
  return (node.values ?? []).map((v) => v.name.value);
}

describe('the permission list is the schema enum', () => {
  it('CONSENT_PERMISSIONS is exactly enum ConsentPermission of schema/consents.graphql, in its order', () => {
    expect([...CONSENT_PERMISSIONS]).toEqual(schemaEnum('ConsentPermission'));
  });

  it('CONSENT_STATUSES is exactly enum ConsentStatus, in its order', () => {
    expect([...CONSENT_STATUSES]).toEqual(schemaEnum('ConsentStatus'));
  });

  it('one table decides the scope: the four account permissions and IDENTITY about the customer', () => {
    expect([...ACCOUNT_PERMISSIONS]).toEqual(['ACCOUNTS', 'BALANCES', 'TRANSACTIONS', 'PAYMENTS_INITIATION']);
    expect(CONSENT_PERMISSIONS.filter((p) => !isAccountPermission(p))).toEqual(['IDENTITY']);
    expect(CONSENT_PERMISSIONS.map(permissionScope)).toEqual(['account', 'account', 'account', 'account', 'customer']);
    expect(Object.isFrozen(CONSENT_PERMISSIONS)).toBe(true);
    for (const junk of ['EVERYTHING', 'accounts', 'toString', '__proto__', '', null, 1]) {
      expect(isConsentPermission(junk), String(junk)).toBe(false);
      expect(isAccountPermission(junk), String(junk)).toBe(false);
    }
  });
});

/**
 * The case's consents as lib/consent.ts receives them: those the asking client holds (what both sides' lookups return).
 */
function heldByCaller(consentCase: (typeof CONSENT_CASES)[number]): ConsentFacts[] {
  return storedConsents(consentCase, newId('cus'))
    .map((s) => s.consent)
    .filter((c) => c.clientId === CASE_CLIENT);
}

describe('the shared table of consent cases, against lib/consent.ts', () => {
  it('has the cases the semantics must cover', () => {
    const names = CONSENT_CASES.map((c) => c.name).join('\n');
    const kinds = [
      /expir/i,
      /REVOKED/,
      /REJECTED/,
      /AWAITING/,
      /another client/,
      /multiple/,
      /empty accounts/,
      /IDENTITY without accounts/,
      /IDENTITY with accounts/,
    ];
    for (const kind of kinds) expect(names).toMatch(kind);
  });

  describe.each(CONSENT_CASES)('$name', (consentCase) => {
    const consents = heldByCaller(consentCase);
    const at = caseAt(consentCase);

    it('answers every question of the grid as the table says', () => {
      const answers = gridOf(consentCase).map((q) => [
        q.question,
        consentGrants(consents, q.permission, q.accountId === undefined ? { at } : { accountId: q.accountId, at }),
      ]);
      expect(answers).toEqual(gridOf(consentCase).map((q) => [q.question, q.expected]));
    });

    it('consentedAccountsOf lists, per account permission, exactly the accounts the table grants; non-empty exactly when the caller-level question answers yes', () => {
      const accounts = consentedAccountsOf(consents, at);
      const grid = gridOf(consentCase);
      for (const permission of ACCOUNT_PERMISSIONS) {
        const expected = grid
          .filter((q) => q.permission === permission && q.accountId !== undefined && q.expected)
          .map((q) => q.accountId);
        expect([...accounts[permission]].sort(), permission).toEqual(expected.sort());
        expect(accounts[permission].length > 0, permission).toBe(grid.find((q) => q.question === permission)!.expected);
      }
      expect(Object.keys(accounts).sort()).toEqual([...ACCOUNT_PERMISSIONS].sort());
    });
  });
});

describe('consentGrants: what the table cannot show', () => {
  const at = new Date('2026-11-23T10:00:00.000Z');
  const A1 = caseAccountId('A1');
  const authorised: ConsentFacts = {
    status: 'AUTHORISED',
    permissions: ['ACCOUNTS', 'IDENTITY'],
    accountIds: [A1],
    expiresAt: '2026-12-01T00:00:00.000Z',
  };

  it('an account id property that is present but not an id is refused, never read as the caller-level question', () => {
    expect(consentGrants([authorised], 'ACCOUNTS', { at })).toBe(true);
    expect(consentGrants([authorised], 'ACCOUNTS', { accountId: A1, at })).toBe(true);
    for (const missing of [undefined, null, '', 0]) {
      expect(
        consentGrants([authorised], 'ACCOUNTS', { accountId: missing as unknown as string, at }),
        String(missing),
      ).toBe(false);
    }
  });

  it('a permission that is not in the schema grants nothing, even when a consent somehow lists it', () => {
    const odd = { ...authorised, permissions: ['EVERYTHING' as ConsentPermission] };
    expect(consentGrants([odd], 'EVERYTHING' as ConsentPermission, { at })).toBe(false);
    expect(consentGrants([authorised], 'toString' as ConsentPermission, { at })).toBe(false);
  });

  it('expiry is exact, read from a Date or an RFC 3339 string alike; an unreadable expiry or instant is expired', () => {
    const expiresAt = new Date('2026-11-23T10:00:05.000Z');
    for (const form of [expiresAt, expiresAt.toISOString(), '2026-11-23T11:00:05.000+01:00']) {
      const c = { ...authorised, expiresAt: form };
      expect(consentInForce(c, new Date(expiresAt.getTime() - 1)), String(form)).toBe(true);
      expect(consentInForce(c, expiresAt), String(form)).toBe(false);
      expect(effectiveStatus(c, expiresAt)).toBe('EXPIRED');
    }
    expect(consentInForce({ ...authorised, expiresAt: 'next week' }, at)).toBe(false);
    expect(consentInForce(authorised, new Date(Number.NaN))).toBe(false);
    expect(effectiveStatus({ ...authorised, status: 'AWAITING_AUTHORISATION', expiresAt: 'soon' }, at)).toBe('EXPIRED');
  });

  it('only AUTHORISED grants; terminal statuses stay what they are whatever the instant', () => {
    for (const status of CONSENT_STATUSES) {
      expect(consentGrants([{ ...authorised, status }], 'ACCOUNTS', { accountId: A1, at }), status).toBe(
        status === 'AUTHORISED',
      );
    }
    for (const status of ['REJECTED', 'REVOKED', 'EXPIRED'] as const)
      expect(effectiveStatus({ ...authorised, status, expiresAt: '2020-01-01T00:00:00Z' }, at)).toBe(status);
  });

  it('consentedAccountsOf keeps each account once, in the order the consents list them', () => {
    const [A2, A3] = [caseAccountId('A2'), caseAccountId('A3')];
    const consents: ConsentFacts[] = [
      { ...authorised, permissions: ['BALANCES'], accountIds: [A3, A1] },
      { ...authorised, permissions: ['BALANCES', 'ACCOUNTS'], accountIds: [A1, A2] },
    ];
    expect(consentedAccountsOf(consents, at)).toEqual({
      ACCOUNTS: [A1, A2],
      BALANCES: [A3, A1, A2],
      TRANSACTIONS: [],
      PAYMENTS_INITIATION: [],
    });
    expect(ACCOUNT_NAMES).toHaveLength(3);
  });
});
