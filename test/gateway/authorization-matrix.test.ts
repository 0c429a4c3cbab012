import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CALLER_KINDS,
  POLICY,
  SCOPES,
  STAFF_SCOPES,
  type CallerKind,
  type FieldPolicy,
} from '../../gateway/authorization/policy.ts';
import type { ConsentPermission } from '../../gateway/authorization/consents.ts';
import { startPlatform, type RunningPlatform } from '../../scripts/platform.ts';
import { SANDBOX_CONSENT_IDS } from '../../subgraphs/consents/storage/seed.ts';
import { gql, hasStackTrace, logger } from './helpers.ts';
import { scaled } from '../support/time.ts';

/**
 * The authorization matrix against the live gateway: for EVERY field of the policy (which the
 * audit proves is every field of the public schema), for each kind of caller, with and without
 * the field's scopes, the expected outcome is computed FROM THE POLICY and compared with what
 * the gateway answers. A rule change that is not reflected in the gateway fails here, and so
 * does a gateway that answers differently from the policy.
 *
 * Root fields with an id use objects the caller may see (Alice's account and transaction that the
 * Budgetly consent covers), so the per-object rules pass and the case measures the caller-level
 * rule; per-object denials are covered by the enumeration test and the unit tests.
 *
 * Each field is reached by the shortest path from a root field; the expected outcome is
 * "allowed" only when every field on the path is allowed (the pre-execution pass checks them
 * all). A denied case must be FORBIDDEN listing exactly the denied fields (scope denials first:
 * they need no lookup); an allowed case must carry no FORBIDDEN / UNAUTHENTICATED error.
 */
const ALICE = 'cus_u57fz5zj7ojayz6np3d6x6kon4';
const UNKNOWN_CONSENT = 'cns_aaaaaaaaaaaaaaaaaaaaaaaaaa';

interface Caller {
  name: string;
  kind: CallerKind | 'anonymous';
  customerId?: string;
  clientId?: string;
  /** Scopes the caller holds before a case removes the field's scopes. */
  scopes: readonly string[];
  /** Permissions of the caller's active consents (third parties). */
  consented: readonly ConsentPermission[];
}

const CALLERS: Caller[] = [
  {
    name: 'customer (first-party app)',
    kind: 'customer',
    customerId: ALICE,
    clientId: 'web-app',
    scopes: SCOPES,
    consented: [],
  },
  {
    name: 'third party with consent',
    kind: 'thirdParty',
    customerId: ALICE,
    clientId: 'budgetly',
    scopes: SCOPES,
    consented: ['ACCOUNTS', 'BALANCES', 'TRANSACTIONS'],
  },
  {
    name: 'third party without consent',
    kind: 'thirdParty',
    customerId: ALICE,
    clientId: 'taxpal',
    scopes: SCOPES,
    consented: [],
  },
  { name: 'staff', kind: 'staff', clientId: 'ops-console', scopes: SCOPES, consented: [] },
  {
    name: 'machine',
    kind: 'machine',
    clientId: 'reconciler',
    // Every scope but the staff's (audit:read, the webhook operators'): holding one would make it staff.
    scopes: SCOPES.filter((s) => !STAFF_SCOPES.includes(s)),
    consented: [],
  },
  { name: 'anonymous', kind: 'anonymous', scopes: [], consented: [] },
];

/** How to reach an object of each type: the path of (Type.field, selection text) from the root. */
type Step = { coordinate: string; open: string };
let coveredAccountId = '';
let coveredTransactionId = '';

