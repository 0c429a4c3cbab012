import { clientError, ErrorCode } from '../../../lib/errors.ts';
import { isId } from '../../../lib/ids.ts';
import type { Principal } from '../../../lib/principal.ts';
import { consentGrants, effectiveStatus } from '../../../lib/consent.ts';
import {
  actor,
  CONSENT_PERMISSIONS,
  isAccountPermission,
  MAX_CONSENT_DAYS,
  MAX_CONSENT_MS,
  type ClientAppModel,
  type ConsentModel,
  type ConsentEventModel,
  type ConsentPermission,
  type ConsentStatus,
} from './model.ts';

/**
 * The consent rules as pure functions: what status a consent is in at an instant, whether it
 * grants a permission on an account, which lifecycle transitions are allowed, who may see it.
 * Storage makes each allowed transition atomic; these functions decide what is allowed.
 */

/**
 * What a consent grants, and the status a reader sees at an instant, are decided in
 * lib/consent.ts, the one evaluation the gateway uses too (its module comment has the exact
 * semantics): `consentGrants(consents, permission, { accountId?, at })` and
 * `effectiveStatus(consent, at)` (AUTHORISED and AWAITING_AUTHORISATION read as EXPIRED from
 * `expiresAt` on, exactly, whenever the sweep records it).
 */
export {
  consentGrants,
  consentInForce,
  consentedAccountsOf,
  effectiveStatus,
  type ConsentFacts,
  type GrantQuestion,
} from '../../../lib/consent.ts';

/**
 * The accounts on which `consent` grants `permission` at `now` (empty when it grants nothing, and for IDENTITY, which
 * is not about accounts).
 */
export function grantedAccountIds(
  consent: Pick<ConsentModel, 'status' | 'expiresAt' | 'permissions' | 'accountIds'>,
  permission: ConsentPermission,
  now: Date,
): string[] {
  if (!isAccountPermission(permission)) return [];
  return consent.accountIds.filter((accountId) => consentGrants([consent], permission, { accountId, at: now }));
}

export type LifecycleAction = 'authorise' | 'reject' | 'revoke';

export type TransitionDecision =
  | { kind: 'apply'; from: ConsentStatus; to: ConsentStatus }
  /** Nothing to do and nothing wrong: revoking a consent that is already revoked. */
  | { kind: 'unchanged' }
  | { kind: 'refuse'; message: string };

/**
 * Which transition `action` makes from the consent's status at `now`:
 * - authorise: AWAITING_AUTHORISATION → AUTHORISED
 * - reject:    AWAITING_AUTHORISATION → REJECTED
 * - revoke:    AUTHORISED → REVOKED; already REVOKED → unchanged (a retried revoke is safe)
 * Everything else is refused with a message that says why. A consent past its expiry is
 * EXPIRED here even if storage still records it as AUTHORISED or AWAITING_AUTHORISATION.
 */
export function decideTransition(
  consent: Pick<ConsentModel, 'status' | 'expiresAt'>,
  action: LifecycleAction,
  now: Date,
): TransitionDecision {
  const status = effectiveStatus(consent, now);
  switch (action) {
    case 'authorise':
    case 'reject': {
      if (status === 'AWAITING_AUTHORISATION')
        return { kind: 'apply', from: status, to: action === 'authorise' ? 'AUTHORISED' : 'REJECTED' };
      if (status === 'EXPIRED')
        return {
          kind: 'refuse',
          message: `the consent expired before it was authorised and can no longer be ${action === 'authorise' ? 'authorised' : 'rejected'}`,
        };
      return {
        kind: 'refuse',
        message: `the consent is ${status}; only a consent AWAITING_AUTHORISATION can be ${action === 'authorise' ? 'authorised' : 'rejected'}`,
      };
    }
    case 'revoke': {
      if (status === 'AUTHORISED') return { kind: 'apply', from: status, to: 'REVOKED' };
      if (status === 'REVOKED') return { kind: 'unchanged' };
      if (status === 'AWAITING_AUTHORISATION')
        return {
          kind: 'refuse',
          message: 'the consent is AWAITING_AUTHORISATION and was never authorised; reject it instead of revoking it',
        };
      if (status === 'EXPIRED')
        return { kind: 'refuse', message: 'the consent has EXPIRED; there is no access left to revoke' };
      return { kind: 'refuse', message: `the consent is ${status}; only an AUTHORISED consent can be revoked` };
    }
  }
}

function badInput(message: string, extra: Record<string, unknown> = {}) {
  return clientError(ErrorCode.BAD_USER_INPUT, message, extra);
}

