import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSchema, Kind, parse, visit, type DocumentNode, type OperationDefinitionNode } from 'graphql';
import { selectedFields } from '../../gateway/authorization/pre-execution.ts';
import { loadGatewayConfig } from '../../gateway/config.ts';
import { checkDocument, DEFAULT_QUERY_LIMITS, measureDocument } from '../../gateway/limits.ts';
import { startGateway, type RunningGateway } from '../../gateway/server.ts';
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
import { scaled } from '../support/time.ts';

/**
 * A corpus of hostile documents (the kinds of the OWASP GraphQL cheat sheet: fragment doubling
 * and cycles, alias and field floods, deep nesting through lists, directive floods, huge
 * literals, batches), sent with a valid token to the real gateway: the real supergraph, the
 * authorization rules enforced, the limits at their defaults. Each must be answered with its own
 * client error code, never a 5xx, never a stack trace, and before anything is fetched: every
 * subgraph URL points at one stub that records what reaches it (data requests and the
 * authorization lookups alike).
 */

const L = DEFAULT_QUERY_LIMITS;
/** Scopes for every data field the corpus touches, so that no refusal below is a scope denial. */
const SCOPES = 'accounts:read transactions:read payments:read identity:read consents:read';

/**
 * What every subgraph URL points at: records each request and answers the authorization
 * lookup of the caller's kind (the client registry says FIRST_PARTY), and nothing else.
 */
async function startRecordingSubgraph() {
  const seen: { operationName: string | undefined; variables: Record<string, unknown> | undefined }[] = [];
  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (chunk: Buffer) => (raw += chunk.toString()));
    req.on('end', () => {
      let body: { operationName?: string; variables?: Record<string, unknown> } = {};
      try {
        body = JSON.parse(raw) as typeof body;
      } catch {
        // recorded as an unnamed request
      }
      seen.push({ operationName: body.operationName, variables: body.variables });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify(
          body.operationName === 'GatewayAuthzClientKind'
            ? { data: { clientApp: { kind: 'FIRST_PARTY' } } }
            : { errors: [{ message: 'the stub has no data' }] },
        ),
      );
    });
  });
  const { url } = await listen(server, 0);
  return { url: `${url}/graphql`, seen, close: () => closeServer(server) };
}

let jwks: LocalJwks;
let stub: Awaited<ReturnType<typeof startRecordingSubgraph>>;
let gateway: RunningGateway;

beforeAll(async () => {
  jwks = await startLocalJwks();
  stub = await startRecordingSubgraph();
  gateway = await startGateway(loadGatewayConfig(stubGatewayEnv(jwks.url, stub.url)), { logger });
});

afterAll(async () => {
  await gateway?.close();
  await stub?.close();
  await jwks?.close();
});

const token = (clientId = 'web-app') => jwks.sign({ scope: SCOPES, client_id: clientId });

/**
 * F0 selects two fields; each further Fi spreads F(i-1) twice: 2^(levels+2) selections once expanded, in about 43 bytes
 * a level.
 */
function doubling(levels: number, operation = 'query Doubling { me { ...F%N } }'): string {
  const defs = ['fragment F0 on Customer { id displayName }'];
  for (let i = 1; i <= levels; i++) defs.push(`fragment F${i} on Customer { ...F${i - 1} ...F${i - 1} }`);
  return `${operation.replace('%N', String(levels))}\n${defs.join('\n')}`;
}
/**
 * me + the spread of F(levels) + F(levels) expanded (2^(levels+2) - 2), as reported (capped at the largest exact
 * integer).
 */
const doublingSelections = (levels: number) => Math.min(2 ** (levels + 2), Number.MAX_SAFE_INTEGER);

/** A client error with this status and code, no data, no stack trace. */
function expectClientError(res: GraphQLResult, status: number, code: string, extensions: Record<string, unknown> = {}) {
  expect(res.status, res.raw.slice(0, 300)).toBe(status);
  expect(res.body.data ?? undefined).toBeUndefined();
  expect(res.body.errors?.[0]?.extensions).toMatchObject({ code, ...extensions });
  expect(hasStackTrace(res.raw)).toBe(false);
}

