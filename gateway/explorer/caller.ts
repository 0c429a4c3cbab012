import { CONSENT_PERMISSIONS, consentedAccountsOf, type ConsentPermission } from '../../lib/consent.ts';
import type { Principal } from '../../lib/principal.ts';
import { authzState, type AuthzDeps } from '../authorization/engine.ts';
import type { CallerKind } from '../authorization/policy.ts';

/**
 * What the explorer needs to know about the caller a token stands for, beyond what the token
 * itself says: the caller kind (from the client registry) and, for a third party, which
 * permissions its authorised consents grant. Answered by the authorization engine's own
 * per-request state (engine.ts authzState: the same client-registry lookup and consent lookup,
 * through the same caches, that decide every request), so the explorer's "before sending" check
 * cannot read the caller differently from the rules that enforce.
 */
export interface CallerFacts {
  clientId: string;
  customerId: string | null;
  scopes: string[];
  /** null: the client registry does not list the client as first- or third-party; it may read nothing. */
  kind: CallerKind | null;
  /**
   * Third party only: for each permission, whether some authorised, unexpired consent grants it (the caller-level
   * question).
   */
  grants: Record<ConsentPermission, boolean> | null;
  /** Third party only: for each account permission, the accounts its consents cover. */
  consentedAccounts: Record<string, string[]> | null;
}

export async function callerFacts(principal: Principal, deps: AuthzDeps, requestId: string): Promise<CallerFacts> {
  // A fresh key object: this state belongs to this one answer, like the state of a GraphQL request.
  const state = authzState({}, principal, requestId, deps);
  const kind = await state.kind();
  let grants: CallerFacts['grants'] = null;
  let consentedAccounts: CallerFacts['consentedAccounts'] = null;
  if (kind === 'thirdParty') {
    const answers = await Promise.all(
      CONSENT_PERMISSIONS.map(async (p) => [p, await state.consents.grants(p)] as const),
    );
    grants = Object.fromEntries(answers) as Record<ConsentPermission, boolean>;
    consentedAccounts = consentedAccountsOf(await state.consents.active());
  }
  return {
    clientId: principal.clientId,
    customerId: principal.customerId,
    scopes: [...principal.scopes],
    kind,
    grants,
    consentedAccounts,
  };
}
