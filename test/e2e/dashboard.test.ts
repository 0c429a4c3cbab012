import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../lib/logger.ts';
import { SANDBOX_CUSTOMERS } from '../../sandboxes/manifest.ts';
import { startPlatform, type RunningPlatform } from '../../scripts/platform.ts';
import type { CustomerDashboardQuery } from '../generated/operations.ts';
import { scaled } from '../support/time.ts';

/**
 * The point 3, end to end: the whole platform in-process on free ports (sandboxes,
 * four subgraphs on in-memory PGlite, gateway), a customer token from the sandbox
 * authorization server, and the customer dashboard query, which needs all four subgraphs and
 * all three partners. Afterwards every partner request our adapters sent is checked against
 * the partner's published spec (the sandboxes validate and record them).
 */
const DASHBOARD = readFileSync(new URL('../operations/dashboard.graphql', import.meta.url), 'utf8');
const alice = SANDBOX_CUSTOMERS.find((c) => c.displayName === 'Alice')!;
const dev = SANDBOX_CUSTOMERS.find((c) => c.displayName === 'Dev')!;

let platform: RunningPlatform;

beforeAll(async () => {
  platform = await startPlatform({
    ports: 'free',
    env: { PGLITE_DIR: 'memory://', DATABASE_URL: undefined },
    logger: createLogger('e2e', 'silent'),
  });
}, scaled(120_000));

afterAll(async () => {
  await platform?.close();
});

async function tokenFor(customerId: string, clientId = 'web-app'): Promise<string> {
  return platform.sandboxes.auth.mint({ customerId, clientId });
}

async function dashboard(token: string, requestId: string) {
  const res = await fetch(platform.gatewayUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'x-request-id': requestId },
    body: JSON.stringify({ query: DASHBOARD, variables: { transactions: 20 } }),
  });
  return {
    status: res.status,
    headers: res.headers,
    body: (await res.json()) as {
      data?: CustomerDashboardQuery;
      errors?: { message: string; extensions?: Record<string, unknown> }[];
    },
  };
}

