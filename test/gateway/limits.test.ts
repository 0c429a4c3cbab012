import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import { buildSchema, getIntrospectionQuery, getOperationAST, GraphQLError, parse } from 'graphql';
import { loadGatewayConfig, queryLimitsOf } from '../../gateway/config.ts';
import {
  checkBatch,
  checkOperation,
  countTokens,
  DEFAULT_QUERY_LIMITS,
  measureOperation,
  withoutSuggestions,
  type QueryLimits,
} from '../../gateway/limits.ts';
import { startGateway, type RunningGateway } from '../../gateway/server.ts';
import { openSharedCache } from '../../lib/cache.ts';
import { HttpError } from '../../lib/http-server.ts';
import { currentRequestContext } from '../../lib/request-context.ts';
import {
  AUDIENCE,
  composeToySupergraph,
  gql,
  hasStackTrace,
  ISSUER,
  logger,
  startLocalJwks,
  startToySubgraph,
  USERS_SDL,
  writeTempSupergraph,
  type LocalJwks,
  type ToySubgraph,
} from './helpers.ts';

// ---------------------------------------------------------------------------------------------
// The cost calculator and the other measurements, on a small schema.
// ---------------------------------------------------------------------------------------------

const UNIT_SCHEMA = buildSchema(`
  type Query { me: User, users(first: Int = 20): UserConnection!, tags: [String!]!, node(id: ID!): Node }
  interface Node { id: ID! }
  type User implements Node { id: ID!, name: String!, friends(first: Int = 10): UserConnection!, accounts: [Account!]! }
  type UserConnection { edges: [UserEdge!]!, nodes: [User!]!, pageInfo: PageInfo! }
  type UserEdge { cursor: String!, node: User! }
  type PageInfo { hasNextPage: Boolean! }
  type Account implements Node { id: ID!, balance: Int! }
`);

function measure(query: string, variables: Record<string, unknown> = {}, schema = UNIT_SCHEMA) {
  const document = parse(query);
  const operation = getOperationAST(document);
  if (!operation) throw new Error('no operation');
  return measureOperation({ schema, document, operation, variables });
}

function check(
  query: string,
  variables: Record<string, unknown> = {},
  limits: QueryLimits = DEFAULT_QUERY_LIMITS,
  schema = UNIT_SCHEMA,
): GraphQLError | null {
  const document = parse(query);
  return checkOperation({ schema, document, operation: getOperationAST(document)!, variables }, limits);
}

