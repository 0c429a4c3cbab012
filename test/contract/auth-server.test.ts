import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SANDBOX_CLIENTS, SANDBOX_CUSTOMERS } from '../../sandboxes/manifest.ts';
import {
  startAuthServer,
  generateSigningKey,
  signAccessToken,
  DEFAULT_AUDIENCE,
  type RunningAuthServer,
} from '../../sandboxes/auth-server.ts';
import { createTestClock } from '../../sandboxes/lib/clock.ts';
import { readJson as json, silentLogger, T0 } from './helpers.ts';

const clock = createTestClock(T0);
let auth: RunningAuthServer;
const alice = SANDBOX_CUSTOMERS[0]!.customerId;
const client = (id: string) => SANDBOX_CLIENTS.find((c) => c.clientId === id)!;

beforeAll(async () => {
  auth = await startAuthServer({ port: 0, logger: silentLogger, now: clock.now });
});
afterAll(async () => {
  await auth.close();
});

async function verify(token: string, options: { audience?: string; issuer?: string } = {}): Promise<JWTPayload> {
  const jwks = (await json(await fetch(`${auth.url}/jwks.json`))) as { keys: [] };
  const { payload } = await jwtVerify(token, createLocalJWKSet(jwks), {
    issuer: options.issuer ?? auth.issuer,
    audience: options.audience ?? DEFAULT_AUDIENCE,
    currentDate: clock.now(),
    typ: 'at+jwt',
    algorithms: ['ES256'],
  });
  return payload;
}

