import { clientError, ErrorCode } from '../../../lib/errors.ts';
import { isId, newId } from '../../../lib/ids.ts';
import type { Principal } from '../../../lib/principal.ts';
import {
  actor,
  isClientId,
  isPublicClient,
  type ClientAppModel,
  type ConsentEventModel,
  type ConsentModel,
  type ConsentPermission,
  type ConsentStatus,
  type PublicClientAppModel,
} from './model.ts';
import type { ConsentReadPort, ConsentRepository } from './ports.ts';
import {
  canView,
  consentInForce,
  decideTransition,
  effectiveStatus,
  historyOf,
  newestFirst,
  normaliseAccountIds,
  normalisePermissions,
  resolveExpiry,
  viewerFor,
  type LifecycleAction,
  type Viewer,
} from './rules.ts';

/**
 * The consents domain service. Ownership and visibility are decided here and only here
 * (docs/architecture.md): the reader below for reads, the lifecycle's ownConsent for changes;
 * loaders and storage read by id and decide nothing. consentsServiceFor binds both to one request.
 */

/**
 * The consent lifecycle. Each mutation checks who is calling, validates its input, applies
 * the pure rules of rules.ts and hands the change to storage as one atomic conditional update,
 * so two concurrent transitions can never both win.
 */
export interface Caller {
  /** The verified principal from the gateway's signed context; never from client input. */
  principal: Principal | null;
  requestId: string;
  /** The instant the request is evaluated at. */
  now: Date;
}

export interface RequestConsentInput {
  permissions: readonly ConsentPermission[];
  expiresAt?: Date | null | undefined;
}

export interface AuthoriseConsentInput {
  id: string;
  accountIds: readonly string[];
}

export type ConsentService = ReturnType<typeof createConsentService>;

/** Default of CONSENTS_MAX_PENDING_PER_CLIENT. */
export const DEFAULT_MAX_PENDING_PER_CLIENT = 5;

export interface ConsentServiceOptions {
  /**
   * CONSENTS_MAX_PENDING_PER_CLIENT: how many requests one client may have AWAITING_AUTHORISATION
   * for one customer at a time. Without a cap a client could flood a customer's consent screen and
   * the consents table; a request that was decided (authorised, rejected) or has expired no longer
   * counts, so the cap never blocks a client for good.
   */
  maxPendingPerClient: number;
}

const notFound = () => clientError(ErrorCode.NOT_FOUND, 'consent not found');

