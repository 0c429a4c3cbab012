import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../lib/http-server.ts';
import { createLogger } from '../../lib/logger.ts';
import { loadAccountsConfig } from '../../subgraphs/accounts/config.ts';
import { startAccountsSubgraph } from '../../subgraphs/accounts/server.ts';
import { startFakeBanks, type FakeBanks } from './fake-banks.ts';
import { ALICE, BEN, CUSTOMER_ACCOUNTS, gql, principalOf } from './helpers.ts';
import { SANDBOX_SEED_FILE } from '../support/seed.ts';

/**
 * The accounts subgraph in process (PGlite in memory) against spec-shaped stand-ins of both
 * banks (fake-banks.ts), queried as the gateway would with a signed internal context.
 */
const NOW = new Date('2026-11-23T12:00:00.000Z');
let banks: FakeBanks;
let server: RunningServer;

beforeAll(async () => {
  banks = await startFakeBanks(() => NOW);
  const config = loadAccountsConfig({
    ACCOUNTS_PORT: '0',
    SEED_FILE: SANDBOX_SEED_FILE,
    NORTHWIND_URL: banks.northwindUrl,
    RHEINBANK_URL: banks.rheinbankUrl,
    LOG_LEVEL: 'silent',
  });
  server = await startAccountsSubgraph(config, { logger: createLogger('accounts-test', 'silent'), now: () => NOW });
});

afterAll(async () => {
  // Everything the adapters sent, and every fixture answer, followed the banks' published specs.
  expect(banks.violations).toEqual([]);
  await server?.close();
  await banks?.close();
});

beforeEach(() => {
  banks.down.northwind = null;
  banks.down.rheinbank = null;
});

const alice = principalOf(ALICE.customerId);
const ben = principalOf(BEN.customerId);

async function aliceAccounts(variables: Record<string, unknown> = {}) {
  const res = await gql(server.url, alice, CUSTOMER_ACCOUNTS, { id: ALICE.customerId, ...variables });
  return res;
}