/**
 * Sends a hostile document and expects its refusal with nothing reaching any subgraph, the authorization lookups
 * included.
 */
async function expectRefusedBeforeAnything(
  query: string,
  status: number,
  code: string,
  extensions: Record<string, unknown> = {},
  variables?: Record<string, unknown>,
) {
  const before = stub.seen.length;
  const res = await gql(gateway.url, query, { token: await token(), variables });
  expectClientError(res, status, code, extensions);
  expect(stub.seen.length).toBe(before);
  return res;
}

async function post(body: unknown, headers: Record<string, string> = {}): Promise<GraphQLResult> {
  const res = await fetch(gateway.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${await token()}`, ...headers },
    body: JSON.stringify(body),
  });
  const raw = await res.text();
  return { status: res.status, headers: res.headers, body: JSON.parse(raw) as GraphQLResult['body'], raw };
}

describe('fragment doubling (each fragment spreads the next one twice)', () => {
  for (const levels of [20, 30, 50, 100]) {
    it(`is refused at ${levels} levels with QUERY_LIMIT_EXCEEDED, before validation and authorization`, async () => {
      const query = doubling(levels);
      const heapBefore = process.memoryUsage().heapUsed;
      const started = performance.now();
      await expectRefusedBeforeAnything(query, 400, 'QUERY_LIMIT_EXCEEDED', {
        limit: 'selections',
        max: L.maxSelections,
        actual: doublingSelections(levels),
      });
      // A timing print, not an assertion (timings belong in benchmarks): milliseconds and heap, flat in the depth.
      console.log(
        `doubling ${levels} levels (${query.length} bytes): refused in ${(performance.now() - started).toFixed(1)} ms, heap ${((process.memoryUsage().heapUsed - heapBefore) / 1024).toFixed(0)} KiB`,
      );
    });
  }

  it('is measured in work linear in the document: every selection node is visited at most once', () => {
    const schema = buildSchema(readFileSync(new URL('../../schema/public.graphql', import.meta.url), 'utf8'));
    for (const levels of [20, 100, 400]) {
      const document = parse(doubling(levels), { maxTokens: 10_000 });
      const m = measureDocument({ schema, document });
      expect(m.visited).toBeLessThanOrEqual(selectionNodes(document));
      expect(Math.min(m.selections, Number.MAX_SAFE_INTEGER)).toBe(doublingSelections(levels));
    }
  });

  it('costs the authorization walk one visit per selection of the document, and the walk stops at its hard cap', () => {
    const schema = buildSchema(readFileSync(new URL('../../schema/public.graphql', import.meta.url), 'utf8'));
    const document = parse(doubling(100));
    const operation = document.definitions.find(
      (d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION,
    )!;
    // Memoised per fragment: 2^102 selections once expanded, one visit for each of the ~200 written.
    const stats = { visited: 0 };
    const fields = selectedFields(schema, document, operation, {}, { stats });
    expect(fields.map((f) => `${f.typeName}.${f.fieldName}`)).toEqual([
      'Query.me',
      'Customer.id',
      'Customer.displayName',
    ]);
    expect(stats.visited).toBeLessThanOrEqual(selectionNodes(document));
    // The hard cap refuses (never allows) a walk that would go beyond it.
    const capped = { visited: 0 };
    expect(() => selectedFields(schema, document, operation, {}, { maxSelections: 50, stats: capped })).toThrow(
      expect.objectContaining({
        extensions: expect.objectContaining({ code: 'QUERY_LIMIT_EXCEEDED', limit: 'selections', max: 50 }),
      }),
    );
    expect(capped.visited).toBe(51);
  });

  it('is refused the same way, before validation, through a GET request', async () => {
    const url = new URL(gateway.url);
    // Also invalid (an unknown field): the limit answering shows the GET query string is checked before validation too.
    url.searchParams.set('query', doubling(30, 'query Doubling { me { noSuchField ...F%N } }'));
    const before = stub.seen.length;
    const res = await fetch(url, {
      headers: { authorization: `Bearer ${await token()}`, 'apollo-require-preflight': 'true' },
    });
    const raw = await res.text();
    expectClientError(
      { status: res.status, headers: res.headers, body: JSON.parse(raw) as GraphQLResult['body'], raw },
      400,
      'QUERY_LIMIT_EXCEEDED',
      { limit: 'selections' },
    );
    expect(stub.seen.length).toBe(before);
  });

  it('is refused by the limits before validation: an invalid document over a limit gets QUERY_LIMIT_EXCEEDED, not GRAPHQL_VALIDATION_FAILED', async () => {
    // Validation would refuse the unknown field; the limit answering proves it ran first.
    await expectRefusedBeforeAnything(
      doubling(30, 'query Doubling { me { noSuchField ...F%N } }'),
      400,
      'QUERY_LIMIT_EXCEEDED',
      { limit: 'selections' },
    );
    // The same document within the limits reaches validation.
    await expectRefusedBeforeAnything(
      doubling(3, 'query Doubling { me { noSuchField ...F%N } }'),
      400,
      'GRAPHQL_VALIDATION_FAILED',
    );
  });
});

describe('the authorization walk starts only once the limits passed', () => {
  it('is not started for an operation the limits refuse after validation (a persisted query sent by hash with a bigger page)', async () => {
    // The HTTP layer cannot see a persisted query sent by hash alone, so here the limits are
    // decided at didResolveOperation, where Apollo would start the authorization walk at the same
    // time. Register the document with a small page (the walk runs and asks for the caller's kind)…
    const query = 'query Pages($n: Int) { me { accounts { transactions(first: $n) { edges { cursor } } } } }';
    const sha256Hash = createHash('sha256').update(query).digest('hex');
    const persistedQuery = { version: 1, sha256Hash };
    const registered = await post(
      { query, variables: { n: 1 }, extensions: { persistedQuery } },
      { authorization: `Bearer ${await token('web-app-registers')}` },
    );
    expect(registered.body.errors?.[0]?.extensions?.code).not.toBe('QUERY_LIMIT_EXCEEDED');
    expect(
      stub.seen.some((r) => r.operationName === 'GatewayAuthzClientKind' && r.variables?.id === 'web-app-registers'),
    ).toBe(true);

    // …then send it by hash with a page over the maximum, as a client whose kind is not cached yet.
    const before = stub.seen.length;
    const res = await fetch(gateway.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${await token('web-app-uncached')}` },
      body: JSON.stringify({ variables: { n: 1000 }, extensions: { persistedQuery } }),
    });
    const raw = await res.text();
    expectClientError(
      { status: res.status, headers: res.headers, body: JSON.parse(raw) as GraphQLResult['body'], raw },
      400,
      'QUERY_LIMIT_EXCEEDED',
      {
        limit: 'pageSize',
        actual: 1000,
        field: 'Account.transactions',
      },
    );
    // Had the walk started alongside the limits, it would now be asking the registry for the kind
    // of 'web-app-uncached'; give such a stray lookup the time to arrive before looking.
    await new Promise((resolve) => setTimeout(resolve, scaled(200)));
    expect(stub.seen.slice(before)).toEqual([]);
  });
});

