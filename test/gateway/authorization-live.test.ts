import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Keyv } from 'keyv';
import { openSharedCache, type SharedCache } from '../../lib/cache.ts';
import { consentCacheKey } from '../../gateway/authorization/consents.ts';
import { loadGatewayConfig } from '../../gateway/config.ts';
import { startGateway, type RunningGateway } from '../../gateway/server.ts';
import { startPlatform, type RunningPlatform } from '../../scripts/platform.ts';
import { SANDBOX_CONSENT_IDS } from '../../subgraphs/consents/storage/seed.ts';
import { gql, hasStackTrace, logger } from './helpers.ts';
import { scaled } from '../support/time.ts';
import { ALICE, BEN, FIRST_PARTY_SCOPES as ALL_CUSTOMER_SCOPES } from '../support/customers.ts';

/**
 * Authorization against the live platform (sandboxes, the four subgraphs, the gateway) on free
 * ports with in-memory PGlite: the pre-execution pass, the per-object rules, and proof that a
 * refused operation never reaches a subgraph.
 */

let platform: RunningPlatform;
let subgraphUrls: string[];
/** Requests the gateway sent to a subgraph, by GraphQL operation name ('' when anonymous). */
const subgraphCalls: { url: string; operationName: string }[] = [];
const realFetch = globalThis.fetch;

beforeAll(async () => {
  platform = await startPlatform({
    ports: 'free',
    env: { PGLITE_DIR: 'memory://', DATABASE_URL: undefined, REDIS_URL: undefined, LOG_LEVEL: 'silent' },
    logger,
  });
  subgraphUrls = [platform.urls.identity, platform.urls.accounts, platform.urls.payments, platform.urls.consents];
  globalThis.fetch = (async (input: Parameters<typeof fetch>[0], init?: RequestInit) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    if (subgraphUrls.some((s) => url.startsWith(s)) && typeof init?.body === 'string') {
      let operationName = '';
      try {
        const body = JSON.parse(init.body) as
          { operationName?: string; query?: string } | { operationName?: string; query?: string }[];
        const first = Array.isArray(body) ? body[0] : body;
        operationName = first?.operationName ?? /^\s*(?:query|mutation)\s+(\w+)/.exec(first?.query ?? '')?.[1] ?? '';
      } catch {
        /* not JSON */
      }
      subgraphCalls.push({ url, operationName });
    }
    return realFetch(input, init);
  }) as typeof fetch;
}, scaled(120_000));

afterAll(async () => {
  globalThis.fetch = realFetch;
  await platform?.close();
});

function token(opts: { customerId?: string; clientId: string; scopes: string[] }): Promise<string> {
  return platform.sandboxes.auth.mint(opts);
}

/**
 * Data requests only: the gateway's own authorization lookups (client registry, consents) are named GatewayAuthz* /
 * GatewayActiveConsents.
 */
function dataCallsSince(mark: number): { url: string; operationName: string }[] {
  return subgraphCalls.slice(mark).filter((c) => !/^Gateway(Authz|ActiveConsents)/.test(c.operationName));
}

