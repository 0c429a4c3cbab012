import DataLoader from 'dataloader';
import type { GraphQLError, GraphQLResolveInfo } from 'graphql';
import { graphqlRuntime } from './graphql-runtime.ts';
import { ErrorCode } from '../../lib/errors.ts';
import type { Principal } from '../../lib/principal.ts';
import type { CallerDirectory, ResolvedKind } from './caller.ts';
import type { ConsentLookup, ConsentPermission, RequestConsents } from './consents.ts';
import { policyOf, type FieldPolicy, type ObjectCheck } from './policy.ts';

/**
 * The decisions behind the policy (policy.ts): caller-level ("may this caller read Type.field at
 * all": kind, scopes, consented permission) and per-object ("may it read it on this object":
 * ownership, consent coverage of the account). The pre-execution pass and the graphql-shield
 * rules both call these functions, so the two can never disagree.
 */

export interface AuthzDeps {
  consents: ConsentLookup;
  directory: CallerDirectory;
}

/** Per-request authorization state, created once per operation by the pre-execution pass. */
export interface AuthzState {
  principal: Principal | null;
  requestId: string;
  /** The caller's kind, looked up (once per request) only when a decision needs it. */
  kind(): Promise<ResolvedKind>;
  consents: RequestConsents;
  ownedAccountIds(): Promise<Set<string>>;
  transactionAccountId(transactionId: string): Promise<string | null>;
  /**
   * The debtor account of a payment as the caller sees it (null: unknown, or not the caller's).
   * Batched and cached per request (DataLoader): every payment of a page is looked up in one
   * request to the payments subgraph. A failed lookup rejects (fail closed).
   */
  paymentDebtorAccountId(paymentId: string): Promise<string | null>;
  /**
   * After a consent mutation succeeded: drops the cached consents of (customer, the consent's client) on every replica.
   */
  consentChanged(consentId: string): Promise<void>;
}

const states = new WeakMap<object, AuthzState>();

export function authzState(
  context: object,
  principal: Principal | null,
  requestId: string,
  deps: AuthzDeps,
): AuthzState {
  let state = states.get(context);
  if (state) return state;
  let owned: Promise<Set<string>> | undefined;
  let kind: Promise<ResolvedKind> | undefined;
  let debtors: DataLoader<string, string | null> | undefined;
  state = {
    principal,
    requestId,
    kind: () =>
      (kind ??= principal ? deps.directory.kindOf(principal, requestId) : Promise.resolve<ResolvedKind>(null)),
    consents: deps.consents.forRequest(principal, requestId),
    ownedAccountIds: () =>
      (owned ??= principal ? deps.directory.ownedAccountIds(principal, requestId) : Promise.resolve(new Set())),
    transactionAccountId: (transactionId) =>
      principal ? deps.directory.transactionAccountId(principal, requestId, transactionId) : Promise.resolve(null),
    paymentDebtorAccountId(paymentId) {
      if (!principal) return Promise.resolve(null);
      debtors ??= new DataLoader<string, string | null>(
        (ids) => deps.directory.paymentDebtorAccountIds(principal, requestId, ids),
        { maxBatchSize: 100 },
      );
      return debtors.load(paymentId);
    },
    async consentChanged(consentId) {
      if (!principal?.customerId) return;
      const clientId = await deps.directory.consentClientId(principal, requestId, consentId);
      if (clientId) await deps.consents.invalidate(principal.customerId, clientId);
    },
  };
  states.set(context, state);
  return state;
}

export function existingAuthzState(context: object): AuthzState | undefined {
  return states.get(context);
}

export interface Denial {
  /** Type.field */
  field: string;
  /** Response path of the selection that asked for it, e.g. "me.accounts.identification". */
  path?: string;
  reason: 'NO_RULE' | 'CALLER_KIND' | 'SCOPE' | 'CONSENT';
  missingScopes?: string[];
  missingConsent?: ConsentPermission;
  message: string;
}

/** The scope part of a caller-level rule: needs only the token. */
export function scopeDenial(
  coordinate: string,
  policy: FieldPolicy | undefined,
  principal: Principal | null,
): Denial | null {
  if (!policy)
    return {
      field: coordinate,
      reason: 'NO_RULE',
      message: `${coordinate} has no authorization rule (denied by default)`,
    };
  const missing = policy.scopes.filter((s) => !principal?.scopes.includes(s));
  return missing.length > 0
    ? {
        field: coordinate,
        reason: 'SCOPE',
        missingScopes: missing,
        message: `${coordinate} needs scope ${missing.join(', ')}`,
      }
    : null;
}

/** The caller-kind and consented-permission part: needs the client registry and, for a third party, its consents. */
export async function callerDenial(coordinate: string, policy: FieldPolicy, state: AuthzState): Promise<Denial | null> {
  const kind = await state.kind();
  if (kind === null || !policy.callers.includes(kind)) {
    return {
      field: coordinate,
      reason: 'CALLER_KIND',
      message: `${coordinate} is not available to ${kind === null ? 'this client' : describeKind(kind)} callers`,
    };
  }
  if (kind === 'thirdParty' && policy.consent && !(await state.consents.grants(policy.consent))) {
    return {
      field: coordinate,
      reason: 'CONSENT',
      missingConsent: policy.consent,
      message: `${coordinate} needs an authorised consent granting ${policy.consent}`,
    };
  }
  return null;
}