function pathTo(typeName: string): Step[] {
  const me: Step = { coordinate: 'Query.me', open: 'me' };
  const accounts: Step[] = [me, { coordinate: 'Customer.accounts', open: 'accounts' }];
  const txn: Step[] = [...accounts, { coordinate: 'Account.transactions', open: 'transactions(first: 1)' }];
  const pay: Step[] = [me, { coordinate: 'Customer.payments', open: 'payments(first: 1)' }];
  const kyc: Step[] = [me, { coordinate: 'Customer.kyc', open: 'kyc' }];
  const paymentWebhooks: Step[] = [
    { coordinate: 'Query.paymentWebhookEvents', open: 'paymentWebhookEvents(first: 1)' },
  ];
  const kycWebhooks: Step[] = [{ coordinate: 'Query.kycWebhookEvents', open: 'kycWebhookEvents(first: 1)' }];
  const paths: Record<string, Step[]> = {
    Query: [],
    Mutation: [],
    Customer: [me],
    Account: accounts,
    Institution: [...accounts, { coordinate: 'Account.institution', open: 'institution' }],
    AccountIdentification: [...accounts, { coordinate: 'Account.identification', open: 'identification' }],
    Balance: [...accounts, { coordinate: 'Account.balances', open: 'balances' }],
    TransactionConnection: txn,
    TransactionEdge: [...txn, { coordinate: 'TransactionConnection.edges', open: 'edges' }],
    Transaction: [
      ...txn,
      { coordinate: 'TransactionConnection.edges', open: 'edges' },
      { coordinate: 'TransactionEdge.node', open: 'node' },
    ],
    Money: [
      ...accounts,
      { coordinate: 'Account.currentBalance', open: 'currentBalance' },
      { coordinate: 'Balance.amount', open: 'amount' },
    ],
    PageInfo: [...txn, { coordinate: 'TransactionConnection.pageInfo', open: 'pageInfo' }],
    Consent: [me, { coordinate: 'Customer.consents', open: 'consents' }],
    ConsentEvent: [
      me,
      { coordinate: 'Customer.consents', open: 'consents' },
      { coordinate: 'Consent.history', open: 'history' },
    ],
    ClientApp: [{ coordinate: 'Query.clientApp', open: 'clientApp(id: "budgetly")' }],
    PersonName: [me, { coordinate: 'Customer.legalName', open: 'legalName' }],
    PostalAddress: [me, { coordinate: 'Customer.address', open: 'address' }],
    KycVerification: kyc,
    KycCheck: [...kyc, { coordinate: 'KycVerification.checks', open: 'checks' }],
    KycReport: [
      ...kyc,
      { coordinate: 'KycVerification.checks', open: 'checks' },
      { coordinate: 'KycCheck.reports', open: 'reports' },
    ],
    PaymentConnection: pay,
    PaymentEdge: [...pay, { coordinate: 'PaymentConnection.edges', open: 'edges' }],
    Payment: [
      ...pay,
      { coordinate: 'PaymentConnection.edges', open: 'edges' },
      { coordinate: 'PaymentEdge.node', open: 'node' },
    ],
    PaymentCreditor: [
      ...pay,
      { coordinate: 'PaymentConnection.edges', open: 'edges' },
      { coordinate: 'PaymentEdge.node', open: 'node' },
      { coordinate: 'Payment.creditor', open: 'creditor' },
    ],
    PaymentCreditorIdentification: [
      ...pay,
      { coordinate: 'PaymentConnection.edges', open: 'edges' },
      { coordinate: 'PaymentEdge.node', open: 'node' },
      { coordinate: 'Payment.creditor', open: 'creditor' },
      { coordinate: 'PaymentCreditor.identification', open: 'identification' },
    ],
    PaymentReconciliation: [
      { coordinate: 'Query.paymentReconciliation', open: 'paymentReconciliation(date: "2026-01-01")' },
    ],
    PaymentReconciliationBreak: [
      { coordinate: 'Query.paymentReconciliation', open: 'paymentReconciliation(date: "2026-01-01")' },
      { coordinate: 'PaymentReconciliation.breaks', open: 'breaks' },
    ],
    PaymentWebhookEventConnection: paymentWebhooks,
    PaymentWebhookEventEdge: [...paymentWebhooks, { coordinate: 'PaymentWebhookEventConnection.edges', open: 'edges' }],
    PaymentWebhookEvent: [
      ...paymentWebhooks,
      { coordinate: 'PaymentWebhookEventConnection.edges', open: 'edges' },
      { coordinate: 'PaymentWebhookEventEdge.node', open: 'node' },
    ],
    KycWebhookEventConnection: kycWebhooks,
    KycWebhookEventEdge: [...kycWebhooks, { coordinate: 'KycWebhookEventConnection.edges', open: 'edges' }],
    KycWebhookEvent: [
      ...kycWebhooks,
      { coordinate: 'KycWebhookEventConnection.edges', open: 'edges' },
      { coordinate: 'KycWebhookEventEdge.node', open: 'node' },
    ],
    // An inbox id that names no event: an allowed caller replays nothing (NOT_FOUND).
    WebhookReplayResult: [
      { coordinate: 'Mutation.replayPaymentWebhookEvents', open: 'replayPaymentWebhookEvents(input: { id: "0" })' },
    ],
    PaymentStatusChange: [
      ...pay,
      { coordinate: 'PaymentConnection.edges', open: 'edges' },
      { coordinate: 'PaymentEdge.node', open: 'node' },
      { coordinate: 'Payment.statusHistory', open: 'statusHistory' },
    ],
  };
  const path = paths[typeName];
  if (!path) throw new Error(`the matrix has no path to ${typeName}: add one (a new type in the policy)`);
  return path;
}

