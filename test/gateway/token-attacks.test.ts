import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  base64url,
  calculateJwkThumbprint,
  exportJWK,
  exportSPKI,
  generateKeyPair,
  SignJWT,
  type CryptoKey,
  type JWK,
} from 'jose';
import { Keyv } from 'keyv';
import type { SharedCache } from '../../lib/cache.ts';
import { loadGatewayConfig } from '../../gateway/config.ts';
import { accessTokenHash, normalizeHtu } from '../../gateway/dpop.ts';
import { startGateway, type RunningGateway } from '../../gateway/server.ts';
import { generateSigningKey, startAuthServer, type RunningAuthServer } from '../../sandboxes/auth-server.ts';
import {
  ALICE,
  AUDIENCE,
  composeToySupergraph,
  gql,
  hasStackTrace,
  logger,
  startToySubgraphs,
  writeTempSupergraph,
  type GraphQLResult,
} from './helpers.ts';

/**
 * Token attacks against a live gateway (toy subgraphs, the sandbox authorization server): each
 * is refused with HTTP 401, extensions.code UNAUTHENTICATED and a WWW-Authenticate challenge
 * (RFC 6750 / RFC 9449) that gives nothing away, and no subgraph is called. Test names carry
 * the attack number; the count that ran is printed at the end.
 */

const WHOAMI = '{ whoami { customerId clientId scopes } }';
const DPOP_ALGS = 'algs="ES256 PS256 EdDSA"';
/** Words of the logged reasons that must never reach a client. */
const LEAKS = /\b(kid|jti|htu|htm|ath|thumbprint|jkt|cnf|iss|aud|exp|nbf|iat|signature|JWS|JWT|JWKS|ERR_\w+)\b/;

let auth: RunningAuthServer;
let toys: Awaited<ReturnType<typeof startToySubgraphs>>;
let supergraphFile: ReturnType<typeof writeTempSupergraph>;
let gateway: RunningGateway;
let dpopKey: { privateKey: CryptoKey; publicJwk: JWK; jkt: string };
let attacksRun = 0;
let attackNumber = 0;

async function newDpopKey(alg: 'ES256' | 'PS256' | 'EdDSA' = 'ES256') {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  return { privateKey, publicJwk, jkt: await calculateJwkThumbprint(publicJwk, 'sha256') };
}

function startTestGateway(env: Record<string, string> = {}) {
  return startGateway(
    loadGatewayConfig({
      GATEWAY_PORT: '0',
      SUPERGRAPH: supergraphFile.path,
      AUTH_ISSUER: auth.issuer,
      AUTH_AUDIENCE: AUDIENCE,
      AUTH_JWKS_URL: auth.jwksUrl,
      ...env,
    }),
    { logger, authorization: 'disabled' },
  );
}

beforeAll(async () => {
  auth = await startAuthServer({ port: 0, logger });
  toys = await startToySubgraphs();
  supergraphFile = writeTempSupergraph(composeToySupergraph([toys.users, toys.reviews]));
  // Cooldown 0: an unknown kid re-fetches the JWKS at once (the rotation test); the default
  // cooldown is tested on its own gateway below.
  gateway = await startTestGateway({ AUTH_JWKS_COOLDOWN_MS: '0' });
  dpopKey = await newDpopKey();
});

afterAll(async () => {
  await gateway?.close();
  await toys?.close();
  await auth?.close();
  supergraphFile?.cleanup();
  console.log(
    `token attacks refused: ${attacksRun} of ${attackNumber} (401 UNAUTHENTICATED + WWW-Authenticate, no subgraph called)`,
  );
});

const nowSeconds = () => Math.floor(Date.now() / 1000);
const subgraphCalls = () => toys.users.seen.length + toys.reviews.seen.length;

const mint = (claims: Record<string, unknown> = {}, extra: Partial<Parameters<RunningAuthServer['mint']>[0]> = {}) =>
  auth.mint({ customerId: ALICE, clientId: 'web-app', scopes: ['accounts:read'], claims, ...extra });