function describeKind(kind: NonNullable<ResolvedKind>): string {
  return { customer: 'first-party customer', thirdParty: 'third-party', staff: 'staff', machine: 'machine' }[kind];
}

/** The full caller-level rule of one field (what the pre-execution pass enforces). */
export async function callerLevelDenial(
  typeName: string,
  fieldName: string,
  state: AuthzState,
): Promise<Denial | null> {
  const coordinate = `${typeName}.${fieldName}`;
  const policy = policyOf(typeName, fieldName);
  const scope = scopeDenial(coordinate, policy, state.principal);
  if (scope || !policy) return scope;
  return callerDenial(coordinate, policy, state);
}

/** Per-object checks. Each returns true to allow; anything else (false, a throw) denies. */
export const OBJECT_CHECKS: Record<
  ObjectCheck,
  (
    parent: unknown,
    args: Record<string, unknown>,
    state: AuthzState,
    info: GraphQLResolveInfo,
    policy: FieldPolicy,
  ) => Promise<boolean>
> = {
  /**
   * The Customer is the caller's own: Query.me is by definition; Query.customer only with the caller's own id; any
   * other Customer object only when its id is the caller's customer id.
   */
  async ownCustomer(parent, args, state, info) {
    const own = state.principal?.customerId;
    if (!own) return false;
    if (info.parentType.name === 'Query') return info.fieldName === 'me' || args.id === own;
    return idOf(parent) === own;
  },
  /**
   * Account: a first-party customer reaches only their own accounts (the accounts subgraph
   * resolves an account only for its owner, from the signed context); a third party needs a
   * consent that grants the field's permission for this very account. Query.account is checked
   * on its `id` argument, before the subgraph is asked, so a denial looks the same whether the
   * account exists or not.
   */
  async accountAccess(parent, args, state, info, policy) {
    const kind = await state.kind();
    if (kind === 'customer') return true;
    if (kind !== 'thirdParty' || !policy.consent) return false;
    const accountId = info.parentType.name === 'Query' ? args.id : idOf(parent);
    if (typeof accountId !== 'string') return false;
    return state.consents.grants(policy.consent, accountId);
  },
  /**
   * Query.transaction: a first-party customer reads only their own (the accounts subgraph filters
   * by owner); a third party needs a consent granting TRANSACTIONS for the transaction's account,
   * which the gateway looks up as the caller before the field resolves. An unknown id and a
   * foreign one both have no visible account, so both are denied the same way.
   */
  async transactionAccess(_parent, args, state) {
    const kind = await state.kind();
    if (kind === 'customer') return true;
    if (kind !== 'thirdParty' || !state.principal || typeof args.id !== 'string') return false;
    const accountId = await state.transactionAccountId(args.id);
    return accountId !== null && state.consents.grants('TRANSACTIONS', accountId);
  },
  /**
   * Payment (Query.payment on its `id` argument, every Payment field on its parent): a first-party
   * customer reads only their own payments (the payments subgraph filters by owner); a third party
   * needs a consent granting PAYMENTS_INITIATION for the payment's debtor account, which the
   * gateway looks up as the caller (batched per request). An unknown id and a foreign one have no
   * visible debtor account, so both are denied the same way. (Customer.payments and Query.payment
   * drop a denied payment before these rules see it, so it looks like one that does not exist.)
   */
  async paymentAccess(parent, args, state, info) {
    return maySeePayment(state, info.parentType.name === 'Query' ? args.id : idOf(parent));
  },
  /** authoriseConsent: every account id must be one of the customer's own accounts. */
  async ownAccountIds(_parent, args, state) {
    const input = args.input as { accountIds?: unknown } | undefined;
    const ids = Array.isArray(input?.accountIds) ? input.accountIds : [];
    if (ids.length === 0) return true; // nothing to check; the subgraph validates what the consent needs
    const owned = await state.ownedAccountIds();
    return ids.every((id) => typeof id === 'string' && owned.has(id));
  },
};

/**
 * True when the caller may see the payment `paymentId`: always for a first-party customer (the
 * subgraph filters by owner), for a third party only when an active consent grants
 * PAYMENTS_INITIATION for the payment's debtor account; never for anyone else. Rejects when the
 * lookup cannot be made (fail closed).
 */
export async function maySeePayment(state: AuthzState, paymentId: unknown): Promise<boolean> {
  const kind = await state.kind();
  if (kind === 'customer') return true;
  if (kind !== 'thirdParty' || !state.principal || typeof paymentId !== 'string') return false;
  const accountId = await state.paymentDebtorAccountId(paymentId);
  return accountId !== null && state.consents.grants('PAYMENTS_INITIATION', accountId);
}

function idOf(parent: unknown): unknown {
  return parent && typeof parent === 'object' ? (parent as { id?: unknown }).id : undefined;
}

/** The error of every denial: one code and message whether the object exists or not. */
export function forbidden(message = 'Not authorized to access this field'): GraphQLError {
  return new graphqlRuntime.GraphQLError(message, { extensions: { code: ErrorCode.FORBIDDEN } });
}
