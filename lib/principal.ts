import { isAccountPermission, type ConsentedAccounts } from './consent.ts';

/**
 * The verified caller, as the gateway established it from the access token. It reaches the
 * subgraphs inside the signed internal context (internal-auth.ts), never from client headers.
 */
export interface Principal {
  /** The customer the token acts for (`sub`), or null for staff and machine clients. */
  customerId: string | null;
  /** The client application (`client_id` / `azp`). */
  clientId: string;
  /** Granted OAuth scopes. */
  scopes: string[];
  /**
   * Set only for a third-party client acting under consent: for each consented permission, the
   * accounts the customer's active consents cover. A subgraph then returns only objects inside
   * them (filtering at the source keeps pagination exact); absent for every other caller.
   */
  consentedAccounts?: ConsentedAccounts;
}

export type { ConsentedAccounts };

/**
 * Validates a consentedAccounts value from an untrusted decode: only account permissions (lib/consent.ts), each a list
 * of ids; throws on any other shape.
 */
export function parseConsentedAccounts(value: unknown): ConsentedAccounts | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new TypeError('consentedAccounts must be an object');
  for (const [permission, ids] of Object.entries(value)) {
    if (!isAccountPermission(permission) || !Array.isArray(ids) || !ids.every((id) => typeof id === 'string')) {
      throw new TypeError(`consentedAccounts.${permission} is malformed`);
    }
  }
  return value as ConsentedAccounts;
}

/** The accounts a principal may see for a permission: null when it is not restricted by consent. */
export function consentedAccountsFor(
  principal: Principal | null,
  permission: keyof ConsentedAccounts,
): string[] | null {
  if (!principal?.consentedAccounts) return null;
  return principal.consentedAccounts[permission] ?? [];
}

export function hasScope(principal: Principal | null, scope: string): boolean {
  return principal?.scopes.includes(scope) ?? false;
}

/**
 * The principal as the subgraph will see it, in a canonical form: two principals with the same
 * key get the same answer from every subgraph. Everything the signed context carries is in it, so
 * anything shared between requests (request sharing, cached fallbacks) is keyed by it.
 */
export function principalKey(principal: Principal | null): string {
  if (!principal) return 'anonymous';
  const consented = principal.consentedAccounts
    ? Object.entries(principal.consentedAccounts)
        .map(([permission, ids]) => [permission, [...(ids ?? [])].sort()] as const)
        .sort(([a], [b]) => a.localeCompare(b))
    : null;
  return JSON.stringify([principal.customerId, principal.clientId, [...principal.scopes].sort(), consented]);
}
