import * as graphql from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditRules, loadPublicSchema } from '../../gateway/authorization/audit.ts';
import type { CallerFacts } from '../../gateway/explorer/caller.ts';
import { operationFields, type Caller, type SelectedField } from '../../gateway/explorer/public/check.js';
import type { RequirementsDocument } from '../../gateway/explorer/requirements.ts';
import { createLogger } from '../../lib/logger.ts';
import { SANDBOX_CUSTOMERS } from '../../sandboxes/manifest.ts';
import { startPlatform, type RunningPlatform } from '../../scripts/platform.ts';
import { scaled } from '../support/time.ts';

/**
 * The explorer's view of what every field requires agrees with `npm run shield:audit` and with
 * what the gateway enforces, for EVERY field of the schema:
 * 1. /explorer/requirements.json against auditRules() (the rows shield:audit prints), field by
 *    field, and against the "Requires:" paragraph the explorer's docs show;
 * 2. the explorer's verdict before sending (public/check.js, the file the page runs, fed with the
 *    token and the page's /explorer/caller answer) against the live gateway's decision, for one
 *    operation per field and a sample of callers: no token, first-party with all or few scopes,
 *    third parties with and without consents, staff, a machine client and a client the registry
 *    does not know. Each probe operation needs a variable it never gets, so the gateway decides
 *    authorization (which runs before execution) and then stops at variable coercion: nothing
 *    executes, nothing changes;
 * 3. what the explorer says is checked per account is: a third party reads such a field on an
 *    account its consent covers, and not on another account of the same customer.
 */

const alice = SANDBOX_CUSTOMERS.find((c) => c.displayName === 'Alice')!.customerId;
const ben = SANDBOX_CUSTOMERS.find((c) => c.displayName === 'Ben')!.customerId;

let platform: RunningPlatform;
let base: string;
let requirements: RequirementsDocument;
let schema: graphql.GraphQLSchema;

beforeAll(async () => {
  platform = await startPlatform({
    ports: 'free',
    env: { PGLITE_DIR: 'memory://', DATABASE_URL: undefined },
    logger: createLogger('explorer-agreement', 'silent'),
  });
  base = platform.gatewayUrl.replace(/\/graphql$/, '');
  requirements = (await (await fetch(`${base}/explorer/requirements.json`)).json()) as RequirementsDocument;
  const introspection = (await (await fetch(`${base}/explorer/schema.json`)).json()) as {
    data: graphql.IntrospectionQuery;
  };
  schema = graphql.buildClientSchema(introspection.data);
}, scaled(120_000));

afterAll(async () => {
  await platform?.close();
});