export function createConsentService(
  repo: ConsentRepository,
  options: ConsentServiceOptions = { maxPendingPerClient: DEFAULT_MAX_PENDING_PER_CLIENT },
) {
  const { maxPendingPerClient } = options;
  if (!Number.isInteger(maxPendingPerClient) || maxPendingPerClient < 1) {
    throw new RangeError(`the cap on pending consent requests must be a positive integer, got ${maxPendingPerClient}`);
  }
  async function clientOf(principal: Principal): Promise<ClientAppModel | null> {
    const [client] = await repo.findClients([principal.clientId]);
    return client ?? null;
  }

  function requirePrincipal(caller: Caller): Principal {
    if (!caller.principal) throw clientError(ErrorCode.UNAUTHENTICATED, 'this operation needs an authenticated caller');
    return caller.principal;
  }

  /** requestConsent: a registered THIRD_PARTY client acting for a customer. */
  async function requireThirdPartyForCustomer(caller: Caller): Promise<{ customerId: string; clientId: string }> {
    const principal = requirePrincipal(caller);
    const client = await clientOf(principal);
    if (principal.customerId === null || !isId(principal.customerId, 'cus') || client?.kind !== 'THIRD_PARTY') {
      throw clientError(
        ErrorCode.FORBIDDEN,
        'only a registered third-party client acting for a customer can request a consent',
      );
    }
    return { customerId: principal.customerId, clientId: client.id };
  }

  /** authorise / reject / revoke: the customer, through one of the platform's FIRST_PARTY apps. */
  async function requireCustomerFirstParty(caller: Caller, action: LifecycleAction): Promise<string> {
    const principal = requirePrincipal(caller);
    const client = await clientOf(principal);
    if (principal.customerId === null || !isId(principal.customerId, 'cus') || client?.kind !== 'FIRST_PARTY') {
      throw clientError(
        ErrorCode.FORBIDDEN,
        `only the customer, through the platform's own app, can ${action} a consent`,
      );
    }
    return principal.customerId;
  }

  /** The customer's own consent, or NOT_FOUND: another customer's consent is indistinguishable from none. */
  async function ownConsent(id: string, customerId: string): Promise<ConsentModel> {
    if (typeof id !== 'string' || !isId(id, 'cns')) throw notFound();
    const [consent] = await repo.findConsentsByIds([id]);
    if (!consent || consent.customerId !== customerId) throw notFound();
    return consent;
  }

  async function lifecycle(
    caller: Caller,
    action: LifecycleAction,
    id: string,
    accountIdsInput?: readonly string[],
  ): Promise<ConsentModel> {
    const customerId = await requireCustomerFirstParty(caller, action);
    let consent = await ownConsent(id, customerId);
    // At most twice: a lost race is re-read once and then decided against the winner's state.
    for (let attempt = 0; attempt < 2; attempt++) {
      const decision = decideTransition(consent, action, caller.now);
      if (decision.kind === 'unchanged') return consent;
      if (decision.kind === 'refuse')
        throw clientError(ErrorCode.CONFLICT, decision.message, { status: consent.status });
      const accountIds =
        action === 'authorise' ? normaliseAccountIds(accountIdsInput ?? [], consent.permissions) : undefined;
      const updated = await repo.transition({
        consentId: consent.id,
        customerId,
        from: decision.from,
        to: decision.to as 'AUTHORISED' | 'REJECTED' | 'REVOKED',
        at: caller.now,
        actor: actor.customer(customerId),
        requestId: caller.requestId || null,
        ...(accountIds ? { accountIds } : {}),
      });
      if (updated) return updated;
      consent = await ownConsent(id, customerId);
    }
    throw clientError(ErrorCode.CONFLICT, 'the consent was changed concurrently; read it again and retry');
  }

  return {
    async requestConsent(caller: Caller, input: RequestConsentInput): Promise<ConsentModel> {
      const { customerId, clientId } = await requireThirdPartyForCustomer(caller);
      const permissions = normalisePermissions(input.permissions);
      const expiresAt = resolveExpiry(input.expiresAt, caller.now);
      const consent: ConsentModel = {
        id: newId('cns'),
        customerId,
        clientId,
        status: 'AWAITING_AUTHORISATION',
        permissions,
        accountIds: [],
        expiresAt,
        createdAt: caller.now,
        authorisedAt: null,
        rejectedAt: null,
        revokedAt: null,
      };
      const created = await repo.createConsentRequest(
        consent,
        {
          consentId: consent.id,
          status: 'AWAITING_AUTHORISATION',
          at: caller.now,
          actor: actor.client(clientId),
          requestId: caller.requestId || null,
        },
        maxPendingPerClient,
      );
      if (!created) {
        throw clientError(
          ErrorCode.CONSENT_REQUEST_LIMIT_EXCEEDED,
          `this client already has ${maxPendingPerClient} consent requests awaiting this customer's decision; ` +
            'a new one can be made once one of them is authorised, rejected or expires',
          { maxPending: maxPendingPerClient },
        );
      }
      return created;
    },
    authoriseConsent: (caller: Caller, input: AuthoriseConsentInput) =>
      lifecycle(caller, 'authorise', input.id, input.accountIds),
    rejectConsent: (caller: Caller, id: string) => lifecycle(caller, 'reject', id),
    revokeConsent: (caller: Caller, id: string) => lifecycle(caller, 'revoke', id),
    /**
     * The consents in force between a customer and a client at `now`, the input of
     * `consentGrants`. Storage selects them with SQL; lib/consent.ts's `consentInForce` decides,
     * so the answer is by definition the one the gateway's checks reach.
     */
    activeConsents: async (customerId: string, clientId: string, now: Date) =>
      (await repo.findActiveConsents(customerId, clientId, now)).filter((c) => consentInForce(c, now)),
  };
}

