import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadGatewayConfig } from '../../gateway/config.ts';
import { startGateway, type RunningGateway } from '../../gateway/server.ts';
import { ConfigError } from '../../lib/config.ts';
import {
  AUDIENCE,
  composeToySupergraph,
  gql,
  hasStackTrace,
  ISSUER,
  logger,
  startLocalJwks,
  startToySubgraph,
  writeTempSupergraph,
  type LocalJwks,
  type ToySubgraph,
} from './helpers.ts';

/**
 * GATEWAY_AUTHORIZATION=directives on a toy supergraph that carries Apollo's authorization
 * directives: Router's semantics (OR of ANDs, types, interfaces, null + UNAUTHORIZED_FIELD_OR_TYPE
 * instead of a failed request, anonymous requests allowed), per caller, with callers overlapping.
 */
const SDL = `extend schema @link(url: "https://specs.apollo.dev/federation/v2.6", import: ["@key", "@authenticated", "@requiresScopes", "@policy"])
type Query {
  hello: String
  me: User @authenticated
  reports: [Report!]
  items: [Item!]!
}
type User @key(fields: "id") {
  id: ID!
  name: String!
  email: String @requiresScopes(scopes: [["pii:read"], ["admin"]])
  salary: Int @requiresScopes(scopes: [["hr:read", "pii:read"]])
}
type Report @policy(policies: [["auditor"]]) {
  id: ID!
  body: String!
}
interface Item {
  id: ID!
  secret: String
}
type Book implements Item {
  id: ID!
  secret: String @authenticated
  title: String!
}
type Subscription {
  ticks: Int
}`;

let jwks: LocalJwks;
let toy: ToySubgraph;
let gateway: RunningGateway;
let cleanup: () => void;
/** How often the subgraph resolved each protected field: what it was asked for. */
const reads = { email: 0, salary: 0 };

beforeAll(async () => {
  jwks = await startLocalJwks();
  toy = await startToySubgraph('users', SDL, {
    Query: {
      hello: () => 'world',
      me: () => ({ id: 'u1', name: 'Alice', email: 'alice@example.com', salary: 100 }),
      reports: () => [{ id: 'r1', body: 'audit trail' }],
      items: () => [
        { __typename: 'Book', id: 'b1', secret: 's1', title: 'One' },
        { __typename: 'Book', id: 'b2', secret: 's2', title: 'Two' },
      ],
    },
    Item: { __resolveType: (o: { __typename: string }) => o.__typename },
    User: {
      __resolveReference: (ref: { id: string }) => ({ id: ref.id, name: 'Alice' }),
      email: (u: { email: string }) => (reads.email++, u.email),
      salary: (u: { salary: number }) => (reads.salary++, u.salary),
    },
  });
  const file = writeTempSupergraph(composeToySupergraph([toy]));
  cleanup = file.cleanup;
  gateway = await startGateway(
    loadGatewayConfig({
      GATEWAY_PORT: '0',
      SUPERGRAPH: file.path,
      AUTH_ISSUER: ISSUER,
      AUTH_AUDIENCE: AUDIENCE,
      AUTH_JWKS_URL: jwks.url,
      GATEWAY_AUTHORIZATION: 'directives',
    }),
    { logger },
  );
});

afterAll(async () => {
  await gateway?.close();
  await toy?.close();
  await jwks?.close();
  cleanup?.();
});

const codes = (errors: { extensions?: Record<string, unknown>; path?: unknown }[] | undefined) =>
  (errors ?? []).map((e) => [e.extensions?.code, (e.path as unknown[] | undefined)?.join('.')]);

