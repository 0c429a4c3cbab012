import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { GraphQLSchema } from 'graphql';
import { PUBLIC_SCHEMA_PATH } from '../../lib/schema-files.ts';
import type { Principal } from '../../lib/principal.ts';
import type { CallerDirectory, ResolvedKind } from '../../gateway/authorization/caller.ts';
import { consentsUnavailable, type ActiveConsent, type ConsentLookup } from '../../gateway/authorization/consents.ts';
import { authzState, type AuthzDeps } from '../../gateway/authorization/engine.ts';
import { graphqlRuntime } from '../../gateway/authorization/graphql-runtime.ts';
import { POLICY } from '../../gateway/authorization/policy.ts';
import { preExecutionDenials, selectedFields } from '../../gateway/authorization/pre-execution.ts';
import { authorizeWithShield } from '../../gateway/authorization/rules.ts';
import type { GatewayContext } from '../../gateway/executor.ts';
import { logger } from './helpers.ts';
import { ALICE, FIRST_PARTY_SCOPES as ALL } from '../support/customers.ts';

/**
 * Unit tests of the rules with fakes for the consent lookup and the client registry (the same
 * interfaces startGateway wires to the consents and accounts subgraphs).
 */
const { buildSchema, parse, execute, Kind } = graphqlRuntime;
const SDL = readFileSync(PUBLIC_SCHEMA_PATH, 'utf8');
const COVERED = 'acc_covered0000000000000000000';
const OTHER = 'acc_other00000000000000000000';

interface Fakes {
  kinds?: Record<string, ResolvedKind>;
  consents?: ActiveConsent[] | Error;
  owned?: string[];
  /** Payment id → debtor account id, as the payments subgraph would answer (or a failure). */
  debtors?: Record<string, string> | Error;
  calls: { kind: number; consents: number; owned: number; debtors: string[][] };
}

function deps(f: Fakes): AuthzDeps {
  const consents: ConsentLookup = {
    forRequest: () => ({
      async active() {
        f.calls.consents++;
        if (f.consents instanceof Error) throw f.consents;
        return f.consents ?? [];
      },
      async grants(permission, accountId) {
        const active = await this.active();
        return active.some(
          (c) => c.permissions.includes(permission) && (accountId === undefined || c.accountIds.includes(accountId)),
        );
      },
    }),
    invalidate: async () => undefined,
  };
  const directory: CallerDirectory = {
    async kindOf(p) {
      f.calls.kind++;
      if (p.customerId === null) return p.scopes.includes('audit:read') ? 'staff' : 'machine';
      const kind = f.kinds?.[p.clientId];
      if (kind === undefined) throw new Error('registry down');
      return kind;
    },
    async ownedAccountIds() {
      f.calls.owned++;
      return new Set(f.owned ?? []);
    },
    async transactionAccountId(_p, _r, id) {
      return id === 'txn_covered' ? COVERED : id === 'txn_other' ? OTHER : null;
    },
    async paymentDebtorAccountIds(_p, _r, ids) {
      f.calls.debtors.push([...ids]);
      if (f.debtors instanceof Error) throw f.debtors;
      return ids.map((id) => (f.debtors as Record<string, string> | undefined)?.[id] ?? null);
    },
    async consentClientId() {
      return null;
    },
  };
  return { consents, directory };
}

function fakes(extra: Partial<Fakes> = {}): Fakes {
  return {
    kinds: { 'web-app': 'customer', budgetly: 'thirdParty' },
    calls: { kind: 0, consents: 0, owned: 0, debtors: [] },
    ...extra,
  };
}

const budgetlyConsent: ActiveConsent = {
  id: 'cns_1',
  status: 'AUTHORISED',
  permissions: ['ACCOUNTS', 'BALANCES'],
  accountIds: [COVERED],
  expiresAt: '2099-01-01T00:00:00.000Z',
};

function payments0() {
  return { id: 'pay_other1', status: 'SETTLED', debtorAccount: { id: OTHER } };
}

