import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../lib/http-server.ts';
import { createLogger } from '../../lib/logger.ts';
import { loadAccountsConfig } from '../../subgraphs/accounts/config.ts';
import { startAccountsSubgraph } from '../../subgraphs/accounts/server.ts';
import { createTestClock, startSandboxes, type RunningSandboxes } from '../../sandboxes/index.ts';
import { bankAccountId } from '../../lib/ids.ts';
import { DEV_ID_HASH_SECRET } from '../../lib/config.ts';
import { ALICE, BEN, CUSTOMER_ACCOUNTS, gql, principalOf, type GraphQLResponse } from './helpers.ts';
import { SANDBOX_SEED_FILE } from '../support/seed.ts';

/**
 * The accounts subgraph against the real partner sandboxes (sandboxes/index.ts startSandboxes)
 * on free ports: Alice's accounts at both banks, ownership, and one bank failing through the
 * sandbox's fault injection (POST /__sandbox/faults). Every request the adapters sent must pass
 * the sandboxes' own OpenAPI validation (GET /__sandbox/requests?violations=true).
 */
describe('accounts subgraph against the partner sandboxes', () => {
  // One clock for the banks and the subgraph, so a pending entry can be watched as it books.
  const clock = createTestClock('2026-11-23T12:00:00.000Z');
  let sandboxes: RunningSandboxes;
  let server: RunningServer;
  let northwindUrl: string;
  let rheinbankUrl: string;
  const logger = createLogger('accounts-sandbox-test', 'silent');

  beforeAll(async () => {
    sandboxes = await startSandboxes({ ports: 0, now: clock.now, logger });
    northwindUrl = sandboxes.urls.northwind;
    rheinbankUrl = sandboxes.urls.rheinbank;
    const config = loadAccountsConfig({
      ACCOUNTS_PORT: '0',
      SEED_FILE: SANDBOX_SEED_FILE,
      NORTHWIND_URL: northwindUrl,
      RHEINBANK_URL: rheinbankUrl,
      LOG_LEVEL: 'silent',
    });
    server = await startAccountsSubgraph(config, { logger, now: clock.now });
  });

  afterAll(async () => {
    await server?.close();
    await sandboxes?.close();
  });

  async function violations(url: string): Promise<unknown[]> {
    const res = await fetch(`${url}/__sandbox/requests?violations=true`);
    const body = (await res.json()) as unknown;
    return Array.isArray(body) ? body : ((body as { requests?: unknown[] }).requests ?? []);
  }

  // Runs first, on a fresh database: a client that deep-links to an account (a restarted app,
  // a bookmarked page) must get it even though nothing has listed the customer's accounts yet.
  it("finds an account by id before the customer's accounts were ever listed", async () => {
    const id = bankAccountId(DEV_ID_HASH_SECRET, 'rheinbank', ALICE.banks.rheinbank!.accounts[0]!.bankAccountId);
    const own = await gql(
      server.url,
      principalOf(ALICE.customerId),
      'query($id: ID!) { account(id: $id) { id name institution { id } } }',
      { id },
    );
    expect(own.errors).toBeUndefined();
    expect(own.data.account).toEqual({
      id,
      name: ALICE.banks.rheinbank!.accounts[0]!.name,
      institution: { id: 'rheinbank' },
    });
    const other = await gql(server.url, principalOf(BEN.customerId), 'query($id: ID!) { account(id: $id) { id } }', {
      id,
    });
    expect(other.data.account).toBeNull();
  });

  it('serves Alice accounts, balances and 20 transactions from both banks', async () => {
    const res = await gql(server.url, principalOf(ALICE.customerId), CUSTOMER_ACCOUNTS, { id: ALICE.customerId });
    expect(res.errors).toBeUndefined();
    const customer = res.data._entities[0];
    expect(customer.unavailableInstitutions).toEqual([]);
    const expected = [
      ...ALICE.banks.northwind!.accounts.map((a) => ['northwind', a.name, a.currency]),
      ...ALICE.banks.rheinbank!.accounts.map((a) => ['rheinbank', a.name, a.currency]),
    ];
    expect(customer.accounts.map((a: any) => [a.institution.id, a.name, a.currency])).toEqual(expected);
    for (const account of customer.accounts) {
      expect(account.id).toMatch(/^acc_[a-z2-7]{26}$/);
      expect(account.balances.length).toBeGreaterThan(0);
      expect(account.currentBalance).not.toBeNull();
      const edges = account.transactions.edges;
      expect(edges.length).toBe(20);
      const times = edges.map((e: any) => e.node.occurredAt);
      expect([...times].sort().reverse()).toEqual(times);
      for (const e of edges) {
        expect(e.node.amount.amount).toMatch(/^\d+\.\d{2}$/);
        expect(['CREDIT', 'DEBIT']).toContain(e.node.direction);
      }
    }
    expect(await violations(northwindUrl)).toEqual([]);
    expect(await violations(rheinbankUrl)).toEqual([]);
    const recorded = async (url: string) =>
      ((await (await fetch(`${url}/__sandbox/requests`)).json()) as { requests: unknown[] }).requests.length;
    expect(await recorded(northwindUrl)).toBeGreaterThan(0);
    expect(await recorded(rheinbankUrl)).toBeGreaterThan(0);
  });

  it('links sandbox reversals and chargebacks to their originals, which show as REVERSED', async () => {
    const alice = principalOf(ALICE.customerId);
    const kinds = new Set<string>();
    for (const accountIndex of [0, 3]) {
      // Walk Alice's current accounts newest first until a reversal or chargeback shows up.
      let after: string | null = null;
      let found: any = null;
      for (let page = 0; page < 12 && !found; page++) {
        const res: GraphQLResponse<any> = await gql(server.url, alice, CUSTOMER_ACCOUNTS, {
          id: ALICE.customerId,
          first: 100,
          after,
        });
        expect(res.errors).toBeUndefined();
        const connection: any = res.data._entities[0].accounts[accountIndex].transactions;
        found = connection.edges.map((e: any) => e.node).find((n: any) => n.kind !== 'STANDARD');
        after = connection.pageInfo.endCursor;
        if (!connection.pageInfo.hasNextPage) break;
      }
      expect(found).toBeTruthy();
      kinds.add(found.kind);
      const res = await gql(
        server.url,
        alice,
        `query($id: ID!) { transaction(id: $id) { id kind direction reverses { id status kind direction amount { amount } reversedBy { id } } amount { amount } } }`,
        { id: found.id },
      );
      expect(res.errors).toBeUndefined();
      const t = res.data.transaction;
      expect(t.direction).toBe('CREDIT');
      expect(t.reverses).toMatchObject({
        status: 'REVERSED',
        kind: 'STANDARD',
        direction: 'DEBIT',
        amount: t.amount,
        reversedBy: { id: t.id },
      });
    }
    expect(kinds.size).toBeGreaterThan(0);
  });

  it('keeps Alice data from Ben, by id and by entity reference', async () => {
    const res = await gql(server.url, principalOf(ALICE.customerId), CUSTOMER_ACCOUNTS, {
      id: ALICE.customerId,
      first: 1,
    });
    const account = res.data._entities[0].accounts[0];
    const txn = account.transactions.edges[0].node;
    const byId = await gql(
      server.url,
      principalOf(BEN.customerId),
      `query($a: ID!, $t: ID!) { account(id: $a) { id } transaction(id: $t) { id } }`,
      { a: account.id, t: txn.id },
    );
    expect(byId).toEqual({ data: { account: null, transaction: null } });
    const viaCustomer = await gql(server.url, principalOf(BEN.customerId), CUSTOMER_ACCOUNTS, { id: ALICE.customerId });
    expect(viaCustomer.data._entities[0]).toEqual({ accounts: [], unavailableInstitutions: [] });
  });

  it('still returns Rheinbank when Northwind fails, and names Northwind as unavailable', async () => {
    const inject = await fetch(`${northwindUrl}/__sandbox/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ status: 503 }),
    });
    expect(inject.ok).toBe(true);
    try {
      // Through an app that never read Alice's accounts: no last known values to serve instead.
      const otherApp = { ...principalOf(ALICE.customerId), clientId: 'mobile-app' };
      const res = await gql(server.url, otherApp, CUSTOMER_ACCOUNTS, { id: ALICE.customerId });
      expect(res.errors).toBeUndefined();
      const customer = res.data._entities[0];
      expect(customer.accounts.map((a: any) => a.institution.id)).toEqual(['rheinbank']);
      expect(customer.accounts[0].transactions.edges).toHaveLength(20);
      expect(customer.unavailableInstitutions.map((i: any) => i.id)).toEqual(['northwind']);
    } finally {
      await fetch(`${northwindUrl}/__sandbox/faults`, { method: 'DELETE' });
    }
  });

  it('names Rheinbank as unavailable when it answers off-contract data, and still serves Northwind', async () => {
    await fetch(`${rheinbankUrl}/__sandbox/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ path: '/psd2/v1/accounts', malformed: 'schema-violation' }),
    });
    try {
      const res = await gql(server.url, principalOf(ALICE.customerId), CUSTOMER_ACCOUNTS, {
        id: ALICE.customerId,
        first: 1,
      });
      expect(res.errors).toBeUndefined();
      expect(res.data._entities[0].accounts.map((a: any) => a.institution.id)).toEqual([
        'northwind',
        'northwind',
        'northwind',
      ]);
      expect(res.data._entities[0].unavailableInstitutions.map((i: any) => i.id)).toEqual(['rheinbank']);
    } finally {
      await fetch(`${rheinbankUrl}/__sandbox/faults`, { method: 'DELETE' });
    }
  });

  it('keeps the id of a pending transaction once it books', async () => {
    const res = await gql(server.url, principalOf(ALICE.customerId), CUSTOMER_ACCOUNTS, {
      id: ALICE.customerId,
      first: 20,
      filter: { status: ['PENDING'] },
    });
    expect(res.errors).toBeUndefined();
    const pending = res.data._entities[0].accounts[0].transactions.edges.map((e: any) => e.node);
    expect(pending.length).toBeGreaterThan(0);
    clock.advance(4 * 24 * 3_600_000);
    const query = `query($id: ID!) { transaction(id: $id) { id status bookedAt } }`;
    const after = await Promise.all(
      pending.map((p: any) => gql(server.url, principalOf(ALICE.customerId), query, { id: p.id })),
    );
    for (const [i, r] of after.entries()) {
      expect(r.errors).toBeUndefined();
      expect(r.data.transaction).toMatchObject({ id: pending[i].id, status: 'BOOKED' });
      expect(r.data.transaction.bookedAt).not.toBeNull();
    }
  });
});
