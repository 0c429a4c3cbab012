import type { ConsentPermission, ConsentStatus } from '../../../lib/consent.ts';

/**
 * The canonical consent model. Consents are data the platform owns: this subgraph is the
 * source of truth for which client may see which customer's data. Nothing here imports
 * storage or GraphQL code; the rules are pure functions of a consent and an instant.
 */

/**
 * Permissions and statuses, their order and which permissions are account-scoped, come from one
 * module shared with the gateway (lib/consent.ts, tied to this subgraph's schema enums).
 */
export {
  ACCOUNT_PERMISSIONS,
  CONSENT_PERMISSIONS,
  CONSENT_STATUSES,
  isAccountPermission,
  type AccountPermission,
  type ConsentPermission,
  type ConsentStatus,
} from '../../../lib/consent.ts';

/** How long a consent may run at most, and by default. */
export const MAX_CONSENT_DAYS = 90;
export const MAX_CONSENT_MS = MAX_CONSENT_DAYS * 24 * 60 * 60 * 1000;

/**
 * A consent as stored. `status` is the recorded status; the status a reader sees is
 * `effectiveStatus(consent, now)`, which turns a consent past `expiresAt` into EXPIRED
 * exactly at that instant, whether or not the expiry sweep has recorded it yet.
 */
export interface ConsentModel {
  id: string;
  customerId: string;
  clientId: string;
  status: ConsentStatus;
  /** Deduplicated, in the canonical order of CONSENT_PERMISSIONS. */
  permissions: ConsentPermission[];
  /** Canonical acc_ ids the customer chose when authorising; sorted, empty before. */
  accountIds: string[];
  expiresAt: Date;
  createdAt: Date;
  authorisedAt: Date | null;
  rejectedAt: Date | null;
  revokedAt: Date | null;
}

/** One entry of a consent's append-only evidence trail. */
export interface ConsentEventModel {
  consentId: string;
  status: ConsentStatus;
  at: Date;
  /** "customer:<id>", "client:<id>" or "system". */
  actor: string;
  /** The request that caused it; null for system events. */
  requestId: string | null;
}

/**
 * Every client application registered on the platform. Only FIRST_PARTY and THIRD_PARTY
 * exist in the public schema; STAFF and MACHINE clients are internal and are never exposed
 * (Query.clientApp answers null for them) nor able to hold consents.
 */
export type ClientKind = 'FIRST_PARTY' | 'THIRD_PARTY' | 'STAFF' | 'MACHINE';
export interface ClientAppModel {
  id: string;
  name: string;
  kind: ClientKind;
}
/** A client app as the public schema shows it. */
export interface PublicClientAppModel extends ClientAppModel {
  kind: 'FIRST_PARTY' | 'THIRD_PARTY';
}

export function isPublicClient(client: ClientAppModel): client is PublicClientAppModel {
  return client.kind === 'FIRST_PARTY' || client.kind === 'THIRD_PARTY';
}

/** Entity references returned to the gateway for types other subgraphs own. */
export interface CustomerRef {
  __typename?: 'Customer';
  id: string;
}
export interface AccountRef {
  __typename: 'Account';
  id: string;
}

export const actor = {
  customer: (customerId: string) => `customer:${customerId}`,
  client: (clientId: string) => `client:${clientId}`,
  system: 'system',
} as const;

/** Client ids are short slugs ("web-app", "budgetly"); anything else is never a lookup. */
const CLIENT_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export function isClientId(value: string): boolean {
  return CLIENT_ID.test(value);
}
