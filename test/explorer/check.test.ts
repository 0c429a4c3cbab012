import { readFileSync } from 'node:fs';
import * as graphql from 'graphql';
import { describe, expect, it } from 'vitest';
import { loadPublicSchema } from '../../gateway/authorization/audit.ts';
import { EXAMPLE_SOURCES, exampleFile, loadExamples } from '../../gateway/explorer/examples.ts';
import { buildRequirements } from '../../gateway/explorer/requirements.ts';
import {
  decodeToken,
  describeRequirement,
  operationFields,
  tokenFromHeaders,
  unmetRequirements,
  withBearer,
} from '../../gateway/explorer/public/check.js';
import { createLogger } from '../../lib/logger.ts';

/**
 * The explorer's own logic, without a browser: the file the page loads (public/check.js) and the
 * example operations. Whether its verdicts match the gateway's is proven against the live gateway
 * in agreement.test.ts; this pins down the details a developer reads.
 */
const schema = loadPublicSchema();
const requirements = buildRequirements(schema);

const jwt = (claims: Record<string, unknown>) => `e30.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.sig`;
const ALICE = 'cus_u57fz5zj7ojayz6np3d6x6kon4';

describe('reading the token in the headers editor', () => {
  it('finds a bearer token under any case of Authorization, and nothing in text that is not a JSON object', () => {
    expect(tokenFromHeaders('{"authorization": "Bearer abc.def.ghi"}')).toBe('abc.def.ghi');
    expect(tokenFromHeaders('{"AUTHORIZATION": "bearer abc.def.ghi ", "x-request-id": "1"}')).toBe('abc.def.ghi');
    expect(tokenFromHeaders('{"Authorization": "DPoP abc.def.ghi"}')).toBeNull();
    expect(tokenFromHeaders('{"Authorization": ')).toBeNull();
    expect(tokenFromHeaders('["Authorization"]')).toBeNull();
    expect(tokenFromHeaders('')).toBeNull();
  });

  it('puts a new token in place of the old one and keeps the other headers', () => {
    const headers = withBearer('{"authorization": "Bearer old", "x-request-id": "abc"}', 'new.token.here');
    expect(JSON.parse(headers)).toEqual({ Authorization: 'Bearer new.token.here', 'x-request-id': 'abc' });
    expect(JSON.parse(withBearer('not json', 't.o.k'))).toEqual({ Authorization: 'Bearer t.o.k' });
  });

  it('decodes scopes, customer and expiry as the gateway reads them (a client-credentials token has no customer)', () => {
    const now = Date.UTC(2026, 0, 1);
    const token = decodeToken(
      jwt({ sub: ALICE, client_id: 'web-app', scope: 'accounts:read pii:read', exp: now / 1000 + 60 }),
      now,
    );
    expect(token).toEqual({
      clientId: 'web-app',
      customerId: ALICE,
      scopes: ['accounts:read', 'pii:read'],
      expiresAt: now + 60_000,
      expired: false,
    });
    expect(decodeToken(jwt({ sub: ALICE, azp: 'ops', gty: 'client_credentials', exp: now / 1000 }), now)).toMatchObject(
      { clientId: 'ops', customerId: null, expired: true },
    );
    expect(decodeToken(jwt({ sub: 'not-a-customer', client_id: 'x' }), now)).toMatchObject({
      customerId: null,
      scopes: [],
      expiresAt: null,
      expired: false,
    });
    expect(decodeToken('not a jwt')).toBeNull();
    expect(decodeToken('a.%%%.c')).toBeNull();
  });
});