function context(principal: Principal | null): GatewayContext {
  return {
    principal,
    authentication: principal ? 'authenticated' : 'anonymous',
    requestId: 'req-1',
    traceparent: '',
    logger,
  };
}

function operation(schema: GraphQLSchema, query: string, variables: Record<string, unknown> = {}) {
  const document = parse(query);
  const op = document.definitions.find((d) => d.kind === Kind.OPERATION_DEFINITION);
  if (!op || op.kind !== Kind.OPERATION_DEFINITION) throw new Error('no operation');
  return selectedFields(schema, document, op, variables);
}

describe('the pre-execution walk', () => {
  const schema = buildSchema(SDL);
  it('lists every selected field through fragments, inline fragments and aliases, honours @skip/@include with variables, and skips introspection', () => {
    const fields = operation(
      schema,
      `query Q($pii: Boolean!) {
        __typename
        __schema { types { name } }
        mine: me { ...Profile email @include(if: $pii) phone @skip(if: true) ... on Customer { accounts { name } } }
      }
      fragment Profile on Customer { displayName address @include(if: $pii) { town } }`,
      { pii: false },
    );
    expect(fields.map((f) => `${f.typeName}.${f.fieldName}@${f.path}`)).toEqual([
      'Query.me@mine',
      'Customer.displayName@mine.displayName',
      'Customer.accounts@mine.accounts',
      'Account.name@mine.accounts.name',
    ]);
  });
});

describe('caller-level rules, decided before execution', () => {
  const schema = buildSchema(SDL);
  const denialsFor = async (
    principal: Principal | null,
    query: string,
    f: Fakes,
    variables?: Record<string, unknown>,
  ) => preExecutionDenials(operation(schema, query, variables), context(principal), deps(f));

  it('reports missing scopes from the token alone, without asking the registry or the consents', async () => {
    const f = fakes();
    const denied = await denialsFor(
      { customerId: ALICE, clientId: 'web-app', scopes: ['identity:read'] },
      '{ me { displayName email accounts { id } } }',
      f,
    );
    expect(denied.map((d) => [d.field, d.missingScopes])).toEqual([
      ['Customer.email', ['pii:read']],
      ['Customer.accounts', ['accounts:read']],
      ['Account.id', ['accounts:read']],
    ]);
    expect(f.calls).toEqual({ kind: 0, consents: 0, owned: 0, debtors: [] });
  });

  it('asks a third party for the consented permission of every field, loading consents once', async () => {
    const f = fakes({ consents: [budgetlyConsent] });
    const denied = await denialsFor(
      { customerId: ALICE, clientId: 'budgetly', scopes: ALL },
      '{ me { displayName accounts { id currentBalance { type } transactions { edges { cursor } } } } }',
      f,
    );
    expect(denied.map((d) => [d.field, d.missingConsent])).toEqual([
      ['Customer.displayName', 'IDENTITY'],
      ['Account.transactions', 'TRANSACTIONS'],
      ['TransactionConnection.edges', 'TRANSACTIONS'],
      ['TransactionEdge.cursor', 'TRANSACTIONS'],
    ]);
    expect(f.calls.consents).toBeGreaterThan(0);
  });

  it('gives staff and machine clients nothing customer-scoped, and first-party-only fields only to the customer', async () => {
    const staff = await denialsFor(
      { customerId: null, clientId: 'ops-console', scopes: [...ALL, 'audit:read'] },
      '{ me { id } clientApp(id: "budgetly") { name } }',
      fakes(),
    );
    expect(staff.map((d) => `${d.field}:${d.reason}`)).toEqual(['Query.me:CALLER_KIND', 'Customer.id:CALLER_KIND']);
    const machine = await denialsFor(
      { customerId: null, clientId: 'reconciler', scopes: ALL },
      '{ clientApp(id: "budgetly") { name } }',
      fakes(),
    );
    expect(machine.map((d) => d.field)).toEqual(['Query.clientApp', 'ClientApp.name']);
    const thirdParty = await denialsFor(
      { customerId: ALICE, clientId: 'budgetly', scopes: ALL },
      'mutation { revokeConsent(id: "cns_x") { id } }',
      fakes({ consents: [budgetlyConsent] }),
    );
    expect(thirdParty.map((d) => d.field)).toEqual(['Mutation.revokeConsent']);
  });

  it('fails closed: a registry or consent lookup that fails refuses the operation', async () => {
    await expect(
      denialsFor({ customerId: ALICE, clientId: 'unknown-client', scopes: ALL }, '{ me { id } }', fakes()),
    ).rejects.toThrow();
    await expect(
      denialsFor(
        { customerId: ALICE, clientId: 'budgetly', scopes: ALL },
        '{ me { accounts { id } } }',
        fakes({ consents: consentsUnavailable() }),
      ),
    ).rejects.toMatchObject({
      extensions: { code: 'SERVICE_UNAVAILABLE' },
    });
  });

  it('an unregistered client acting for a customer (registry says neither first- nor third-party) gets nothing', async () => {
    const denied = await denialsFor(
      { customerId: ALICE, clientId: 'rogue', scopes: ALL },
      '{ me { id } }',
      fakes({ kinds: { rogue: null } }),
    );
    expect(denied.map((d) => d.reason)).toEqual(['CALLER_KIND', 'CALLER_KIND']);
  });
});

