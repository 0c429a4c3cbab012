/**
 * THE AUTHORIZATION POLICY, as data. One entry per field of every object type of the public
 * schema (schema/public.graphql). Everything else in gateway/authorization/ is generated from
 * this table: the graphql-shield rule tree (rules.ts), the pre-execution pass (pre-execution.ts)
 * and the reviewer's matrix (`npm run shield:audit`, docs/permissions.md).
 *
 * Reading an entry:
 * - callers: which kinds of caller may read the field at all (deny by default: a kind that is not
 *   listed gets FORBIDDEN). Kinds:
 *     customer   a customer through a FIRST_PARTY app (token has a customer, client is FIRST_PARTY)
 *     thirdParty a THIRD_PARTY client acting for a customer under that customer's consent
 *     staff      no customer in the token and an auditor/operator scope (audit:read, webhooks:read, webhooks:replay)
 *     machine    no customer in the token otherwise (e.g. the payments reconciler)
 *   The client's kind comes from the platform's client registry (the consents subgraph's
 *   `clientApp(id) { kind }`, cached), not from a token claim: the authorization server does not
 *   issue a kind claim, and the registry is the one place a client's kind is decided.
 * - scopes: every scope listed is required (pii fields also list pii:read).
 * - consent: the consent permission a thirdParty caller needs (an AUTHORISED, unexpired consent
 *   granting it). Before execution: "some active consent grants it"; per object: "a consent
 *   grants it for this account".
 * - pii: personal data (legal name, date of birth, address, e-mail, phone, full account and
 *   creditor identification). The audit fails when a pii field does not require pii:read.
 * - decided: 'operation' = depends only on the caller, decided once before any subgraph is
 *   called; 'object' = also needs the object (ownership, consent coverage of the account),
 *   checked per object by graphql-shield at execution; the caller-level part of an 'object'
 *   rule is still enforced before execution.
 * - object: which per-object check applies (see rules.ts OBJECT_CHECKS).
 *
 * Staff and machine clients get nothing customer-scoped: the subgraphs return nothing for a
 * principal without a customer, and this policy says so rather than promising access that the
 * subgraphs would silently not give.
 */
import type { ConsentPermission } from '../../lib/consent.ts';

export type CallerKind = 'customer' | 'thirdParty' | 'staff' | 'machine';
export const CALLER_KINDS: readonly CallerKind[] = ['customer', 'thirdParty', 'staff', 'machine'];

export const SCOPES = [
  'accounts:read',
  'balances:read',
  'transactions:read',
  'payments:read',
  'payments:write',
  'identity:read',
  'pii:read',
  'consents:read',
  'consents:write',
  'audit:read',
  'webhooks:read',
  'webhooks:replay',
] as const;
export type Scope = (typeof SCOPES)[number];

/**
 * Scopes that make a caller without a customer "staff" rather than a machine client: the auditors'
 * read-only audit:read and the operators' webhook scopes. A first-party app never holds them.
 */
export const STAFF_SCOPES: readonly Scope[] = ['audit:read', 'webhooks:read', 'webhooks:replay'];

export type ObjectCheck =
  /** The Customer object (parent, or the `id` argument of Query.customer) is the caller's own customer. */
  | 'ownCustomer'
  /**
   * The Account object is one of the caller's customer's accounts and, for a thirdParty, a consent grants the field's
   * permission for this account.
   */
  | 'accountAccess'
  /**
   * Query.transaction: a thirdParty needs a consent granting TRANSACTIONS for the transaction's account (looked up from
   * the accounts subgraph as the caller).
   */
  | 'transactionAccess'
  /**
   * Payment (Query.payment by its `id`, Payment fields by their parent): a thirdParty needs a consent granting
   * PAYMENTS_INITIATION for the payment's debtor account (looked up from the payments subgraph as the caller, batched
   * per request).
   */
  | 'paymentAccess'
  /**
   * Mutation arguments name only the caller's own objects (authoriseConsent: accountIds are the customer's accounts).
   */
  | 'ownAccountIds';

export interface FieldPolicy {
  callers: readonly CallerKind[];
  scopes: readonly Scope[];
  consent: ConsentPermission | null;
  pii: boolean;
  decided: 'operation' | 'object';
  object: ObjectCheck | null;
  /** Why, in one line, for the reviewer. */
  note: string;
  /**
   * A mutation that moves money: the gateway's idempotency layer (gateway/idempotency/) applies
   * to it, whatever its name. `key` is where it takes its idempotency key, as a path into its
   * arguments ('idempotencyKey', 'input.idempotencyKey'); the Idempotency-Key header is accepted too.
   */
  moneyMoving?: { key: string };
}