describe('what a field needs that the caller does not have', () => {
  const field = (c: string) => requirements.fields[c]!;

  it('reports a missing token, an expired or refused token, then scopes, then the caller kind, then consent', () => {
    expect(unmetRequirements(field('Customer.email'), null).map((u) => u.reason)).toEqual(['AUTHENTICATION']);
    expect(
      unmetRequirements(field('Customer.email'), { scopes: ['identity:read', 'pii:read'], expired: true }).map(
        (u) => u.reason,
      ),
    ).toEqual(['AUTHENTICATION']);
    expect(
      unmetRequirements(field('Customer.email'), { scopes: [], refused: 'The access token is invalid or expired' })[0]!
        .message,
    ).toContain('invalid or expired');
    // Kind not known yet: only what the token itself says.
    expect(unmetRequirements(field('Customer.email'), { scopes: ['identity:read'] })).toEqual([
      { reason: 'SCOPE', missingScopes: ['pii:read'], message: 'needs scope pii:read' },
    ]);
    expect(
      unmetRequirements(field('Customer.email'), { scopes: ['identity:read', 'pii:read'], kind: 'customer' }),
    ).toEqual([]);
    expect(
      unmetRequirements(field('Customer.email'), { scopes: ['identity:read', 'pii:read'], kind: 'staff' }).map(
        (u) => u.reason,
      ),
    ).toEqual(['CALLER_KIND']);
    expect(
      unmetRequirements(field('Customer.email'), { scopes: ['identity:read', 'pii:read'], kind: null })[0]!.message,
    ).toMatch(/neither first- nor third-party/);
    const thirdParty = {
      scopes: ['identity:read', 'pii:read'],
      kind: 'thirdParty' as const,
      grants: { IDENTITY: false, ACCOUNTS: true },
    };
    expect(unmetRequirements(field('Customer.email'), thirdParty)).toEqual([
      { reason: 'CONSENT', missingConsent: 'IDENTITY', message: 'needs an authorised consent granting IDENTITY' },
    ]);
    expect(unmetRequirements(field('Customer.email'), { ...thirdParty, grants: { IDENTITY: true } })).toEqual([]);
    expect(unmetRequirements(undefined, thirdParty).map((u) => u.reason)).toEqual(['NO_RULE']);
    expect(unmetRequirements(undefined, null).map((u) => u.reason)).toEqual(['AUTHENTICATION']);
  });

  it('says in words what a field requires, consent checked per account and PII included', () => {
    expect(describeRequirement(field('Account.currentBalance'))).toEqual(
      expect.arrayContaining([
        'Scopes: balances:read.',
        'Third party: an authorised consent granting BALANCES, checked for the very account of each object.',
        'Decided before execution and again per object (accountAccess).',
      ]),
    );
    expect(describeRequirement(field('Customer.email'))).toContain('Personal data (PII).');
  });
});

describe('the fields of an operation', () => {
  it('walks fragments once, inline fragments and aliases, honours @skip/@include, leaves introspection out', () => {
    const document = `
      query Q($withEmail: Boolean!) {
        __typename
        me { ...Profile other: displayName email @include(if: $withEmail) ... on Customer { accounts { id } } }
      }
      fragment Profile on Customer { displayName ...Profile2 }
      fragment Profile2 on Customer { phone }`;
    const walk = (variables: Record<string, unknown>) =>
      operationFields(graphql, schema, document, { variables, requirements, caller: null }).map(
        (f) => `${f.path}=${f.coordinate}`,
      );
    expect(walk({ withEmail: false })).toEqual([
      'me=Query.me',
      'me.displayName=Customer.displayName',
      'me.phone=Customer.phone',
      'me.accounts=Customer.accounts',
      'me.accounts.id=Account.id',
    ]);
    expect(walk({ withEmail: true })).toContain('me.email=Customer.email');
    // A directive whose variable is missing keeps the field: checking too much is safe.
    expect(walk({})).toContain('me.email=Customer.email');
  });

  it('checks only the operation that runs when a document has several', () => {
    const document = 'query A { me { id } } query B { me { email } }';
    const fields = (operationName: string | null) =>
      operationFields(graphql, schema, document, {
        operationName,
        requirements,
        caller: { scopes: [], kind: 'customer' },
      }).map((f) => f.coordinate);
    expect(fields('A')).toEqual(['Query.me', 'Customer.id']);
    expect(fields('B')).toEqual(['Query.me', 'Customer.email']);
    expect(fields(null)).toEqual(['Query.me', 'Customer.id', 'Customer.email']);
  });
});

describe('example operations', () => {
  it('are all valid against the public schema, so the explorer offers every one of them', () => {
    const examples = loadExamples(schema, createLogger('test', 'silent'));
    expect(examples.map((e) => e.id)).toEqual(EXAMPLE_SOURCES.map((s) => s.id));
    for (const e of examples) expect(() => JSON.parse(e.variables)).not.toThrow();
  });

  it("the dashboard is the end-to-end test's dashboard, word for word", () => {
    expect(readFileSync(exampleFile('dashboard'), 'utf8')).toBe(
      readFileSync(new URL('../operations/dashboard.graphql', import.meta.url), 'utf8'),
    );
  });

  it('are left out when the served schema does not have what they use', () => {
    const small = graphql.buildSchema('type Query { me: Customer } type Customer { id: ID! }');
    expect(loadExamples(small, createLogger('test', 'silent'))).toEqual([]);
  });
});