describe('graphql-shield rules (per object) on the executable schema', () => {
  /** The public schema with resolvers standing in for the subgraphs, plus one field the policy does not know. */
  function fixture() {
    const schema = buildSchema(`${SDL}\nextend type Query { unlisted: String }`);
    const accounts = [
      { id: COVERED, name: 'Covered' },
      { id: OTHER, name: 'Other' },
    ];
    const q = schema.getQueryType()!.getFields();
    q.me!.resolve = (_p, _a, ctx: GatewayContext) => ({ id: ctx.principal?.customerId, displayName: 'Alice' });
    q.customer!.resolve = (_p, args: { id: string }) => ({
      id: args.id,
      displayName: args.id === ALICE ? 'Alice' : 'Ben',
    });
    q.account!.resolve = (_p, args: { id: string }) => accounts.find((a) => a.id === args.id) ?? null;
    q.unlisted!.resolve = () => 'secret';
    q.transaction!.resolve = (_p, args: { id: string }) =>
      args.id === 'txn_missing' ? null : { id: args.id, description: 'coffee' };
    const payments = [
      { id: 'pay_covered1', status: 'SETTLED', debtorAccount: { id: COVERED } },
      { id: 'pay_other1', status: 'SETTLED', debtorAccount: { id: OTHER } },
      { id: 'pay_covered2', status: 'CREATED', debtorAccount: { id: COVERED } },
    ];
    q.payment!.resolve = (_p, args: { id: string }) => payments.find((p) => p.id === args.id) ?? null;
    const customer = (
      schema.getType('Customer') as unknown as { getFields(): Record<string, { resolve?: unknown }> }
    ).getFields();
    customer.accounts!.resolve = () => accounts;
    customer.payments!.resolve = () => ({
      edges: payments.map((p) => ({ cursor: `c_${p.id}`, node: p })),
      pageInfo: { hasNextPage: true, endCursor: `c_${payments.at(-1)!.id}` },
    });
    const account = (
      schema.getType('Account') as unknown as { getFields(): Record<string, { resolve?: unknown }> }
    ).getFields();
    account.balances!.resolve = () => {
      throw new graphqlRuntime.GraphQLError('northwind is unavailable', {
        extensions: { code: 'PARTNER_UNAVAILABLE' },
      });
    };
    const m = schema.getMutationType()!.getFields();
    m.authoriseConsent!.resolve = (_p, args: { input: { id: string } }) => ({
      id: args.input.id,
      status: 'AUTHORISED',
    });
    const authorized = authorizeWithShield(schema);
    return authorized;
  }
  const run = async (authorized: ReturnType<typeof fixture>, principal: Principal, f: Fakes, query: string) => {
    const ctx = context(principal);
    authzState(ctx, principal, ctx.requestId, deps(f));
    return execute({ schema: authorized.schema, document: parse(query), contextValue: ctx });
  };

  it('keeps the shield wrapper only on fields decided per object; caller-level fields run their original resolver', () => {
    const { wrapped } = fixture();
    const perObject = Object.entries(POLICY).flatMap(([t, fs]) =>
      Object.entries(fs)
        .filter(([, p]) => p.decided === 'object')
        .map(([f]) => `${t}.${f}`),
    );
    expect(wrapped.filter((c) => POLICY[c.split('.')[0]!]?.[c.split('.')[1]!]).sort()).toEqual(perObject.sort());
    expect(wrapped).toContain('Query.unlisted');
  });

  it('denies a field without a rule (fallback deny) with FORBIDDEN', async () => {
    const res = await run(fixture(), { customerId: ALICE, clientId: 'web-app', scopes: ALL }, fakes(), '{ unlisted }');
    expect(res.data?.unlisted ?? null).toBeNull();
    expect(res.errors?.[0]?.extensions.code).toBe('FORBIDDEN');
  });

  it('a customer reads only their own Customer; another id is refused exactly like an unknown id', async () => {
    const authorized = fixture();
    const alice: Principal = { customerId: ALICE, clientId: 'web-app', scopes: ALL };
    const own = await run(authorized, alice, fakes(), `{ customer(id: "${ALICE}") { displayName } }`);
    expect(own.errors).toBeUndefined();
    const ben = await run(
      authorized,
      alice,
      fakes(),
      '{ customer(id: "cus_dlmblpad2mvahd62midhwuwg7j") { displayName } }',
    );
    const unknown = await run(
      authorized,
      alice,
      fakes(),
      '{ customer(id: "cus_aaaaaaaaaaaaaaaaaaaaaaaaaa") { displayName } }',
    );
    expect(ben.errors?.map((e) => [e.message, e.extensions.code])).toEqual(
      unknown.errors?.map((e) => [e.message, e.extensions.code]),
    );
    expect(ben.errors?.[0]?.extensions.code).toBe('FORBIDDEN');
    expect(ben.data).toEqual(unknown.data);
  });

  it('a third party reads an account only when its consent covers that account, and sees only covered accounts in lists', async () => {
    const authorized = fixture();
    const budgetly: Principal = { customerId: ALICE, clientId: 'budgetly', scopes: ALL };
    const covered = await run(
      authorized,
      budgetly,
      fakes({ consents: [budgetlyConsent] }),
      `{ account(id: "${COVERED}") { name } }`,
    );
    expect(covered.errors).toBeUndefined();
    expect(covered.data).toEqual({ account: { name: 'Covered' } });
    const other = await run(
      authorized,
      budgetly,
      fakes({ consents: [budgetlyConsent] }),
      `{ account(id: "${OTHER}") { name } }`,
    );
    const missing = await run(
      authorized,
      budgetly,
      fakes({ consents: [budgetlyConsent] }),
      '{ account(id: "acc_missing000000000000000000") { name } }',
    );
    expect(other.errors?.[0]?.extensions.code).toBe('FORBIDDEN');
    expect(other.errors?.map((e) => e.message)).toEqual(missing.errors?.map((e) => e.message));
    const list = await run(
      authorized,
      budgetly,
      fakes({ consents: [budgetlyConsent] }),
      '{ me { accounts { id name } } }',
    );
    expect(list.errors).toBeUndefined();
    expect(list.data).toEqual({ me: { accounts: [{ id: COVERED, name: 'Covered' }] } });
  });

  it("a third party reads a transaction by id only when its consent grants TRANSACTIONS for the transaction's account", async () => {
    const authorized = fixture();
    const budgetly: Principal = { customerId: ALICE, clientId: 'budgetly', scopes: ALL };
    const withTxn = fakes({ consents: [{ ...budgetlyConsent, permissions: ['TRANSACTIONS'] }] });
    const covered = await run(authorized, budgetly, withTxn, '{ transaction(id: "txn_covered") { description } }');
    expect(covered.errors).toBeUndefined();
    expect(covered.data).toEqual({ transaction: { description: 'coffee' } });
    const other = await run(authorized, budgetly, withTxn, '{ transaction(id: "txn_other") { description } }');
    const missing = await run(authorized, budgetly, withTxn, '{ transaction(id: "txn_missing") { description } }');
    expect(other.errors?.[0]?.extensions.code).toBe('FORBIDDEN');
    expect(other.errors?.map((e) => e.message)).toEqual(missing.errors?.map((e) => e.message));
    expect(other.data).toEqual(missing.data);
    const noPermission = await run(
      authorized,
      budgetly,
      fakes({ consents: [budgetlyConsent] }),
      '{ transaction(id: "txn_covered") { description } }',
    );
    expect(noPermission.errors?.[0]?.extensions.code).toBe('FORBIDDEN');
  });

  it('a third party sees only payments whose debtor account a PAYMENTS_INITIATION consent covers; a denied payment is null like an unknown one; one batched lookup per request; fail closed', async () => {
    const authorized = fixture();
    const taxpal: Principal = { customerId: ALICE, clientId: 'budgetly', scopes: ALL };
    const debtors = { pay_covered1: COVERED, pay_other1: OTHER, pay_covered2: COVERED };
    const payConsent: ActiveConsent = { ...budgetlyConsent, permissions: ['PAYMENTS_INITIATION'] };
    const f = fakes({ consents: [payConsent], debtors });
    const list = await run(
      authorized,
      taxpal,
      f,
      '{ me { payments { edges { cursor node { id status } } pageInfo { endCursor } } } }',
    );
    expect(list.errors).toBeUndefined();
    expect(list.data).toEqual({
      me: {
        payments: {
          edges: [
            { cursor: 'c_pay_covered1', node: { id: 'pay_covered1', status: 'SETTLED' } },
            { cursor: 'c_pay_covered2', node: { id: 'pay_covered2', status: 'CREATED' } },
          ],
          pageInfo: { endCursor: 'c_pay_covered2' },
        },
      },
    });
    expect(f.calls.debtors).toEqual([['pay_covered1', 'pay_other1', 'pay_covered2']]);
    const byId = async (id: string, x = fakes({ consents: [payConsent], debtors })) =>
      run(authorized, taxpal, x, `{ payment(id: "${id}") { id status } }`);
    expect((await byId('pay_covered1')).data).toEqual({ payment: { id: 'pay_covered1', status: 'SETTLED' } });
    const other = await byId('pay_other1');
    const unknown = await byId('pay_unknown');
    expect(other).toEqual({ data: { payment: null } });
    expect(other).toEqual(unknown);
    // Only another account covered: no payment at all; endCursor names none of them.
    const none = await run(
      authorized,
      taxpal,
      fakes({ consents: [{ ...payConsent, accountIds: ['acc_elsewhere'] }], debtors }),
      '{ me { payments { edges { node { id } } pageInfo { endCursor } } } }',
    );
    expect(none.data).toEqual({ me: { payments: { edges: [], pageInfo: { endCursor: null } } } });
    // A consent covering the account but without PAYMENTS_INITIATION grants nothing here.
    expect((await byId('pay_covered1', fakes({ consents: [budgetlyConsent], debtors }))).data).toEqual({
      payment: null,
    });
    // The debtor lookup fails: nothing is shown (the error, not the payments).
    const down = await run(
      authorized,
      taxpal,
      fakes({ consents: [payConsent], debtors: new Error('payments down') }),
      '{ me { payments { edges { node { id } } } } }',
    );
    expect(JSON.stringify(down.data ?? null)).not.toContain('pay_');
    expect(down.errors?.length).toBeGreaterThan(0);
    // The per-object rule on Payment fields denies an uncovered payment reached any other way.
    const { schema } = authorized;
    const ctx = context(taxpal);
    authzState(ctx, taxpal, ctx.requestId, deps(fakes({ consents: [payConsent], debtors })));
    const statusField = (
      schema.getType('Payment') as unknown as { getFields(): Record<string, { resolve: (...a: unknown[]) => unknown }> }
    ).getFields().status!;
    await expect(
      Promise.resolve(
        statusField.resolve(payments0(), {}, ctx, {
          parentType: schema.getType('Payment'),
          fieldName: 'status',
          path: { key: 'status' },
        }),
      ),
    ).resolves.toMatchObject({ extensions: { code: 'FORBIDDEN' } });
    // A first-party customer is unaffected and needs no lookup.
    const web = fakes({ debtors });
    const all = await run(
      authorized,
      { customerId: ALICE, clientId: 'web-app', scopes: ALL },
      web,
      '{ me { payments { edges { node { id } } } } payment(id: "pay_other1") { id } }',
    );
    expect(all.errors).toBeUndefined();
    expect((all.data?.me as { payments: { edges: unknown[] } }).payments.edges).toHaveLength(3);
    expect(all.data?.payment).toEqual({ id: 'pay_other1' });
    expect(web.calls.debtors).toEqual([]);
  });

  it('an error of the resolver behind an allowed per-object rule keeps its own code (it is not an authorization decision)', async () => {
    const res = await run(
      fixture(),
      { customerId: ALICE, clientId: 'web-app', scopes: ALL },
      fakes(),
      `{ account(id: "${COVERED}") { name balances { type } } }`,
    );
    expect(res.data).toEqual({ account: { name: 'Covered', balances: null } });
    expect(res.errors?.map((e) => e.extensions.code)).toEqual(['PARTNER_UNAVAILABLE']);
  });

  it('a rule whose lookup throws denies: FORBIDDEN for an unexpected error, SERVICE_UNAVAILABLE when consents cannot be checked', async () => {
    const authorized = fixture();
    const budgetly: Principal = { customerId: ALICE, clientId: 'budgetly', scopes: ALL };
    const broken = await run(
      authorized,
      budgetly,
      fakes({ consents: new Error('boom') }),
      `{ account(id: "${COVERED}") { name } }`,
    );
    expect(broken.data?.account ?? null).toBeNull();
    expect(broken.errors?.[0]?.extensions.code).toBe('FORBIDDEN');
    const down = await run(
      authorized,
      budgetly,
      fakes({ consents: consentsUnavailable() }),
      `{ account(id: "${COVERED}") { name } }`,
    );
    expect(down.data?.account ?? null).toBeNull();
    expect(down.errors?.[0]?.extensions.code).toBe('SERVICE_UNAVAILABLE');
  });

  it("authoriseConsent names only the customer's own accounts", async () => {
    const authorized = fixture();
    const alice: Principal = { customerId: ALICE, clientId: 'web-app', scopes: ALL };
    const ok = await run(
      authorized,
      alice,
      fakes({ owned: [COVERED] }),
      `mutation { authoriseConsent(input: { id: "cns_x", accountIds: ["${COVERED}"] }) { status } }`,
    );
    expect(ok.errors).toBeUndefined();
    const foreign = await run(
      authorized,
      alice,
      fakes({ owned: [COVERED] }),
      `mutation { authoriseConsent(input: { id: "cns_x", accountIds: ["${COVERED}", "${OTHER}"] }) { status } }`,
    );
    expect(foreign.data).toBeNull();
    expect(foreign.errors?.[0]?.extensions.code).toBe('FORBIDDEN');
  });

  it('without the per-request state (pre-execution pass not run) every per-object field is denied', async () => {
    const { schema } = fixture();
    const res = await execute({
      schema,
      document: parse(`{ account(id: "${COVERED}") { name } }`),
      contextValue: context({ customerId: ALICE, clientId: 'web-app', scopes: ALL }),
    });
    expect(res.errors?.[0]?.extensions.code).toBe('FORBIDDEN');
  });
});