describe('directive mode (GATEWAY_AUTHORIZATION=directives)', () => {
  it('serves a request without a token: what needs authentication is null with UNAUTHORIZED_FIELD_OR_TYPE, the rest resolves', async () => {
    const before = toy.seen.length;
    const res = await gql(gateway.url, '{ hello me { id name } }');
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual({ hello: 'world', me: null });
    expect(codes(res.body.errors)).toEqual([['UNAUTHORIZED_FIELD_OR_TYPE', 'me']]);
    expect(res.body.errors?.[0]?.message).toBe('Unauthorized field or type');
    expect(hasStackTrace(res.raw)).toBe(false);
    // Only `hello` was asked for: a refused root field is never sent to the subgraph.
    expect(toy.seen.length - before).toBe(1);
  });

  it('applies @requiresScopes as an OR of ANDs over the token scopes', async () => {
    const q = '{ me { name email salary } }';
    const none = await gql(gateway.url, q, { token: await jwks.sign({ scope: 'profile' }) });
    expect(none.body.data).toEqual({ me: { name: 'Alice', email: null, salary: null } });
    expect(codes(none.body.errors)).toEqual([
      ['UNAUTHORIZED_FIELD_OR_TYPE', 'me.email'],
      ['UNAUTHORIZED_FIELD_OR_TYPE', 'me.salary'],
    ]);
    // pii:read meets the first alternative of email, and only half of salary's single one.
    const pii = await gql(gateway.url, q, { token: await jwks.sign({ scope: 'pii:read' }) });
    expect(pii.body.data).toEqual({ me: { name: 'Alice', email: 'alice@example.com', salary: null } });
    expect(codes(pii.body.errors)).toEqual([['UNAUTHORIZED_FIELD_OR_TYPE', 'me.salary']]);
    const admin = await gql(gateway.url, q, { token: await jwks.sign({ scope: 'admin' }) });
    expect(admin.body.data).toEqual({ me: { name: 'Alice', email: 'alice@example.com', salary: null } });
    const both = await gql(gateway.url, q, { token: await jwks.sign({ scope: 'hr:read pii:read' }) });
    expect(both.body.errors).toBeUndefined();
    expect(both.body.data).toEqual({ me: { name: 'Alice', email: 'alice@example.com', salary: 100 } });
  });

  it('does not ask the subgraph for a field the caller is refused (data minimisation)', async () => {
    const q = '{ me { name email salary } }';
    const before = { ...reads };
    const res = await gql(gateway.url, q, { token: await jwks.sign({ scope: 'pii:read' }) });
    expect(res.body.data).toEqual({ me: { name: 'Alice', email: 'alice@example.com', salary: null } });
    expect(reads).toEqual({ email: before.email + 1, salary: before.salary });
    // Everything under a refused selection is left out, and the request stays valid.
    const none = await gql(gateway.url, '{ me { salary } hello }', { token: await jwks.sign({ scope: 'profile' }) });
    expect(none.body.data).toEqual({ me: { salary: null }, hello: 'world' });
    expect(reads.salary).toBe(before.salary);
  });

  it('applies @policy on a type to the fields that return it; a policy is granted by the scope policy:<name>', async () => {
    const q = '{ reports { id body } }';
    const refused = await gql(gateway.url, q, { token: await jwks.sign({ scope: 'auditor' }) });
    expect(refused.body.data).toEqual({ reports: null });
    expect(codes(refused.body.errors)).toEqual([['UNAUTHORIZED_FIELD_OR_TYPE', 'reports']]);
    const granted = await gql(gateway.url, q, { token: await jwks.sign({ scope: 'policy:auditor' }) });
    expect(granted.body).toEqual({ data: { reports: [{ id: 'r1', body: 'audit trail' }] } });
  });

  it('applies the requirement of an implementation to a field selected through its interface, item by item', async () => {
    const q = '{ items { id secret ... on Book { title } } }';
    const anonymous = await gql(gateway.url, q);
    expect(anonymous.body.data).toEqual({
      items: [
        { id: 'b1', secret: null, title: 'One' },
        { id: 'b2', secret: null, title: 'Two' },
      ],
    });
    expect(codes(anonymous.body.errors)).toEqual([
      ['UNAUTHORIZED_FIELD_OR_TYPE', 'items.0.secret'],
      ['UNAUTHORIZED_FIELD_OR_TYPE', 'items.1.secret'],
    ]);
    const signed = await gql(gateway.url, q, { token: await jwks.sign() });
    expect(signed.body.errors).toBeUndefined();
    expect((signed.body.data?.items as { secret: string }[]).map((i) => i.secret)).toEqual(['s1', 's2']);
  });

  it('decides per caller when callers with different scopes overlap', async () => {
    const tokens = {
      anonymous: undefined,
      plain: await jwks.sign({ scope: 'profile' }),
      pii: await jwks.sign({ scope: 'pii:read' }),
      hr: await jwks.sign({ scope: 'hr:read pii:read' }),
    };
    const expected = {
      anonymous: null,
      plain: { email: null, salary: null },
      pii: { email: 'alice@example.com', salary: null },
      hr: { email: 'alice@example.com', salary: 100 },
    };
    const callers = Object.keys(tokens) as (keyof typeof tokens)[];
    const runs = Array.from({ length: 40 }, (_, i) => callers[i % callers.length]!);
    const answers = await Promise.all(
      runs.map(
        async (who) => [who, await gql(gateway.url, '{ me { email salary } }', { token: tokens[who] })] as const,
      ),
    );
    for (const [who, res] of answers) expect(res.body.data?.me, who).toEqual(expected[who]);
  });

  it('still refuses an invalid token with 401', async () => {
    const res = await gql(gateway.url, '{ hello }', { token: 'not-a-jwt' });
    expect(res.status).toBe(401);
    expect(res.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('answers a subscription with SUBSCRIPTIONS_NOT_SUPPORTED (HTTP 400)', async () => {
    const res = await gql(gateway.url, 'subscription { ticks }');
    expect(res.status).toBe(400);
    expect(res.body.errors?.map((e) => e.extensions?.code)).toEqual(['SUBSCRIPTIONS_NOT_SUPPORTED']);
    expect(hasStackTrace(res.raw)).toBe(false);
  });
});

describe('directive mode and the production profile', () => {
  const production = {
    PROFILE: 'production',
    INTERNAL_AUTH_SECRET: 'x'.repeat(40),
    AUTH_ISSUER: 'https://auth.example',
    AUTH_AUDIENCE: 'https://api.example',
    REDIS_URL: 'redis://127.0.0.1:6379',
  };

  it('is refused in production, in one line, unless confirmed', () => {
    let message = '';
    try {
      loadGatewayConfig({ ...production, GATEWAY_AUTHORIZATION: 'directives' });
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      message = (err as ConfigError).problems.join('\n');
    }
    expect(message).toMatch(/^GATEWAY_AUTHORIZATION: .*GATEWAY_AUTHORIZATION_PRODUCTION_CONFIRM=directives/);
    expect(message.split('\n')).toHaveLength(1);
    expect(
      loadGatewayConfig({
        ...production,
        GATEWAY_AUTHORIZATION: 'directives',
        GATEWAY_AUTHORIZATION_PRODUCTION_CONFIRM: 'directives',
      }).GATEWAY_AUTHORIZATION,
    ).toBe('directives');
    expect(loadGatewayConfig(production).GATEWAY_AUTHORIZATION).toBe('policy');
  });

  it('offers no setting that switches authorization off', () => {
    for (const value of ['disabled', 'off', 'none']) {
      expect(() => loadGatewayConfig({ ...production, GATEWAY_AUTHORIZATION: value }), value).toThrow(ConfigError);
    }
  });
});
