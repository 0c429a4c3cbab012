import type { ClientAppModel, ConsentModel, ConsentEventModel, ConsentStatus } from './model.ts';

/**
 * What the consent domain needs from storage. storage/repository.ts implements it on
 * PostgreSQL (or PGlite); the domain never sees SQL.
 */
export interface ConsentRepository {
  findClients(ids: readonly string[]): Promise<ClientAppModel[]>;
  findConsentsByIds(ids: readonly string[]): Promise<ConsentModel[]>;
  /** Every consent of these customers, newest first. */
  findConsentsByCustomers(customerIds: readonly string[]): Promise<ConsentModel[]>;
  /** The evidence trail of these consents, oldest first. */
  findEvents(consentIds: readonly string[]): Promise<ConsentEventModel[]>;
  /** Consents of (customer, client) that are AUTHORISED and not past expiry at `now`, newest first. */
  findActiveConsents(customerId: string, clientId: string, now: Date): Promise<ConsentModel[]>;
  /** Inserts a consent as given and its first event in one transaction (no lifecycle rule applies: seeds and tests). */
  createConsent(consent: ConsentModel, event: ConsentEventModel): Promise<ConsentModel>;
  /**
   * Inserts a new consent request (AWAITING_AUTHORISATION) and its first event, unless its client
   * already has `maxPending` requests of the same customer AWAITING_AUTHORISATION and not past
   * expiry at `consent.createdAt`: then writes nothing and returns null. Counting and inserting are
   * serialised per (customer, client), so concurrent requests never take the count above `maxPending`.
   */
  createConsentRequest(
    consent: ConsentModel,
    event: ConsentEventModel,
    maxPending: number,
  ): Promise<ConsentModel | null>;
  /**
   * Moves one consent from `from` to `to` if, and only if, it still belongs to `customerId`,
   * is still in `from` and is not past expiry at `at`: one conditional UPDATE plus its event
   * (and, when authorising, its accounts) in one transaction. Returns the updated consent, or
   * null when the condition no longer held (someone else won, or it expired): the caller
   * re-reads and decides.
   */
  transition(change: ConsentTransition): Promise<ConsentModel | null>;
  /** Records EXPIRED (with a 'system' event at the expiry instant) for every consent due at `now`; returns how many. */
  recordDueExpiries(now: Date): Promise<number>;
}

export interface ConsentTransition {
  consentId: string;
  customerId: string;
  from: ConsentStatus;
  to: 'AUTHORISED' | 'REJECTED' | 'REVOKED';
  at: Date;
  actor: string;
  requestId: string | null;
  /** The accounts the consent covers from now on; only when authorising. */
  accountIds?: readonly string[];
}

/**
 * Per-request read access, batched (loaders.ts implements it with DataLoader). Lookups are
 * unfiltered; the reader applies the visibility rules before anything leaves the domain.
 */
export interface ConsentReadPort {
  consent(id: string): Promise<ConsentModel | null>;
  consentsOfCustomer(customerId: string): Promise<ConsentModel[]>;
  events(consentId: string): Promise<ConsentEventModel[]>;
  client(id: string): Promise<ClientAppModel | null>;
  /** Drops cached reads of a consent after a mutation changed it. */
  forget(consentId: string): void;
}