describe('customer dashboard through the gateway', () => {
  it('returns data from all four subgraphs and all three partners in one query', async () => {
    const res = await dashboard(await tokenFor(alice.customerId), 'e2e-dashboard-1');
    expect(res.body.errors).toBeUndefined();
    expect(res.headers.get('x-request-id')).toBe('e2e-dashboard-1');
    const me = res.body.data!.me!;

    // identity (and the KYC provider)
    expect(me).toMatchObject({ id: alice.customerId, displayName: 'Alice', kyc: { status: 'APPROVED' } });

    // accounts at both banks, with balances and the 20 most recent transactions each
    const expectedAccounts =
      (alice.banks.northwind?.accounts.length ?? 0) + (alice.banks.rheinbank?.accounts.length ?? 0);
    expect(me.unavailableInstitutions).toEqual([]);
    expect(me.accounts).toHaveLength(expectedAccounts);
    expect(new Set(me.accounts.map((a) => a.institution.id))).toEqual(new Set(['northwind', 'rheinbank']));
    expect(new Set(me.accounts.map((a) => a.currency))).toEqual(new Set(['GBP', 'EUR']));
    for (const account of me.accounts) {
      expect(account.id).toMatch(/^acc_[a-z2-7]{26}$/);
      expect(account.maskedIdentifier).toMatch(/^••••.{4}$/);
      expect(account.currentBalance?.amount.currency).toBe(account.currency);
      expect(account.currentBalance?.amount.amount).toMatch(account.currency === 'JPY' ? /^\d+$/ : /^\d+\.\d{2}$/);
      const edges = account.transactions!.edges;
      expect(edges).toHaveLength(20);
      expect(account.transactions!.pageInfo.hasNextPage).toBe(true);
      const times = edges.map((e) => Date.parse(String(e.node.occurredAt)));
      expect([...times].sort((a, b) => b - a)).toEqual(times);
      for (const { node } of edges) {
        expect(node.id).toMatch(/^txn_/);
        expect(node.amount.currency).toBe(account.currency);
        expect(['CREDIT', 'DEBIT']).toContain(node.direction);
        expect(String(node.occurredAt)).toMatch(/Z$/);
      }
    }
    // partner identifiers never leak into the canonical graph
    const text = JSON.stringify(res.body);
    for (const account of [...(alice.banks.northwind?.accounts ?? []), ...(alice.banks.rheinbank?.accounts ?? [])]) {
      expect(text).not.toContain(account.bankAccountId);
    }

    // payments (the ledger) and consents (owned data)
    expect(me.payments.edges.length).toBeGreaterThan(0);
    expect(me.payments.edges.length).toBeLessThanOrEqual(10);
    expect(me.consents.map((c) => [c.client.id, c.status])).toContainEqual(['budgetly', 'AUTHORISED']);
  });

  it('sent the partners only spec-valid requests, correlated with the client request id', async () => {
    await dashboard(await tokenFor(alice.customerId), 'e2e-dashboard-2');
    for (const name of ['northwind', 'rheinbank', 'onfido'] as const) {
      const sandbox = platform.sandboxes[name];
      const requests = sandbox.requests.list({});
      expect(requests.length, `${name} was called`).toBeGreaterThan(0);
      expect(sandbox.requests.violations(), `${name} request violations`).toEqual([]);
      expect(sandbox.requests.responseViolations(), `${name} response violations`).toEqual([]);
    }
    const correlated = platform.sandboxes.northwind.requests
      .list({})
      .filter(
        (r) =>
          r.headers['x-fapi-interaction-id'] === 'e2e-dashboard-2' || r.headers['x-request-id'] === 'e2e-dashboard-2',
      );
    expect(correlated.length).toBeGreaterThan(0);
  });

  it('shows a customer with no banks and no KYC as such, not as an error', async () => {
    const res = await dashboard(await tokenFor(dev.customerId), 'e2e-dashboard-3');
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data!.me).toMatchObject({
      id: dev.customerId,
      kyc: { status: 'NOT_STARTED' },
      accounts: [],
      unavailableInstitutions: [],
    });
  });

  it('keeps the other bank and the rest of the dashboard when one bank is down', async () => {
    const fault = platform.sandboxes.rheinbank.faults.inject({ status: 503 });
    try {
      // Through an app that never read Alice's Rheinbank data: nothing last known to serve, the bank is named.
      const res = await dashboard(await tokenFor(alice.customerId, 'mobile-app'), 'e2e-dashboard-4');
      const me = res.body.data!.me!;
      expect(me.unavailableInstitutions.map((i) => i.id)).toEqual(['rheinbank']);
      expect(me.accounts.length).toBeGreaterThan(0);
      expect(me.accounts.every((a) => a.institution.id === 'northwind')).toBe(true);
      expect(me.kyc?.status).toBe('APPROVED');
      expect(me.payments.edges.length).toBeGreaterThan(0);
      expect(JSON.stringify(res.body)).not.toMatch(/stack|at .*\.ts:\d+/);

      // Through the web app, which read them in the tests above: the bank's last known values, marked.
      const web = await dashboard(await tokenFor(alice.customerId), 'e2e-dashboard-5');
      const seen = web.body.data!.me!;
      expect(seen.unavailableInstitutions).toEqual([]);
      expect(seen.accounts.map((a) => a.institution.id)).toContain('rheinbank');
      const stale = (web.body as { extensions?: { stale?: { source: string }[] } }).extensions?.stale ?? [];
      expect(stale.length).toBeGreaterThan(0);
      expect(new Set(stale.map((m) => m.source))).toEqual(new Set(['rheinbank']));
    } finally {
      platform.sandboxes.rheinbank.faults.remove(fault.id);
    }
  });

  it('refuses the query without a token, with a code and no data', async () => {
    const res = await fetch(platform.gatewayUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: DASHBOARD }),
    });
    const body = (await res.json()) as { data?: unknown; errors: { extensions: { code: string } }[] };
    expect(res.status).toBe(401);
    expect(body.errors[0]!.extensions.code).toBe('UNAUTHENTICATED');
    expect(body.data ?? null).toBeNull();
  });
});