const mintBound = (jkt = dpopKey.jkt) => mint({}, { dpopJkt: jkt });

interface ProofOptions {
  htm?: string;
  htu?: string;
  iat?: number;
  jti?: string;
  ath?: string | undefined;
  key?: { privateKey: CryptoKey; publicJwk: JWK };
  alg?: string;
  typ?: string;
  jwk?: JWK;
}

/** A DPoP proof (RFC 9449 §4.2) for a POST to `url` with `token`, with any part overridable. */
async function proof(url: string, token: string, o: ProofOptions = {}): Promise<string> {
  const key = o.key ?? dpopKey;
  const claims: Record<string, unknown> = {
    htm: o.htm ?? 'POST',
    htu: o.htu ?? url,
    iat: o.iat ?? nowSeconds(),
    jti: o.jti ?? randomUUID(),
  };
  const ath = 'ath' in o ? o.ath : accessTokenHash(token);
  if (ath !== undefined) claims.ath = ath;
  return new SignJWT(claims)
    .setProtectedHeader({ alg: o.alg ?? 'ES256', typ: o.typ ?? 'dpop+jwt', jwk: o.jwk ?? key.publicJwk })
    .sign(key.privateKey);
}

const dpopHeaders = (token: string, dpop?: string): Record<string, string> => ({
  authorization: `DPoP ${token}`,
  ...(dpop ? { dpop } : {}),
});

