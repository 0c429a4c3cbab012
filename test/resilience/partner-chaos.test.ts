import { readFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../../lib/logger.ts';
import { metricsOf } from '../../lib/metrics.ts';
import { SANDBOX_CUSTOMERS } from '../../sandboxes/manifest.ts';
import { startPlatform, type RunningPlatform } from '../../scripts/platform.ts';
import { scaled, waitBudget } from '../support/time.ts';

/**
 * Chaos at the partners (issue 11), through the whole platform in-process with the sandboxes'
 * fault injection (sandboxes/lib/faults.ts): the gateway's request deadline reaches the accounts
 * subgraph (x-request-deadline-ms) and cuts its bank calls, so a hanging bank costs the dashboard
 * its deadline, not the bank's own (long) timeout; the other bank's customers are not held up; a
 * 429's Retry-After is honoured; a malformed payload is a clear error naming the bank.
 */
const DASHBOARD = readFileSync(new URL('../operations/dashboard.graphql', import.meta.url), 'utf8');
const byName = (name: string) => SANDBOX_CUSTOMERS.find((c) => c.displayName === name)!.customerId;
const ALICE = byName('Alice'); // both banks
const CLARA = byName('Clara'); // Rheinbank only

interface Dashboard {
  data?: {
    me?: {
      accounts: { institution: { id: string } }[];
      unavailableInstitutions: { id: string }[];
    } | null;
  } | null;
  errors?: { message: string; extensions?: Record<string, unknown> }[];
}

let platform: RunningPlatform;

beforeAll(async () => {
  platform = await startPlatform({
    ports: 'free',
    env: {
      PGLITE_DIR: 'memory://',
      DATABASE_URL: undefined,
      REDIS_URL: undefined,
      // The bank's own timeout is long on purpose (7.5 times the deadline): only the deadline can cut a hanging call.
      NORTHWIND_TIMEOUT_MS: String(scaled(30_000)),
      GATEWAY_REQUEST_DEADLINE_MS: String(scaled(4_000)),
    },
    logger: createLogger('chaos', 'silent'),
  });
}, scaled(120_000));

afterAll(async () => {
  await platform?.close();
});

afterEach(() => {
  platform.sandboxes.northwind.faults.clear();
  platform.sandboxes.rheinbank.faults.clear();
});

async function dashboard(customerId: string): Promise<Dashboard> {
  const token = await platform.sandboxes.auth.mint({ customerId, clientId: 'web-app' });
  const res = await fetch(platform.gatewayUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: DASHBOARD, variables: { transactions: 5 } }),
  });
  return (await res.json()) as Dashboard;
}

describe('partners failing under the platform', () => {
  it('a hanging bank: the dashboard answers by the deadline with the other bank, naming the hanging one; the other bank’s customers are not held up', async () => {
    const hang = platform.sandboxes.northwind.faults.inject({ hang: true });
    const alice = dashboard(ALICE);
    const clara = await Promise.all([dashboard(CLARA), dashboard(CLARA), dashboard(CLARA)]);
    for (const c of clara) {
      expect(c.errors).toBeUndefined();
      expect(c.data?.me?.accounts.length).toBeGreaterThan(0);
    }
    const a = await alice;
    // Northwind never answered (the sandbox still holds the calls); the deadline cut them.
    expect(platform.sandboxes.northwind.faults.list().find((f) => f.id === hang.id)?.hits).toBeGreaterThan(0);
    const me = a.data?.me;
    if (me?.unavailableInstitutions) {
      // The accounts subgraph cut its Northwind call at its share of the deadline and answered in time.
      expect(me.unavailableInstitutions.map((i) => i.id)).toEqual(['northwind']);
      expect(me.accounts.length).toBeGreaterThan(0);
      expect(me.accounts.every((acc) => acc.institution.id === 'rheinbank')).toBe(true);
    } else {
      // On a machine too busy for the accounts subgraph to answer within its margin, the gateway's
      // deadline ends the wait: an error naming the accounts service, still before the bank answered.
      expect(a.errors?.map((e) => e.extensions)).toContainEqual({ code: 'SERVICE_UNAVAILABLE', service: 'accounts' });
    }
    // Either way, the accounts subgraph's Northwind call was cut by the deadline, not by its own timeout.
    await vi.waitFor(
      async () =>
        expect(await metricsOf('accounts').registry.metrics()).toMatch(
          /outbound_errors_total\{target="northwind[^"]*",code="deadline"/,
        ),
      waitBudget(),
    );
  });

  it('live answers say when they were read (Account.asOf, TransactionConnection.asOf), without a stale mark', async () => {
    const token = await platform.sandboxes.auth.mint({ customerId: CLARA, clientId: 'web-app' });
    const res = await fetch(platform.gatewayUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: '{ me { accounts { asOf transactions(first: 1) { asOf } } } }' }),
    });
    const body = (await res.json()) as {
      data: { me: { accounts: { asOf: string; transactions: { asOf: string } }[] } };
      extensions?: unknown;
    };
    expect(body.data.me.accounts.length).toBeGreaterThan(0);
    for (const a of body.data.me.accounts) {
      expect(Number.isNaN(Date.parse(a.asOf))).toBe(false);
      expect(a.transactions.asOf).toBe(a.asOf);
    }
    expect(body.extensions).toBeUndefined();
  });

  it('a 429 with Retry-After is waited out and the call succeeds', async () => {
    platform.sandboxes.rheinbank.faults.inject({ status: 429, retryAfterSeconds: 1, times: 1 });
    const c = await dashboard(CLARA);
    expect(c.errors).toBeUndefined();
    expect(c.data?.me?.unavailableInstitutions).toEqual([]);
    expect(await metricsOf('accounts').registry.metrics()).toMatch(
      /outbound_rate_limited_total\{target="rheinbank[^"]*"/,
    );
  });

  it('a malformed payload is a clear error naming the bank, never data', async () => {
    platform.sandboxes.rheinbank.faults.inject({ malformed: 'schema-violation' });
    const c = await dashboard(CLARA);
    const text = JSON.stringify(c);
    expect(text).toContain('rheinbank');
    expect(text).not.toMatch(/stack|at .*\.ts:\d+/);
    const named =
      (c.errors ?? []).some((e) => e.extensions?.code === 'PARTNER_CONTRACT_VIOLATION') ||
      (c.data?.me?.unavailableInstitutions ?? []).some((i) => i.id === 'rheinbank');
    expect(named).toBe(true);
  });
});