describe('cost calculator', () => {
  it('counts each field once and multiplies children by 1 for objects', () => {
    // me (1) + 1 × (id + name)
    expect(measure('{ me { id name } }')).toMatchObject({ cost: 3, depth: 2, rootFields: 1, aliases: 0 });
  });

  it('multiplies a list without a page size by the default list multiplier', () => {
    // me (1) + accounts (1 + 10 × 2)
    expect(measure('{ me { accounts { id balance } } }').cost).toBe(1 + (1 + 10 * 2));
    expect(
      measureOperation({
        schema: UNIT_SCHEMA,
        document: parse('{ me { accounts { id } } }'),
        operation: getOperationAST(parse('{ me { accounts { id } } }'))!,
        listMultiplier: 3,
      }).cost,
    ).toBe(1 + (1 + 3));
    // A list of scalars is a leaf.
    expect(measure('{ tags }').cost).toBe(1);
  });

  it('multiplies a connection by first and counts its edges/nodes lists once', () => {
    // users (1) + 5 × edges (1 + 1 × node (1 + 1 × id))
    expect(measure('{ users(first: 5) { edges { node { id } } } }').cost).toBe(1 + 5 * 3);
    expect(measure('{ users(first: 5) { nodes { id } pageInfo { hasNextPage } } }').cost).toBe(1 + 5 * (2 + 2));
  });

  it('takes first from variables, the variable default, then the schema default', () => {
    const q = 'query($n: Int) { users(first: $n) { edges { node { id } } } }';
    expect(measure(q, { n: 7 }).cost).toBe(1 + 7 * 3);
    expect(measure('query($n: Int = 4) { users(first: $n) { edges { node { id } } } }').cost).toBe(1 + 4 * 3);
    // Not given at all, or given as null: the schema's default page size (20) applies.
    expect(measure(q).cost).toBe(1 + 20 * 3);
    expect(measure('{ users { edges { node { id } } } }').cost).toBe(1 + 20 * 3);
    expect(measure(q, { n: null }).cost).toBe(1 + 20 * 3);
  });

  it('multiplies nested pages: first 100 × first 100', () => {
    const q = '{ users(first: 100) { edges { node { friends(first: 100) { edges { node { id } } } } } } }';
    // users 1 + 100 × edges(1 + node(1 + friends(1 + 100 × 3)))
    expect(measure(q).cost).toBe(1 + 100 * (1 + 1 + (1 + 100 * 3)));
    const error = check(q);
    expect(error?.extensions).toMatchObject({
      code: 'QUERY_LIMIT_EXCEEDED',
      limit: 'cost',
      max: DEFAULT_QUERY_LIMITS.maxCost,
      actual: 30_301,
    });
  });

  it('expands named and inline fragments like the equivalent inline selections', () => {
    const inline = measure('{ users(first: 3) { edges { node { id friends(first: 2) { nodes { name } } } } } }');
    const fragments = measure(`
      query { users(first: 3) { ...Conn } }
      fragment Conn on UserConnection { edges { node { ...U } } }
      fragment U on User { id ... on User { friends(first: 2) { nodes { name } } } }
    `);
    // The same fields, depth, aliases, cost and pages; the spreads and inline fragments are selections of their own.
    const { selections: viaFragments, ...rest } = fragments;
    const { selections: inlined, ...inlineRest } = inline;
    expect(rest).toEqual(inlineRest);
    expect(viaFragments).toBe(inlined + 3); // ...Conn, ...U, ... on User
    expect(measure('{ node(id: "1") { id ... on Account { balance } ... on User { accounts { id } } } }').cost).toBe(
      1 + (1 + 1 + (1 + 10)),
    );
  });

  it('measures a fragment bomb in linear time and refuses it', () => {
    // F0..F24: each spreads the previous one twice, 2^24 fields when expanded.
    const defs = ['fragment F0 on User { id name }'];
    for (let i = 1; i <= 24; i++) defs.push(`fragment F${i} on User { ...F${i - 1} ...F${i - 1} }`);
    const m = measure(`{ me { ...F24 } } ${defs.join(' ')}`);
    expect(m.cost).toBe(1 + 2 ** 25);
    expect(m.depth).toBe(2);
    // me, then the spread of F24; each Fi (i ≥ 1) is two spreads plus twice F(i-1); F0 is 2 fields.
    expect(m.selections).toBe(2 + (2 ** 26 - 2));
    expect(check(`{ me { ...F24 } } ${defs.join(' ')}`)?.extensions).toMatchObject({
      limit: 'selections',
      max: DEFAULT_QUERY_LIMITS.maxSelections,
      actual: m.selections,
    });
    // Without the selections limit, the cost limit refuses it too.
    expect(
      check(`{ me { ...F24 } } ${defs.join(' ')}`, {}, { ...DEFAULT_QUERY_LIMITS, maxSelections: 2 ** 30 })?.extensions
        ?.limit,
    ).toBe('cost');
  });

  it('cuts fragment cycles (which validation refuses anyway) instead of looping', () => {
    const m = measure(
      '{ me { ...A } } fragment A on User { friends(first: 1) { nodes { ...B } } } fragment B on User { ...A id }',
    );
    expect(m.depth).toBeGreaterThan(0);
    expect(Number.isFinite(m.cost)).toBe(true);
  });

  it('counts depth, aliases and root fields through fragments; __typename is free', () => {
    const m = measure(
      'query { ...Root a: me { __typename x: id } __typename } fragment Root on Query { me { friends { nodes { id } } } b: tags }',
    );
    expect(m.rootFields).toBe(3); // me, tags (b), me (a); __typename excluded
    expect(m.aliases).toBe(3); // a, x, b
    expect(m.depth).toBe(4); // me > friends > nodes > id
  });

  it('names the field and the size of a page over the maximum, also from a variable', () => {
    const literal = check('{ me { friends(first: 1000) { nodes { id } } } }');
    expect(literal?.extensions).toMatchObject({
      code: 'QUERY_LIMIT_EXCEEDED',
      limit: 'pageSize',
      max: 100,
      actual: 1000,
      field: 'User.friends',
      argument: 'first',
    });
    expect(literal?.message).toContain('User.friends');
    const variable = check('query($n: Int) { users(first: $n) { nodes { id } } }', { n: 101 });
    expect(variable?.extensions).toMatchObject({ limit: 'pageSize', actual: 101, field: 'Query.users' });
    expect(check('{ users(first: 100) { nodes { id } } }')).toBeNull();
  });

  it('reports depth, aliases and root fields over their limits', () => {
    const limits = { ...DEFAULT_QUERY_LIMITS, maxDepth: 3, maxAliases: 2, maxRootFields: 2 };
    expect(check('{ me { friends { nodes { id } } } }', {}, limits)?.extensions).toMatchObject({
      limit: 'depth',
      max: 3,
      actual: 4,
    });
    expect(check('{ me { a: id b: id c: id } }', {}, limits)?.extensions).toMatchObject({
      limit: 'aliases',
      max: 2,
      actual: 3,
    });
    expect(check('{ me { id } tags users { nodes { id } } }', {}, limits)?.extensions).toMatchObject({
      limit: 'rootFields',
      max: 2,
      actual: 3,
    });
  });

  it('does not hold introspection to the data limits (graphql bounds it itself)', () => {
    const m = measure(getIntrospectionQuery());
    expect(m).toMatchObject({ depth: 1, cost: 1, rootFields: 1 });
    expect(countTokens(getIntrospectionQuery())).toBeLessThan(DEFAULT_QUERY_LIMITS.maxTokens);
    // Its selections do count (validation walks them), well within the limit.
    expect(m.selections).toBeLessThan(DEFAULT_QUERY_LIMITS.maxSelections / 2);
  });

  it('counts tokens as the parser does (comments excluded)', () => {
    expect(countTokens('{ me { id } }')).toBe(6);
    expect(countTokens('# a comment\n{ me(x: "a b") { id } }')).toBe(11);
  });

  it('strips "Did you mean" suggestions', () => {
    expect(
      withoutSuggestions({ message: 'Cannot query field "nam" on type "User". Did you mean "name"?' }).message,
    ).toBe('Cannot query field "nam" on type "User".');
    expect(
      withoutSuggestions({
        message:
          'Variable "$k" got invalid value "CREDT"; Value "CREDT" does not exist in "Kind" enum. Did you mean the enum value "CREDIT"?',
      }).message,
    ).toBe('Variable "$k" got invalid value "CREDT"; Value "CREDT" does not exist in "Kind" enum.');
  });

  it('refuses a batch over the maximum with HTTP 400', () => {
    expect(() => checkBatch([{}, {}], 2)).not.toThrow();
    expect(() => checkBatch({ query: '{ me { id } }' }, 2)).not.toThrow();
    try {
      checkBatch([{}, {}, {}], 2);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(HttpError);
      expect(err).toMatchObject({
        status: 400,
        code: 'QUERY_LIMIT_EXCEEDED',
        extensions: { limit: 'batch', max: 2, actual: 3 },
      });
    }
  });
});

