import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadGatewayConfig } from '../../gateway/config.ts';
import { startGateway, type RunningGateway } from '../../gateway/server.ts';
import type { Principal } from '../../lib/principal.ts';
import {
  ALICE,
  AUDIENCE,
  composeToySupergraph,
  gql,
  ISSUER,
  logger,
  startLocalJwks,
  startToySubgraph,
  writeTempSupergraph,
  type LocalJwks,
  type ToySubgraph,
} from './helpers.ts';

/**
 * The federation-gateway-audit behaviours this graph relies on, on a toy supergraph shaped like
 * it (an accounts subgraph owning Account, a payments subgraph extending it): entities resolved
 * across subgraphs, @requires, @provides, an interface and a union whose members live in other
 * subgraphs. Each subgraph answers for the caller it sees in the signed internal context, and
 * callers overlap, so an answer built from several subgraph calls is checked to be the caller's own.
 */
const BEN = 'cus_dlmblpad2mvahd62midhwuwg7j';

const ACCOUNTS_SDL = `extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key", "@shareable"])
type Query {
  accounts: [Account!]!
  node(id: ID!): Node
}
interface Node {
  id: ID!
}
type Account implements Node @key(fields: "id") {
  id: ID!
  name: String!
  balance: Int!
}`;

const PAYMENTS_SDL = `extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key", "@external", "@requires", "@provides"])
type Query {
  payments: [Payment!]!
  search(term: String!): [SearchResult!]!
}
union SearchResult = Account | Payment
type Account @key(fields: "id") {
  id: ID!
  name: String! @external
  balance: Int! @external
  "1% of the balance: needs the balance, which the accounts subgraph owns."
  fee: Int! @requires(fields: "balance")
  payments: [Payment!]!
}
type Payment @key(fields: "id") {
  id: ID!
  amount: Int!
  "The payments subgraph keeps the debtor's name with the payment, so it can provide it."
  debtor: Account! @provides(fields: "name")
}`;

interface Ctx {
  principal: Principal | null;
}

/** Every customer's data, so that each answer can be checked against its caller. */
const WORLD: Record<string, { accounts: { id: string; name: string; balance: number }[]; payments: string[] }> = {
  [ALICE]: { accounts: [{ id: 'acc_alice', name: 'Alice current', balance: 12_300 }], payments: ['pay_a1', 'pay_a2'] },
  [BEN]: { accounts: [{ id: 'acc_ben', name: 'Ben savings', balance: 500 }], payments: ['pay_b1'] },
};
const owner = (ctx: Ctx) => WORLD[ctx.principal?.customerId ?? ''] ?? { accounts: [], payments: [] };
const accountOf = (ctx: Ctx, id: string) => owner(ctx).accounts.find((a) => a.id === id) ?? null;

let jwks: LocalJwks;
let accounts: ToySubgraph;
let payments: ToySubgraph;
let gateway: RunningGateway;
let cleanup: () => void;

beforeAll(async () => {
  jwks = await startLocalJwks();
  accounts = await startToySubgraph('accounts', ACCOUNTS_SDL, {
    Query: {
      accounts: (_: unknown, __: unknown, ctx: Ctx) => owner(ctx).accounts,
      node: (_: unknown, { id }: { id: string }, ctx: Ctx) => accountOf(ctx, id),
    },
    Node: { __resolveType: () => 'Account' },
    Account: { __resolveReference: (ref: { id: string }, ctx: Ctx) => accountOf(ctx, ref.id) },
  });
  const payment = (ctx: Ctx, id: string) => {
    const account = owner(ctx).accounts[0]!;
    return { id, amount: id.length * 10, debtor: { id: account.id, name: account.name } };
  };
  payments = await startToySubgraph('payments', PAYMENTS_SDL, {
    Query: {
      payments: (_: unknown, __: unknown, ctx: Ctx) => owner(ctx).payments.map((id) => payment(ctx, id)),
      search: (_: unknown, __: unknown, ctx: Ctx) => [
        { __typename: 'Account', id: owner(ctx).accounts[0]!.id },
        { __typename: 'Payment', ...payment(ctx, owner(ctx).payments[0]!) },
      ],
    },
    SearchResult: { __resolveType: (o: { __typename: string }) => o.__typename },
    Account: {
      __resolveReference: (ref: { id: string; balance?: number }) => ref,
      fee: (a: { balance: number }) => Math.round(a.balance / 100),
      payments: (a: { id: string }, _: unknown, ctx: Ctx) =>
        owner(ctx).accounts.some((x) => x.id === a.id) ? owner(ctx).payments.map((id) => payment(ctx, id)) : [],
    },
    Payment: { __resolveReference: (ref: { id: string }, ctx: Ctx) => payment(ctx, ref.id) },
  });
  const file = writeTempSupergraph(composeToySupergraph([accounts, payments]));
  cleanup = file.cleanup;
  gateway = await startGateway(
    loadGatewayConfig({
      GATEWAY_PORT: '0',
      SUPERGRAPH: file.path,
      AUTH_ISSUER: ISSUER,
      AUTH_AUDIENCE: AUDIENCE,
      AUTH_JWKS_URL: jwks.url,
      GATEWAY_AUTHORIZATION: 'directives',
      SUBGRAPH_REQUEST_SHARING: 'principal',
    }),
    { logger },
  );
});

