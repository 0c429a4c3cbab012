import { SCOPES, STAFF_SCOPES } from '../../gateway/authorization/policy.ts';
import type { Principal } from '../../lib/principal.ts';
import { SANDBOX_CUSTOMERS, type SandboxCustomer } from '../../sandboxes/manifest.ts';

/** The sandbox customers (sandboxes/manifest.ts) the tests use, by display name. */
function byDisplayName(displayName: string): SandboxCustomer {
  const customer = SANDBOX_CUSTOMERS.find((c) => c.displayName === displayName);
  if (!customer) throw new Error(`no sandbox customer ${displayName} in sandboxes/manifest.ts`);
  return customer;
}

export const SANDBOX = {
  alice: byDisplayName('Alice'),
  ben: byDisplayName('Ben'),
  clara: byDisplayName('Clara'),
  dev: byDisplayName('Dev'),
};

export const ALICE = SANDBOX.alice.customerId;
export const BEN = SANDBOX.ben.customerId;
export const CLARA = SANDBOX.clara.customerId;
export const DEV = SANDBOX.dev.customerId;

/** Every scope a customer's own (first-party) app may hold: all of the policy's but the staff's, in its order. */
export const FIRST_PARTY_SCOPES: string[] = SCOPES.filter((scope) => !STAFF_SCOPES.includes(scope));

/** A principal acting through a client app (the platform's web app unless told). */
export const principalOf = (customerId: string | null, scopes: string[], clientId = 'web-app'): Principal => ({
  customerId,
  clientId,
  scopes,
});