export type TypePolicy = Record<string, FieldPolicy>;

// ---------------------------------------------------------------------------------------------
// Small constructors so that each entry reads as one line. They only fill in defaults.
const CUSTOMER_APPS: readonly CallerKind[] = ['customer', 'thirdParty'];
const FIRST_PARTY_ONLY: readonly CallerKind[] = ['customer'];

function field(p: Partial<FieldPolicy> & Pick<FieldPolicy, 'callers' | 'note'>): FieldPolicy {
  return { scopes: [], consent: null, pii: false, decided: p.object ? 'object' : 'operation', object: null, ...p };
}
/** A field of a customer's data, reachable by the customer's apps (first- and third-party). */
function data(
  scopes: readonly Scope[],
  consent: ConsentPermission | null,
  note: string,
  extra: Partial<FieldPolicy> = {},
): FieldPolicy {
  return field({ callers: CUSTOMER_APPS, scopes, consent, note, ...extra });
}
function pii(
  scopes: readonly Scope[],
  consent: ConsentPermission | null,
  note: string,
  extra: Partial<FieldPolicy> = {},
): FieldPolicy {
  return data([...scopes, 'pii:read'], consent, note, { pii: true, ...extra });
}
/** Every field of a value type (no identity of its own) follows the field that returned it. */
function inherit(
  fields: readonly string[],
  scopes: readonly Scope[],
  consent: ConsentPermission | null,
  note: string,
  extra: Partial<FieldPolicy> = {},
): TypePolicy {
  return Object.fromEntries(fields.map((f) => [f, data(scopes, consent, note, extra)]));
}

const ACC: readonly Scope[] = ['accounts:read'];
const BAL: readonly Scope[] = ['balances:read'];
const TXN: readonly Scope[] = ['transactions:read'];
const PAY: readonly Scope[] = ['payments:read'];
const IDN: readonly Scope[] = ['identity:read'];
const CNS: readonly Scope[] = ['consents:read'];
/** Operators reading payment operations (reconciliation). */
const OPS: readonly Scope[] = ['payments:read', 'audit:read'];
/**
 * Operators listing the webhook inboxes. Replaying changes state (the worker applies the events
 * again), so it has a scope of its own: neither audit:read nor webhooks:read grants it.
 */
const WEBHOOKS_READ: readonly Scope[] = ['webhooks:read'];
const WEBHOOKS_REPLAY: readonly Scope[] = ['webhooks:replay'];
/** Fields of an inbox event and its page: what Query.*WebhookEvents returns. */
const WEBHOOK_EVENT_FIELDS = [
  'id',
  'eventId',
  'partner',
  'type',
  'status',
  'attempts',
  'lastError',
  'receivedAt',
  'nextAttemptAt',
  'appliedAt',
] as const;
const WEBHOOK_LIST_NOTE = 'operators only (staff with webhooks:read), as the list field that returned it';
const onAccount = { object: 'accountAccess' } as const;
const onCustomer = { object: 'ownCustomer' } as const;
const onPayment = { object: 'paymentAccess' } as const;
const VALUE = 'value type: guarded by the field that returned it';