describe('the customer dashboard query within the default limits', () => {
  const schema = buildSchema(readFileSync(new URL('../../schema/public.graphql', import.meta.url), 'utf8'));
  const dashboard = readFileSync(new URL('../operations/dashboard.graphql', import.meta.url), 'utf8');

  it('passes with 20 transactions per account, and with first: 100', () => {
    const at20 = measure(dashboard, {}, schema);
    expect(at20).toMatchObject({ depth: 7, aliases: 0, rootFields: 1, selections: 55 });
    expect(at20.selections).toBeLessThan(DEFAULT_QUERY_LIMITS.maxSelections / 10);
    expect(at20.cost).toBeLessThan(DEFAULT_QUERY_LIMITS.maxCost / 4);
    expect(check(dashboard, {}, DEFAULT_QUERY_LIMITS, schema)).toBeNull();
    const at100 = measure(dashboard, { transactions: 100 }, schema);
    expect(at100.cost).toBeLessThan(DEFAULT_QUERY_LIMITS.maxCost);
    expect(check(dashboard, { transactions: 100 }, DEFAULT_QUERY_LIMITS, schema)).toBeNull();
    expect(countTokens(dashboard)).toBeLessThan(DEFAULT_QUERY_LIMITS.maxTokens / 5);
  });

  it('refuses it with 101 transactions per page, naming Account.transactions', () => {
    expect(check(dashboard, { transactions: 101 }, DEFAULT_QUERY_LIMITS, schema)?.extensions).toMatchObject({
      limit: 'pageSize',
      field: 'Account.transactions',
      actual: 101,
    });
  });
});