describe('accounts subgraph', () => {
  it('serves Alice accounts from both banks with balances and 20 newest transactions each', async () => {
    const res = await aliceAccounts();
    expect(res.errors).toBeUndefined();
    const customer = res.data._entities[0];
    expect(customer.unavailableInstitutions).toEqual([]);
    const accounts = customer.accounts;
    expect(accounts.map((a: any) => a.institution.id)).toEqual(['northwind', 'northwind', 'northwind', 'rheinbank']);
    expect(accounts.map((a: any) => a.name)).toEqual([
      'Everyday Current',
      'Rainy Day Saver',
      'Northwind Card',
      'Girokonto',
    ]);
    expect(accounts.map((a: any) => a.type)).toEqual(['CURRENT', 'SAVINGS', 'CREDIT_CARD', 'CURRENT']);
    for (const a of accounts) {
      expect(a.id).toMatch(/^acc_[a-z2-7]{26}$/);
      expect(JSON.stringify(a)).not.toContain('22289');
      expect(a.holder).toEqual({ id: ALICE.customerId });
    }
    const [current, , card, giro] = accounts;
    expect(current.identification).toEqual({ scheme: 'SORT_CODE_ACCOUNT_NUMBER', value: '40478012342289' });
    expect(current.maskedIdentifier).toBe('••••2289');
    expect(card.identification.scheme).toBe('MASKED_PAN');
    expect(giro.identification).toEqual({ scheme: 'IBAN', value: 'DE89370400440532013000' });
    expect(giro.institution).toEqual({ id: 'rheinbank', name: 'Rheinbank', standard: 'BERLIN_GROUP' });

    // Balances: minor units, direction from indicator / sign, UTC timestamps.
    expect(current.balances[0]).toMatchObject({
      type: 'INTERIM_BOOKED',
      direction: 'CREDIT',
      amount: { amount: '1520.50', currency: 'GBP' },
    });
    expect(current.currentBalance).toMatchObject({
      type: 'INTERIM_AVAILABLE',
      amount: { amount: '1400.00', currency: 'GBP' },
    });
    expect(card.currentBalance.direction).toBe('DEBIT');
    expect(giro.balances[0]).toMatchObject({
      type: 'INTERIM_BOOKED',
      direction: 'DEBIT',
      asOf: '2026-11-23T08:15:00.000Z',
      amount: { amount: '42.50', currency: 'EUR' },
    });
    expect(giro.currentBalance.type).toBe('INTERIM_BOOKED');

    // Transactions: 20 newest first, ids derived, pageInfo says there is more.
    for (const a of [current, giro]) {
      const edges = a.transactions.edges;
      expect(edges).toHaveLength(20);
      expect(a.transactions.pageInfo.hasNextPage).toBe(true);
      const times = edges.map((e: any) => e.node.occurredAt);
      expect([...times].sort().reverse()).toEqual(times);
      for (const e of edges) {
        expect(e.node.id).toMatch(/^txn_[a-z2-7]{26}$/);
        expect(e.node.occurredAt).toMatch(/Z$/);
        expect(Number(e.node.amount.amount)).toBeGreaterThan(0);
      }
    }
    expect(current.transactions.edges.slice(0, 2).map((e: any) => e.node.status)).toEqual(['PENDING', 'PENDING']);
    expect(current.transactions.edges[0].node.bookedAt).toBeNull();
    expect(current.transactions.edges[2].node.bookedAt).toBe(current.transactions.edges[2].node.occurredAt);
  });

  it('fetches only the recent date window from the bank for a first page', async () => {
    banks.calls.length = 0;
    const res = await aliceAccounts({ first: 20 });
    expect(res.errors).toBeUndefined();
    const current = banks.calls.filter(
      (c) => c.bank === 'northwind' && c.path.endsWith('/accounts/22289/transactions'),
    );
    expect(current.length).toBeGreaterThan(0);
    expect(current.length).toBeLessThanOrEqual(2);
    expect(current[0]!.query.fromBookingDateTime! >= '2026-11-01').toBe(true);
    // Correlation and required headers.
    expect(current[0]!.headers['x-fapi-interaction-id']).toBeTruthy();
    const rb = banks.calls.filter((c) => c.bank === 'rheinbank');
    expect(rb.every((c) => c.headers['consent-id'] === ALICE.banks.rheinbank!.consentId)).toBe(true);
  });

  it('pages with opaque cursors without gaps or repeats', async () => {
    const first = await aliceAccounts({ first: 30 });
    const all = first.data._entities[0].accounts[0].transactions.edges.map((e: any) => e.node.id);
    const page1 = await aliceAccounts({ first: 10 });
    const acct1 = page1.data._entities[0].accounts[0].transactions;
    const page2 = await aliceAccounts({ first: 20, after: acct1.pageInfo.endCursor });
    expect(page2.errors).toBeUndefined();
    const acct2 = page2.data._entities[0].accounts[0].transactions;
    expect([...acct1.edges, ...acct2.edges].map((e: any) => e.node.id)).toEqual(all);
  });

  it('rejects a malformed cursor and an oversized page as bad input', async () => {
    const bad = await aliceAccounts({ after: 'not-a-cursor' });
    expect(bad.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const big = await aliceAccounts({ first: 101 });
    expect(big.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('filters by date (inclusive, UTC) and status', async () => {
    const res = await aliceAccounts({
      first: 100,
      filter: { from: '2026-10-01', to: '2026-10-03', status: ['BOOKED'] },
    });
    expect(res.errors).toBeUndefined();
    const edges = res.data._entities[0].accounts[0].transactions.edges;
    expect(edges.length).toBeGreaterThan(0);
    for (const e of edges) {
      expect(e.node.occurredAt >= '2026-10-01T00:00:00.000Z' && e.node.occurredAt < '2026-10-04T00:00:00.000Z').toBe(
        true,
      );
      expect(e.node.status).toBe('BOOKED');
    }
    expect(res.data._entities[0].accounts[0].transactions.pageInfo.hasNextPage).toBe(false);
    const pending = await aliceAccounts({ first: 100, filter: { status: ['PENDING'] } });
    expect(pending.data._entities[0].accounts[0].transactions.edges.map((e: any) => e.node.status)).toEqual([
      'PENDING',
      'PENDING',
    ]);
  });

  it('links reversals and chargebacks to their originals, which show as REVERSED', async () => {
    for (const index of [0, 3]) {
      const res = await aliceAccounts({ first: 30 });
      const edges = res.data._entities[0].accounts[index].transactions.edges.map((e: any) => e.node);
      const reversal = edges.find((n: any) => n.kind === 'REVERSAL');
      const chargeback = edges.find((n: any) => n.kind === 'CHARGEBACK');
      expect(reversal).toBeDefined();
      expect(chargeback).toBeDefined();
      for (const r of [reversal, chargeback]) {
        const original = edges.find((n: any) => n.id === r.reverses.id);
        expect(original).toMatchObject({ status: 'REVERSED', kind: 'STANDARD', reversedBy: { id: r.id } });
        expect(original.amount).toEqual(r.amount);
        expect(original.direction).not.toBe(r.direction);
      }
    }
  });

  it('resolves the original of a reversal that was not on the page served', async () => {
    const page = await aliceAccounts({ first: 11 });
    const edges = page.data._entities[0].accounts[0].transactions.edges.map((e: any) => e.node);
    const reversal = edges.at(-1);
    expect(reversal.kind).toBe('REVERSAL');
    const res = await gql(
      server.url,
      alice,
      `query($id: ID!) { transaction(id: $id) { id kind reverses { id status kind reversedBy { id } } } }`,
      { id: reversal.id },
    );
    expect(res.errors).toBeUndefined();
    expect(res.data.transaction).toEqual({
      id: reversal.id,
      kind: 'REVERSAL',
      reverses: { id: reversal.reverses.id, status: 'REVERSED', kind: 'STANDARD', reversedBy: { id: reversal.id } },
    });
  });

  it('finds a transaction and an account by id for their owner only', async () => {
    const res = await aliceAccounts();
    const account = res.data._entities[0].accounts[0];
    const txn = account.transactions.edges[5].node;
    const query = `query($a: ID!, $t: ID!) { account(id: $a) { id name } transaction(id: $t) { id amount { amount } account { id } } }`;
    const own = await gql(server.url, alice, query, { a: account.id, t: txn.id });
    expect(own.errors).toBeUndefined();
    expect(own.data).toEqual({
      account: { id: account.id, name: 'Everyday Current' },
      transaction: { id: txn.id, amount: txn.amount && { amount: txn.amount.amount }, account: { id: account.id } },
    });

    const foreign = await gql(server.url, ben, query, { a: account.id, t: txn.id });
    expect(foreign).toEqual({ data: { account: null, transaction: null } });
    const staff = await gql(server.url, principalOf(null), query, { a: account.id, t: txn.id });
    expect(staff).toEqual({ data: { account: null, transaction: null } });
    const junk = await gql(server.url, alice, query, { a: 'acc_nope', t: 'txn_aaaaaaaaaaaaaaaaaaaaaaaaaa' });
    expect(junk).toEqual({ data: { account: null, transaction: null } });
  });

  it('applies ownership to entity references', async () => {
    const res = await aliceAccounts();
    const account = res.data._entities[0].accounts[0];
    const txn = account.transactions.edges[0].node;
    const query = `query($reps: [_Any!]!) { _entities(representations: $reps) { ... on Account { id name } ... on Transaction { id status } ... on Customer { accounts { id } unavailableInstitutions { id } } } }`;
    const reps = [
      { __typename: 'Account', id: account.id },
      { __typename: 'Transaction', id: txn.id },
      { __typename: 'Customer', id: ALICE.customerId },
    ];
    const own = await gql(server.url, alice, query, { reps });
    expect(own.errors).toBeUndefined();
    expect(own.data._entities[0]).toEqual({ id: account.id, name: 'Everyday Current' });
    expect(own.data._entities[1]).toEqual({ id: txn.id, status: 'PENDING' });
    expect(own.data._entities[2].accounts).toHaveLength(4);
    const foreign = await gql(server.url, ben, query, { reps });
    expect(foreign.errors).toBeUndefined();
    expect(foreign.data._entities).toEqual([null, null, { accounts: [], unavailableInstitutions: [] }]);
  });

  it('still returns the healthy bank when the other is down, and says which bank is missing', async () => {
    const northwindAccount = (await aliceAccounts()).data._entities[0].accounts[0].id;
    // Alice through another app: nothing was read for this principal, so nothing last known to serve.
    const otherApp = { ...principalOf(ALICE.customerId), clientId: 'mobile-app' };
    banks.down.northwind = 503;
    const res = await gql(server.url, otherApp, CUSTOMER_ACCOUNTS, { id: ALICE.customerId });
    expect(res.errors).toBeUndefined();
    const customer = res.data._entities[0];
    expect(customer.accounts.map((a: any) => a.institution.id)).toEqual(['rheinbank']);
    expect(customer.accounts[0].transactions.edges).toHaveLength(20);
    expect(customer.unavailableInstitutions).toEqual([{ id: 'northwind', name: 'Northwind Bank', standard: 'OBIE' }]);

    // A known account at the bank that is down is an error that names the partner, not a silent null.
    const byId = await gql(server.url, otherApp, `query($id: ID!) { account(id: $id) { id } }`, {
      id: northwindAccount,
    });
    expect(byId.data).toEqual({ account: null });
    expect(byId.errors?.[0]?.extensions).toMatchObject({ code: 'PARTNER_UNAVAILABLE', partner: 'northwind' });
  });

  it('with the bank down, answers what it last read for the same principal, listed in extensions.stale', async () => {
    const before = await aliceAccounts();
    expect(before.extensions?.stale).toBeUndefined();
    await new Promise((r) => setTimeout(r, 50)); // kept without delaying the answer
    banks.down.northwind = 503;
    const res = await aliceAccounts();
    expect(res.errors).toBeUndefined();
    const customer = res.data._entities[0];
    expect(customer.unavailableInstitutions).toEqual([]);
    const { accounts } = customer;
    expect(accounts.map((a: any) => a.institution.id)).toEqual(['northwind', 'northwind', 'northwind', 'rheinbank']);
    expect(accounts.map((a: any) => a.name)).toEqual(before.data._entities[0].accounts.map((a: any) => a.name));
    const paths = (res.extensions?.stale ?? []).map((m: any) => `${m.source} ${m.path}`);
    expect(paths).toEqual(
      expect.arrayContaining([
        'northwind _entities.0.accounts.0',
        'northwind _entities.0.accounts.2',
        'northwind _entities.0.accounts.0.currentBalance',
        'northwind _entities.0.accounts.0.transactions',
      ]),
    );
    expect(paths.some((p: string) => p.includes('accounts.3'))).toBe(false);
  });

  it('refuses requests without the gateway signature', async () => {
    const res = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    expect(res.status).toBe(401);
    const forged = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-internal-auth': 'forged' },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    expect(forged.status).toBe(401);
  });
});
