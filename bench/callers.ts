import { readFileSync } from 'node:fs';
import { SANDBOX_CUSTOMERS } from '../sandboxes/manifest.ts';

/**
 * Who the benchmarks send requests as, and what: seeded customers of the sandbox world
 * (sandboxes/manifest.ts) through the platform's first-party web app, asking for the customer
 * dashboard. One definition, so bench:sharing and bench:gateways load the platform the same way.
 */

/** The customer dashboard: the explorer's first example and the end-to-end test's query. */
export const DASHBOARD = readFileSync(new URL('../test/operations/dashboard.graphql', import.meta.url), 'utf8');

/** The first-party web app the benchmark callers use. */
export const WEB_APP_CLIENT_ID = 'web-app';

/** What the web app holds to show the dashboard: every read scope a customer grants it (no writes). */
export const DASHBOARD_SCOPES = [
  'accounts:read',
  'balances:read',
  'transactions:read',
  'payments:read',
  'identity:read',
  'pii:read',
  'consents:read',
];

/** display name -> customer id of the seeded customers named, in that order. */
export function sandboxCustomers<N extends string>(...names: N[]): Record<N, string> {
  return Object.fromEntries(
    names.map((name) => {
      const customer = SANDBOX_CUSTOMERS.find((c) => c.displayName === name);
      if (!customer) throw new Error(`no sandbox customer ${name} in sandboxes/manifest.ts`);
      return [name, customer.customerId];
    }),
  ) as Record<N, string>;
}
