import { readFileSync } from 'node:fs';
import { createServer, get as httpGet, type IncomingHttpHeaders } from 'node:http';
import { gunzipSync } from 'node:zlib';
import * as graphql from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadGatewayConfig } from '../../gateway/config.ts';
import { startGateway, type RunningGateway } from '../../gateway/server.ts';
import type { RequirementsDocument } from '../../gateway/explorer/requirements.ts';
import { openSharedCache, type SharedCache } from '../../lib/cache.ts';
import { closeServer, listen } from '../../lib/http-server.ts';
import { startAuthServer, type RunningAuthServer } from '../../sandboxes/auth-server.ts';
import { SANDBOX_CLIENTS, SANDBOX_CUSTOMERS } from '../../sandboxes/manifest.ts';
import { logger, stubGatewayEnv } from '../gateway/helpers.ts';

/**
 * The explorer's routes on a real gateway (the real supergraph and rules; every subgraph is one
 * stub that only answers the client-registry lookup), against the sandbox authorization server:
 * what `/` serves and how, the token panel's relay in the sandbox profile, and in production an
 * explorer that is off unless configured on and a token panel that does not exist at all.
 * What the page does in a browser is browser.test.ts; whether its verdicts match the gateway's,
 * agreement.test.ts.
 */

const PRODUCTION_SECRET = 'explorer-test-internal-secret-0123456789abcdef';
const ALICE = SANDBOX_CUSTOMERS[0]!.customerId;
const KINDS: Record<string, string> = { 'web-app': 'FIRST_PARTY', budgetly: 'THIRD_PARTY' };

/** All four subgraphs: answers the client-kind lookup from KINDS, and nothing else (so a consent lookup fails). */
async function startRegistryStub() {
  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (chunk: Buffer) => (raw += chunk.toString()));
    req.on('end', () => {
      const body = JSON.parse(raw) as { operationName?: string; variables?: { id?: string } };
      res.writeHead(200, { 'content-type': 'application/json' });
      const kind = body.operationName === 'GatewayAuthzClientKind' ? KINDS[body.variables?.id ?? ''] : undefined;
      res.end(
        JSON.stringify(kind ? { data: { clientApp: { kind } } } : { errors: [{ message: 'the stub has no data' }] }),
      );
    });
  });
  const { url } = await listen(server, 0);
  return { url: `${url}/graphql`, close: () => closeServer(server) };
}

let auth: RunningAuthServer;
let stub: Awaited<ReturnType<typeof startRegistryStub>>;
let sandbox: RunningGateway;
let unreachableAuth: RunningGateway;
let productionOff: RunningGateway;
let productionOn: RunningGateway;
let productionCache: SharedCache;

const origin = (g: RunningGateway) => g.url.replace(/\/graphql$/, '');
const get = (g: RunningGateway, path: string, headers: Record<string, string> = {}) =>
  fetch(`${origin(g)}${path}`, { headers, redirect: 'manual' });