const postForm = (path: string, form: Record<string, string>, headers: Record<string, string> = {}) =>
  fetch(`${auth.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(form).toString(),
  });
const postJson = (path: string, body: unknown) =>
  fetch(`${auth.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;

describe('metadata and keys', () => {
  it('publishes RFC 8414 / OIDC discovery metadata based on the issuer', async () => {
    for (const path of ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration']) {
      const meta = await json(await fetch(`${auth.url}${path}`));
      expect(meta).toMatchObject({
        issuer: auth.url,
        token_endpoint: `${auth.url}/token`,
        jwks_uri: `${auth.url}/jwks.json`,
        grant_types_supported: ['client_credentials'],
      });
      expect(meta.scopes_supported).toContain('audit:read');
    }
  });

  it('publishes an ES256 public key with kid', async () => {
    const jwks = await json(await fetch(`${auth.url}/jwks.json`));
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).toMatchObject({
      kty: 'EC',
      crv: 'P-256',
      alg: 'ES256',
      use: 'sig',
      kid: auth.signingKey().kid,
    });
    expect(jwks.keys[0].d).toBeUndefined();
  });
});

describe('POST /sandbox/tokens (customer tokens)', () => {
  it('mints an RFC 9068 access token for a customer and client', async () => {
    const res = await postJson('/sandbox/tokens', {
      customerId: alice,
      clientId: 'budgetly',
      scopes: ['accounts:read', 'transactions:read'],
    });
    expect(res.status).toBe(200);
    const body = await json(res);
    expect(body).toMatchObject({
      token_type: 'Bearer',
      expires_in: 900,
      scope: 'accounts:read transactions:read',
      customerId: alice,
      clientId: 'budgetly',
    });
    expect(decodeProtectedHeader(body.access_token)).toEqual({
      alg: 'ES256',
      kid: auth.signingKey().kid,
      typ: 'at+jwt',
    });
    const claims = await verify(body.access_token);
    const iat = Math.floor(clock.now().getTime() / 1000);
    expect(claims).toMatchObject({
      iss: auth.url,
      aud: DEFAULT_AUDIENCE,
      sub: alice,
      client_id: 'budgetly',
      scope: 'accounts:read transactions:read',
      iat,
      nbf: iat,
      exp: iat + 900,
    });
    expect(claims.jti).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('defaults to every allowed scope; staff clients act for themselves (customerId null)', async () => {
    const web = await json(await postJson('/sandbox/tokens', { customerId: alice, clientId: 'web-app' }));
    expect(web.scope).toBe(client('web-app').allowedScopes.join(' '));
    const ops = await postJson('/sandbox/tokens', { customerId: null, clientId: 'ops-console' });
    expect(ops.status).toBe(200);
    expect((await verify((await json(ops)).access_token)).sub).toBe('ops-console');
  });

  it('refuses unknown customers and clients, scopes outside allowedScopes, and misuse of client kinds', async () => {
    const cases: Array<[unknown, string]> = [
      [{ customerId: 'cus_nobody', clientId: 'web-app' }, 'invalid_request'],
      [{ customerId: alice, clientId: 'evil-app' }, 'invalid_client'],
      [{ customerId: alice, clientId: 'budgetly', scopes: ['payments:write'] }, 'invalid_scope'],
      [{ clientId: 'budgetly' }, 'invalid_request'],
      [{ customerId: alice, clientId: 'reconciler' }, 'unauthorized_client'],
    ];
    for (const [body, error] of cases) {
      const res = await postJson('/sandbox/tokens', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect((await json(res)).error).toBe(error);
    }
  });
});

describe('POST /token (client_credentials)', () => {
  it('issues tokens to staff and machine clients with client_secret_basic or client_secret_post', async () => {
    const r1 = await postForm(
      '/token',
      { grant_type: 'client_credentials', scope: 'payments:read' },
      { authorization: basic('reconciler', client('reconciler').clientSecret) },
    );
    expect(r1.status).toBe(200);
    expect(r1.headers.get('cache-control')).toBe('no-store');
    const t1 = await json(r1);
    expect(t1).toMatchObject({ token_type: 'Bearer', scope: 'payments:read', expires_in: 900 });
    expect(await verify(t1.access_token)).toMatchObject({ sub: 'reconciler', client_id: 'reconciler' });

    const r2 = await postForm('/token', {
      grant_type: 'client_credentials',
      client_id: 'ops-console',
      client_secret: client('ops-console').clientSecret,
    });
    expect((await json(r2)).scope).toBe(client('ops-console').allowedScopes.join(' '));
  });

  it('answers RFC 6749 errors', async () => {
    const wrongSecret = await postForm(
      '/token',
      { grant_type: 'client_credentials' },
      { authorization: basic('reconciler', 'nope') },
    );
    expect(wrongSecret.status).toBe(401);
    expect(wrongSecret.headers.get('www-authenticate')).toMatch(/^Basic/);
    expect((await json(wrongSecret)).error).toBe('invalid_client');
    const cases: Array<[Record<string, string>, string]> = [
      [
        { grant_type: 'password', client_id: 'reconciler', client_secret: client('reconciler').clientSecret },
        'unsupported_grant_type',
      ],
      [
        {
          grant_type: 'client_credentials',
          scope: 'audit:read',
          client_id: 'reconciler',
          client_secret: client('reconciler').clientSecret,
        },
        'invalid_scope',
      ],
      [
        { grant_type: 'client_credentials', client_id: 'web-app', client_secret: client('web-app').clientSecret },
        'unauthorized_client',
      ],
    ];
    for (const [form, error] of cases) {
      const res = await postForm('/token', form);
      expect(res.status).toBe(400);
      expect((await json(res)).error).toBe(error);
    }
    const asJson = await postJson('/token', { grant_type: 'client_credentials' });
    expect((await json(asJson)).error).toBe('invalid_request');
  });
});

describe('test helpers', () => {
  it('mint() produces expired, wrong-audience and foreign-key tokens that verification rejects', async () => {
    const good = await auth.mint({ customerId: alice, clientId: 'web-app', scopes: ['accounts:read'] });
    expect((await verify(good)).scope).toBe('accounts:read');
    await expect(
      verify(await auth.mint({ customerId: alice, clientId: 'web-app', expiresInSeconds: -60 })),
    ).rejects.toThrow(/exp/);
    await expect(
      verify(await auth.mint({ customerId: alice, clientId: 'web-app', claims: { aud: 'https://elsewhere' } })),
    ).rejects.toThrow(/aud/);
    await expect(
      verify(await auth.mint({ customerId: alice, clientId: 'web-app', key: await generateSigningKey('other') })),
    ).rejects.toThrow();
    const noExp = await auth.mint({ clientId: 'reconciler', claims: { exp: undefined } });
    expect((await verify(noExp)).exp).toBeUndefined();
  });

  it('signAccessToken signs exactly the given claims; rotateKey keeps old tokens verifiable', async () => {
    const key = await generateSigningKey('k-test');
    const token = await signAccessToken(key, { sub: 'x' }, { typ: 'JWT' });
    expect(decodeProtectedHeader(token)).toEqual({ alg: 'ES256', kid: 'k-test', typ: 'JWT' });
    const before = await auth.mint({ customerId: alice, clientId: 'web-app' });
    const next = await auth.rotateKey();
    const after = await auth.mint({ customerId: alice, clientId: 'web-app' });
    expect(decodeProtectedHeader(after).kid).toBe(next.kid);
    expect((await json(await fetch(`${auth.url}/jwks.json`))).keys).toHaveLength(2);
    await expect(verify(before)).resolves.toBeDefined();
    await expect(verify(after)).resolves.toBeDefined();
  });
});