/** Idempotency key of the money-moving probes (one per run: the gateway keeps its records for 24 hours). */
const MATRIX_KEY = `matrix-${Date.now()}`;

/** The selection of the field under test: arguments the root fields need, and __typename under object fields. */
function fieldSelection(typeName: string, fieldName: string): string {
  const roots: Record<string, string> = {
    'Query.me': 'me { __typename }',
    'Query.customer': `customer(id: "${ALICE}") { __typename }`,
    'Query.account': `account(id: "${coveredAccountId}") { __typename }`,
    'Query.transaction': `transaction(id: "${coveredTransactionId}") { __typename }`,
    'Query.payment': 'payment(id: "pay_aaaaaaaaaaaaaaaaaaaaaaaaaa") { __typename }',
    'Query.consent': `consent(id: "${SANDBOX_CONSENT_IDS.aliceBudgetlyAuthorised}") { __typename }`,
    'Query.clientApp': 'clientApp(id: "budgetly") { __typename }',
    'Query.paymentReconciliation': 'paymentReconciliation(date: "2026-01-01") { __typename }',
    'Query.paymentWebhookEvents': 'paymentWebhookEvents(first: 1) { __typename }',
    'Query.kycWebhookEvents': 'kycWebhookEvents(first: 1) { __typename }',
    // Inbox ids that name no event: an allowed caller replays nothing (NOT_FOUND).
    'Mutation.replayPaymentWebhookEvents': 'replayPaymentWebhookEvents(input: { id: "0" }) { __typename }',
    'Mutation.replayKycWebhookEvents': 'replayKycWebhookEvents(input: { id: "0" }) { __typename }',
    'Mutation.requestConsent': 'requestConsent(input: { permissions: [ACCOUNTS] }) { __typename }',
    'Mutation.authoriseConsent': `authoriseConsent(input: { id: "${UNKNOWN_CONSENT}", accountIds: [] }) { __typename }`,
    'Mutation.rejectConsent': `rejectConsent(id: "${UNKNOWN_CONSENT}") { __typename }`,
    'Mutation.revokeConsent': `revokeConsent(id: "${UNKNOWN_CONSENT}") { __typename }`,
    // Money-moving: an account and a payment that do not exist, so an allowed caller moves nothing (NOT_FOUND).
    'Mutation.initiatePayment': `initiatePayment(input: { idempotencyKey: "${MATRIX_KEY}", debtorAccountId: "acc_aaaaaaaaaaaaaaaaaaaaaaaaaa", creditor: { name: "Sam", sortCode: "112233", accountNumber: "12345678" }, amount: { amount: "1.00", currency: "GBP" } }) { __typename }`,
    'Mutation.cancelPayment': `cancelPayment(id: "pay_aaaaaaaaaaaaaaaaaaaaaaaaaa", idempotencyKey: "${MATRIX_KEY}") { __typename }`,
  };
  const root = roots[`${typeName}.${fieldName}`];
  if (root) return root;
  const objectFields: Record<string, string> = {
    'Customer.accounts': 'accounts { __typename }',
    'Customer.unavailableInstitutions': 'unavailableInstitutions { __typename }',
    'Customer.consents': 'consents { __typename }',
    'Customer.legalName': 'legalName { __typename }',
    'Customer.address': 'address { __typename }',
    'Customer.kyc': 'kyc { __typename }',
    'Customer.payments': 'payments(first: 1) { __typename }',
    'Account.holder': 'holder { __typename }',
    'Account.institution': 'institution { __typename }',
    'Account.identification': 'identification { __typename }',
    'Account.balances': 'balances { __typename }',
    'Account.currentBalance': 'currentBalance { __typename }',
    'Account.transactions': 'transactions(first: 1) { __typename }',
    'Balance.amount': 'amount { __typename }',
    'TransactionConnection.edges': 'edges { __typename }',
    'TransactionConnection.pageInfo': 'pageInfo { __typename }',
    'TransactionEdge.node': 'node { __typename }',
    'Transaction.account': 'account { __typename }',
    'Transaction.amount': 'amount { __typename }',
    'Transaction.reverses': 'reverses { __typename }',
    'Transaction.reversedBy': 'reversedBy { __typename }',
    'Consent.client': 'client { __typename }',
    'Consent.customer': 'customer { __typename }',
    'Consent.accounts': 'accounts { __typename }',
    'Consent.history': 'history { __typename }',
    'KycVerification.checks': 'checks { __typename }',
    'KycCheck.reports': 'reports { __typename }',
    'PaymentConnection.edges': 'edges { __typename }',
    'PaymentConnection.pageInfo': 'pageInfo { __typename }',
    'PaymentEdge.node': 'node { __typename }',
    'Payment.amount': 'amount { __typename }',
    'Payment.debtorAccount': 'debtorAccount { __typename }',
    'Payment.creditor': 'creditor { __typename }',
    'Payment.statusHistory': 'statusHistory { __typename }',
    'PaymentCreditor.identification': 'identification { __typename }',
    'PaymentReconciliation.breaks': 'breaks { __typename }',
    'PaymentWebhookEventConnection.edges': 'edges { __typename }',
    'PaymentWebhookEventConnection.pageInfo': 'pageInfo { __typename }',
    'PaymentWebhookEventEdge.node': 'node { __typename }',
    'KycWebhookEventConnection.edges': 'edges { __typename }',
    'KycWebhookEventConnection.pageInfo': 'pageInfo { __typename }',
    'KycWebhookEventEdge.node': 'node { __typename }',
    'PaymentReconciliationBreak.ledgerAmount': 'ledgerAmount { __typename }',
    'PaymentReconciliationBreak.bankAmount': 'bankAmount { __typename }',
  };
  return objectFields[`${typeName}.${fieldName}`] ?? fieldName;
}

