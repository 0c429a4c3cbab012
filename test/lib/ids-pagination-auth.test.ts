import { describe, expect, it } from 'vitest';
import { jwtVerify, SignJWT } from 'jose';
import { bankAccountId, bankTransactionId, derivedId, isId, newId } from '../../lib/ids.ts';
import { decodeCursor, encodeCursor, pageSize, toConnection } from '../../lib/pagination.ts';
import { contentHash, signInternalContext, verifyInternalContext } from '../../lib/internal-auth.ts';

const SECRET = 'x'.repeat(40);

describe('ids', () => {
  it('are prefixed, opaque and well-formed', () => {
    const id = newId('pay');
    expect(isId(id, 'pay')).toBe(true);
    expect(isId(id, 'acc')).toBe(false);
    expect(newId('pay')).not.toBe(id);
  });

  it('derive stably from partner coordinates without revealing them', () => {
    const a = bankAccountId(SECRET, 'northwind', '22289');
    expect(a).toBe(bankAccountId(SECRET, 'northwind', '22289'));
    expect(a).not.toContain('22289');
    expect(a).not.toBe(bankAccountId(SECRET, 'rheinbank', '22289'));
    expect(a).not.toBe(bankAccountId('y'.repeat(40), 'northwind', '22289'));
    expect(isId(bankTransactionId(SECRET, 'northwind', '22289', 't1'), 'txn')).toBe(true);
    // Coordinates are separated unambiguously: ("ab","c") differs from ("a","bc").
    expect(derivedId('acc', SECRET, 'ab', 'c')).not.toBe(derivedId('acc', SECRET, 'a', 'bc'));
  });
});

describe('pagination', () => {
  it('enforces the maximum page size', () => {
    expect(pageSize(undefined)).toBe(20);
    expect(pageSize(100)).toBe(100);
    expect(() => pageSize(101)).toThrow(/between 0 and 100/);
    expect(() => pageSize(-1)).toThrow();
  });

  it('round-trips cursors and rejects forged ones with BAD_USER_INPUT', () => {
    const c = encodeCursor({ at: '2026-01-01', id: 'x' });
    expect(decodeCursor(c, ['at', 'id'])).toEqual({ at: '2026-01-01', id: 'x' });
    expect(decodeCursor(null, ['at'])).toBeNull();
    try {
      decodeCursor('not-a-cursor', ['at', 'id']);
      expect.unreachable();
    } catch (err) {
      expect((err as { extensions: { code: string } }).extensions.code).toBe('BAD_USER_INPUT');
    }
  });

  it('builds connections with hasNextPage from one extra item', () => {
    const conn = toConnection([1, 2, 3], 2, (n) => String(n));
    expect(conn.edges.map((e) => e.node)).toEqual([1, 2]);
    expect(conn.pageInfo).toEqual({ hasNextPage: true, endCursor: '2' });
    expect(toConnection([], 2, String).pageInfo).toEqual({ hasNextPage: false, endCursor: null });
  });
});