describe('configuration', () => {
  it('has the documented defaults and reads QUERY_* variables', () => {
    expect(queryLimitsOf(loadGatewayConfig({}))).toEqual(DEFAULT_QUERY_LIMITS);
    expect(
      queryLimitsOf(loadGatewayConfig({ QUERY_MAX_DEPTH: '5', QUERY_MAX_BATCH: '2', QUERY_LIST_COST_MULTIPLIER: '3' })),
    ).toMatchObject({ maxDepth: 5, maxBatch: 2, listMultiplier: 3 });
    expect(() => loadGatewayConfig({ QUERY_MAX_COST: 'lots' })).toThrow(/QUERY_MAX_COST/);
    expect(() => loadGatewayConfig({ QUERY_MAX_PAGE_SIZE: '0' })).toThrow(/QUERY_MAX_PAGE_SIZE/);
    expect(
      queryLimitsOf(
        loadGatewayConfig({ QUERY_MAX_SELECTIONS: '200', QUERY_MAX_DIRECTIVES: '4', QUERY_MAX_LITERAL_LENGTH: '64' }),
      ),
    ).toMatchObject({
      maxSelections: 200,
      maxDirectives: 4,
      maxLiteralLength: 64,
    });
    expect(() => loadGatewayConfig({ QUERY_MAX_SELECTIONS: '-1' })).toThrow(/QUERY_MAX_SELECTIONS/);
    expect(() => loadGatewayConfig({ QUERY_MAX_DIRECTIVES: 'many' })).toThrow(/QUERY_MAX_DIRECTIVES/);
  });
});

// ---------------------------------------------------------------------------------------------
// Through a live gateway: refusals before execution, and the production profile.
// ---------------------------------------------------------------------------------------------

const FED = 'extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key", "@shareable"])';
const LEDGER_SDL = `${FED}
type Query {
  entries(first: Int = 20, kind: EntryKind): EntryConnection!
}
enum EntryKind { CREDIT DEBIT }
type Entry @key(fields: "id") {
  id: ID!
  amount: Int!
  related(first: Int = 20): EntryConnection!
}
type EntryConnection { edges: [EntryEdge!]! pageInfo: LedgerPageInfo! }
type EntryEdge { cursor: String! node: Entry! }
type LedgerPageInfo { hasNextPage: Boolean! }`;

function page(first: number | null | undefined, prefix = 'e') {
  const n = Math.min(first ?? 20, 3);
  return {
    edges: Array.from({ length: n }, (_, i) => ({ cursor: `${prefix}${i}`, node: { id: `${prefix}${i}`, amount: i } })),
    pageInfo: { hasNextPage: false },
  };
}

