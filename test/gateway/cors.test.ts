import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadGatewayConfig } from '../../gateway/config.ts';
import { startGateway, type RunningGateway } from '../../gateway/server.ts';
import { openSharedCache, type SharedCache } from '../../lib/cache.ts';
import { originAllowed } from '../../lib/http-server.ts';
import {
  AUDIENCE,
  composeToySupergraph,
  ISSUER,
  logger,
  startLocalJwks,
  startToySubgraphs,
  writeTempSupergraph,
  type LocalJwks,
} from './helpers.ts';

/**
 * A web app on another origin calls the gateway from a browser: CORS with an allowlist from
 * CORS_ALLOWED_ORIGINS (sandbox default: loopback origins and GATEWAY_PUBLIC_URL's origin;
 * production default: none), preflights answered, never credentials, and Apollo's CSRF
 * prevention still refusing what a page can send without a preflight. The browser's side is what
 * these headers make it do; the requests below are what a browser sends.
 */
const PRODUCTION_SECRET = 'cors-test-internal-secret-0123456789abcdef012';
const PARTNER_APP = 'https://app.partner.example';
const PUBLIC_URL = 'https://sandbox.financial-graph.example';

let jwks: LocalJwks;
let toys: Awaited<ReturnType<typeof startToySubgraphs>>;
let supergraph: { path: string; cleanup(): void };
let sandbox: RunningGateway;
let production: RunningGateway;
let partnerProduction: RunningGateway;
let productionCache: SharedCache;

beforeAll(async () => {
  jwks = await startLocalJwks();
  toys = await startToySubgraphs();
  supergraph = writeTempSupergraph(composeToySupergraph([toys.users, toys.reviews]));
  const env = {
    GATEWAY_PORT: '0',
    SUPERGRAPH: supergraph.path,
    AUTH_ISSUER: ISSUER,
    AUTH_AUDIENCE: AUDIENCE,
    AUTH_JWKS_URL: jwks.url,
  };
  const productionEnv = {
    ...env,
    PROFILE: 'production',
    INTERNAL_AUTH_SECRET: PRODUCTION_SECRET,
    REDIS_URL: 'redis://127.0.0.1:9',
  };
  // The toy schema has no authorization policy (see helpers.ts startToyGateway): CORS is what is tested.
  sandbox = await startGateway(loadGatewayConfig({ ...env, GATEWAY_PUBLIC_URL: `${PUBLIC_URL}/` }), {
    logger,
    authorization: 'disabled',
  });
  // Production requires REDIS_URL; the shared cache plays no part here, so an in-memory one stands in for it.
  productionCache = await openSharedCache({ logger });
  production = await startGateway(loadGatewayConfig(productionEnv), {
    logger,
    authorization: 'disabled',
    cache: productionCache,
  });
  partnerProduction = await startGateway(loadGatewayConfig({ ...productionEnv, CORS_ALLOWED_ORIGINS: PARTNER_APP }), {
    logger,
    authorization: 'disabled',
    cache: productionCache,
  });
});

afterAll(async () => {
  await sandbox?.close();
  await production?.close();
  await partnerProduction?.close();
  await productionCache?.close();
  await toys?.close();
  await jwks?.close();
  supergraph?.cleanup();
});

/** The preflight a browser sends before a JSON POST with a bearer token. */
function preflight(url: string, origin: string, requestHeaders = 'authorization, content-type'): Promise<Response> {
  return fetch(url, {
    method: 'OPTIONS',
    headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': requestHeaders },
  });
}

async function postFrom(
  url: string,
  origin: string,
  query = '{ whoami { clientId } }',
  token?: string,
): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: {
      origin,
      'content-type': 'application/json',
      authorization: `Bearer ${token ?? (await jwks.sign({ client_id: 'partner-web' }))}`,
    },
    body: JSON.stringify({ query }),
  });
}

const varies = (res: Response) => (res.headers.get('vary') ?? '').split(',').map((v) => v.trim().toLowerCase());
const listed = (value: string | null) => (value ?? '').split(',').map((v) => v.trim().toLowerCase());