/**
 * Per-request reads with the visibility rules applied. Anything the caller may not see
 * behaves exactly like something that does not exist (null or an empty list).
 */
export type ConsentReader = ReturnType<typeof createConsentReader>;

export function createConsentReader(port: ConsentReadPort, principal: Principal | null, now: Date) {
  let viewer: Promise<Viewer | null> | undefined;
  const currentViewer = () =>
    (viewer ??= (async () => {
      if (!principal || !isClientId(principal.clientId)) return null;
      return viewerFor(principal, await port.client(principal.clientId));
    })());

  return {
    now,
    viewer: currentViewer,

    async consent(id: string): Promise<ConsentModel | null> {
      if (typeof id !== 'string' || !isId(id, 'cns')) return null;
      const v = await currentViewer();
      if (!v) return null;
      const consent = await port.consent(id);
      return consent && canView(v, consent) ? consent : null;
    },

    /** The customer's consents the caller may see, newest first, optionally by (effective) status. */
    async customerConsents(customerId: string, statuses?: readonly ConsentStatus[] | null): Promise<ConsentModel[]> {
      const v = await currentViewer();
      if (!v || typeof customerId !== 'string' || v.customerId !== customerId) return [];
      const all = await port.consentsOfCustomer(customerId);
      return all
        .filter((c) => canView(v, c))
        .filter((c) => !statuses || statuses.length === 0 || statuses.includes(effectiveStatus(c, now)))
        .sort(newestFirst);
    },

    /** A consent's evidence trail; the consent was already checked when it was read. */
    async history(consent: ConsentModel): Promise<ConsentEventModel[]> {
      return historyOf(consent, await port.events(consent.id), now);
    },

    /** Public information about a client app; internal (STAFF, MACHINE) and unknown clients read as null. */
    async clientApp(id: string): Promise<PublicClientAppModel | null> {
      if (typeof id !== 'string' || !isClientId(id)) return null;
      const client = await port.client(id);
      return client && isPublicClient(client) ? client : null;
    },

    /** The client a consent is granted to; it always exists (a foreign key) and is a THIRD_PARTY client. */
    async clientOf(consent: ConsentModel): Promise<PublicClientAppModel> {
      const client = await port.client(consent.clientId);
      if (!client || !isPublicClient(client))
        throw new Error(`consent ${consent.id} refers to client ${consent.clientId}, which is not a public client`);
      return client;
    },

    forget: (consentId: string) => port.forget(consentId),
  };
}

/**
 * The consents use cases of one request, as the resolvers call them: reads with the visibility
 * rules applied at the request's instant, and the lifecycle acting as the request's caller. After
 * a change the request's cached reads of that consent are dropped, so the answer shows the change.
 */
export type ConsentsService = ReturnType<typeof consentsServiceFor>;

export function consentsServiceFor(lifecycle: ConsentService, loaders: ConsentReadPort, caller: Caller) {
  const reader = createConsentReader(loaders, caller.principal, caller.now);
  const changed = async (consent: Promise<ConsentModel>): Promise<ConsentModel> => {
    const result = await consent;
    reader.forget(result.id);
    return result;
  };
  return {
    ...reader,
    /** The status a reader sees: the effective status at the request's instant (EXPIRED from expiresAt on). */
    status: (consent: ConsentModel): ConsentStatus => effectiveStatus(consent, caller.now),
    requestConsent: (input: RequestConsentInput) => changed(lifecycle.requestConsent(caller, input)),
    authoriseConsent: (input: AuthoriseConsentInput) => changed(lifecycle.authoriseConsent(caller, input)),
    rejectConsent: (id: string) => changed(lifecycle.rejectConsent(caller, id)),
    revokeConsent: (id: string) => changed(lifecycle.revokeConsent(caller, id)),
  };
}