describe('pre-execution authorization (live gateway)', () => {
  it('serves the dashboard to the customer through a first-party app', async () => {
    const t = await token({ customerId: ALICE, clientId: 'web-app', scopes: ALL_CUSTOMER_SCOPES });
    const res = await gql(
      platform.gatewayUrl,
      '{ me { id displayName email accounts { id name currentBalance { amount { amount currency } } } } }',
      { token: t },
    );
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data).toMatchObject({ me: { id: ALICE, displayName: 'Alice' } });
  });

  it('refuses an operation that selects a field without its scope, names the field and the scope, and calls no subgraph', async () => {
    const t = await token({ customerId: ALICE, clientId: 'web-app', scopes: ['identity:read', 'accounts:read'] });
    const mark = subgraphCalls.length;
    const res = await gql(
      platform.gatewayUrl,
      'query Q { me { displayName ...F } } fragment F on Customer { email accounts { identification { value } } }',
      { token: t },
    );
    expect(res.body.data ?? null).toBeNull();
    expect(res.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const denied = res.body.errors?.[0]?.extensions?.denied as { field: string; missingScopes?: string[] }[];
    expect(denied.map((d) => d.field).sort()).toEqual(
      ['AccountIdentification.value', 'Account.identification', 'Customer.email'].sort(),
    );
    expect(denied.every((d) => d.missingScopes?.includes('pii:read'))).toBe(true);
    expect(hasStackTrace(res.raw)).toBe(false);
    expect(subgraphCalls.length - mark).toBe(0);
  });

  it('refuses a third party without the consented permission before any data subgraph is called', async () => {
    const t = await token({
      customerId: ALICE,
      clientId: 'budgetly',
      scopes: ['accounts:read', 'identity:read', 'payments:read'],
    });
    const mark = subgraphCalls.length;
    const res = await gql(platform.gatewayUrl, '{ me { displayName payments { edges { node { id } } } } }', {
      token: t,
    });
    expect(res.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const denied = res.body.errors?.[0]?.extensions?.denied as { field: string; missingConsent?: string }[];
    expect(denied.find((d) => d.field === 'Customer.displayName')?.missingConsent).toBe('IDENTITY');
    expect(denied.find((d) => d.field === 'Customer.payments')?.missingConsent).toBe('PAYMENTS_INITIATION');
    expect(dataCallsSince(mark)).toEqual([]);
  });

  it('shows a third party only the accounts its consent covers', async () => {
    const t = await token({
      customerId: ALICE,
      clientId: 'budgetly',
      scopes: ['accounts:read', 'balances:read', 'transactions:read', 'consents:read'],
    });
    const res = await gql(
      platform.gatewayUrl,
      '{ me { accounts { id name currentBalance { type } } consents { id accounts { id } } } }',
      { token: t },
    );
    expect(res.body.errors).toBeUndefined();
    const me = res.body.data?.me as {
      accounts: { id: string }[];
      consents: { id: string; accounts: { id: string }[] }[];
    };
    expect(me.accounts).toHaveLength(1);
    expect(me.consents.map((c) => c.id)).toEqual([SANDBOX_CONSENT_IDS.aliceBudgetlyAuthorised]);
    expect(me.consents[0]?.accounts.map((a) => a.id)).toEqual(me.accounts.map((a) => a.id));
  });
});

describe('per-object consent coverage (live gateway)', () => {
  it('lets a third party read a transaction by id only on an account its consent covers for TRANSACTIONS; other ids look like unknown ones', async () => {
    const web = await token({ customerId: ALICE, clientId: 'web-app', scopes: ALL_CUSTOMER_SCOPES });
    const listed = await gql(
      platform.gatewayUrl,
      '{ me { accounts { id transactions(first: 1) { edges { node { id } } } } } }',
      { token: web },
    );
    const accounts = (
      listed.body.data?.me as { accounts: { id: string; transactions: { edges: { node: { id: string } }[] } | null }[] }
    ).accounts;
    const consent = await gql(platform.gatewayUrl, 'query($id: ID!) { consent(id: $id) { accounts { id } } }', {
      token: web,
      variables: { id: SANDBOX_CONSENT_IDS.aliceBudgetlyAuthorised },
    });
    const covered = new Set((consent.body.data?.consent as { accounts: { id: string }[] }).accounts.map((a) => a.id));
    const coveredTxn = accounts.find((a) => covered.has(a.id))?.transactions?.edges[0]?.node.id;
    const otherTxn = accounts.find((a) => !covered.has(a.id) && a.transactions?.edges.length)?.transactions?.edges[0]
      ?.node.id;
    expect(coveredTxn).toBeDefined();
    expect(otherTxn).toBeDefined();
    const budgetly = await token({
      customerId: ALICE,
      clientId: 'budgetly',
      scopes: ['accounts:read', 'transactions:read'],
    });
    const read = (id: string) =>
      gql(platform.gatewayUrl, 'query($id: ID!) { transaction(id: $id) { id account { id } } }', {
        token: budgetly,
        variables: { id },
      });
    const ok = await read(coveredTxn!);
    expect(ok.body.errors).toBeUndefined();
    expect(ok.body.data?.transaction).toMatchObject({ id: coveredTxn });
    const other = await read(otherTxn!);
    const unknown = await read('txn_aaaaaaaaaaaaaaaaaaaaaaaaaa');
    expect(other.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(other.body).toEqual(unknown.body);
    // Accounts by id: the covered one reads, another of Alice's is refused like an unknown one.
    const otherAccount = accounts.find((a) => !covered.has(a.id))!.id;
    const account = (id: string) =>
      gql(platform.gatewayUrl, 'query($id: ID!) { account(id: $id) { id name } }', {
        token: budgetly,
        variables: { id },
      });
    expect((await account([...covered][0]!)).body.errors).toBeUndefined();
    const refused = await account(otherAccount);
    expect(refused.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(refused.body).toEqual((await account('acc_aaaaaaaaaaaaaaaaaaaaaaaaaa')).body);
  });
});

describe('payments for a third party: only those debiting an account a PAYMENTS_INITIATION consent covers (live gateway)', () => {
  it('shows the payments of the covered debtor account, none without coverage, and a denied payment like an unknown one', async () => {
    const web = await token({ customerId: ALICE, clientId: 'web-app', scopes: ALL_CUSTOMER_SCOPES });
    const own = await gql(
      platform.gatewayUrl,
      '{ me { accounts { id } payments(first: 100) { edges { node { id debtorAccount { id } } } } } }',
      { token: web },
    );
    expect(own.body.errors).toBeUndefined();
    const me = own.body.data?.me as {
      accounts: { id: string }[];
      payments: { edges: { node: { id: string; debtorAccount: { id: string } } }[] };
    };
    const payments = me.payments.edges.map((e) => e.node);
    expect(payments.length).toBeGreaterThan(1);
    const debtor = payments[0]!.debtorAccount.id;
    const debiting = payments.filter((p) => p.debtorAccount.id === debtor).map((p) => p.id);
    const notDebtor = me.accounts.map((a) => a.id).find((id) => !payments.some((p) => p.debtorAccount.id === id));
    expect(notDebtor).toBeDefined();

    /** TaxPal asks Alice for PAYMENTS_INITIATION and she grants it for `accountId`; returns the consent id. */
    const taxpalAdmin = await token({
      customerId: ALICE,
      clientId: 'taxpal',
      scopes: ['consents:read', 'consents:write'],
    });
    const grant = async (accountId: string): Promise<string> => {
      const requested = await gql(
        platform.gatewayUrl,
        'mutation { requestConsent(input: { permissions: [PAYMENTS_INITIATION] }) { id } }',
        { token: taxpalAdmin },
      );
      expect(requested.body.errors).toBeUndefined();
      const id = (requested.body.data?.requestConsent as { id: string }).id;
      const authorised = await gql(
        platform.gatewayUrl,
        'mutation($id: ID!, $a: [ID!]!) { authoriseConsent(input: { id: $id, accountIds: $a }) { status } }',
        { token: web, variables: { id, a: [accountId] } },
      );
      expect(authorised.body.data?.authoriseConsent).toEqual({ status: 'AUTHORISED' });
      return id;
    };
    const revoke = async (id: string) => {
      const revoked = await gql(platform.gatewayUrl, 'mutation($id: ID!) { revokeConsent(id: $id) { status } }', {
        token: web,
        variables: { id },
      });
      expect(revoked.body.data?.revokeConsent).toEqual({ status: 'REVOKED' });
    };
    const taxpal = await token({ customerId: ALICE, clientId: 'taxpal', scopes: ['payments:read'] });
    const list = (
      query = '{ me { payments(first: 100) { edges { cursor node { id status } } pageInfo { hasNextPage endCursor } } } }',
    ) => gql(platform.gatewayUrl, query, { token: taxpal });
    const byId = (id: string) =>
      gql(
        platform.gatewayUrl,
        'query($id: ID!) { payment(id: $id) { id status amount { amount } creditor { name } } }',
        { token: taxpal, variables: { id } },
      );

    // A consent granting PAYMENTS_INITIATION for an account no payment debits: no payment at all.
    const uncovered = await grant(notDebtor!);
    const unknown = await byId('pay_aaaaaaaaaaaaaaaaaaaaaaaaaa');
    const mark = subgraphCalls.length;
    const none = await list();
    expect(none.body.errors).toBeUndefined();
    const noneEdges = (none.body.data?.me as { payments: { edges: unknown[]; pageInfo: { endCursor: string | null } } })
      .payments;
    expect(noneEdges.edges).toEqual([]);
    expect(noneEdges.pageInfo.endCursor).toBeNull();
    // The payments subgraph already filtered by the signed consent scope, so the gateway's
    // per-object check (its second line of defence) had nothing to look up.
    expect(subgraphCalls.slice(mark).filter((c) => c.operationName === 'GatewayAuthzPaymentDebtors')).toHaveLength(0);
    for (const id of debiting.slice(0, 3)) {
      const denied = await byId(id);
      expect(denied.body).toEqual(unknown.body);
      expect(denied.body.data).toEqual({ payment: null });
      expect(denied.body.errors).toBeUndefined();
    }
    const leaked = JSON.stringify(none.body.data);
    expect(payments.filter((p) => leaked.includes(p.id))).toEqual([]);
    await revoke(uncovered);

    // A consent covering the debtor account: exactly the payments debiting it, by list and by id.
    const covered = await grant(debtor);
    const some = await list();
    expect(some.body.errors).toBeUndefined();
    const seen = (some.body.data?.me as { payments: { edges: { node: { id: string } }[] } }).payments.edges.map(
      (e) => e.node.id,
    );
    expect(seen.sort()).toEqual([...debiting].sort());
    // Also when the query does not select the payment id (the gateway still knows which payment an edge is).
    const withoutIds = await list('{ me { payments(first: 100) { edges { node { status } } } } }');
    expect(withoutIds.body.errors).toBeUndefined();
    expect((withoutIds.body.data?.me as { payments: { edges: unknown[] } }).payments.edges).toHaveLength(
      debiting.length,
    );
    const read = await byId(debiting[0]!);
    expect(read.body.errors).toBeUndefined();
    expect(read.body.data?.payment).toMatchObject({ id: debiting[0] });
    await revoke(covered);

    // The first-party app is unaffected.
    const after = await gql(platform.gatewayUrl, '{ me { payments(first: 100) { edges { node { id } } } } }', {
      token: web,
    });
    expect((after.body.data?.me as { payments: { edges: unknown[] } }).payments.edges).toHaveLength(payments.length);
  });
});

describe('consent mutations drop the cached consents of the consent they name (live gateway)', () => {
  it('takes an authorisation, a revocation and a rejection into account at once, though the mutation selects no id', async () => {
    // The consents cache never expires here, so only the invalidation after a consent mutation can
    // change what the gateway knows: a missed invalidation leaves the old answer for good instead of
    // for CONSENT_CACHE_TTL_MS, which a loaded machine can hide.
    const shared = await openSharedCache({ logger, prefix: `test-authz-invalidation-${randomUUID()}` });
    const consentsStore = new KeptForever();
    const cache: SharedCache = {
      ...shared,
      store: (namespace) => (namespace === 'consents' ? consentsStore : shared.store(namespace)),
    };
    const config = loadGatewayConfig({
      ...process.env,
      REDIS_URL: undefined,
      LOG_LEVEL: 'silent',
      GATEWAY_PORT: '0',
      AUTH_ISSUER: platform.urls.auth,
      IDENTITY_SUBGRAPH_URL: platform.urls.identity,
      ACCOUNTS_SUBGRAPH_URL: platform.urls.accounts,
      PAYMENTS_SUBGRAPH_URL: platform.urls.payments,
      CONSENTS_SUBGRAPH_URL: platform.urls.consents,
    });
    const gateway = await startGateway(config, { logger, cache });
    try {
      const web = await token({ customerId: ALICE, clientId: 'web-app', scopes: ALL_CUSTOMER_SCOPES });
      const taxpalAdmin = await token({
        customerId: ALICE,
        clientId: 'taxpal',
        scopes: ['consents:read', 'consents:write'],
      });
      const taxpal = await token({ customerId: ALICE, clientId: 'taxpal', scopes: ['accounts:read'] });
      const budgetly = await token({ customerId: ALICE, clientId: 'budgetly', scopes: ['accounts:read'] });
      const taxpalKey = consentCacheKey(ALICE, 'taxpal');
      const budgetlyKey = consentCacheKey(ALICE, 'budgetly');
      const accountsOf = (t: string) => gql(gateway.url, '{ me { accounts { id } } }', { token: t });
      const request = async (): Promise<string> => {
        const res = await gql(gateway.url, 'mutation { requestConsent(input: { permissions: [ACCOUNTS] }) { id } }', {
          token: taxpalAdmin,
        });
        expect(res.body.errors).toBeUndefined();
        return (res.body.data?.requestConsent as { id: string }).id;
      };
      // Each mutation selects only the status: the answer carries no consent id.
      const mutate = async (mutation: string, variables: Record<string, unknown>, status: string) => {
        const res = await gql(gateway.url, mutation, { token: web, variables });
        expect(res.body.errors).toBeUndefined();
        expect(Object.values(res.body.data ?? {})).toEqual([{ status }]);
      };
      /** Alice's two third parties read at the same time; returns TaxPal's answer, Budgetly's must stay served. */
      const readBoth = async () => {
        const [ofTaxpal, ofBudgetly] = await Promise.all([accountsOf(taxpal), accountsOf(budgetly)]);
        expect(ofBudgetly.body.errors).toBeUndefined();
        expect((ofBudgetly.body.data?.me as { accounts: unknown[] }).accounts).toHaveLength(1);
        return ofTaxpal;
      };
      const refused = (res: Awaited<ReturnType<typeof accountsOf>>) => {
        expect(res.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
        expect(res.body.errors?.[0]?.extensions?.denied).toEqual(
          expect.arrayContaining([expect.objectContaining({ field: 'Customer.accounts', missingConsent: 'ACCOUNTS' })]),
        );
      };

      // TaxPal holds no ACCOUNTS consent: refused, and that answer is cached.
      refused(await readBoth());
      expect(await consentsStore.get(taxpalKey)).toEqual([]);
      const budgetlyCached: unknown = await consentsStore.get(budgetlyKey);
      expect(budgetlyCached).toHaveLength(1);

      // Alice authorises it for one account: TaxPal sees that account on its very next request.
      const { accounts } = (await accountsOf(web)).body.data?.me as { accounts: { id: string }[] };
      const granted = await request();
      await mutate(
        'mutation($id: ID!, $a: [ID!]!) { authoriseConsent(input: { id: $id, accountIds: $a }) { status } }',
        { id: granted, a: [accounts[0]!.id] },
        'AUTHORISED',
      );
      const afterGrant = await readBoth();
      expect(afterGrant.body.errors).toBeUndefined();
      expect((afterGrant.body.data?.me as { accounts: unknown[] }).accounts).toEqual([{ id: accounts[0]!.id }]);

      // A rejection drops TaxPal's entry too (what it holds is unchanged, so the entry itself is checked).
      expect(await consentsStore.get(taxpalKey)).toHaveLength(1);
      await mutate('mutation($id: ID!) { rejectConsent(id: $id) { status } }', { id: await request() }, 'REJECTED');
      expect(await consentsStore.get(taxpalKey)).toBeUndefined();

      // Alice revokes it: TaxPal is refused on its very next request.
      expect((await accountsOf(taxpal)).body.errors).toBeUndefined();
      expect(await consentsStore.get(taxpalKey)).toHaveLength(1);
      await mutate('mutation($id: ID!) { revokeConsent(id: $id) { status } }', { id: granted }, 'REVOKED');
      refused(await readBoth());

      // Budgetly's cached consents (same customer, another client) were never touched.
      expect(await consentsStore.get(budgetlyKey)).toEqual(budgetlyCached);
    } finally {
      await gateway.close();
      await shared.close();
    }
  });
});

/** A keyv store that ignores the TTL it is given: its entries go only when deleted. */
class KeptForever extends Keyv {
  override set<Value>(key: string, value: Value): Promise<boolean> {
    return super.set(key, value);
  }
}

describe("enumeration: Alice tries every id of Ben's objects through every path", () => {
  it("gets nothing of Ben's back and changes nothing of Ben's", async () => {
    const ben = await token({ customerId: BEN, clientId: 'web-app', scopes: ALL_CUSTOMER_SCOPES });
    const alice = await token({ customerId: ALICE, clientId: 'web-app', scopes: ALL_CUSTOMER_SCOPES });
    const benView =
      '{ me { id displayName email accounts { id transactions(first: 10) { edges { node { id } } } } payments(first: 50) { edges { node { id status } } } consents { id status accounts { id } } } }';
    const before = await gql(platform.gatewayUrl, benView, { token: ben });
    expect(before.body.errors).toBeUndefined();
    const me = before.body.data?.me as {
      accounts: { id: string; transactions: { edges: { node: { id: string } }[] } | null }[];
      payments: { edges: { node: { id: string } }[] };
      consents: { id: string; status: string }[];
    };
    const accountIds = me.accounts.map((a) => a.id);
    const transactionIds = me.accounts.flatMap((a) => a.transactions?.edges.map((e) => e.node.id) ?? []);
    const paymentIds = me.payments.edges.map((e) => e.node.id);
    const consentIds = me.consents.map((c) => c.id);
    expect(accountIds.length).toBeGreaterThan(0);
    expect(transactionIds.length).toBeGreaterThan(0);
    expect(consentIds).toContain(SANDBOX_CONSENT_IDS.benBudgetlyAwaiting);

    // Alice's own awaiting consent (requested by a third party), to try authorising it over Ben's accounts.
    const budgetly = await token({
      customerId: ALICE,
      clientId: 'budgetly',
      scopes: ['consents:write', 'consents:read'],
    });
    const requested = await gql(
      platform.gatewayUrl,
      'mutation { requestConsent(input: { permissions: [ACCOUNTS] }) { id status } }',
      { token: budgetly },
    );
    expect(requested.body.errors).toBeUndefined();
    const aliceAwaiting = (requested.body.data?.requestConsent as { id: string }).id;

    const attempts: { query: string; variables?: Record<string, unknown> }[] = [
      {
        query:
          'query($id: ID!) { customer(id: $id) { id displayName email accounts { id } consents { id } payments { edges { node { id } } } } }',
        variables: { id: BEN },
      },
      ...accountIds.flatMap((id) => [
        {
          query:
            'query($id: ID!) { account(id: $id) { id name holder { id } balances { type } transactions(first: 5) { edges { node { id } } } } }',
          variables: { id },
        },
        { query: 'query($id: ID!) { account(id: $id) { id identification { value } } }', variables: { id } },
      ]),
      ...transactionIds.map((id) => ({
        query: 'query($id: ID!) { transaction(id: $id) { id amount { amount } account { id name } } }',
        variables: { id },
      })),
      ...paymentIds.map((id) => ({
        query: 'query($id: ID!) { payment(id: $id) { id status debtorAccount { id name } creditor { name } } }',
        variables: { id },
      })),
      ...consentIds.flatMap((id) => [
        {
          query:
            'query($id: ID!) { consent(id: $id) { id status customer { id displayName } accounts { id name holder { id displayName } } client { id } history { actor } } }',
          variables: { id },
        },
        { query: 'mutation($id: ID!) { revokeConsent(id: $id) { id status } }', variables: { id } },
        { query: 'mutation($id: ID!) { rejectConsent(id: $id) { id status } }', variables: { id } },
        {
          query:
            'mutation($id: ID!, $a: [ID!]!) { authoriseConsent(input: { id: $id, accountIds: $a }) { id status } }',
          variables: { id, a: accountIds },
        },
      ]),
      // Alice's own consent over Ben's accounts: refused at the gateway (authoriseConsent account ownership).
      {
        query: 'mutation($id: ID!, $a: [ID!]!) { authoriseConsent(input: { id: $id, accountIds: $a }) { id status } }',
        variables: { id: aliceAwaiting, a: accountIds },
      },
      // Nested: Alice's own objects never lead to Ben's.
      { query: '{ me { consents { accounts { id holder { id } } customer { id } } accounts { holder { id } } } }' },
    ];
    const benSecrets = [BEN, 'Ben', 'ben.okafor', ...accountIds, ...transactionIds, ...paymentIds, ...consentIds];
    const leaks: string[] = [];
    for (const attempt of attempts) {
      const res = await gql(platform.gatewayUrl, attempt.query, { token: alice, variables: attempt.variables });
      expect(hasStackTrace(res.raw)).toBe(false);
      const data = JSON.stringify(res.body.data ?? null);
      for (const secret of benSecrets)
        if (data.includes(secret))
          leaks.push(`${attempt.query} ${JSON.stringify(attempt.variables)} returned ${secret}`);
    }
    console.info(
      `enumeration: ${attempts.length} attempts on ${benSecrets.length - 3} of Ben's ids, ${leaks.length} leaks`,
    );
    expect(leaks).toEqual([]);
    expect(attempts.length).toBeGreaterThan(10);

    // Nothing of Ben's changed, and Alice's consent was not authorised over Ben's accounts.
    const after = await gql(platform.gatewayUrl, benView, { token: ben });
    expect((after.body.data?.me as { consents: unknown }).consents).toEqual(me.consents);
    const mine = await gql(platform.gatewayUrl, 'query($id: ID!) { consent(id: $id) { status accounts { id } } }', {
      token: alice,
      variables: { id: aliceAwaiting },
    });
    expect(mine.body.data?.consent).toEqual({ status: 'AWAITING_AUTHORISATION', accounts: [] });
  });
});

describe('revocation on two gateway replicas sharing REDIS_URL', () => {
  const redisUrl = process.env.REDIS_URL;
  const skipReason = redisUrl ? '' : 'REDIS_URL is not set: two replicas can only share consent answers through Redis';
  if (!redisUrl) console.warn(`skipping the two-replica revocation test: ${skipReason}`);

  it.skipIf(!redisUrl)('refuses the third party on both replicas right after revokeConsent', async () => {
    // Both replicas share one Redis under a prefix unique to this run (other test runs share the server).
    const cache = await openSharedCache({ redisUrl, logger, prefix: `test-authz-${randomUUID()}` });
    const config = loadGatewayConfig({
      ...process.env,
      REDIS_URL: redisUrl,
      LOG_LEVEL: 'silent',
      GATEWAY_PORT: '0',
      AUTH_ISSUER: platform.urls.auth,
      IDENTITY_SUBGRAPH_URL: platform.urls.identity,
      ACCOUNTS_SUBGRAPH_URL: platform.urls.accounts,
      PAYMENTS_SUBGRAPH_URL: platform.urls.payments,
      CONSENTS_SUBGRAPH_URL: platform.urls.consents,
    });
    const replicas: RunningGateway[] = [
      await startGateway(config, { logger, cache }),
      await startGateway(config, { logger, cache }),
    ];
    try {
      const thirdParty = await token({
        customerId: ALICE,
        clientId: 'budgetly',
        scopes: ['accounts:read', 'balances:read'],
      });
      const customer = await token({ customerId: ALICE, clientId: 'web-app', scopes: ALL_CUSTOMER_SCOPES });
      const read = '{ me { accounts { id currentBalance { type } } } }';
      for (const r of replicas) {
        const res = await gql(r.url, read, { token: thirdParty });
        expect(res.body.errors).toBeUndefined();
        expect((res.body.data?.me as { accounts: unknown[] }).accounts).toHaveLength(1);
      }
      const revoked = await gql(replicas[0]!.url, 'mutation($id: ID!) { revokeConsent(id: $id) { status } }', {
        token: customer,
        variables: { id: SANDBOX_CONSENT_IDS.aliceBudgetlyAuthorised },
      });
      expect(revoked.body.data?.revokeConsent).toEqual({ status: 'REVOKED' });
      for (const r of [replicas[1]!, replicas[0]!]) {
        const res = await gql(r.url, read, { token: thirdParty });
        expect(res.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
        expect(res.body.errors?.[0]?.extensions?.denied).toEqual(
          expect.arrayContaining([expect.objectContaining({ field: 'Customer.accounts', missingConsent: 'ACCOUNTS' })]),
        );
      }
    } finally {
      for (const r of replicas) await r.close();
      await cache.close();
    }
  });
});