describe('requirements.json and shield:audit', () => {
  it('list the same fields with the same callers, scopes, consent, PII and enforcement, and the docs say the same', () => {
    const audit = auditRules(loadPublicSchema());
    expect(audit.problems).toEqual([]);
    expect(requirements.problems).toEqual([]);
    expect(Object.keys(requirements.fields).sort()).toEqual(audit.rows.map((r) => `${r.type}.${r.field}`).sort());
    for (const row of audit.rows) {
      const coordinate = `${row.type}.${row.field}`;
      const r = requirements.fields[coordinate]!;
      expect({
        coordinate,
        callers: [...r.callers].sort(),
        scopes: [...r.scopes].sort(),
        pii: r.pii,
        decided: r.decided,
        objectCheck: r.objectCheck,
        rule: r.rule,
        note: r.note,
      }).toEqual({
        coordinate,
        callers: [...row.callers].sort(),
        scopes: [...row.scopes].sort(),
        pii: row.pii,
        decided: row.decided,
        objectCheck: row.objectCheck,
        rule: row.rule,
        note: row.note,
      });
      // The consent the engine checks before execution is the policy's; none when thirdParty may not read the field at
      // all.
      const before = r.consents.filter((c) => c.beforeExecution).map((c) => c.permission);
      expect([coordinate, before]).toEqual([
        coordinate,
        row.consent && row.callers.includes('thirdParty') ? [row.consent] : [],
      ]);
      const type = schema.getType(row.type) as graphql.GraphQLObjectType;
      expect(type.getFields()[row.field]!.description?.trim().split('\n\n').at(-1), coordinate).toBe(r.line);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// One probe operation per field: the shortest path to it from Query or Mutation.

interface Step {
  parent: string;
  field: string;
}

function pathsToEveryField(): Map<string, Step[]> {
  const toType = new Map<string, Step[]>();
  const queue: string[] = [];
  for (const root of [schema.getQueryType(), schema.getMutationType()]) {
    if (!root) continue;
    toType.set(root.name, []);
    queue.push(root.name);
  }
  const paths = new Map<string, Step[]>();
  while (queue.length) {
    const typeName = queue.shift()!;
    const type = schema.getType(typeName) as graphql.GraphQLObjectType;
    for (const field of Object.values(type.getFields())) {
      const steps = [...toType.get(typeName)!, { parent: typeName, field: field.name }];
      paths.set(`${typeName}.${field.name}`, steps);
      const target = graphql.getNamedType(field.type);
      if (graphql.isObjectType(target) && !toType.has(target.name)) {
        toType.set(target.name, steps);
        queue.push(target.name);
      }
    }
  }
  return paths;
}

/** The probe for a field: every required argument is a variable, and so is `$stop`, which is never sent. */
function probe(steps: Step[]): string {
  const variables: string[] = ['$stop: Boolean!'];
  let selection = '';
  for (let i = steps.length - 1; i >= 0; i--) {
    const { parent, field } = steps[i]!;
    const definition = (schema.getType(parent) as graphql.GraphQLObjectType).getFields()[field]!;
    const args = definition.args.filter((a) => graphql.isNonNullType(a.type) && a.defaultValue === undefined);
    const argText = args.map((a) => {
      const name = `$a${variables.length}`;
      variables.push(`${name}: ${a.type.toString()}`);
      return `${a.name}: ${name}`;
    });
    const leaf = graphql.isLeafType(graphql.getNamedType(definition.type));
    selection = `${field}${argText.length ? `(${argText.join(', ')})` : ''}${selection ? ` { ${selection} }` : leaf ? '' : ' { __typename }'}`;
  }
  const operation = steps[0]!.parent === 'Mutation' ? 'mutation' : 'query';
  return `${operation} Probe(${variables.join(', ')}) { __typename @include(if: $stop) ${selection} }`;
}

interface Decision {
  outcome: 'unauthenticated' | 'forbidden' | 'allowed';
  /** Type.field → reason (NO_RULE, SCOPE, CALLER_KIND, CONSENT). */
  denied: Record<string, string>;
  /** Type.field → the missing scopes, or the missing consent permission. */
  missing: Record<string, string[] | string>;
}

async function gatewayDecision(query: string, token: string | null): Promise<Decision> {
  const res = await fetch(`${base}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query }),
  });
  type Denied = { field: string; reason: string; missingScopes?: string[]; missingConsent?: string };
  const body = (await res.json()) as {
    data?: unknown;
    errors?: { message: string; extensions?: { code?: string; denied?: Denied[] } }[];
  };
  const error = body.errors?.[0];
  const code = error?.extensions?.code;
  if (code === 'UNAUTHENTICATED') return { outcome: 'unauthenticated', denied: {}, missing: {} };
  if (code === 'FORBIDDEN') {
    const denied: Record<string, string> = {};
    const missing: Record<string, string[] | string> = {};
    for (const d of error!.extensions!.denied ?? []) {
      denied[d.field] = d.reason;
      if (d.missingScopes) missing[d.field] = [...d.missingScopes].sort();
      if (d.missingConsent) missing[d.field] = d.missingConsent;
    }
    return { outcome: 'forbidden', denied, missing };
  }
  // Allowed: the gateway went on to execute and stopped at the variable never sent.
  expect(code, `${query}: ${JSON.stringify(body.errors)}`).toBe('BAD_USER_INPUT');
  expect(error!.message).toMatch(/Variable "\$(stop|a\d+)" of required type/);
  expect(body.data).toBeUndefined();
  return { outcome: 'allowed', denied: {}, missing: {} };
}

/**
 * What the explorer predicts the gateway decides: like engine.ts's pre-execution pass, scope
 * denials are reported alone when there are any; otherwise caller-kind and consent denials.
 */
function explorerPrediction(fields: SelectedField[]): Decision {
  if (fields.some((f) => f.unmet.some((u) => u.reason === 'AUTHENTICATION')))
    return { outcome: 'unauthenticated', denied: {}, missing: {} };
  const pick = (reasons: string[]) =>
    fields.flatMap((f) => f.unmet.filter((u) => reasons.includes(u.reason)).map((u) => [f.coordinate, u] as const));
  const scope = pick(['SCOPE', 'NO_RULE']);
  const chosen = scope.length ? scope : pick(['CALLER_KIND', 'CONSENT']);
  const denied: Record<string, string> = {};
  const missing: Record<string, string[] | string> = {};
  for (const [coordinate, u] of chosen) {
    denied[coordinate] = u.reason;
    if (u.missingScopes) missing[coordinate] = [...u.missingScopes].sort();
    if (u.missingConsent) missing[coordinate] = u.missingConsent;
  }
  return { outcome: chosen.length ? 'forbidden' : 'allowed', denied, missing };
}

/** The caller as the page knows it: the token's scopes and expiry, and /explorer/caller's answer. */
async function pageCaller(token: string | null): Promise<Caller | null> {
  if (!token) return null;
  const res = await fetch(`${base}/explorer/caller`, { headers: { authorization: `Bearer ${token}` } });
  expect(res.status).toBe(200);
  const facts = (await res.json()) as CallerFacts;
  return { scopes: facts.scopes, expired: false, kind: facts.kind, grants: facts.grants };
}

/**
 * allowedSome: whether the policy lets this caller read any field at all (a machine client or an unknown one reads
 * nothing).
 */
const CALLERS: {
  name: string;
  token: () => Promise<string | null>;
  expectKind: string | null | undefined;
  allowedSome: boolean;
}[] = [
  { name: 'no token', token: async () => null, expectKind: undefined, allowedSome: false },
  {
    name: 'web-app for Alice, every scope',
    token: () => platform.sandboxes.auth.mint({ customerId: alice, clientId: 'web-app' }),
    expectKind: 'customer',
    allowedSome: true,
  },
  {
    name: 'web-app for Alice, two scopes',
    token: () =>
      platform.sandboxes.auth.mint({
        customerId: alice,
        clientId: 'web-app',
        scopes: ['accounts:read', 'consents:write'],
      }),
    expectKind: 'customer',
    allowedSome: true,
  },
  {
    name: 'budgetly for Alice (authorised consent)',
    token: () => platform.sandboxes.auth.mint({ customerId: alice, clientId: 'budgetly' }),
    expectKind: 'thirdParty',
    allowedSome: true,
  },
  {
    name: 'taxpal for Alice (revoked consent)',
    token: () => platform.sandboxes.auth.mint({ customerId: alice, clientId: 'taxpal' }),
    expectKind: 'thirdParty',
    allowedSome: true,
  },
  {
    name: 'budgetly for Ben (consent awaiting)',
    token: () => platform.sandboxes.auth.mint({ customerId: ben, clientId: 'budgetly' }),
    expectKind: 'thirdParty',
    allowedSome: true,
  },
  {
    name: 'ops-console (staff)',
    token: () => platform.sandboxes.auth.mint({ clientId: 'ops-console' }),
    expectKind: 'staff',
    allowedSome: true,
  },
  {
    name: 'reconciler (machine)',
    token: () => platform.sandboxes.auth.mint({ clientId: 'reconciler' }),
    expectKind: 'machine',
    allowedSome: false,
  },
  {
    name: 'an unregistered client for Alice',
    token: () =>
      platform.sandboxes.auth.mint({
        customerId: alice,
        clientId: 'ghost-app',
        scopes: ['accounts:read', 'identity:read', 'consents:read'],
      }),
    expectKind: null,
    allowedSome: false,
  },
];

describe('the explorer predicts the gateway, for every field', () => {
  it('reaches every field of the schema with a probe operation', () => {
    const paths = pathsToEveryField();
    expect([...paths.keys()].sort()).toEqual(Object.keys(requirements.fields).sort());
  });

  for (const caller of CALLERS) {
    it(`${caller.name}`, async () => {
      const token = await caller.token();
      const page = await pageCaller(token);
      expect(page?.kind).toBe(caller.expectKind);
      const probes = [...pathsToEveryField()].map(([coordinate, steps]) => ({ coordinate, query: probe(steps) }));
      const outcomes: { coordinate: string; gateway: Decision; explorer: Decision }[] = [];
      // A few at a time: the answers do not depend on order, and the gateway's caches are shared.
      for (let i = 0; i < probes.length; i += 8) {
        outcomes.push(
          ...(await Promise.all(
            probes.slice(i, i + 8).map(async ({ coordinate, query }) => ({
              coordinate,
              gateway: await gatewayDecision(query, token),
              explorer: explorerPrediction(operationFields(graphql, schema, query, { requirements, caller: page })),
            })),
          )),
        );
      }
      const disagreements = outcomes.filter((o) => JSON.stringify(o.gateway) !== JSON.stringify(o.explorer));
      expect(disagreements).toEqual([]);
      // The sample means something: every caller is refused some fields, and those the policy serves are allowed
      // others.
      const allowed = outcomes.filter((o) => o.gateway.outcome === 'allowed').length;
      expect(allowed).toBeLessThan(outcomes.length);
      if (caller.allowedSome) expect(allowed).toBeGreaterThan(0);
      else expect(allowed).toBe(0);
    });
  }
});

describe('per account, where the explorer says so', () => {
  it("a third party reads those fields on the account its consent covers, and not on the customer's other accounts", async () => {
    const budgetly = await platform.sandboxes.auth.mint({ customerId: alice, clientId: 'budgetly' });
    const facts = (await (
      await fetch(`${base}/explorer/caller`, { headers: { authorization: `Bearer ${budgetly}` } })
    ).json()) as CallerFacts;
    const covered = facts.consentedAccounts!.BALANCES![0]!;
    const owner = await platform.sandboxes.auth.mint({ customerId: alice, clientId: 'web-app' });
    const all = await gql(owner, '{ me { accounts { id } } }');
    const other = (all.data as { me: { accounts: { id: string }[] } }).me.accounts
      .map((a) => a.id)
      .find((id) => id !== covered)!;
    // The Account fields checked per account whose scopes budgetly has and whose permission its consent grants.
    const perAccount = Object.values(requirements.fields).filter(
      (r) =>
        r.coordinate.startsWith('Account.') &&
        r.consents.some((c) => c.perAccount) &&
        r.consents.every((c) => facts.grants![c.permission]) &&
        r.scopes.every((s) => facts.scopes.includes(s)),
    );
    expect(perAccount.map((r) => r.coordinate)).toEqual(
      expect.arrayContaining(['Account.name', 'Account.currentBalance', 'Account.transactions']),
    );
    for (const r of perAccount) {
      const field = r.coordinate.split('.')[1]!;
      const leaf = graphql.isLeafType(
        graphql.getNamedType((schema.getType('Account') as graphql.GraphQLObjectType).getFields()[field]!.type),
      );
      const query = `query ($id: ID!) { account(id: $id) { ${field}${leaf ? '' : ' { __typename }'} } }`;
      const yes = await gql(budgetly, query, { id: covered });
      expect([r.coordinate, yes.errors]).toEqual([r.coordinate, undefined]);
      const no = await gql(budgetly, query, { id: other });
      expect([r.coordinate, no.errors?.map((e) => e.extensions?.code)]).toEqual([r.coordinate, ['FORBIDDEN']]);
    }
  });
});

async function gql(token: string, query: string, variables: Record<string, unknown> = {}) {
  const res = await fetch(`${base}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  return (await res.json()) as { data?: unknown; errors?: { message: string; extensions?: { code?: string } }[] };
}