/** Asserts a refusal: 401, UNAUTHENTICATED, the expected challenge, no data, no detail, no subgraph call. */
async function expectRefused(send: () => Promise<GraphQLResult>, challenge: RegExp): Promise<GraphQLResult> {
  const before = subgraphCalls();
  const res = await send();
  expect(res.status).toBe(401);
  expect(res.headers.get('www-authenticate')).toMatch(challenge);
  expect(res.body.data ?? null).toBeNull();
  expect(res.body.errors?.map((e) => e.extensions?.code)).toEqual(['UNAUTHENTICATED']);
  expect(hasStackTrace(res.raw)).toBe(false);
  expect(res.raw).not.toMatch(LEAKS);
  expect(res.headers.get('www-authenticate')!.replace(/algs="[^"]*"/, '')).not.toMatch(LEAKS);
  expect(subgraphCalls()).toBe(before);
  return res;
}

const INVALID_BEARER = /^Bearer error="invalid_token"$/;
const INVALID_DPOP_TOKEN = new RegExp(`^DPoP error="invalid_token", ${DPOP_ALGS}$`);
const INVALID_PROOF = new RegExp(`^DPoP error="invalid_dpop_proof", ${DPOP_ALGS}$`);

/** `it` for one attack, numbered in its name. */
function attack(name: string, fn: () => Promise<unknown>) {
  it(`attack ${++attackNumber}: ${name}`, async () => {
    await fn();
    attacksRun++;
  });
}

describe('token attacks: bearer tokens', () => {
  it('accepts a valid sandbox token (control)', async () => {
    const res = await gql(gateway.url, WHOAMI, { token: await mint() });
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual({ whoami: { customerId: ALICE, clientId: 'web-app', scopes: ['accounts:read'] } });
  });

  attack('no token', () => expectRefused(() => gql(gateway.url, WHOAMI), /^Bearer/));

  attack('alg none', async () => {
    const header = base64url.encode(JSON.stringify({ alg: 'none', typ: 'at+jwt', kid: auth.signingKey().kid }));
    const now = nowSeconds();
    const payload = base64url.encode(
      JSON.stringify({
        iss: auth.issuer,
        aud: AUDIENCE,
        sub: ALICE,
        client_id: 'web-app',
        scope: 'accounts:read',
        iat: now,
        nbf: now,
        exp: now + 300,
      }),
    );
    await expectRefused(() => gql(gateway.url, WHOAMI, { token: `${header}.${payload}.` }), INVALID_BEARER);
  });

  attack('HS256 signed with the public JWK as the HMAC secret (key confusion)', async () => {
    const { publicJwk, kid } = auth.signingKey();
    const secret = new TextEncoder().encode(JSON.stringify(publicJwk));
    const now = nowSeconds();
    const token = await new SignJWT({ client_id: 'web-app', scope: 'accounts:read' })
      .setProtectedHeader({ alg: 'HS256', kid, typ: 'at+jwt' })
      .setIssuer(auth.issuer)
      .setAudience(AUDIENCE)
      .setSubject(ALICE)
      .setIssuedAt(now)
      .setExpirationTime(now + 300)
      .sign(secret);
    await expectRefused(() => gql(gateway.url, WHOAMI, { token }), INVALID_BEARER);
  });

  attack('HS256 signed with the public key PEM as the HMAC secret (key confusion)', async () => {
    const { publicJwk, kid } = auth.signingKey();
    const { importJWK } = await import('jose');
    const pem = await exportSPKI((await importJWK(publicJwk, 'ES256')) as CryptoKey);
    const token = await new SignJWT({ client_id: 'web-app', scope: 'accounts:read' })
      .setProtectedHeader({ alg: 'HS256', kid, typ: 'at+jwt' })
      .setIssuer(auth.issuer)
      .setAudience(AUDIENCE)
      .setSubject(ALICE)
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode(pem));
    await expectRefused(() => gql(gateway.url, WHOAMI, { token }), INVALID_BEARER);
  });

  attack('wrong issuer', async () =>
    expectRefused(
      async () => gql(gateway.url, WHOAMI, { token: await mint({ iss: 'https://evil.example' }) }),
      INVALID_BEARER,
    ),
  );
  attack('wrong audience', async () =>
    expectRefused(
      async () => gql(gateway.url, WHOAMI, { token: await mint({ aud: 'https://another-api.example' }) }),
      INVALID_BEARER,
    ),
  );
  attack('expired (beyond the clock leeway)', async () => {
    const token = await mint({ iat: nowSeconds() - 600, nbf: nowSeconds() - 600 }, { expiresInSeconds: -60 });
    await expectRefused(() => gql(gateway.url, WHOAMI, { token }), INVALID_BEARER);
  });
  attack('not yet valid (nbf beyond the clock leeway)', async () =>
    expectRefused(
      async () => gql(gateway.url, WHOAMI, { token: await mint({ nbf: nowSeconds() + 120 }) }),
      INVALID_BEARER,
    ),
  );
  attack('unknown kid (a key the authorization server never published)', async () => {
    const rogue = await generateSigningKey('rogue-key');
    await expectRefused(
      async () => gql(gateway.url, WHOAMI, { token: await mint({}, { key: rogue }) }),
      INVALID_BEARER,
    );
  });
  attack('a rogue key under the published kid', async () => {
    const rogue = await generateSigningKey(auth.signingKey().kid);
    await expectRefused(
      async () => gql(gateway.url, WHOAMI, { token: await mint({}, { key: rogue }) }),
      INVALID_BEARER,
    );
  });
  attack('tampered payload (scopes widened, signature kept)', async () => {
    const [h, p, s] = (await mint()).split('.');
    const claims = JSON.parse(new TextDecoder().decode(base64url.decode(p!))) as Record<string, unknown>;
    const forged = base64url.encode(JSON.stringify({ ...claims, scope: 'accounts:read pii:read audit:read' }));
    await expectRefused(() => gql(gateway.url, WHOAMI, { token: `${h}.${forged}.${s}` }), INVALID_BEARER);
  });
  attack('token in the query string', async () => {
    const token = await mint();
    await expectRefused(() => gql(`${gateway.url}?access_token=${token}`, WHOAMI), /^Bearer/);
  });
  attack('token in the request body', async () => {
    const token = await mint();
    await expectRefused(async () => {
      const res = await fetch(gateway.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: WHOAMI, access_token: token }),
      });
      const raw = await res.text();
      return { status: res.status, headers: res.headers, body: JSON.parse(raw) as GraphQLResult['body'], raw };
    }, /^Bearer/);
  });
  attack('a DPoP proof presented as the access token', async () => {
    const token = await mintBound();
    await expectRefused(
      async () => gql(gateway.url, WHOAMI, { token: await proof(gateway.url, token) }),
      INVALID_BEARER,
    );
  });

  it('tolerates clock skew within the leeway (token expired 2 s ago)', async () => {
    const token = await mint({ iat: nowSeconds() - 300, nbf: nowSeconds() - 300 }, { expiresInSeconds: -2 });
    const res = await gql(gateway.url, WHOAMI, { token });
    expect(res.status).toBe(200);
  });
});

