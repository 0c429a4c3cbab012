import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { ApolloServer, HeaderMap } from '@apollo/server';
import { ApolloServerErrorCode } from '@apollo/server/errors';
import { serverAudits } from 'graphql-http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSchema, GraphQLError } from 'graphql';
import { loadGatewayConfig } from '../../gateway/config.ts';
import { startGateway, type RunningGateway } from '../../gateway/server.ts';
import { openSharedCache, type SharedCache } from '../../lib/cache.ts';
import { APOLLO_CLIENT_CODES, CLIENT_CODES, maskError } from '../../lib/error-masking.ts';
import { ErrorCode, PartnerError } from '../../lib/errors.ts';
import { closeServer, listen } from '../../lib/http-server.ts';
import {
  gql,
  hasStackTrace,
  logger,
  startLocalJwks,
  stubGatewayEnv,
  type GraphQLResult,
  type LocalJwks,
} from './helpers.ts';

/**
 * Protocol mistakes get the code that names them (not INTERNAL_SERVER_ERROR), the production
 * profile suggests no schema names, and the gateway passes graphql-http's GraphQL-over-HTTP
 * audits. Against the real gateway: the real supergraph with the authorization rules enforced;
 * every subgraph URL points at a stub that only answers the authorization lookup of the
 * caller's kind (no data is needed for any of this).
 */

const SCOPES = 'accounts:read transactions:read payments:read identity:read consents:read';
const PRODUCTION_SECRET = 'protocol-test-internal-secret-0123456789abcdef';

async function startKindStub() {
  let requests = 0;
  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (chunk: Buffer) => (raw += chunk.toString()));
    req.on('end', () => {
      requests++;
      const kindLookup = raw.includes('GatewayAuthzClientKind');
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify(
          kindLookup
            ? { data: { clientApp: { kind: 'FIRST_PARTY' } } }
            : { errors: [{ message: 'the stub has no data' }] },
        ),
      );
    });
  });
  const { url } = await listen(server, 0);
  return { url: `${url}/graphql`, requests: () => requests, close: () => closeServer(server) };
}

let jwks: LocalJwks;
let stub: Awaited<ReturnType<typeof startKindStub>>;
let sandbox: RunningGateway;
let production: RunningGateway;
let productionCache: SharedCache;

beforeAll(async () => {
  jwks = await startLocalJwks();
  stub = await startKindStub();
  const base = stubGatewayEnv(jwks.url, stub.url);
  sandbox = await startGateway(loadGatewayConfig(base), { logger });
  // Production requires REDIS_URL; the shared cache plays no part here, so an in-memory one stands in for it.
  productionCache = await openSharedCache({ logger });
  production = await startGateway(
    loadGatewayConfig({
      ...base,
      PROFILE: 'production',
      INTERNAL_AUTH_SECRET: PRODUCTION_SECRET,
      REDIS_URL: 'redis://127.0.0.1:9',
    }),
    {
      logger,
      cache: productionCache,
    },
  );
});

afterAll(async () => {
  await sandbox?.close();
  await production?.close();
  await productionCache?.close();
  await stub?.close();
  await jwks?.close();
});

const token = () => jwks.sign({ scope: SCOPES });