describe('cyclic fragments', () => {
  it.each([
    ['a fragment spreading itself', '{ me { ...A } } fragment A on Customer { id ...A }'],
    [
      'two fragments spreading each other',
      '{ me { ...A } } fragment A on Customer { id ...B } fragment B on Customer { displayName ...A }',
    ],
    ['a doubling cycle', '{ me { ...A } } fragment A on Customer { ...B ...B } fragment B on Customer { ...A ...A }'],
  ])('%s is refused by validation', async (_name, query) => {
    const res = await expectRefusedBeforeAnything(query, 400, 'GRAPHQL_VALIDATION_FAILED');
    expect(res.body.errors?.some((e) => /Cannot spread fragment "[AB]" within itself/.test(e.message))).toBe(true);
  });
});

describe('alias, field and root-field floods', () => {
  it('refuses an alias flood', async () => {
    const aliases = Array.from({ length: 100 }, (_, i) => `a${i}: id`).join(' ');
    await expectRefusedBeforeAnything(`{ me { ${aliases} } }`, 400, 'QUERY_LIMIT_EXCEEDED', {
      limit: 'aliases',
      max: L.maxAliases,
      actual: 100,
    });
  });

  it('refuses an alias flood over a list field', async () => {
    const aliases = Array.from({ length: 31 }, (_, i) => `a${i}: accounts { id }`).join(' ');
    await expectRefusedBeforeAnything(`{ me { ${aliases} } }`, 400, 'QUERY_LIMIT_EXCEEDED', {
      limit: 'aliases',
      max: L.maxAliases,
      actual: 31,
    });
  });

  it('refuses the same field repeated (which validation compares pair by pair)', async () => {
    await expectRefusedBeforeAnything(`{ me { ${'accounts { id } '.repeat(600)}} }`, 400, 'QUERY_LIMIT_EXCEEDED', {
      limit: 'selections',
      max: L.maxSelections,
      actual: 1 + 600 * 2,
    });
  });

  it('refuses too many root fields', async () => {
    const roots = Array.from({ length: 11 }, (_, i) => `r${i}: account(id: "acc_${i}") { id }`).join(' ');
    await expectRefusedBeforeAnything(`{ ${roots} }`, 400, 'QUERY_LIMIT_EXCEEDED', {
      limit: 'rootFields',
      max: L.maxRootFields,
      actual: 11,
    });
  });

  it('refuses a token flood while parsing', async () => {
    await expectRefusedBeforeAnything(`{ me { ${'id '.repeat(6000)}} }`, 400, 'QUERY_LIMIT_EXCEEDED', {
      limit: 'tokens',
      max: L.maxTokens,
      actual: 6005,
    });
  });
});