describe('JWKS rotation and caching', () => {
  it('accepts a token signed with a rotated-in key without restarting the gateway', async () => {
    // The gateway has the current JWKS cached.
    expect((await gql(gateway.url, WHOAMI, { token: await mint() })).status).toBe(200);
    const fetchesBefore = auth.requests.list({ route: '/jwks.json' }).length;
    const next = await auth.rotateKey();
    const token = await mint();
    expect(JSON.parse(new TextDecoder().decode(base64url.decode(token.split('.')[0]!)))).toMatchObject({
      kid: next.kid,
    });
    const res = await gql(gateway.url, WHOAMI, { token });
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual({ whoami: { customerId: ALICE, clientId: 'web-app', scopes: ['accounts:read'] } });
    // The unknown kid made the gateway re-fetch the JWKS once.
    expect(auth.requests.list({ route: '/jwks.json' }).length).toBe(fetchesBefore + 1);
  });

  it('re-fetches the JWKS at most once per cooldown however many unknown kids arrive (default cooldown)', async () => {
    const guarded = await startTestGateway();
    try {
      expect((await gql(guarded.url, WHOAMI, { token: await mint() })).status).toBe(200);
      const fetchesBefore = auth.requests.list({ route: '/jwks.json' }).length;
      for (let i = 0; i < 5; i++) {
        const rogue = await generateSigningKey(`flood-${i}`);
        const res = await gql(guarded.url, WHOAMI, { token: await mint({}, { key: rogue }) });
        expect(res.status).toBe(401);
      }
      expect(auth.requests.list({ route: '/jwks.json' }).length - fetchesBefore).toBeLessThanOrEqual(1);
    } finally {
      await guarded.close();
    }
  });
});

