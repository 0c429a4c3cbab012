import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPair, SignJWT, base64url } from 'jose';
import { parse } from 'graphql';
import type { RunningGateway } from '../../gateway/server.ts';
import { principalFromClaims } from '../../gateway/authentication.ts';
import { selectsOnlyPublicFields } from '../../gateway/authorization.ts';
import {
  ALICE,
  AUDIENCE,
  gql,
  hasStackTrace,
  ISSUER,
  startToyGateway,
  type LocalJwks,
  type ToyGateway,
} from './helpers.ts';

let fixture: ToyGateway;
let jwks: LocalJwks;
let toys: ToyGateway['toys'];
let gateway: RunningGateway;

const WHOAMI = '{ whoami { customerId clientId scopes } }';

beforeAll(async () => {
  fixture = await startToyGateway();
  ({ jwks, toys, gateway } = fixture);
});

afterAll(async () => {
  await fixture?.close();
});

function subgraphCalls(): number {
  return toys.users.seen.length + toys.reviews.seen.length;
}

async function expectUnauthenticated(token: string | undefined, headers: Record<string, string> = {}) {
  const before = subgraphCalls();
  const res = await gql(gateway.url, WHOAMI, { token, headers });
  expect(res.status).toBe(401);
  expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
  expect(res.body.data ?? null).toBeNull();
  expect(res.body.errors?.map((e) => e.extensions?.code)).toEqual(['UNAUTHENTICATED']);
  expect(hasStackTrace(res.raw)).toBe(false);
  expect(subgraphCalls()).toBe(before);
  return res;
}