/** Checks and normalises requested permissions: at least one, known, deduplicated, in canonical order. */
export function normalisePermissions(permissions: readonly string[]): ConsentPermission[] {
  if (permissions.length === 0)
    throw badInput('permissions must list at least one permission', { argument: 'permissions' });
  const unknown = permissions.filter((p) => !(CONSENT_PERMISSIONS as readonly string[]).includes(p));
  if (unknown.length > 0)
    throw badInput(`unknown permission ${JSON.stringify(unknown[0])}`, { argument: 'permissions' });
  return CONSENT_PERMISSIONS.filter((p) => permissions.includes(p));
}

/**
 * The consent's expiry: the requested instant if it is in the future and at most 90 days ahead, else 90 days from now.
 */
export function resolveExpiry(requested: Date | null | undefined, now: Date): Date {
  if (requested === null || requested === undefined) return new Date(now.getTime() + MAX_CONSENT_MS);
  if (!(requested instanceof Date) || Number.isNaN(requested.getTime()))
    throw badInput('expiresAt is not a valid instant', { argument: 'expiresAt' });
  if (requested.getTime() <= now.getTime())
    throw badInput('expiresAt must be in the future', { argument: 'expiresAt' });
  if (requested.getTime() > now.getTime() + MAX_CONSENT_MS)
    throw badInput(`expiresAt must be at most ${MAX_CONSENT_DAYS} days ahead`, {
      argument: 'expiresAt',
      maxDays: MAX_CONSENT_DAYS,
    });
  return requested;
}

/** Most accounts one consent may cover. */
export const MAX_CONSENT_ACCOUNTS = 100;

/**
 * Checks and normalises the accounts a customer authorises: well-formed acc_ ids,
 * deduplicated and sorted; at least one when the consent asks for an account permission, none
 * when it asks only for customer-level permissions (IDENTITY).
 */
export function normaliseAccountIds(
  accountIds: readonly string[],
  permissions: readonly ConsentPermission[],
): string[] {
  const bad = accountIds.find((id) => typeof id !== 'string' || !isId(id, 'acc'));
  if (bad !== undefined)
    throw badInput('accountIds must contain only account ids (acc_...)', { argument: 'accountIds' });
  const unique = [...new Set(accountIds)].sort();
  if (unique.length > MAX_CONSENT_ACCOUNTS)
    throw badInput(`a consent may cover at most ${MAX_CONSENT_ACCOUNTS} accounts`, { argument: 'accountIds' });
  const needsAccounts = permissions.some(isAccountPermission);
  if (needsAccounts && unique.length === 0)
    throw badInput('accountIds must name at least one account for a consent that asks for account permissions', {
      argument: 'accountIds',
    });
  if (!needsAccounts && unique.length > 0)
    throw badInput('this consent asks for no account permission, so it cannot cover accounts', {
      argument: 'accountIds',
    });
  return unique;
}

/**
 * Who is looking, as far as consent visibility is concerned:
 * - the customer through a FIRST_PARTY app sees all of the customer's consents;
 * - a THIRD_PARTY client acting for a customer sees only the consents that customer granted
 *   (or was asked for) to that client.
 * Everyone else (no principal, no customer, an unregistered client, STAFF or MACHINE clients)
 * sees nothing customer-scoped.
 */
export type Viewer =
  { kind: 'customer'; customerId: string } | { kind: 'client'; customerId: string; clientId: string };

export function viewerFor(principal: Principal | null, client: ClientAppModel | null): Viewer | null {
  if (!principal || !client || principal.clientId !== client.id) return null;
  if (principal.customerId === null || !isId(principal.customerId, 'cus')) return null;
  if (client.kind === 'FIRST_PARTY') return { kind: 'customer', customerId: principal.customerId };
  if (client.kind === 'THIRD_PARTY') return { kind: 'client', customerId: principal.customerId, clientId: client.id };
  return null;
}

export function canView(viewer: Viewer | null, consent: Pick<ConsentModel, 'customerId' | 'clientId'>): boolean {
  if (!viewer || viewer.customerId !== consent.customerId) return false;
  return viewer.kind === 'customer' || viewer.clientId === consent.clientId;
}

/**
 * The consent's evidence trail in time order. When the consent reads as EXPIRED but the expiry
 * has not been recorded yet, a 'system' EXPIRED entry at `expiresAt` is appended, so the
 * history always agrees with the status (the sweep later records the same entry).
 */
export function historyOf(consent: ConsentModel, events: readonly ConsentEventModel[], now: Date): ConsentEventModel[] {
  const ordered = [...events].sort((a, b) => a.at.getTime() - b.at.getTime());
  if (effectiveStatus(consent, now) === 'EXPIRED' && !ordered.some((e) => e.status === 'EXPIRED')) {
    ordered.push({
      consentId: consent.id,
      status: 'EXPIRED',
      at: consent.expiresAt,
      actor: actor.system,
      requestId: null,
    });
  }
  return ordered;
}

/** Newest first: by creation time, then id for a stable order. */
export function newestFirst(a: ConsentModel, b: ConsentModel): number {
  return b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
}