describe('token attacks: DPoP sender-constrained tokens (RFC 9449)', () => {
  it('accepts a DPoP-bound token with a valid proof (control)', async () => {
    const token = await mintBound();
    const res = await gql(gateway.url, WHOAMI, { headers: dpopHeaders(token, await proof(gateway.url, token)) });
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual({ whoami: { customerId: ALICE, clientId: 'web-app', scopes: ['accounts:read'] } });
    expect(toys.users.seen.at(-1)!.headers.dpop).toBeUndefined();
  });

  it('accepts a DPoP-bound token issued over HTTP by POST /sandbox/tokens with dpopJkt', async () => {
    const issued = await fetch(`${auth.url}/sandbox/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ customerId: ALICE, clientId: 'web-app', scopes: ['accounts:read'], dpopJkt: dpopKey.jkt }),
    });
    expect(issued.status).toBe(200);
    const body = (await issued.json()) as { access_token: string; token_type: string };
    expect(body.token_type).toBe('DPoP');
    const token = body.access_token;
    expect(JSON.parse(new TextDecoder().decode(base64url.decode(token.split('.')[1]!)))).toMatchObject({
      cnf: { jkt: dpopKey.jkt },
    });
    expect(
      (await gql(gateway.url, WHOAMI, { headers: dpopHeaders(token, await proof(gateway.url, token)) })).status,
    ).toBe(200);
  });

  it('accepts PS256 and EdDSA proof keys, and htu with a query string, upper-case host or default port', async () => {
    for (const alg of ['PS256', 'EdDSA'] as const) {
      const key = await newDpopKey(alg);
      const token = await mintBound(key.jkt);
      const res = await gql(gateway.url, WHOAMI, {
        headers: dpopHeaders(token, await proof(gateway.url, token, { key, alg: alg === 'EdDSA' ? 'EdDSA' : 'PS256' })),
      });
      expect(res.status).toBe(200);
    }
    const token = await mintBound();
    const upper = gateway.url.replace('http://127.0.0.1', 'HTTP://127.0.0.1');
    expect(
      (
        await gql(`${gateway.url}?x=1`, WHOAMI, {
          headers: dpopHeaders(token, await proof(gateway.url, token, { htu: `${upper}?ignored=1#frag` })),
        })
      ).status,
    ).toBe(200);
  });

  attack('DPoP-bound token presented as a bearer token', async () =>
    expectRefused(async () => gql(gateway.url, WHOAMI, { token: await mintBound() }), INVALID_BEARER),
  );
  attack('DPoP-bound token presented as a bearer token with a valid proof', async () => {
    const token = await mintBound();
    const dpop = await proof(gateway.url, token);
    await expectRefused(() => gql(gateway.url, WHOAMI, { token, headers: { dpop } }), INVALID_BEARER);
  });
  attack('DPoP proof missing', async () =>
    expectRefused(async () => gql(gateway.url, WHOAMI, { headers: dpopHeaders(await mintBound()) }), INVALID_PROOF),
  );
  attack('DPoP proof replayed (same jti twice)', async () => {
    const token = await mintBound();
    const dpop = await proof(gateway.url, token);
    expect((await gql(gateway.url, WHOAMI, { headers: dpopHeaders(token, dpop) })).status).toBe(200);
    await expectRefused(() => gql(gateway.url, WHOAMI, { headers: dpopHeaders(token, dpop) }), INVALID_PROOF);
  });
  attack('DPoP jti reused in a fresh proof', async () => {
    const token = await mintBound();
    const jti = randomUUID();
    expect(
      (await gql(gateway.url, WHOAMI, { headers: dpopHeaders(token, await proof(gateway.url, token, { jti })) }))
        .status,
    ).toBe(200);
    await expectRefused(
      async () => gql(gateway.url, WHOAMI, { headers: dpopHeaders(token, await proof(gateway.url, token, { jti })) }),
      INVALID_PROOF,
    );
  });
  attack('DPoP proof for another URL', async () => {
    const token = await mintBound();
    await expectRefused(
      async () =>
        gql(gateway.url, WHOAMI, {
          headers: dpopHeaders(
            token,
            await proof(gateway.url, token, { htu: 'https://api.elsewhere.example/graphql' }),
          ),
        }),
      INVALID_PROOF,
    );
  });
  attack('DPoP proof for another path on the same host', async () => {
    const token = await mintBound();
    await expectRefused(
      async () =>
        gql(gateway.url, WHOAMI, {
          headers: dpopHeaders(
            token,
            await proof(gateway.url, token, { htu: gateway.url.replace(/graphql$/, 'admin') }),
          ),
        }),
      INVALID_PROOF,
    );
  });
  attack('DPoP proof for another method', async () => {
    const token = await mintBound();
    await expectRefused(
      async () =>
        gql(gateway.url, WHOAMI, { headers: dpopHeaders(token, await proof(gateway.url, token, { htm: 'GET' })) }),
      INVALID_PROOF,
    );
  });
  attack('DPoP proof with a wrong ath (made for another token)', async () => {
    const token = await mintBound();
    const other = await mintBound();
    await expectRefused(
      async () => gql(gateway.url, WHOAMI, { headers: dpopHeaders(token, await proof(gateway.url, other)) }),
      INVALID_PROOF,
    );
  });
  attack('DPoP proof without ath', async () => {
    const token = await mintBound();
    await expectRefused(
      async () =>
        gql(gateway.url, WHOAMI, { headers: dpopHeaders(token, await proof(gateway.url, token, { ath: undefined })) }),
      INVALID_PROOF,
    );
  });
  attack('DPoP proof signed by another key (thumbprint mismatch)', async () => {
    const token = await mintBound();
    const thief = await newDpopKey();
    await expectRefused(
      async () =>
        gql(gateway.url, WHOAMI, { headers: dpopHeaders(token, await proof(gateway.url, token, { key: thief })) }),
      INVALID_PROOF,
    );
  });
  attack('DPoP proof naming the bound jwk but signed by another key', async () => {
    const token = await mintBound();
    const thief = await newDpopKey();
    await expectRefused(
      async () =>
        gql(gateway.url, WHOAMI, {
          headers: dpopHeaders(token, await proof(gateway.url, token, { key: thief, jwk: dpopKey.publicJwk })),
        }),
      INVALID_PROOF,
    );
  });
  attack('DPoP proof with a stale iat', async () => {
    const token = await mintBound();
    await expectRefused(
      async () =>
        gql(gateway.url, WHOAMI, {
          headers: dpopHeaders(token, await proof(gateway.url, token, { iat: nowSeconds() - 300 })),
        }),
      INVALID_PROOF,
    );
  });
  attack('DPoP proof with an iat in the future', async () => {
    const token = await mintBound();
    await expectRefused(
      async () =>
        gql(gateway.url, WHOAMI, {
          headers: dpopHeaders(token, await proof(gateway.url, token, { iat: nowSeconds() + 300 })),
        }),
      INVALID_PROOF,
    );
  });
  attack('DPoP proof with typ jwt instead of dpop+jwt', async () => {
    const token = await mintBound();
    await expectRefused(
      async () =>
        gql(gateway.url, WHOAMI, { headers: dpopHeaders(token, await proof(gateway.url, token, { typ: 'JWT' })) }),
      INVALID_PROOF,
    );
  });
  attack('DPoP proof with alg none', async () => {
    const token = await mintBound();
    const h = base64url.encode(JSON.stringify({ alg: 'none', typ: 'dpop+jwt', jwk: dpopKey.publicJwk }));
    const p = base64url.encode(
      JSON.stringify({
        htm: 'POST',
        htu: gateway.url,
        iat: nowSeconds(),
        jti: randomUUID(),
        ath: accessTokenHash(token),
      }),
    );
    await expectRefused(() => gql(gateway.url, WHOAMI, { headers: dpopHeaders(token, `${h}.${p}.`) }), INVALID_PROOF);
  });
  attack('DPoP proof carrying a private key in its jwk header', async () => {
    const token = await mintBound();
    const privateJwk = await exportJWK(dpopKey.privateKey);
    await expectRefused(
      async () =>
        gql(gateway.url, WHOAMI, { headers: dpopHeaders(token, await proof(gateway.url, token, { jwk: privateJwk })) }),
      INVALID_PROOF,
    );
  });
  attack('two DPoP headers', async () => {
    const token = await mintBound();
    const res = await expectRefused(async () => {
      const headers = new Headers({ 'content-type': 'application/json', authorization: `DPoP ${token}` });
      headers.append('dpop', await proof(gateway.url, token));
      headers.append('dpop', await proof(gateway.url, token));
      const r = await fetch(gateway.url, { method: 'POST', headers, body: JSON.stringify({ query: WHOAMI }) });
      const raw = await r.text();
      return { status: r.status, headers: r.headers, body: JSON.parse(raw) as GraphQLResult['body'], raw };
    }, INVALID_PROOF);
    expect(res.status).toBe(401);
  });
  attack('DPoP scheme with a token that is not DPoP-bound', async () => {
    const token = await mint();
    await expectRefused(
      async () => gql(gateway.url, WHOAMI, { headers: dpopHeaders(token, await proof(gateway.url, token)) }),
      INVALID_DPOP_TOKEN,
    );
  });
  attack('DPoP-bound but expired token with a valid proof', async () => {
    const token = await mint(
      { cnf: { jkt: dpopKey.jkt }, iat: nowSeconds() - 600, nbf: nowSeconds() - 600 },
      { expiresInSeconds: -60 },
    );
    await expectRefused(
      async () => gql(gateway.url, WHOAMI, { headers: dpopHeaders(token, await proof(gateway.url, token)) }),
      INVALID_DPOP_TOKEN,
    );
  });
});