describe('gateway authentication', () => {
  it('passes the principal of a valid token to the subgraph inside the signed internal context', async () => {
    const token = await jwks.sign({ scope: 'accounts:read identity:read' });
    const res = await gql(gateway.url, WHOAMI, { token });
    expect(res.status).toBe(200);
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data).toEqual({
      whoami: { customerId: ALICE, clientId: 'web-app', scopes: ['accounts:read', 'identity:read'] },
    });
    const seen = toys.users.seen.at(-1)!;
    expect(seen.principal).toEqual({
      customerId: ALICE,
      clientId: 'web-app',
      scopes: ['accounts:read', 'identity:read'],
    });
    // The client's bearer token itself never travels to the subgraph.
    expect(seen.headers.authorization).toBeUndefined();
  });

  it('gives a client_credentials token no customer', async () => {
    const token = await jwks.sign({
      sub: 'reconciler',
      client_id: 'reconciler',
      scope: 'payments:read',
      gty: 'client_credentials',
    });
    const res = await gql(gateway.url, WHOAMI, { token });
    expect(res.body.data).toEqual({ whoami: { customerId: null, clientId: 'reconciler', scopes: ['payments:read'] } });
  });

  it('refuses a request without a token with UNAUTHENTICATED and calls no subgraph', async () => {
    const res = await expectUnauthenticated(undefined);
    expect(res.body.errors?.[0]?.message).toMatch(/Authorization: Bearer/);
  });

  it('ignores a token in the query string', async () => {
    const token = await jwks.sign();
    const before = subgraphCalls();
    const res = await fetch(`${gateway.url}?access_token=${token}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: WHOAMI }),
    });
    const body = (await res.json()) as { errors?: { extensions?: { code?: string } }[] };
    expect(res.status).toBe(401);
    expect(body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(subgraphCalls()).toBe(before);
  });

  it('still answers __typename and introspection without a token', async () => {
    const before = subgraphCalls();
    const res = await gql(gateway.url, '{ __typename __schema { queryType { name } } }');
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual({ __typename: 'Query', __schema: { queryType: { name: 'Query' } } });
    expect(subgraphCalls()).toBe(before);
  });

  it('refuses a mixed operation (introspection + data) without a token', async () => {
    const before = subgraphCalls();
    const res = await gql(gateway.url, '{ __typename ...F } fragment F on Query { me { id } }');
    expect(res.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(subgraphCalls()).toBe(before);
  });

  describe('refuses invalid tokens with UNAUTHENTICATED, no stack trace and no subgraph call', () => {
    it('expired', async () => {
      const now = Math.floor(Date.now() / 1000);
      await expectUnauthenticated(await jwks.sign({}, { iat: now - 3600, expiresIn: now - 60 }));
    });
    it('issued in the future', async () => {
      const now = Math.floor(Date.now() / 1000);
      await expectUnauthenticated(await jwks.sign({}, { iat: now + 600, expiresIn: now + 900 }));
    });
    it('DPoP-bound token sent as a bearer token', async () =>
      expectUnauthenticated(await jwks.sign({ cnf: { jkt: '0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I' } })));
    it('wrong audience', async () => expectUnauthenticated(await jwks.sign({ aud: 'https://someone-else.example' })));
    it('wrong issuer', async () => expectUnauthenticated(await jwks.sign({ iss: 'https://evil.example' })));
    it('no sub', async () => {
      const token = await new SignJWT({ client_id: 'web-app', scope: 'accounts:read' })
        .setProtectedHeader({ alg: 'ES256', kid: jwks.kid })
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(jwks.privateKey);
      await expectUnauthenticated(token);
    });
    it('alg none', async () => {
      const header = base64url.encode(JSON.stringify({ alg: 'none', typ: 'JWT' }));
      const now = Math.floor(Date.now() / 1000);
      const payload = base64url.encode(
        JSON.stringify({ iss: ISSUER, aud: AUDIENCE, sub: ALICE, client_id: 'web-app', iat: now, exp: now + 300 }),
      );
      await expectUnauthenticated(`${header}.${payload}.`);
    });
    it('HS256 (symmetric) even with a matching kid', async () => {
      const token = await new SignJWT({ client_id: 'web-app' })
        .setProtectedHeader({ alg: 'HS256', kid: jwks.kid })
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .setSubject(ALICE)
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(new TextEncoder().encode('a-secret-that-anyone-could-have-0123456789'));
      await expectUnauthenticated(token);
    });
    it('signed by a key that is not in the JWKS (unknown kid)', async () => {
      const other = await generateKeyPair('ES256');
      await expectUnauthenticated(await jwks.sign({}, { key: other.privateKey, header: { kid: 'unknown-kid' } }));
    });
    it('signed by another key under the known kid', async () => {
      const other = await generateKeyPair('ES256');
      await expectUnauthenticated(await jwks.sign({}, { key: other.privateKey }));
    });
    it('tampered payload', async () => {
      const [h, p, s] = (await jwks.sign()).split('.');
      const claims = JSON.parse(new TextDecoder().decode(base64url.decode(p!))) as Record<string, unknown>;
      const forged = base64url.encode(JSON.stringify({ ...claims, sub: 'cus_dlmblpad2mvahd62midhwuwg7j' }));
      await expectUnauthenticated(`${h}.${forged}.${s}`);
    });
    it('not a bearer token', async () =>
      expectUnauthenticated(undefined, { authorization: 'Basic d2ViLWFwcDpzZWNyZXQ=' }));
    it('garbage', async () => expectUnauthenticated('not-a-jwt'));
  });
});

describe('principalFromClaims', () => {
  it('takes the customer from sub only when it is a customer id', () => {
    expect(principalFromClaims({ sub: ALICE, client_id: 'web-app', scope: 'a  b' })).toEqual({
      customerId: ALICE,
      clientId: 'web-app',
      scopes: ['a', 'b'],
    });
    expect(
      principalFromClaims({ sub: 'ops-console', client_id: 'ops-console', scope: 'audit:read' })?.customerId,
    ).toBeNull();
    expect(
      principalFromClaims({ sub: ALICE, client_id: 'reconciler', grant_type: 'client_credentials' })?.customerId,
    ).toBeNull();
    expect(principalFromClaims({ sub: ALICE, azp: 'mobile-app' })).toEqual({
      customerId: ALICE,
      clientId: 'mobile-app',
      scopes: [],
    });
    expect(principalFromClaims({ sub: ALICE })).toBeNull();
  });
});

describe('selectsOnlyPublicFields', () => {
  const check = (q: string) => {
    const doc = parse(q);
    const op = doc.definitions.find((d) => d.kind === 'OperationDefinition');
    return selectsOnlyPublicFields(op as never, doc);
  };
  it('allows only __typename and introspection at the root', () => {
    expect(check('{ __typename }')).toBe(true);
    expect(check('query { ... on Query { __schema { types { name } } } }')).toBe(true);
    expect(check('{ ...F } fragment F on Query { __type(name: "User") { name } }')).toBe(true);
    expect(check('{ __typename me { id } }')).toBe(false);
    expect(check('{ ...F } fragment F on Query { me { __typename } }')).toBe(false);
  });
});