function operationFor(typeName: string, fieldName: string): { query: string; coordinates: string[] } {
  const steps = pathTo(typeName);
  let text = fieldSelection(typeName, fieldName);
  for (const step of [...steps].reverse()) text = `${step.open} { ${text} }`;
  return {
    // A type reached through a mutation (the replay's result) is probed in a mutation.
    query: `${(steps[0]?.coordinate ?? typeName).startsWith('Mutation') ? 'mutation' : 'query'} { ${text} }`,
    coordinates: [...steps.map((s) => s.coordinate), `${typeName}.${fieldName}`],
  };
}

/** What the policy says: null = allowed, otherwise the coordinates the gateway must list. */
function expectedDenials(coordinates: string[], caller: Caller, scopes: readonly string[]): string[] | null {
  const policies = coordinates.map((c) => [c, POLICY[c.split('.')[0]!]?.[c.split('.')[1]!]] as const);
  const missingPolicy = policies.filter(([, p]) => !p).map(([c]) => c);
  if (missingPolicy.length) return missingPolicy;
  const scopeDenied = policies.filter(([, p]) => p!.scopes.some((s) => !scopes.includes(s))).map(([c]) => c);
  if (scopeDenied.length) return [...new Set(scopeDenied)];
  const kind = caller.kind as CallerKind;
  const denied = policies
    .filter(([, p]) => {
      const policy = p as FieldPolicy;
      if (!policy.callers.includes(kind)) return true;
      return kind === 'thirdParty' && policy.consent !== null && !caller.consented.includes(policy.consent);
    })
    .map(([c]) => c);
  return denied.length ? [...new Set(denied)] : null;
}