const postJson = (g: RunningGateway, path: string, body: unknown, contentType = 'application/json') =>
  fetch(`${origin(g)}${path}`, {
    method: 'POST',
    headers: { 'content-type': contentType },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
/** The bytes as sent (fetch would undo the content encoding). */
function rawGet(url: string, headers: Record<string, string>): Promise<{ headers: IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    httpGet(url, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    }).on('error', reject);
  });
}
const code = async (res: Response) =>
  ((await res.json()) as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code;

beforeAll(async () => {
  auth = await startAuthServer({ port: 0, logger });
  stub = await startRegistryStub();
  const base = { ...stubGatewayEnv(auth.jwksUrl, stub.url), AUTH_ISSUER: auth.issuer, SUBGRAPH_TIMEOUT_MS: '2000' };
  sandbox = await startGateway(loadGatewayConfig(base), { logger });
  unreachableAuth = await startGateway(loadGatewayConfig({ ...base, AUTH_ISSUER: 'http://127.0.0.1:9' }), { logger });
  // Production requires REDIS_URL; the shared cache plays no part here, so an in-memory one stands in for it.
  productionCache = await openSharedCache({ logger });
  const production = {
    ...base,
    PROFILE: 'production',
    INTERNAL_AUTH_SECRET: PRODUCTION_SECRET,
    REDIS_URL: 'redis://127.0.0.1:9',
  };
  productionOff = await startGateway(loadGatewayConfig(production), { logger, cache: productionCache });
  productionOn = await startGateway(loadGatewayConfig({ ...production, GATEWAY_EXPLORER: 'on' }), {
    logger,
    cache: productionCache,
  });
});

afterAll(async () => {
  for (const g of [sandbox, unreachableAuth, productionOff, productionOn]) await g?.close();
  await productionCache?.close();
  await stub?.close();
  await auth?.close();
});

describe('the explorer page (sandbox profile, on by default)', () => {
  it('is served at / under a policy that keeps every request on the gateway origin', async () => {
    const res = await get(sandbox, '/');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const csp = res.headers.get('content-security-policy') ?? '';
    for (const directive of ["default-src 'none'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"])
      expect(csp).toContain(directive);
    expect(csp).not.toMatch(/unsafe-eval|https?:/);
    const html = await res.text();
    expect(html).toContain('data-sandbox-panel="on"');
    // Every resource is relative to the page: nothing names another host.
    const urls = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(urls.length).toBeGreaterThan(4);
    for (const url of urls) expect(url).toMatch(/^(\.\/|data:)/);
  });

  it('serves every script and stylesheet the page names, compressed, with validators; vendor bundles by version, for good', async () => {
    const html = await (await get(sandbox, '/')).text();
    const assets = [...html.matchAll(/(?:src|href)="\.(\/explorer\/[^"]+\.(?:js|css))"/g)].map((m) => m[1]!);
    expect(assets).toEqual(
      expect.arrayContaining([
        '/explorer/app.js',
        '/explorer/explorer.css',
        expect.stringMatching(/^\/explorer\/vendor\/graphiql-4\.\d+\.\d+\.js$/),
        expect.stringMatching(/^\/explorer\/vendor\/react-18\./),
      ]),
    );
    for (const path of assets) {
      const plain = await get(sandbox, path);
      expect(plain.status, path).toBe(200);
      const body = Buffer.from(await plain.arrayBuffer());
      const zipped = await rawGet(`${origin(sandbox)}${path}`, { 'accept-encoding': 'gzip, br' });
      expect(zipped.headers['content-encoding'], path).toBe('gzip');
      expect(gunzipSync(zipped.body).equals(body), path).toBe(true);
      expect(zipped.body.length, path).toBeLessThan(body.length);
      const etag = plain.headers.get('etag')!;
      expect((await get(sandbox, path, { 'if-none-match': etag })).status, path).toBe(304);
      expect(plain.headers.get('cache-control'), path).toBe(
        path.includes('/vendor/') ? 'public, max-age=31536000, immutable' : 'no-cache',
      );
      expect(body.toString('utf8')).not.toContain('sourceMappingURL');
    }
  });

  it('sends a browser that opens /graphql to the explorer instead of a hosted landing page; API calls are untouched', async () => {
    const browser = await get(sandbox, '/graphql', { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' });
    expect(browser.status).toBe(302);
    expect(browser.headers.get('location')).toBe('./');
    const withQuery = await get(sandbox, '/graphql?query=%7B__typename%7D', {
      accept: 'text/html, application/json',
      'apollo-require-preflight': 'true',
    });
    expect(withQuery.status).toBe(200);
    expect(await withQuery.json()).toEqual({ data: { __typename: 'Query' } });
  });

  it('serves the requirements of every field, the schema with them in its descriptions, and the examples', async () => {
    const requirements = (await (await get(sandbox, '/explorer/requirements.json')).json()) as RequirementsDocument;
    expect(requirements.problems).toEqual([]);
    const introspection = (await (await get(sandbox, '/explorer/schema.json')).json()) as {
      data: graphql.IntrospectionQuery;
    };
    const schema = graphql.buildClientSchema(introspection.data);
    const coordinates = Object.values(schema.getTypeMap())
      .filter((t): t is graphql.GraphQLObjectType => graphql.isObjectType(t) && !t.name.startsWith('__'))
      .flatMap((t) => Object.keys(t.getFields()).map((f) => `${t.name}.${f}`));
    expect(Object.keys(requirements.fields).sort()).toEqual(coordinates.sort());
    const email = (schema.getType('Customer') as graphql.GraphQLObjectType).getFields().email!;
    expect(email.description).toContain(requirements.fields['Customer.email']!.line);
    const examples = (await (await get(sandbox, '/explorer/examples.json')).json()) as { id: string; query: string }[];
    expect(examples.map((e) => e.id)).toContain('dashboard');
  });

  it("links the public schema's changelog", async () => {
    expect(await (await get(sandbox, '/')).text()).toContain('href="./explorer/changelog.md"');
    const changelog = await get(sandbox, '/explorer/changelog.md');
    expect(changelog.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(await changelog.text()).toBe(readFileSync(new URL('../../schema/CHANGELOG.md', import.meta.url), 'utf8'));
  });

  it('describes the caller behind a token as the rules see it, and refuses without a valid token', async () => {
    const token = await auth.mint({ customerId: ALICE, clientId: 'web-app', scopes: ['accounts:read'] });
    const res = await get(sandbox, '/explorer/caller', { authorization: `Bearer ${token}` });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(await res.json()).toEqual({
      clientId: 'web-app',
      customerId: ALICE,
      scopes: ['accounts:read'],
      kind: 'customer',
      grants: null,
      consentedAccounts: null,
    });
    const none = await get(sandbox, '/explorer/caller');
    expect([none.status, none.headers.get('www-authenticate'), await code(none)]).toEqual([
      401,
      'Bearer',
      'UNAUTHENTICATED',
    ]);
    const forged = await get(sandbox, '/explorer/caller', { authorization: `Bearer ${token.slice(0, -4)}AAAA` });
    expect([forged.status, await code(forged)]).toEqual([401, 'UNAUTHENTICATED']);
  });

  it('fails closed when a third party cannot have its consents looked up', async () => {
    const token = await auth.mint({ customerId: ALICE, clientId: 'budgetly' });
    const res = await get(sandbox, '/explorer/caller', { authorization: `Bearer ${token}` });
    expect(res.status).toBe(503);
    const body = await res.text();
    expect(JSON.parse(body).errors[0].extensions.code).toBe('SERVICE_UNAVAILABLE');
    expect(body).not.toMatch(/\bat .*\.ts:\d+/);
  });
});

describe('the sandbox token panel', () => {
  it('lists the seeded customers and client apps from the sandbox authorization server, without secrets', async () => {
    const res = await get(sandbox, '/explorer/sandbox/world');
    expect(res.status).toBe(200);
    const world = (await res.json()) as {
      customers: { customerId: string }[];
      clients: { clientId: string; kind: string; allowedScopes: string[] }[];
    };
    expect(world.customers.map((c) => c.customerId)).toEqual(SANDBOX_CUSTOMERS.map((c) => c.customerId));
    expect(world.clients).toEqual(
      SANDBOX_CLIENTS.map((c) =>
        expect.objectContaining({ clientId: c.clientId, kind: c.kind, allowedScopes: c.allowedScopes }),
      ),
    );
    const text = JSON.stringify(world);
    for (const c of SANDBOX_CLIENTS) expect(text).not.toContain(c.clientSecret);
    expect(text).not.toMatch(/secret|accessToken|psuId/i);
  });

  it('gets a token with one request, which the gateway accepts', async () => {
    const res = await postJson(sandbox, '/explorer/sandbox/token', {
      customerId: ALICE,
      clientId: 'web-app',
      scopes: ['accounts:read', 'identity:read'],
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { access_token: string; scope: string; token_type: string };
    expect(body).toMatchObject({ token_type: 'Bearer', scope: 'accounts:read identity:read' });
    const caller = await get(sandbox, '/explorer/caller', { authorization: `Bearer ${body.access_token}` });
    expect(await caller.json()).toMatchObject({ clientId: 'web-app', customerId: ALICE, kind: 'customer' });
  });

  it("passes on the authorization server's refusal, and refuses what is not a JSON token request", async () => {
    const refused = await postJson(sandbox, '/explorer/sandbox/token', {
      customerId: ALICE,
      clientId: 'budgetly',
      scopes: ['pii:read'],
    });
    expect(refused.status).toBe(400);
    const body = (await refused.json()) as { errors: { message: string; extensions: Record<string, unknown> }[] };
    expect(body.errors[0]).toMatchObject({
      message: 'scope not allowed for budgetly: pii:read',
      extensions: { code: 'TOKEN_REFUSED', oauthError: 'invalid_scope' },
    });
    expect((await postJson(sandbox, '/explorer/sandbox/token', { clientId: 'web-app', scopes: 'all' })).status).toBe(
      400,
    );
    expect(await code(await postJson(sandbox, '/explorer/sandbox/token', { clientId: 7, scopes: [] }))).toBe(
      'BAD_USER_INPUT',
    );
    const form = await postJson(
      sandbox,
      '/explorer/sandbox/token',
      'clientId=web-app',
      'application/x-www-form-urlencoded',
    );
    expect([form.status, await code(form)]).toEqual([415, 'UNSUPPORTED_MEDIA_TYPE']);
    expect(await code(await postJson(sandbox, '/explorer/sandbox/token', '{"clientId":'))).toBe('BAD_REQUEST');
  });

  it('says so when the sandbox authorization server does not answer', async () => {
    const world = await get(unreachableAuth, '/explorer/sandbox/world');
    expect([world.status, await code(world)]).toEqual([502, 'SANDBOX_AUTH_UNAVAILABLE']);
    const token = await postJson(unreachableAuth, '/explorer/sandbox/token', {
      customerId: ALICE,
      clientId: 'web-app',
      scopes: [],
    });
    expect([token.status, await code(token)]).toEqual([502, 'SANDBOX_AUTH_UNAVAILABLE']);
  });

  it('is answered by the authorization server only when its sandbox routes are on', async () => {
    const closed = await startAuthServer({ port: 0, logger, adminRoutes: false });
    try {
      expect((await fetch(`${closed.url}/sandbox/world`)).status).toBe(404);
      expect((await fetch(`${auth.url}/sandbox/world`)).status).toBe(200);
    } finally {
      await closed.close();
    }
  });
});

describe('the production profile', () => {
  it('has no explorer unless configured on: / and every explorer path are 404, and /graphql shows no landing page', async () => {
    for (const path of [
      '/',
      '/explorer/app.js',
      '/explorer/requirements.json',
      '/explorer/sandbox.js',
      '/explorer/sandbox/world',
      '/explorer/caller',
    ]) {
      const res = await get(productionOff, path);
      expect([path, res.status, await code(res)]).toEqual([path, 404, 'NOT_FOUND']);
    }
    const browser = await get(productionOff, '/graphql', { accept: 'text/html' });
    expect(browser.status).toBe(400);
    expect(browser.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await browser.text()).not.toMatch(/<html|apollographql|embeddable-sandbox/i);
  });

  it('with GATEWAY_EXPLORER=on serves the explorer and its docs, and the token panel does not exist at all', async () => {
    const page = await get(productionOn, '/');
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('data-sandbox-panel="off"');
    expect(html).not.toContain('sandbox.js');
    for (const path of ['/explorer/sandbox.js', '/explorer/sandbox/world'])
      expect((await get(productionOn, path)).status, path).toBe(404);
    const mint = await postJson(productionOn, '/explorer/sandbox/token', {
      customerId: ALICE,
      clientId: 'web-app',
      scopes: [],
    });
    expect([mint.status, await code(mint)]).toEqual([404, 'NOT_FOUND']);
    // Introspection stays off on /graphql; the explorer's docs come from its own route.
    expect((await get(productionOn, '/explorer/schema.json')).status).toBe(200);
    expect((await get(productionOn, '/explorer/requirements.json')).status).toBe(200);
  });

  it('needs no explorer variable to be valid, and refuses a value other than on or off', () => {
    expect(loadGatewayConfig({ AUTH_ISSUER: auth.issuer }).GATEWAY_EXPLORER).toBe('on');
    expect(() => loadGatewayConfig({ GATEWAY_EXPLORER: 'yes' })).toThrow(/GATEWAY_EXPLORER/);
  });
});
