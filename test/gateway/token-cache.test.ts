import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuthenticator, type Authenticator } from '../../gateway/authentication.ts';
import { ALICE, AUDIENCE, ISSUER, startLocalJwks, type LocalJwks } from './helpers.ts';

/**
 * The verified-token cache of gateway/authentication.ts: a token verified once is not verified
 * again for every request, but the cache never outlives the token's own validity, never turns a
 * refusal into an acceptance, and never skips what depends on the request (scheme, DPoP proof).
 * Requests from different callers overlap, so the cache is also checked not to mix principals.
 */
let jwks: LocalJwks;
let clock: Date;
let auth: Authenticator;

beforeAll(async () => {
  jwks = await startLocalJwks();
  clock = new Date();
  auth = createAuthenticator({ issuer: ISSUER, audience: AUDIENCE, jwksUrl: jwks.url, now: () => clock });
});

afterAll(async () => {
  await jwks?.close();
});

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe('verified-token cache', () => {
  it('never accepts a token at or after its exp, however recently it was verified', async () => {
    const iat = Math.floor(clock.getTime() / 1000);
    const token = await jwks.sign({}, { iat, expiresIn: iat + 60 });
    clock = new Date((iat + 30) * 1000);
    expect(await auth.authenticate(bearer(token))).toMatchObject({ kind: 'authenticated' });
    expect(await auth.authenticate(bearer(token))).toMatchObject({ kind: 'authenticated' });
    // Within the clock tolerance jose would still accept it; the cache does not decide that alone,
    // and past the tolerance the token is refused.
    clock = new Date((iat + 60 + 6) * 1000);
    expect(await auth.authenticate(bearer(token))).toMatchObject({ kind: 'invalid', error: 'invalid_token' });
    clock = new Date();
  });

  it('refuses a tampered copy of a verified token (the cache is keyed by the whole token)', async () => {
    const token = await jwks.sign();
    expect(await auth.authenticate(bearer(token))).toMatchObject({ kind: 'authenticated' });
    const [h, p, s] = token.split('.') as [string, string, string];
    const forgedClaims = Buffer.from(
      JSON.stringify({ ...JSON.parse(Buffer.from(p, 'base64url').toString()), sub: 'cus_mallory' }),
    ).toString('base64url');
    expect(await auth.authenticate(bearer(`${h}.${forgedClaims}.${s}`))).toMatchObject({ kind: 'invalid' });
    const flipped = `${h}.${p}.${s.slice(0, -2)}${s.endsWith('AA') ? 'BB' : 'AA'}`;
    expect(await auth.authenticate(bearer(flipped))).toMatchObject({ kind: 'invalid' });
  });

  it('still checks the scheme and the DPoP proof on every request of a DPoP-bound token', async () => {
    const token = await jwks.sign({ cnf: { jkt: 'some-key-thumbprint' } });
    const first = await auth.authenticate(
      { authorization: `DPoP ${token}` },
      { method: 'POST', url: 'http://g/graphql' },
    );
    // Verified (and so cached), but refused: no DPoP verifier, no proof.
    expect(first).toMatchObject({ kind: 'invalid', error: 'invalid_dpop_proof' });
    expect(await auth.authenticate(bearer(token))).toMatchObject({
      kind: 'invalid',
      reason: 'DPoP-bound token presented as a bearer token',
    });
  });

  it('gives every caller its own principal when their requests overlap', async () => {
    const customers = ['cus_aaaaaaaaaaaaaaaaaaaaaaaaaa', 'cus_bbbbbbbbbbbbbbbbbbbbbbbbbb', ALICE];
    const tokens = await Promise.all(customers.map((sub) => jwks.sign({ sub })));
    const results = await Promise.all(
      Array.from({ length: 60 }, (_, i) => auth.authenticate(bearer(tokens[i % 3]!)).then((r) => [i % 3, r] as const)),
    );
    for (const [who, result] of results)
      expect(result).toMatchObject({ kind: 'authenticated', principal: { customerId: customers[who] } });
  });

  it('can be switched off', async () => {
    const uncached = createAuthenticator({
      issuer: ISSUER,
      audience: AUDIENCE,
      jwksUrl: jwks.url,
      verifiedTokenCache: false,
    });
    const token = await jwks.sign();
    expect(await uncached.authenticate(bearer(token))).toMatchObject({ kind: 'authenticated' });
    expect(await uncached.authenticate(bearer(token))).toMatchObject({ kind: 'authenticated' });
  });
});