export const POLICY: Record<string, TypePolicy> = {
  Query: {
    me: data([], null, "the caller's own customer; its fields carry their own rules", onCustomer),
    customer: data(
      [],
      null,
      "only the caller's own customer id; staff get nothing (no staff access is served by the subgraphs)",
      onCustomer,
    ),
    account: data(
      ACC,
      'ACCOUNTS',
      "one of the customer's accounts; thirdParty only for an account its consent covers",
      onAccount,
    ),
    transaction: data(
      TXN,
      'TRANSACTIONS',
      "one of the customer's transactions (subgraph filters by owner); thirdParty only when its consent covers the transaction's account",
      { object: 'transactionAccess' },
    ),
    payment: data(
      PAY,
      'PAYMENTS_INITIATION',
      "one of the customer's payments (subgraph filters by owner); thirdParty only when its consent covers the payment's debtor account, otherwise null as for an unknown id",
      onPayment,
    ),
    paymentReconciliation: field({
      callers: ['staff'],
      scopes: OPS,
      note: "operators only (staff with audit:read): the bank's settlement report against the ledger, no customer data beyond payment ids and amounts",
    }),
    paymentWebhookEvents: field({
      callers: ['staff'],
      scopes: WEBHOOKS_READ,
      note: "operators only (staff with webhooks:read): the payments subgraph's webhook inbox, never the raw payload (data minimisation)",
    }),
    kycWebhookEvents: field({
      callers: ['staff'],
      scopes: WEBHOOKS_READ,
      note: "operators only (staff with webhooks:read): the identity subgraph's webhook inbox, never the raw payload (data minimisation)",
    }),
    consent: data(
      CNS,
      null,
      'the customer sees their consents; a thirdParty only those granted to it (subgraph filters)',
    ),
    clientApp: field({
      callers: ['customer', 'thirdParty', 'staff'],
      scopes: CNS,
      note: 'public registry data of FIRST_PARTY/THIRD_PARTY apps (consent screens, staff review)',
    }),
  },
  Mutation: {
    requestConsent: field({
      callers: ['thirdParty'],
      scopes: ['consents:write'],
      note: 'a THIRD_PARTY client asks the customer it acts for',
    }),
    authoriseConsent: field({
      callers: FIRST_PARTY_ONLY,
      scopes: ['consents:write'],
      object: 'ownAccountIds',
      note: 'only the customer, through a first-party app, and only for their own accounts (checked at the gateway)',
    }),
    rejectConsent: field({
      callers: FIRST_PARTY_ONLY,
      scopes: ['consents:write'],
      note: 'only the customer; the subgraph refuses foreign consent ids like unknown ones',
    }),
    revokeConsent: field({
      callers: FIRST_PARTY_ONLY,
      scopes: ['consents:write'],
      note: 'only the customer; the subgraph refuses foreign consent ids like unknown ones',
    }),
    // Money-moving: the gateway's idempotency layer applies (moneyMoving). A third party initiates
    // under the same PAYMENTS_INITIATION consent that lets it read those payments (plus the
    // payments:write scope); each payment still needs the customer's own authorisation at the bank.
    initiatePayment: field({
      callers: CUSTOMER_APPS,
      scopes: ['payments:write'],
      consent: 'PAYMENTS_INITIATION',
      moneyMoving: { key: 'input.idempotencyKey' },
      note: "MONEY-MOVING. From the customer's own account only; a thirdParty only from an account its PAYMENTS_INITIATION consent covers (checked per account by the payments subgraph against the consented accounts the gateway signs; any other account is NOT_FOUND like a missing one)",
    }),
    cancelPayment: field({
      callers: CUSTOMER_APPS,
      scopes: ['payments:write'],
      consent: 'PAYMENTS_INITIATION',
      moneyMoving: { key: 'idempotencyKey' },
      note: "MONEY-MOVING. Only the customer's own payments; a thirdParty only those debiting an account its consent covers (the subgraph refuses others as NOT_FOUND)",
    }),
    // Not money-moving: a replay only requeues failed events, and repeating it changes nothing more.
    replayPaymentWebhookEvents: field({
      callers: ['staff'],
      scopes: WEBHOOKS_REPLAY,
      note: 'operators only (staff with webhooks:replay, which audit:read and webhooks:read do not grant): requeues failed payment webhook events; an applied one is left as it is',
    }),
    replayKycWebhookEvents: field({
      callers: ['staff'],
      scopes: WEBHOOKS_REPLAY,
      note: 'operators only (staff with webhooks:replay, which audit:read and webhooks:read do not grant): requeues failed KYC webhook events; an applied one is left as it is',
    }),
  },
  Customer: {
    id: data([], null, "the caller's own id", onCustomer),
    displayName: data(IDN, 'IDENTITY', 'chosen display name, not a legal name', onCustomer),
    createdAt: data(IDN, 'IDENTITY', 'profile data', onCustomer),
    profileAsOf: data(IDN, 'IDENTITY', 'when the profile was read (older when served stale)', onCustomer),
    kyc: data(IDN, 'IDENTITY', 'KYC summary (no personal data)', onCustomer),
    legalName: pii(IDN, 'IDENTITY', 'verified legal name', onCustomer),
    dateOfBirth: pii(IDN, 'IDENTITY', 'date of birth', onCustomer),
    email: pii(IDN, 'IDENTITY', 'e-mail address', onCustomer),
    phone: pii(IDN, 'IDENTITY', 'phone number', onCustomer),
    address: pii(IDN, 'IDENTITY', 'residential address', onCustomer),
    accounts: data(ACC, 'ACCOUNTS', "the customer's accounts; each Account is checked per object", onCustomer),
    unavailableInstitutions: data(ACC, 'ACCOUNTS', 'which banks are missing from accounts', onCustomer),
    payments: data(
      PAY,
      'PAYMENTS_INITIATION',
      "the customer's payments; a thirdParty sees only those whose debtor account its consent covers (others are left out of the edges)",
      onCustomer,
    ),
    consents: data(CNS, null, "the customer's consents (a thirdParty sees only its own: subgraph filters)", onCustomer),
  },
  Account: {
    id: data(ACC, 'ACCOUNTS', 'account id', onAccount),
    holder: data(ACC, 'ACCOUNTS', 'the holder: a Customer, whose fields carry their own rules', onAccount),
    institution: data(ACC, 'ACCOUNTS', 'the bank', onAccount),
    name: data(ACC, 'ACCOUNTS', 'account nickname', onAccount),
    type: data(ACC, 'ACCOUNTS', 'account type', onAccount),
    status: data(ACC, 'ACCOUNTS', 'account status', onAccount),
    currency: data(ACC, 'ACCOUNTS', 'account currency', onAccount),
    maskedIdentifier: data(ACC, 'ACCOUNTS', 'last four characters only', onAccount),
    identification: pii(ACC, 'ACCOUNTS', 'full account number / IBAN', onAccount),
    balances: data(BAL, 'BALANCES', 'balances of this account', onAccount),
    currentBalance: data(BAL, 'BALANCES', 'balance of this account', onAccount),
    transactions: data(
      TXN,
      'TRANSACTIONS',
      'transactions of this account (consent must cover this account for TRANSACTIONS)',
      onAccount,
    ),
    asOf: data(ACC, 'ACCOUNTS', "when the account's data was read from the bank (older when served stale)", onAccount),
  },
  Institution: inherit(['id', 'name', 'standard'], ACC, 'ACCOUNTS', VALUE),
  AccountIdentification: inherit(
    ['scheme', 'value'],
    [...ACC, 'pii:read'],
    'ACCOUNTS',
    'full account identification (PII)',
    { pii: true },
  ),
  Balance: inherit(['type', 'amount', 'direction', 'asOf', 'includesCreditLine'], BAL, 'BALANCES', VALUE),
  TransactionConnection: inherit(['edges', 'pageInfo', 'asOf'], TXN, 'TRANSACTIONS', VALUE),
  TransactionEdge: inherit(['cursor', 'node'], TXN, 'TRANSACTIONS', VALUE),
  Transaction: {
    ...inherit(
      [
        'id',
        'amount',
        'direction',
        'status',
        'kind',
        'occurredAt',
        'bookedAt',
        'valueDate',
        'description',
        'counterpartyName',
        'reverses',
        'reversedBy',
      ],
      TXN,
      'TRANSACTIONS',
      'reached only through an Account or a Query.transaction checked per object',
    ),
    account: data([...TXN, ...ACC], 'ACCOUNTS', "the transaction's account, itself checked per object"),
  },
  // Staff too: operators read amounts in the reconciliation report; a value type is reached only through a field that
  // allows it.
  Money: inherit(['amount', 'currency'], [], null, VALUE, { callers: ['customer', 'thirdParty', 'staff'] }),
  // Staff too: operators page through the webhook inboxes.
  PageInfo: inherit(['hasNextPage', 'endCursor'], [], null, VALUE, { callers: ['customer', 'thirdParty', 'staff'] }),
  Consent: {
    ...inherit(
      [
        'id',
        'status',
        'client',
        'customer',
        'permissions',
        'createdAt',
        'authorisedAt',
        'expiresAt',
        'revokedAt',
        'history',
      ],
      CNS,
      null,
      'the subgraph returns only consents the caller may see',
    ),
    accounts: data([...CNS, ...ACC], 'ACCOUNTS', 'accounts the consent covers; each Account is checked per object'),
  },
  ConsentEvent: inherit(['status', 'at', 'actor'], CNS, null, VALUE),
  ClientApp: {
    id: field({ callers: ['customer', 'thirdParty', 'staff'], scopes: CNS, note: 'public registry data' }),
    name: field({ callers: ['customer', 'thirdParty', 'staff'], scopes: CNS, note: 'public registry data' }),
    kind: field({ callers: ['customer', 'thirdParty', 'staff'], scopes: CNS, note: 'public registry data' }),
  },
  PersonName: inherit(['givenName', 'familyName'], [...IDN, 'pii:read'], 'IDENTITY', 'legal name (PII)', { pii: true }),
  PostalAddress: inherit(
    ['buildingNumber', 'street', 'town', 'postcode', 'country'],
    [...IDN, 'pii:read'],
    'IDENTITY',
    'address (PII)',
    { pii: true },
  ),
  KycVerification: inherit(['status', 'startedAt', 'completedAt', 'checks'], IDN, 'IDENTITY', VALUE),
  KycCheck: inherit(['id', 'status', 'result', 'createdAt', 'reports'], IDN, 'IDENTITY', VALUE),
  KycReport: inherit(['kind', 'status', 'result'], IDN, 'IDENTITY', VALUE),
  PaymentConnection: inherit(['edges', 'pageInfo'], PAY, 'PAYMENTS_INITIATION', VALUE),
  PaymentEdge: inherit(['cursor', 'node'], PAY, 'PAYMENTS_INITIATION', VALUE),
  Payment: inherit(
    [
      'id',
      'status',
      'amount',
      'debtorAccount',
      'creditor',
      'reference',
      'statusReason',
      'createdAt',
      'updatedAt',
      'settledAt',
      'statusHistory',
      'authorisationUrl',
    ],
    PAY,
    'PAYMENTS_INITIATION',
    "the subgraph returns only the customer's payments; a thirdParty only those whose debtor account a PAYMENTS_INITIATION consent covers",
    onPayment,
  ),
  PaymentCreditor: {
    name: data(PAY, 'PAYMENTS_INITIATION', VALUE),
    maskedIdentifier: data(PAY, 'PAYMENTS_INITIATION', VALUE),
    identification: pii(PAY, 'PAYMENTS_INITIATION', 'creditor account identification'),
  },
  PaymentReconciliation: inherit(
    ['date', 'institution', 'complete', 'bankRows', 'ledgerPayments', 'matched', 'breaks'],
    OPS,
    null,
    'operators only, as Query.paymentReconciliation',
    { callers: ['staff'] },
  ),
  PaymentReconciliationBreak: inherit(
    ['kind', 'paymentId', 'bankPaymentId', 'ledgerAmount', 'bankAmount', 'ledgerStatus', 'bankStatus'],
    OPS,
    null,
    'operators only, as Query.paymentReconciliation',
    { callers: ['staff'] },
  ),
  PaymentWebhookEventConnection: inherit(['edges', 'pageInfo'], WEBHOOKS_READ, null, WEBHOOK_LIST_NOTE, {
    callers: ['staff'],
  }),
  PaymentWebhookEventEdge: inherit(['cursor', 'node'], WEBHOOKS_READ, null, WEBHOOK_LIST_NOTE, { callers: ['staff'] }),
  PaymentWebhookEvent: inherit([...WEBHOOK_EVENT_FIELDS, 'paymentId'], WEBHOOKS_READ, null, WEBHOOK_LIST_NOTE, {
    callers: ['staff'],
  }),
  KycWebhookEventConnection: inherit(['edges', 'pageInfo'], WEBHOOKS_READ, null, WEBHOOK_LIST_NOTE, {
    callers: ['staff'],
  }),
  KycWebhookEventEdge: inherit(['cursor', 'node'], WEBHOOKS_READ, null, WEBHOOK_LIST_NOTE, { callers: ['staff'] }),
  KycWebhookEvent: inherit([...WEBHOOK_EVENT_FIELDS, 'checkId'], WEBHOOKS_READ, null, WEBHOOK_LIST_NOTE, {
    callers: ['staff'],
  }),
  WebhookReplayResult: inherit(
    ['replayed', 'replayedIds', 'alreadyApplied', 'alreadyAppliedIds', 'alreadyPending', 'alreadyPendingIds'],
    WEBHOOKS_REPLAY,
    null,
    'operators only, as the replay mutation that returned it',
    { callers: ['staff'] },
  ),
  PaymentStatusChange: inherit(['status', 'at', 'reason'], PAY, 'PAYMENTS_INITIATION', VALUE),
  PaymentCreditorIdentification: inherit(
    ['scheme', 'value'],
    [...PAY, 'pii:read'],
    'PAYMENTS_INITIATION',
    'creditor identification (PII)',
    { pii: true },
  ),
};

/** The policy entry of Type.field, or undefined (which the rules treat as deny). */
export function policyOf(typeName: string, fieldName: string): FieldPolicy | undefined {
  return POLICY[typeName]?.[fieldName];
}