describe('internal auth (gateway to subgraph)', () => {
  const principal = { customerId: 'cus_abc', clientId: 'web-app', scopes: ['accounts:read'] };
  const BODY = '{"query":"{ me { id } }"}';
  /** A gateway-shaped token with hand-made claims, for what signInternalContext would never produce. */
  const handMade = (claims: Record<string, unknown>, times: { iat?: number; exp?: number | string } = {}) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256', typ: 'internal+jwt' })
      .setIssuer('gateway')
      .setAudience('subgraph:accounts')
      .setIssuedAt(times.iat)
      .setExpirationTime(times.exp ?? '30s')
      .sign(new TextEncoder().encode(SECRET));

  it('carries the principal and request id for the intended subgraph only', async () => {
    const token = await signInternalContext(SECRET, 'accounts', principal, 'req-1', BODY);
    await expect(verifyInternalContext(token, 'accounts', [SECRET], BODY)).resolves.toEqual({
      principal,
      requestId: 'req-1',
    });
    await expect(verifyInternalContext(token, 'payments', [SECRET], BODY)).rejects.toThrow(/invalid internal auth/);
  });

  it('is a standard HS256 JWS any JOSE library verifies (signed with node:crypto, not jose), valid 60 s', async () => {
    const token = await signInternalContext(SECRET, 'accounts', principal, 'req-1', BODY);
    const { payload, protectedHeader } = await jwtVerify(token, new TextEncoder().encode(SECRET), {
      algorithms: ['HS256'],
      issuer: 'gateway',
      audience: 'subgraph:accounts',
      typ: 'internal+jwt',
    });
    expect(protectedHeader).toEqual({ alg: 'HS256', typ: 'internal+jwt' });
    expect(payload).toMatchObject({ principal, rid: 'req-1', bh: contentHash(BODY) });
    expect(payload.exp! - payload.iat!).toBe(60);
    expect(Math.abs(payload.iat! - Date.now() / 1000)).toBeLessThan(5);
  });

  it('refuses missing, forged and expired tokens, and accepts the previous secret during rotation', async () => {
    await expect(verifyInternalContext(undefined, 'accounts', [SECRET], BODY)).rejects.toThrow(/missing/);
    const forged = await signInternalContext('z'.repeat(40), 'accounts', principal, 'r', BODY);
    await expect(verifyInternalContext(forged, 'accounts', [SECRET], BODY)).rejects.toThrow();
    await expect(verifyInternalContext(forged, 'accounts', [SECRET, 'z'.repeat(40)], BODY)).resolves.toMatchObject({
      principal,
    });
    const expired = await handMade(
      { principal, rid: 'r', bh: contentHash(BODY) },
      { iat: Math.floor(Date.now() / 1000) - 600, exp: Math.floor(Date.now() / 1000) - 540 },
    );
    await expect(verifyInternalContext(expired, 'accounts', [SECRET], BODY)).rejects.toThrow();
  });

  it("carries a third party's consented accounts, and refuses a malformed consent scope", async () => {
    const thirdParty = {
      ...principal,
      clientId: 'budgetly',
      consentedAccounts: { PAYMENTS_INITIATION: ['acc_x'], TRANSACTIONS: [] },
    };
    const token = await signInternalContext(SECRET, 'payments', thirdParty, 'r', BODY);
    await expect(verifyInternalContext(token, 'payments', [SECRET], BODY)).resolves.toEqual({
      principal: thirdParty,
      requestId: 'r',
    });
    const bad = await signInternalContext(
      SECRET,
      'payments',
      { ...principal, consentedAccounts: { EVERYTHING: ['acc_x'] } } as never,
      'r',
      BODY,
    );
    await expect(verifyInternalContext(bad, 'payments', [SECRET], BODY)).rejects.toThrow(/malformed principal/);
  });

  it('covers exactly one request content: the same token with another body, or without a content hash, is refused', async () => {
    const token = await signInternalContext(SECRET, 'accounts', principal, 'r', BODY);
    await expect(verifyInternalContext(token, 'accounts', [SECRET], BODY)).resolves.toMatchObject({ principal });
    await expect(
      verifyInternalContext(token, 'accounts', [SECRET], '{"query":"{ me { id accounts { id } } }"}'),
    ).rejects.toThrow(/another request body/);
    await expect(verifyInternalContext(token, 'accounts', [SECRET], `${BODY} `)).rejects.toThrow(
      /another request body/,
    );
    await expect(verifyInternalContext(token, 'accounts', [SECRET], '')).rejects.toThrow(/another request body/);
    const unbound = await handMade({ principal, rid: 'r' });
    await expect(verifyInternalContext(unbound, 'accounts', [SECRET], BODY)).rejects.toThrow(/another request body/);
  });

  it('refuses a token whose principal is malformed', async () => {
    const bad = await handMade({ principal: { clientId: 5 }, rid: 'r', bh: contentHash(BODY) });
    await expect(verifyInternalContext(bad, 'accounts', [SECRET], BODY)).rejects.toThrow(/malformed principal/);
  });
});