describe('DPoP behind a proxy (GATEWAY_PUBLIC_URL)', () => {
  let proxied: RunningGateway;
  const PUBLIC = 'https://API.financial-graph.test:443/';
  beforeAll(async () => {
    proxied = await startTestGateway({ GATEWAY_PUBLIC_URL: PUBLIC });
  });
  afterAll(async () => proxied?.close());

  it('binds htu to the public URL (scheme, host case and default port normalised)', async () => {
    const token = await mintBound();
    const res = await gql(proxied.url, WHOAMI, {
      headers: dpopHeaders(token, await proof(proxied.url, token, { htu: 'https://api.financial-graph.test/graphql' })),
    });
    expect(res.status).toBe(200);
  });

  attack('behind a proxy: proof for the internal listening URL', async () => {
    const token = await mintBound();
    await expectRefused(
      async () => gql(proxied.url, WHOAMI, { headers: dpopHeaders(token, await proof(proxied.url, token)) }),
      INVALID_PROOF,
    );
  });
  attack('behind a proxy: proof for the public host over plain http', async () => {
    const token = await mintBound();
    await expectRefused(
      async () =>
        gql(proxied.url, WHOAMI, {
          headers: dpopHeaders(
            token,
            await proof(proxied.url, token, { htu: 'http://api.financial-graph.test/graphql' }),
          ),
        }),
      INVALID_PROOF,
    );
  });
  attack('behind a proxy: X-Forwarded-Host does not move htu', async () => {
    const token = await mintBound();
    const listening = new URL(proxied.url);
    await expectRefused(
      async () =>
        gql(proxied.url, WHOAMI, {
          headers: {
            ...dpopHeaders(token, await proof(proxied.url, token, { htu: `http://evil.example${listening.pathname}` })),
            'x-forwarded-host': 'evil.example',
          },
        }),
      INVALID_PROOF,
    );
  });
});