describe('CORS preflight', () => {
  it('answers an allowed origin with its origin, the methods, the headers a web app sends, a max-age, and no credentials', async () => {
    const res = await preflight(sandbox.url, 'http://localhost:5173', 'authorization, content-type, dpop, traceparent');
    expect(res.status).toBe(204);
    expect(await res.text()).toBe('');
    expect(res.headers.get('access-control-allow-origin')).toBe('http://localhost:5173');
    expect(listed(res.headers.get('access-control-allow-methods'))).toEqual(['get', 'post']);
    expect(listed(res.headers.get('access-control-allow-headers'))).toEqual(
      expect.arrayContaining([
        'authorization',
        'content-type',
        'dpop',
        'x-request-id',
        'traceparent',
        'apollo-require-preflight',
      ]),
    );
    expect(res.headers.get('access-control-max-age')).toBe('600');
    expect(varies(res)).toContain('origin');
    expect(res.headers.get('access-control-allow-credentials')).toBeNull();
  });

  it('allows, in the sandbox, loopback web apps on any port and the gateway public origin', async () => {
    for (const origin of [
      'http://localhost:3000',
      'http://127.0.0.1:8080',
      'http://[::1]:4200',
      'http://localhost',
      PUBLIC_URL,
    ]) {
      const res = await preflight(sandbox.url, origin);
      expect(res.status, origin).toBe(204);
      expect(res.headers.get('access-control-allow-origin'), origin).toBe(origin);
    }
  });

  it('refuses any other origin with 403 CORS_ORIGIN_NOT_ALLOWED and no CORS header, not with a CSRF error', async () => {
    for (const origin of [
      PARTNER_APP,
      'https://localhost.evil.example',
      'http://localhost.evil.example:3000',
      'null',
      'https://sandbox.financial-graph.example.evil.example',
    ]) {
      const res = await preflight(sandbox.url, origin);
      expect(res.status, origin).toBe(403);
      const body = (await res.json()) as { errors: { extensions: { code: string } }[] };
      expect(body.errors[0]!.extensions.code).toBe('CORS_ORIGIN_NOT_ALLOWED');
      expect(res.headers.get('access-control-allow-origin'), origin).toBeNull();
      expect(res.headers.get('access-control-allow-methods'), origin).toBeNull();
      expect(varies(res)).toContain('origin');
    }
  });

  it('allows no origin at all by default in production, and exactly the configured ones when CORS_ALLOWED_ORIGINS is set', async () => {
    expect((await preflight(production.url, 'http://localhost:3000')).status).toBe(403);
    expect((await preflight(production.url, PARTNER_APP)).status).toBe(403);
    const partner = await preflight(partnerProduction.url, PARTNER_APP);
    expect(partner.status).toBe(204);
    expect(partner.headers.get('access-control-allow-origin')).toBe(PARTNER_APP);
    // The variable replaces the profile's default: no loopback origin unless listed.
    expect((await preflight(partnerProduction.url, 'http://localhost:3000')).status).toBe(403);
    expect((await preflight(partnerProduction.url, 'https://app.partner.example:8443')).status).toBe(403);
  });
});