let platform: RunningPlatform;
const tokens = new Map<string, Promise<string>>();
function tokenFor(caller: Caller, scopes: readonly string[]): Promise<string> {
  const key = `${caller.clientId}|${caller.customerId}|${[...scopes].sort().join(' ')}`;
  let t = tokens.get(key);
  if (!t) {
    t = platform.sandboxes.auth.mint({
      ...(caller.customerId ? { customerId: caller.customerId } : {}),
      clientId: caller.clientId!,
      scopes: [...scopes],
    });
    tokens.set(key, t);
  }
  return t;
}

beforeAll(async () => {
  platform = await startPlatform({
    ports: 'free',
    env: { PGLITE_DIR: 'memory://', DATABASE_URL: undefined, REDIS_URL: undefined, LOG_LEVEL: 'silent' },
    logger,
  });
  const web = await tokenFor(CALLERS[0]!, SCOPES);
  // The accounts subgraph resolves account(id) only after the customer's accounts were listed
  // once (it learns the id mapping from the listing), so list them first, as any app would.
  await gql(platform.gatewayUrl, '{ me { accounts { id } } }', { token: web });
  const res = await gql(
    platform.gatewayUrl,
    `{ consent(id: "${SANDBOX_CONSENT_IDS.aliceBudgetlyAuthorised}") { accounts { id } } }`,
    { token: web },
  );
  coveredAccountId = (res.body.data?.consent as { accounts: { id: string }[] } | null)?.accounts[0]?.id ?? '';
  expect(coveredAccountId).toMatch(/^acc_/);
  const txn = await gql(
    platform.gatewayUrl,
    'query($id: ID!) { account(id: $id) { transactions(first: 1) { edges { node { id } } } } }',
    { token: web, variables: { id: coveredAccountId } },
  );
  coveredTransactionId = (txn.body.data?.account as { transactions: { edges: { node: { id: string } }[] } })
    .transactions.edges[0]!.node.id;
  expect(coveredTransactionId).toMatch(/^txn_/);
}, scaled(120_000));

afterAll(async () => {
  await platform?.close();
});

interface Case {
  label: string;
  caller: Caller;
  scopes: readonly string[];
  typeName: string;
  fieldName: string;
}

function casesFor(): Case[] {
  const cases: Case[] = [];
  for (const [typeName, fields] of Object.entries(POLICY)) {
    for (const [fieldName, policy] of Object.entries(fields)) {
      for (const caller of CALLERS) {
        cases.push({
          label: `${typeName}.${fieldName} as ${caller.name} with its scopes`,
          caller,
          scopes: caller.scopes,
          typeName,
          fieldName,
        });
        if (caller.kind !== 'anonymous' && policy.scopes.length > 0) {
          cases.push({
            label: `${typeName}.${fieldName} as ${caller.name} without ${policy.scopes.join(', ')}`,
            caller,
            scopes: caller.scopes.filter((s) => !policy.scopes.includes(s as never)),
            typeName,
            fieldName,
          });
        }
      }
    }
  }
  return cases;
}