describe('DPoP replay cache outage', () => {
  it('fails closed with 503 SERVICE_UNAVAILABLE (not 401, not 200) and calls no subgraph', async () => {
    const broken: SharedCache = {
      kind: 'redis',
      store: (namespace) => new Keyv({ namespace }),
      claimOnce: async () => {
        throw new Error('connect ECONNREFUSED 127.0.0.1:6379');
      },
      close: async () => {},
    };
    const gw = await startGateway(
      loadGatewayConfig({
        GATEWAY_PORT: '0',
        SUPERGRAPH: supergraphFile.path,
        AUTH_ISSUER: auth.issuer,
        AUTH_AUDIENCE: AUDIENCE,
        AUTH_JWKS_URL: auth.jwksUrl,
      }),
      { logger, cache: broken, authorization: 'disabled' },
    );
    try {
      const before = subgraphCalls();
      const token = await mintBound();
      const res = await gql(gw.url, WHOAMI, { headers: dpopHeaders(token, await proof(gw.url, token)) });
      expect(res.status).toBe(503);
      expect(res.body.errors?.[0]?.extensions?.code).toBe('SERVICE_UNAVAILABLE');
      expect(res.raw).not.toMatch(/ECONNREFUSED|6379/);
      expect(subgraphCalls()).toBe(before);
    } finally {
      await gw.close();
    }
  });
});