const SECRET = 'limits-test-internal-secret-0123456789abcdef';

async function startToys(secret?: string) {
  const users = await startToySubgraph(
    'users',
    USERS_SDL,
    {
      Query: {
        me: (_: unknown, __: unknown, ctx: { principal: { customerId?: string } | null }) =>
          ctx.principal?.customerId ? { id: ctx.principal.customerId, name: 'Alice' } : null,
        whoami: () => ({ customerId: 'x', clientId: null, scopes: [], requestId: null, traceparent: null }),
        failing: () => {
          throw new Error('connection to db at 10.0.0.5 failed: password authentication failed');
        },
      },
      User: { __resolveReference: (ref: { id: string }) => ({ id: ref.id, name: 'Alice' }) },
    },
    secret,
  );
  const ledger = await startToySubgraph(
    'ledger',
    LEDGER_SDL,
    {
      Query: { entries: (_: unknown, args: { first?: number | null }) => page(args.first) },
      Entry: {
        __resolveReference: (ref: { id: string }) => ({ id: ref.id, amount: 1 }),
        related: (entry: { id: string }, args: { first?: number | null }) => page(args.first, `${entry.id}-`),
      },
    },
    secret,
  );
  return { users, ledger, all: [users, ledger] as ToySubgraph[] };
}

let jwks: LocalJwks;
let sandboxToys: Awaited<ReturnType<typeof startToys>>;
let productionToys: Awaited<ReturnType<typeof startToys>>;
let sandbox: RunningGateway;
let production: RunningGateway;
const logLines: Record<string, unknown>[] = [];
const cleanups: (() => Promise<void> | void)[] = [];

beforeAll(async () => {
  jwks = await startLocalJwks();
  sandboxToys = await startToys(); // the helpers' development secret
  productionToys = await startToys(SECRET);
  const sandboxFile = writeTempSupergraph(composeToySupergraph(sandboxToys.all));
  const productionFile = writeTempSupergraph(composeToySupergraph(productionToys.all));
  cleanups.push(sandboxFile.cleanup, productionFile.cleanup);
  const base = { GATEWAY_PORT: '0', AUTH_ISSUER: ISSUER, AUTH_AUDIENCE: AUDIENCE, AUTH_JWKS_URL: jwks.url };
  // The toy graph has no authorization rules (the real rule set would deny every toy field), so
  // these gateways run without them: the limits are decided before authorization anyway.
  sandbox = await startGateway(loadGatewayConfig({ ...base, SUPERGRAPH: sandboxFile.path }), {
    logger,
    authorization: 'disabled',
  });
  // The production gateway logs into memory, so the test can find the detail under the request id.
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n'))
        if (line.trim()) logLines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const capturing = pino({ level: 'info', mixin: () => ({ requestId: currentRequestContext()?.requestId }) }, sink);
  // Production refuses to start without REDIS_URL; the test hands the gateway an in-memory cache instead of a Redis
  // server.
  const productionCache = await openSharedCache({ logger });
  cleanups.push(() => productionCache.close());
  production = await startGateway(
    loadGatewayConfig({
      ...base,
      SUPERGRAPH: productionFile.path,
      PROFILE: 'production',
      INTERNAL_AUTH_SECRET: SECRET,
      REDIS_URL: 'redis://127.0.0.1:9',
    }),
    {
      logger: capturing,
      cache: productionCache,
      authorization: 'disabled',
    },
  );
});

afterAll(async () => {
  await sandbox?.close();
  await production?.close();
  for (const t of [...(sandboxToys?.all ?? []), ...(productionToys?.all ?? [])]) await t.close();
  await jwks?.close();
  for (const c of cleanups) await c();
});

function subgraphCalls(toys = sandboxToys): number {
  return toys.all.reduce((n, t) => n + t.seen.length, 0);
}