describe('CORS on the request itself', () => {
  it('lets an allowed origin read the answer and its request id, never with credentials', async () => {
    const res = await postFrom(sandbox.url, 'http://localhost:5173');
    expect(res.status).toBe(200);
    expect(((await res.json()) as { data: { whoami: { clientId: string } } }).data.whoami.clientId).toBe('partner-web');
    expect(res.headers.get('access-control-allow-origin')).toBe('http://localhost:5173');
    expect(listed(res.headers.get('access-control-expose-headers'))).toEqual(
      expect.arrayContaining(['x-request-id', 'traceparent', 'www-authenticate']),
    );
    expect(res.headers.get('access-control-allow-credentials')).toBeNull();
    expect(varies(res)).toContain('origin');
    // In production, for the one configured origin (the toy subgraphs trust only the development
    // signing secret, so the query stays at the gateway).
    const partner = await postFrom(partnerProduction.url, PARTNER_APP, '{ __typename }');
    expect(partner.status).toBe(200);
    expect(await partner.json()).toEqual({ data: { __typename: 'Query' } });
    expect(partner.headers.get('access-control-allow-origin')).toBe(PARTNER_APP);
    expect(partner.headers.get('access-control-allow-credentials')).toBeNull();
  });

  it('lets an allowed origin read a refusal too (401 with WWW-Authenticate), so the app can tell why', async () => {
    const res = await postFrom(sandbox.url, 'http://localhost:5173', '{ whoami { clientId } }', 'not-a-jwt');
    expect(res.status).toBe(401);
    expect(res.headers.get('access-control-allow-origin')).toBe('http://localhost:5173');
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer error="invalid_token"/);
  });

  it('gives a refused origin no CORS header, so the browser keeps the answer from the page', async () => {
    const res = await postFrom(production.url, PARTNER_APP);
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    expect(res.headers.get('access-control-expose-headers')).toBeNull();
    expect(varies(res)).toContain('origin');
  });

  it('still refuses, by CSRF prevention, a simple cross-origin GET or form POST a page can send without a preflight', async () => {
    const before = toys.users.seen.length;
    const query = encodeURIComponent('{ whoami { clientId } }');
    const simpleGet = await fetch(`${sandbox.url}?query=${query}`, { headers: { origin: 'http://localhost:5173' } });
    const formPost = await fetch(sandbox.url, {
      method: 'POST',
      headers: { origin: 'http://localhost:5173', 'content-type': 'text/plain' },
      body: JSON.stringify({ query: '{ whoami { clientId } }' }),
    });
    for (const res of [simpleGet, formPost]) {
      expect(res.status).toBe(400);
      const body = (await res.json()) as { errors: { message: string; extensions: { code: string } }[] };
      expect(body.errors[0]!.extensions.code).toBe('BAD_REQUEST');
      expect(body.errors[0]!.message).toMatch(/Cross-Site Request Forgery/);
    }
    expect(toys.users.seen.length).toBe(before);
    // With a preflight-forcing header (which a browser sends only after an allowed preflight) the same GET runs.
    const preflighted = await fetch(`${sandbox.url}?query=${encodeURIComponent('{ __typename }')}`, {
      headers: { origin: 'http://localhost:5173', 'apollo-require-preflight': 'true' },
    });
    expect(preflighted.status).toBe(200);
    expect(preflighted.headers.get('access-control-allow-origin')).toBe('http://localhost:5173');
  });

  it('leaves /healthz and requests without an Origin alone', async () => {
    const health = await fetch(new URL('/healthz', sandbox.url), { headers: { origin: 'http://localhost:5173' } });
    expect(health.headers.get('access-control-allow-origin')).toBeNull();
    const server = await fetch(sandbox.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${await jwks.sign()}` },
      body: '{"query":"{ __typename }"}',
    });
    expect(server.status).toBe(200);
    expect(server.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('CORS_ALLOWED_ORIGINS', () => {
  const load = (env: Record<string, string>) =>
    loadGatewayConfig({ AUTH_JWKS_URL: 'http://127.0.0.1:1/jwks.json', ...env });
  const production = {
    PROFILE: 'production',
    INTERNAL_AUTH_SECRET: PRODUCTION_SECRET,
    REDIS_URL: 'redis://127.0.0.1:9',
    AUTH_ISSUER: ISSUER,
    AUTH_AUDIENCE: AUDIENCE,
  };

  it('defaults to loopback origins in the sandbox and to none in production; "none" turns it off', () => {
    expect(load({}).CORS_ALLOWED_ORIGINS).toEqual(['http://localhost:*', 'http://127.0.0.1:*', 'http://[::1]:*']);
    expect(load({ GATEWAY_PUBLIC_URL: 'https://gw.example/graph' }).CORS_ALLOWED_ORIGINS).toContain(
      'https://gw.example',
    );
    expect(load(production).CORS_ALLOWED_ORIGINS).toEqual([]);
    expect(load({ CORS_ALLOWED_ORIGINS: 'none' }).CORS_ALLOWED_ORIGINS).toEqual([]);
    expect(
      load({ CORS_ALLOWED_ORIGINS: 'https://a.example, https://b.example:8443 http://localhost:*' })
        .CORS_ALLOWED_ORIGINS,
    ).toEqual(['https://a.example', 'https://b.example:8443', 'http://localhost:*']);
    expect(load({ CORS_MAX_AGE_SECONDS: '60' }).CORS_MAX_AGE_SECONDS).toBe(60);
  });

  it('stops the process on anything that is not an origin, on "*", and on plain http in production', () => {
    for (const bad of [
      '*',
      'https://a.example/',
      'https://a.example/app',
      'https://A.example',
      'https://a.example:443',
      'ftp://a.example',
      'a.example',
      'https://u:p@a.example',
      'https://a.example:8443:*',
      'none https://a.example',
    ]) {
      expect(() => load({ CORS_ALLOWED_ORIGINS: bad }), bad).toThrow(/CORS_ALLOWED_ORIGINS/);
    }
    expect(() => load({ ...production, CORS_ALLOWED_ORIGINS: 'https://a.example http://b.example' })).toThrow(
      /CORS_ALLOWED_ORIGINS: the production profile allows only https/,
    );
    expect(() => load({ CORS_MAX_AGE_SECONDS: '-1' })).toThrow(/CORS_MAX_AGE_SECONDS/);
  });

  it('matches an Origin header exactly, or any port of a host listed with ":*"', () => {
    const allowed = ['https://app.example', 'http://localhost:*'];
    expect(originAllowed('https://app.example', allowed)).toBe(true);
    expect(originAllowed('http://localhost:3000', allowed)).toBe(true);
    expect(originAllowed('http://localhost', allowed)).toBe(true);
    for (const origin of [
      'https://app.example:8443',
      'http://app.example',
      'https://app.example.evil',
      'https://localhost:3000',
      'http://localhost:3000/',
      'null',
      '',
      undefined,
    ]) {
      expect(originAllowed(origin, allowed), String(origin)).toBe(false);
    }
  });
});