const REDIS_URL = process.env.REDIS_URL;
if (!REDIS_URL)
  console.log(
    'SKIPPED: DPoP replay across two gateway replicas needs REDIS_URL (e.g. redis://127.0.0.1:6379); it is unset',
  );

describe.skipIf(!REDIS_URL)('DPoP replay across two gateway replicas sharing REDIS_URL', () => {
  let a: RunningGateway;
  let b: RunningGateway;
  // Both replicas sit behind one public URL, as behind a load balancer.
  const PUBLIC = 'https://api.financial-graph.test';
  beforeAll(async () => {
    a = await startTestGateway({ REDIS_URL: REDIS_URL!, GATEWAY_PUBLIC_URL: PUBLIC });
    b = await startTestGateway({ REDIS_URL: REDIS_URL!, GATEWAY_PUBLIC_URL: PUBLIC });
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
  });

  attack('DPoP proof replayed on a second replica (shared Redis)', async () => {
    expect(a.cache.kind).toBe('redis');
    const token = await mintBound();
    const dpop = await proof(`${PUBLIC}/graphql`, token);
    expect((await gql(a.url, WHOAMI, { headers: dpopHeaders(token, dpop) })).status).toBe(200);
    await expectRefused(() => gql(b.url, WHOAMI, { headers: dpopHeaders(token, dpop) }), INVALID_PROOF);
    // ...and on the first replica again.
    await expectRefused(() => gql(a.url, WHOAMI, { headers: dpopHeaders(token, dpop) }), INVALID_PROOF);
  });
});

describe('token verification configuration', () => {
  it('has safe defaults and validates the variables', () => {
    const config = loadGatewayConfig({});
    expect(config).toMatchObject({
      AUTH_CLOCK_TOLERANCE_SECONDS: 5,
      AUTH_JWKS_COOLDOWN_MS: 30_000,
      DPOP_IAT_WINDOW_SECONDS: 60,
    });
    expect(config.GATEWAY_PUBLIC_URL).toBeUndefined();
    expect(config.REDIS_URL).toBeUndefined();
    expect(
      loadGatewayConfig({ REDIS_URL: 'redis://127.0.0.1:6379', GATEWAY_PUBLIC_URL: 'https://api.example.com' }),
    ).toMatchObject({ REDIS_URL: 'redis://127.0.0.1:6379', GATEWAY_PUBLIC_URL: 'https://api.example.com' });
    expect(() => loadGatewayConfig({ REDIS_URL: 'http://127.0.0.1:6379' })).toThrow(/REDIS_URL/);
    expect(() => loadGatewayConfig({ GATEWAY_PUBLIC_URL: 'api.example.com' })).toThrow(/GATEWAY_PUBLIC_URL/);
    expect(() => loadGatewayConfig({ DPOP_IAT_WINDOW_SECONDS: '0' })).toThrow(/DPOP_IAT_WINDOW_SECONDS/);
    expect(() => loadGatewayConfig({ AUTH_CLOCK_TOLERANCE_SECONDS: '-1' })).toThrow(/AUTH_CLOCK_TOLERANCE_SECONDS/);
  });
});

describe('dpop helpers', () => {
  it('normalizeHtu drops query, fragment and default port and lower-cases scheme and host', () => {
    expect(normalizeHtu('HTTPS://Api.Example.COM:443/graphql?x=1#y')).toBe('https://api.example.com/graphql');
    expect(normalizeHtu('http://api.example.com:80/a/../graphql')).toBe('http://api.example.com/graphql');
    expect(normalizeHtu('http://api.example.com:8080/graphql')).toBe('http://api.example.com:8080/graphql');
    expect(normalizeHtu('ftp://api.example.com/graphql')).toBeNull();
    expect(normalizeHtu('not a url')).toBeNull();
  });
  it('accessTokenHash is base64url(SHA-256(token)) (RFC 9449 §7 example)', () => {
    expect(accessTokenHash('Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU')).toBe(
      'fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo',
    );
  });
});