afterAll(async () => {
  await gateway?.close();
  await payments?.close();
  await accounts?.close();
  await jwks?.close();
  cleanup?.();
});

const as = async (who: string) => ({ token: await jwks.sign({ sub: who }) });

describe('federation behaviours on a graph shaped like this one', () => {
  it('resolves an entity across subgraphs and feeds @requires with the owner subgraph value', async () => {
    const res = await gql(gateway.url, '{ accounts { id name balance fee payments { id amount } } }', await as(ALICE));
    expect(res.body).toEqual({
      data: {
        accounts: [
          {
            id: 'acc_alice',
            name: 'Alice current',
            balance: 12_300,
            fee: 123,
            payments: [
              { id: 'pay_a1', amount: 60 },
              { id: 'pay_a2', amount: 60 },
            ],
          },
        ],
      },
    });
  });

  // The value is right either way. Note: @graphql-tools/federation (4.5) still asks the owner for a
  // provided field (an _entities call for Account.name): @provides saves no call here, unlike Router.
  it('answers a @provides field and the owner fields beside it', async () => {
    const provided = await gql(gateway.url, '{ payments { id debtor { id name } } }', await as(ALICE));
    expect(provided.body.errors).toBeUndefined();
    expect(provided.body.data?.payments).toEqual([
      { id: 'pay_a1', debtor: { id: 'acc_alice', name: 'Alice current' } },
      { id: 'pay_a2', debtor: { id: 'acc_alice', name: 'Alice current' } },
    ]);
    // A field it does not provide goes to the owner.
    const before = accounts.seen.length;
    const owned = await gql(gateway.url, '{ payments { debtor { balance } } }', await as(ALICE));
    expect(owned.body.data?.payments).toEqual([{ debtor: { balance: 12_300 } }, { debtor: { balance: 12_300 } }]);
    expect(accounts.seen.length).toBeGreaterThan(before);
  });

  it('follows an interface fragment into fields another subgraph owns', async () => {
    const res = await gql(
      gateway.url,
      '{ node(id: "acc_alice") { id ... on Account { name fee payments { id } } } }',
      await as(ALICE),
    );
    expect(res.body).toEqual({
      data: {
        node: { id: 'acc_alice', name: 'Alice current', fee: 123, payments: [{ id: 'pay_a1' }, { id: 'pay_a2' }] },
      },
    });
  });

  it('resolves union members whose fields live in another subgraph', async () => {
    const res = await gql(
      gateway.url,
      '{ search(term: "x") { __typename ... on Account { id name balance } ... on Payment { id amount } } }',
      await as(BEN),
    );
    expect(res.body).toEqual({
      data: {
        search: [
          { __typename: 'Account', id: 'acc_ben', name: 'Ben savings', balance: 500 },
          { __typename: 'Payment', id: 'pay_b1', amount: 60 },
        ],
      },
    });
  });

  it('gives each caller their own answer when callers overlap across entity, @requires and union hops', async () => {
    const query = `{ accounts { id name fee payments { id debtor { name } } }
      search(term: "x") { ... on Account { name balance } } }`;
    const expected = async (who: string) => (await gql(gateway.url, query, await as(who))).body;
    const alone = { [ALICE]: await expected(ALICE), [BEN]: await expected(BEN) };
    expect(alone[ALICE]).not.toEqual(alone[BEN]);
    const callers = Array.from({ length: 30 }, (_, i) => (i % 2 === 0 ? ALICE : BEN));
    const tokens = { [ALICE]: await as(ALICE), [BEN]: await as(BEN) };
    const answers = await Promise.all(
      callers.map(async (who) => [who, await gql(gateway.url, query, tokens[who])] as const),
    );
    for (const [who, res] of answers) expect(res.body, who === ALICE ? 'Alice' : 'Ben').toEqual(alone[who]);
  });
});