const outcomes = { allowedWithData: 0, allowed: 0, forbidden: 0, unauthenticated: 0 };

async function runCase(c: Case): Promise<string | null> {
  const { query, coordinates } = operationFor(c.typeName, c.fieldName);
  const token = c.caller.kind === 'anonymous' ? undefined : await tokenFor(c.caller, c.scopes);
  const res = await gql(platform.gatewayUrl, query, token ? { token } : {});
  if (hasStackTrace(res.raw)) return `${c.label}: response carries a stack trace`;
  const codes = (res.body.errors ?? []).map((e) => e.extensions?.code);
  if (c.caller.kind === 'anonymous') {
    outcomes.unauthenticated++;
    return res.status === 401 && codes.includes('UNAUTHENTICATED')
      ? null
      : `${c.label}: expected UNAUTHENTICATED, got ${res.status} ${JSON.stringify(codes)}`;
  }
  const expected = expectedDenials(coordinates, c.caller, c.scopes);
  if (expected === null) {
    outcomes.allowed++;
    if (res.body.data && Object.values(res.body.data).some((v) => v !== null)) outcomes.allowedWithData++;
    const refused = (res.body.errors ?? []).filter(
      (e) => e.extensions?.code === 'FORBIDDEN' || e.extensions?.code === 'UNAUTHENTICATED',
    );
    return refused.length === 0
      ? null
      : `${c.label}: the policy allows it, the gateway refused: ${JSON.stringify(refused)}`;
  }
  outcomes.forbidden++;
  const error = res.body.errors?.[0];
  if (error?.extensions?.code !== 'FORBIDDEN' || res.body.data)
    return `${c.label}: the policy denies ${expected.join(', ')}, the gateway answered ${res.raw.slice(0, 300)}`;
  const listed = [...((error.extensions.fields as string[] | undefined) ?? [])].sort();
  return JSON.stringify(listed) === JSON.stringify([...expected].sort())
    ? null
    : `${c.label}: expected FORBIDDEN listing ${expected.join(', ')}, listed ${listed.join(', ')}`;
}

describe('authorization matrix (live gateway, expectations from the policy)', () => {
  it(
    'answers every field, for every kind of caller, with and without its scopes, as the policy says',
    async () => {
      const cases = casesFor();
      const failures: string[] = [];
      let next = 0;
      await Promise.all(
        Array.from({ length: 6 }, async () => {
          while (next < cases.length) {
            const c = cases[next++]!;
            const failure = await runCase(c);
            if (failure) failures.push(failure);
          }
        }),
      );
      const byKind = Object.fromEntries(
        ['anonymous', ...CALLER_KINDS].map((k) => [k, cases.filter((c) => c.caller.kind === k).length]),
      );
      console.info(
        `authorization matrix: ${cases.length} cases (${JSON.stringify(byKind)}), outcomes ${JSON.stringify(outcomes)}, ${failures.length} failures`,
      );
      expect(failures).toEqual([]);
      // The matrix is not vacuous: the policy allows and denies, and allowed cases return data.
      expect(outcomes.allowed).toBeGreaterThan(100);
      expect(outcomes.forbidden).toBeGreaterThan(100);
      expect(outcomes.allowedWithData).toBeGreaterThan(outcomes.allowed / 2);
      expect(cases.length).toBeGreaterThan(
        Object.values(POLICY).reduce((n, t) => n + Object.keys(t).length, 0) * CALLERS.length,
      );
    },
    scaled(600_000),
  );
});