describe('deep nesting through lists', () => {
  it('refuses nesting beyond the depth limit', async () => {
    const nested = 'accounts { holder { '.repeat(7) + 'id' + ' } }'.repeat(7);
    await expectRefusedBeforeAnything(`{ me { ${nested} } }`, 400, 'QUERY_LIMIT_EXCEEDED', {
      limit: 'depth',
      max: L.maxDepth,
      actual: 16,
    });
  });

  it('refuses nested pages whose product is over the cost limit', async () => {
    const q =
      '{ account(id: "acc_1") { transactions(first: 100) { edges { node { account { transactions(first: 100) { edges { node { id } } } } } } } } }';
    await expectRefusedBeforeAnything(q, 400, 'QUERY_LIMIT_EXCEEDED', { limit: 'cost', max: L.maxCost });
  });

  it('refuses nested introspection (graphql bounds it in validation)', async () => {
    await expectRefusedBeforeAnything(
      '{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }',
      400,
      'GRAPHQL_VALIDATION_FAILED',
    );
  });
});

describe('directive floods', () => {
  it('refuses directives over the limit on many fields', async () => {
    const fields = `{ me { ${'id @include(if: true) '.repeat(L.maxDirectives + 1)}} }`;
    await expectRefusedBeforeAnything(fields, 400, 'QUERY_LIMIT_EXCEEDED', {
      limit: 'directives',
      max: L.maxDirectives,
      actual: L.maxDirectives + 1,
    });
  });

  it('refuses directives repeated on one field', async () => {
    await expectRefusedBeforeAnything(`{ me ${'@skip(if: false) '.repeat(200)}{ id } }`, 400, 'QUERY_LIMIT_EXCEEDED', {
      limit: 'directives',
      max: L.maxDirectives,
      actual: 200,
    });
  });
});