async function post(url: string, body: unknown): Promise<GraphQLResult> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${await token()}` },
    body: JSON.stringify(body),
  });
  const raw = await res.text();
  return { status: res.status, headers: res.headers, body: JSON.parse(raw) as GraphQLResult['body'], raw };
}

function expectCode(res: GraphQLResult, status: number, code: string) {
  expect(res.status, res.raw).toBe(status);
  expect(res.body.data ?? undefined).toBeUndefined();
  expect(res.body.errors?.map((e) => e.extensions?.code)).toEqual([code]);
  expect(hasStackTrace(res.raw)).toBe(false);
}

describe('persisted queries (APQ)', () => {
  const query = 'query Typename { __typename }';
  const sha256Hash = createHash('sha256').update(query).digest('hex');

  it('answers a hash the gateway does not know with PERSISTED_QUERY_NOT_FOUND, so the client sends the document', async () => {
    const unknown = createHash('sha256').update('{ never sent }').digest('hex');
    // Apollo answers it with HTTP 200 and no-cache: the client retries with the document.
    const res = await post(sandbox.url, { extensions: { persistedQuery: { version: 1, sha256Hash: unknown } } });
    expectCode(res, 200, 'PERSISTED_QUERY_NOT_FOUND');
    expect(res.body.errors?.[0]?.message).toBe('PersistedQueryNotFound');

    const url = new URL(sandbox.url);
    url.searchParams.set('extensions', JSON.stringify({ persistedQuery: { version: 1, sha256Hash: unknown } }));
    const get = await fetch(url, {
      headers: { authorization: `Bearer ${await token()}`, 'apollo-require-preflight': 'true' },
    });
    const raw = await get.text();
    expectCode(
      { status: get.status, headers: get.headers, body: JSON.parse(raw) as GraphQLResult['body'], raw },
      200,
      'PERSISTED_QUERY_NOT_FOUND',
    );
  });

  it('runs a document registered with its hash when it is later sent by hash alone', async () => {
    const registered = await post(sandbox.url, { query, extensions: { persistedQuery: { version: 1, sha256Hash } } });
    expect(registered.body).toEqual({ data: { __typename: 'Query' } });
    const byHash = await post(sandbox.url, { extensions: { persistedQuery: { version: 1, sha256Hash } } });
    expect(byHash.status).toBe(200);
    expect(byHash.body).toEqual({ data: { __typename: 'Query' } });
  });

  it('answers a hash that does not match the document, or an unknown APQ version, with BAD_REQUEST', async () => {
    // Apollo raises both without a code (only HTTP 400); they must not read as a server failure.
    const mismatch = await post(sandbox.url, {
      query,
      extensions: { persistedQuery: { version: 1, sha256Hash: '0'.repeat(64) } },
    });
    expectCode(mismatch, 400, 'BAD_REQUEST');
    expect(mismatch.body.errors?.[0]?.message).toBe('provided sha does not match query');
    const version = await post(sandbox.url, { query, extensions: { persistedQuery: { version: 2, sha256Hash } } });
    expectCode(version, 400, 'BAD_REQUEST');
    expect(version.body.errors?.[0]?.message).toBe('Unsupported persisted query version');
  });

  it('answers PERSISTED_QUERY_NOT_SUPPORTED through the shared masking where APQ is off', async () => {
    // The gateway keeps APQ on; a service that turns it off answers with Apollo's code, which the shared masking must
    // let through.
    const apollo = new ApolloServer({
      schema: buildSchema('type Query { ok: Boolean }'),
      persistedQueries: false,
      formatError: maskError(logger),
      includeStacktraceInErrorResponses: false,
    });
    await apollo.start();
    try {
      const res = await apollo.executeHTTPGraphQLRequest({
        httpGraphQLRequest: {
          method: 'POST',
          headers: new HeaderMap([['content-type', 'application/json']]),
          search: '',
          body: { extensions: { persistedQuery: { version: 1, sha256Hash } } },
        },
        context: async () => ({}),
      });
      expect(res.body.kind).toBe('complete');
      const body = JSON.parse(res.body.kind === 'complete' ? res.body.string : '{}') as GraphQLResult['body'];
      expect(body.errors?.map((e) => e.extensions?.code)).toEqual(['PERSISTED_QUERY_NOT_SUPPORTED']);
    } finally {
      await apollo.stop();
    }
  });
});

describe('operation resolution', () => {
  const twoOperations = 'query A { __typename } query B { __typename }';

  it('answers several operations without operationName with OPERATION_RESOLUTION_FAILURE (HTTP 400)', async () => {
    const res = await post(sandbox.url, { query: twoOperations });
    expectCode(res, 400, 'OPERATION_RESOLUTION_FAILURE');
    expect(res.body.errors?.[0]?.message).toMatch(/Must provide operation name/);
  });

  it('answers an operationName that names no operation with OPERATION_RESOLUTION_FAILURE (HTTP 400)', async () => {
    const res = await post(sandbox.url, { query: twoOperations, operationName: 'C' });
    expectCode(res, 400, 'OPERATION_RESOLUTION_FAILURE');
    expect(res.body.errors?.[0]?.message).toMatch(/Unknown operation named "C"/);
  });

  it('runs the operation operationName names', async () => {
    const res = await post(sandbox.url, { query: twoOperations, operationName: 'B' });
    expect(res.body).toEqual({ data: { __typename: 'Query' } });
  });
});

describe('the shared masking (lib/error-masking.ts)', () => {
  const mask = maskError(logger);

  it('lets every client code through, without a stack trace', () => {
    for (const code of CLIENT_CODES) {
      const masked = mask(
        { message: 'what went wrong', extensions: { code, stacktrace: ['at x (y.ts:1:1)'] } },
        new GraphQLError('what went wrong'),
      );
      expect(masked, code).toEqual({ message: 'what went wrong', extensions: { code } });
    }
  });

  it('lists Apollo’s client codes and ours, but not INTERNAL_SERVER_ERROR', () => {
    const apolloCodes = Object.values(ApolloServerErrorCode).filter(
      (c) => c !== ApolloServerErrorCode.INTERNAL_SERVER_ERROR,
    );
    expect([...APOLLO_CLIENT_CODES].sort()).toEqual([...apolloCodes].sort());
    for (const code of [
      ...apolloCodes,
      ...Object.values(ErrorCode).filter((c) => c !== ErrorCode.INTERNAL_SERVER_ERROR),
    ])
      expect(CLIENT_CODES.has(code), code).toBe(true);
    expect(CLIENT_CODES.has('INTERNAL_SERVER_ERROR')).toBe(false);
  });

  it('answers BAD_REQUEST for an error raised with a 4xx status and no code, and masks one with a 5xx status', () => {
    const clientMistake = new GraphQLError('provided sha does not match query', {
      extensions: { http: { status: 400 } },
    });
    expect(
      mask({ message: clientMistake.message, extensions: { code: 'INTERNAL_SERVER_ERROR' } }, clientMistake),
    ).toEqual({ message: clientMistake.message, extensions: { code: 'BAD_REQUEST' } });
    const serverFault = new GraphQLError('upstream pool exhausted', { extensions: { http: { status: 503 } } });
    expect(mask({ message: serverFault.message, extensions: { code: 'INTERNAL_SERVER_ERROR' } }, serverFault)).toEqual({
      message: 'Internal server error',
      extensions: { code: 'INTERNAL_SERVER_ERROR' },
    });
  });

  it('replaces anything else with a bare INTERNAL_SERVER_ERROR and names a failing partner', () => {
    expect(
      mask(
        { message: 'connect ECONNREFUSED 10.0.0.5:5432', path: ['me'], extensions: { code: 'SOMETHING_INTERNAL' } },
        new Error('connect ECONNREFUSED 10.0.0.5:5432'),
      ),
    ).toEqual({
      message: 'Internal server error',
      path: ['me'],
      extensions: { code: 'INTERNAL_SERVER_ERROR' },
    });
    expect(
      mask({ message: 'x', extensions: {} }, new PartnerError('northwind', 'unavailable', 'HTTP 503')),
    ).toMatchObject({
      message: 'northwind is unavailable',
      extensions: { code: 'PARTNER_UNAVAILABLE', partner: 'northwind' },
    });
  });
});

describe('production profile: validation messages carry no suggestions', () => {
  /** [what, document, variables?, the name a suggestion would reveal]: each has a suggestion in the sandbox profile. */
  const cases: [string, string, Record<string, unknown> | undefined, RegExp][] = [
    ['field', '{ me { dispalyName } }', undefined, /displayName/],
    ['root field', '{ acount(id: "acc_1") { id } }', undefined, /"account"/],
    ['argument', '{ account(idd: "acc_1") { id } }', undefined, /Did you mean "id"/],
    ['directive argument', '{ me @include(iff: true) { id } }', undefined, /Did you mean "if"/],
    [
      'variable type',
      'query($f: PaymentFiltr) { me { payments(filter: $f) { edges { cursor } } } }',
      undefined,
      /PaymentFilter\b/,
    ],
    ['fragment type', '{ me { ...F } } fragment F on Custmer { id }', undefined, /"Customer"/],
    ['inline fragment type', '{ me { ... on Custmer { id } } }', undefined, /"Customer"/],
    ['enum value', '{ me { consents(status: [AUTHORISD]) { id } } }', undefined, /AUTHORISED/],
    [
      'enum value in variables',
      'query($s: [ConsentStatus!]) { me { consents(status: $s) { id } } }',
      { s: ['AUTHORISD'] },
      /AUTHORISED/,
    ],
    ['input field', '{ me { payments(filter: { frm: "2024-01-01" }) { edges { cursor } } } }', undefined, /"from"/],
    [
      'input field in variables',
      'query($f: PaymentFilter) { me { payments(filter: $f) { edges { cursor } } } }',
      { f: { frm: '2024-01-01' } },
      /"from"/,
    ],
  ];

  it.each(cases)('%s', async (_what, query, variables, revealed) => {
    const messages = (r: GraphQLResult) => (r.body.errors ?? []).map((e) => e.message).join('\n');
    const sandboxed = await gql(sandbox.url, query, { token: await token(), variables });
    expect(messages(sandboxed)).toMatch(/Did you mean/);
    expect(messages(sandboxed)).toMatch(revealed);

    const res = await gql(production.url, query, { token: await token(), variables });
    expect(res.status).toBe(400);
    expect(res.body.data ?? undefined).toBeUndefined();
    expect(['GRAPHQL_VALIDATION_FAILED', 'BAD_USER_INPUT']).toContain(res.body.errors?.[0]?.extensions?.code);
    expect(res.raw).not.toMatch(/Did you mean/);
    expect(messages(res)).not.toMatch(revealed);
    expect(hasStackTrace(res.raw)).toBe(false);
  });
});

describe('GraphQL over HTTP: graphql-http server audits', () => {
  it('passes every audit that is a requirement (warnings are printed)', async () => {
    // The audits send no token. Every request gets a valid bearer token added, the way any client
    // of this API sends one; nothing else of the request is touched.
    const bearer = await jwks.sign({ scope: SCOPES }, { expiresIn: '10m' });
    const fetchFn = (input: string | URL | Request, init: RequestInit = {}) => {
      const headers = new Headers(init.headers);
      headers.set('authorization', `Bearer ${bearer}`);
      return fetch(input, { ...init, headers });
    };
    const audits = serverAudits({ url: sandbox.url, fetchFn });
    const results = await Promise.all(audits.map((audit) => audit.fn()));
    const failed = results.flatMap((r) => (r.status === 'ok' ? [] : [r]));
    for (const r of failed) console.log(`graphql-http audit ${r.status}: ${r.id} ${r.name}: ${r.reason}`);
    console.log(
      `graphql-http audits: ${results.length} run, ${results.length - failed.length} ok, ${failed.length} warnings or notices`,
    );
    expect(failed.filter((r) => r.status === 'error').map((r) => `${r.id} ${r.name}: ${r.reason}`)).toEqual([]);
    expect(results.length).toBeGreaterThan(30);
  });
});