/** Sends the operation and expects a refusal naming the limit, with no subgraph called. */
async function expectRefused(query: string, limit: string, variables?: Record<string, unknown>) {
  const before = subgraphCalls();
  const res = await gql(sandbox.url, query, { token: await jwks.sign(), variables });
  expect(res.status).toBe(400);
  expect(res.body.data).toBeUndefined();
  expect(res.body.errors).toHaveLength(1);
  const error = res.body.errors![0]!;
  expect(error.extensions).toMatchObject({ code: 'QUERY_LIMIT_EXCEEDED', limit });
  expect(typeof error.extensions?.max).toBe('number');
  expect(error.extensions!.actual as number).toBeGreaterThan(error.extensions!.max as number);
  expect(error.extensions?.http).toBeUndefined();
  expect(hasStackTrace(res.raw)).toBe(false);
  expect(subgraphCalls()).toBe(before);
  return error;
}

describe('hostile queries through the gateway', () => {
  it('answers an ordinary query (and calls the subgraph)', async () => {
    const before = subgraphCalls();
    const res = await gql(
      sandbox.url,
      '{ me { id name } entries(first: 100) { edges { node { id related(first: 2) { edges { node { id } } } } } } }',
      { token: await jwks.sign() },
    );
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data?.me).toEqual({ id: 'cus_u57fz5zj7ojayz6np3d6x6kon4', name: 'Alice' });
    expect(subgraphCalls()).toBeGreaterThan(before);
  });

  it('refuses deep nesting', async () => {
    let q = '{ id }';
    for (let i = 0; i < 5; i++) q = `{ id related(first: 1) { edges { node ${q} } } }`;
    const error = await expectRefused(`{ entries(first: 1) { edges { node ${q} } } }`, 'depth');
    expect(error.extensions).toMatchObject({ max: 12 });
    expect(error.message).toMatch(/levels deep/);
  });

  it('refuses an alias flood', async () => {
    const aliases = Array.from({ length: 31 }, (_, i) => `a${i}: id`).join(' ');
    const error = await expectRefused(`{ me { ${aliases} } }`, 'aliases');
    expect(error.extensions).toMatchObject({ max: 30, actual: 31 });
  });

  it('refuses too many root fields', async () => {
    const fields = Array.from({ length: 11 }, (_, i) => `w${i}: whoami { customerId }`).join(' ');
    expect((await expectRefused(`{ ${fields} }`, 'rootFields')).extensions).toMatchObject({ max: 10, actual: 11 });
  });

  it('refuses a token flood while parsing', async () => {
    const error = await expectRefused(`{ me { ${'id '.repeat(6000)}} }`, 'tokens');
    expect(error.extensions).toMatchObject({ max: 5000, actual: 6005 }); // { me { + 6000 × id + } }
    expect(error.message).not.toMatch(/Syntax Error/);
  });

  it('refuses a huge page, naming the field, from a literal or a variable', async () => {
    const literal = await expectRefused('{ entries(first: 1000) { edges { node { id } } } }', 'pageSize');
    expect(literal.extensions).toMatchObject({ max: 100, actual: 1000, field: 'Query.entries' });
    expect(literal.message).toContain('Query.entries');
    const variable = await expectRefused(
      'query Q($n: Int) { entries(first: 1) { edges { node { related(first: $n) { edges { cursor } } } } } }',
      'pageSize',
      { n: 500 },
    );
    expect(variable.extensions).toMatchObject({ actual: 500, field: 'Entry.related' });
  });

  it('refuses a cost explosion (first: 100 × first: 100)', async () => {
    const error = await expectRefused(
      '{ entries(first: 100) { edges { node { id related(first: 100) { edges { node { id amount } } } } } } }',
      'cost',
    );
    expect(error.extensions).toMatchObject({ max: 20_000 });
  });

  it('accepts a batch up to the maximum and refuses a larger one with HTTP 400 before anything runs', async () => {
    const token = await jwks.sign();
    const post = (ops: unknown[]) =>
      fetch(sandbox.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify(ops),
      });
    const ok = await post([{ query: '{ me { id } }' }, { query: '{ entries(first: 1) { edges { cursor } } }' }]);
    expect(ok.status).toBe(200);
    const results = (await ok.json()) as { data?: unknown; errors?: unknown }[];
    expect(results).toHaveLength(2);
    expect(results.every((r) => r.errors === undefined)).toBe(true);

    const before = subgraphCalls();
    const flood = await post(Array.from({ length: 6 }, () => ({ query: '{ me { id } }' })));
    expect(flood.status).toBe(400);
    const raw = await flood.text();
    const body = JSON.parse(raw) as { errors: { message: string; extensions: Record<string, unknown> }[] };
    expect(body.errors[0]?.extensions).toMatchObject({
      code: 'QUERY_LIMIT_EXCEEDED',
      limit: 'batch',
      max: 5,
      actual: 6,
    });
    expect(body.errors[0]?.message).toMatch(/6 operations/);
    expect(hasStackTrace(raw)).toBe(false);
    expect(subgraphCalls()).toBe(before);
  });

  it('applies the limits to each operation of a batch, refusing the whole batch before any of it runs', async () => {
    const before = subgraphCalls();
    const res = await fetch(sandbox.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${await jwks.sign()}` },
      body: JSON.stringify([
        { query: '{ me { id } }' },
        { query: '{ entries(first: 1000) { edges { cursor } } }' },
        { query: '{ entries(first: 500) { edges { cursor } } }' },
      ]),
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { errors: { extensions?: Record<string, unknown> }[] };
    // The first operation over a limit is named by its position in the batch.
    expect(body.errors).toHaveLength(1);
    expect(body.errors[0]?.extensions).toMatchObject({
      code: 'QUERY_LIMIT_EXCEEDED',
      limit: 'pageSize',
      max: 100,
      actual: 1000,
      batchIndex: 1,
    });
    expect(subgraphCalls()).toBe(before);
  });

  it('keeps introspection and suggestions in the sandbox profile', async () => {
    const intro = await gql(sandbox.url, getIntrospectionQuery(), { token: await jwks.sign() });
    expect(intro.body.errors).toBeUndefined();
    const typo = await gql(sandbox.url, '{ me { nam } }', { token: await jwks.sign() });
    expect(typo.body.errors?.[0]?.message).toContain('Did you mean "name"?');
  });
});

describe('production profile', () => {
  it('refuses introspection', async () => {
    const res = await gql(production.url, '{ __schema { types { name } } }', { token: await jwks.sign() });
    expect(res.body.data).toBeUndefined();
    expect(res.body.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(res.raw).not.toContain('EntryConnection');
    expect(hasStackTrace(res.raw)).toBe(false);
  });

  it('gives no field, argument or enum suggestions', async () => {
    const before = subgraphCalls(productionToys);
    const cases = [
      '{ me { nam } }',
      '{ entries(frist: 1) { edges { cursor } } }',
      '{ entries(kind: CREDT) { edges { cursor } } }',
      '{ entris { edges { cursor } } }',
      'query($n: Intt) { entries(first: $n) { edges { cursor } } }',
    ];
    for (const q of cases) {
      const res = await gql(production.url, q, { token: await jwks.sign() });
      expect(res.body.errors?.length, q).toBeGreaterThan(0);
      expect(res.body.errors?.[0]?.extensions?.code, q).toBe('GRAPHQL_VALIDATION_FAILED');
      expect(res.raw, q).not.toMatch(/Did you mean/);
      expect(hasStackTrace(res.raw), q).toBe(false);
    }
    // A bad enum value in variables fails during coercion, also without a suggestion.
    const coercion = await gql(production.url, 'query($k: EntryKind) { entries(kind: $k) { edges { cursor } } }', {
      token: await jwks.sign(),
      variables: { k: 'CREDT' },
    });
    expect(coercion.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(coercion.raw).not.toMatch(/Did you mean|CREDIT/);
    expect(subgraphCalls(productionToys)).toBe(before);
  });

  it('masks parse errors, limit refusals and unexpected errors to a code without stack traces', async () => {
    const token = await jwks.sign();
    const parseError = await gql(production.url, '{ me { id }', { token });
    expect(parseError.status).toBe(400);
    expect(parseError.body.errors?.[0]?.extensions?.code).toBe('GRAPHQL_PARSE_FAILED');
    expect(hasStackTrace(parseError.raw)).toBe(false);

    const limit = await gql(production.url, '{ entries(first: 1000) { edges { cursor } } }', { token });
    expect(limit.body.errors?.[0]?.extensions).toMatchObject({ code: 'QUERY_LIMIT_EXCEEDED', limit: 'pageSize' });

    const failing = await gql(production.url, '{ failing }', { token });
    expect(failing.body.errors?.[0]).toMatchObject({
      message: 'Internal server error',
      extensions: { code: 'INTERNAL_SERVER_ERROR' },
    });
    expect(failing.raw).not.toMatch(/10\.0\.0\.5|password/);
    expect(hasStackTrace(failing.raw)).toBe(false);
    // The detail is in the gateway's log under the request id the client got back.
    const requestId = failing.headers.get('x-request-id');
    expect(requestId).toBeTruthy();
    const detail = logLines.find((l) => l.requestId === requestId && JSON.stringify(l).includes('10.0.0.5'));
    expect(detail).toBeDefined();
  });

  it('still answers valid queries', async () => {
    const res = await gql(production.url, '{ me { id } entries(first: 2) { edges { cursor } } }', {
      token: await jwks.sign(),
    });
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data?.me).toEqual({ id: 'cus_u57fz5zj7ojayz6np3d6x6kon4' });
  });
});

describe('the real supergraph, with authorization enforced', () => {
  // No subgraph is running: every refusal below must happen before execution. The limits plugin
  // runs before the authorization plugin, so a hostile query is refused for its size even when
  // the caller also lacks scopes (here: no payments:read / transactions:read).
  let real: RunningGateway;
  beforeAll(async () => {
    const dead = 'http://127.0.0.1:9/graphql';
    real = await startGateway(
      loadGatewayConfig({
        GATEWAY_PORT: '0',
        AUTH_ISSUER: ISSUER,
        AUTH_AUDIENCE: AUDIENCE,
        AUTH_JWKS_URL: jwks.url,
        ACCOUNTS_SUBGRAPH_URL: dead,
        PAYMENTS_SUBGRAPH_URL: dead,
        IDENTITY_SUBGRAPH_URL: dead,
        CONSENTS_SUBGRAPH_URL: dead,
      }),
      { logger },
    );
  });
  afterAll(async () => {
    await real?.close();
  });

  const dashboard = readFileSync(new URL('../operations/dashboard.graphql', import.meta.url), 'utf8');

  it('refuses the dashboard with 1000 transactions per page, naming Account.transactions', async () => {
    const res = await gql(real.url, dashboard, { token: await jwks.sign(), variables: { transactions: 1000 } });
    expect(res.status).toBe(400);
    expect(res.body.errors?.[0]?.extensions).toMatchObject({
      code: 'QUERY_LIMIT_EXCEEDED',
      limit: 'pageSize',
      max: 100,
      actual: 1000,
      field: 'Account.transactions',
    });
  });

  it('refuses nested pages through payments → debtorAccount → transactions', async () => {
    const q =
      '{ me { payments(first: 100) { edges { node { id debtorAccount { transactions(first: 100) { edges { node { id description } } } } } } } } }';
    const res = await gql(real.url, q, { token: await jwks.sign() });
    expect(res.status).toBe(400);
    expect(res.body.errors?.[0]?.extensions).toMatchObject({
      code: 'QUERY_LIMIT_EXCEEDED',
      limit: 'cost',
      max: 20_000,
    });
    expect(hasStackTrace(res.raw)).toBe(false);
  });
});