describe('huge literals', () => {
  it('refuses a huge string literal', async () => {
    await expectRefusedBeforeAnything(`{ account(id: "${'a'.repeat(100_000)}") { id } }`, 400, 'QUERY_LIMIT_EXCEEDED', {
      limit: 'literalLength',
      max: L.maxLiteralLength,
      actual: 100_000,
    });
  });

  it('refuses a huge block string literal', async () => {
    await expectRefusedBeforeAnything(
      `{ account(id: """${'b'.repeat(5_000)}""") { id } }`,
      400,
      'QUERY_LIMIT_EXCEEDED',
      { limit: 'literalLength', actual: 5_000 },
    );
  });

  it('refuses huge number literals, integer and float', async () => {
    await expectRefusedBeforeAnything(
      `{ me { payments(first: ${'9'.repeat(5_000)}) { edges { cursor } } } }`,
      400,
      'QUERY_LIMIT_EXCEEDED',
      { limit: 'literalLength', actual: 5_000 },
    );
    await expectRefusedBeforeAnything(
      `{ me { payments(first: 1.${'0'.repeat(2_000)}e5) { edges { cursor } } } }`,
      400,
      'QUERY_LIMIT_EXCEEDED',
      { limit: 'literalLength', actual: 2_004 },
    );
  });

  it('refuses a body over the size limit with PAYLOAD_TOO_LARGE', async () => {
    await expectRefusedBeforeAnything(`{ account(id: "${'a'.repeat(1_100_000)}") { id } }`, 413, 'PAYLOAD_TOO_LARGE');
  });

  it('lets an ordinary literal through to the subgraph', async () => {
    const before = stub.seen.length;
    const res = await gql(gateway.url, '{ account(id: "acc_123") { id } }', { token: await token() });
    expect(res.body.errors?.[0]?.extensions?.code).not.toBe('QUERY_LIMIT_EXCEEDED');
    expect(stub.seen.length).toBeGreaterThan(before);
  });
});

describe('batched operations', () => {
  it('refuses a batch with more operations than QUERY_MAX_BATCH', async () => {
    const before = stub.seen.length;
    const res = await post(Array.from({ length: L.maxBatch + 1 }, () => ({ query: '{ me { id } }' })));
    expectClientError(res, 400, 'QUERY_LIMIT_EXCEEDED', { limit: 'batch', max: L.maxBatch, actual: L.maxBatch + 1 });
    expect(stub.seen.length).toBe(before);
  });

  it('refuses a batch of individually heavy operations as a whole, naming the first heavy one', async () => {
    const before = stub.seen.length;
    const mixed = await post([
      { query: '{ me { id } }' },
      { query: doubling(30) },
      { query: `{ me { ${'accounts { id } '.repeat(600)}} }` },
    ]);
    expectClientError(mixed, 400, 'QUERY_LIMIT_EXCEEDED', { limit: 'selections', batchIndex: 1 });
    const heavy = await post(Array.from({ length: L.maxBatch }, (_, i) => ({ query: doubling(20 + i) })));
    expectClientError(heavy, 400, 'QUERY_LIMIT_EXCEEDED', { limit: 'selections', batchIndex: 0 });
    expect(stub.seen.length).toBe(before);
  });

  it('answers a batch of things that are not operations with BAD_REQUEST', async () => {
    const res = await post([1, 'two', null]);
    expectClientError(res, 400, 'BAD_REQUEST');
  });
});

/** Field, inline fragment and fragment spread nodes written in the document. */
function selectionNodes(document: DocumentNode): number {
  let n = 0;
  visit(document, {
    Field: () => void n++,
    InlineFragment: () => void n++,
    FragmentSpread: () => void n++,
  });
  return n;
}

describe('the document check itself', () => {
  it('names the limit, passes ordinary documents and leaves syntax errors to Apollo', async () => {
    const schema = buildSchema(readFileSync(new URL('../../schema/public.graphql', import.meta.url), 'utf8'));
    expect(checkDocument({ schema, query: doubling(10) }, L)).toMatchObject({
      limit: 'selections',
      actual: doublingSelections(10),
    });
    expect(
      checkDocument(
        { schema, query: readFileSync(new URL('../operations/dashboard.graphql', import.meta.url), 'utf8') },
        L,
      ),
    ).toBeNull();
    expect(checkDocument({ schema, query: '{ me { id }' }, L)).toBeNull();
    // …which answers it as usual.
    await expectRefusedBeforeAnything('{ me { id }', 400, 'GRAPHQL_PARSE_FAILED');
  });
});
