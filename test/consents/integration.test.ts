import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEV_ID_HASH_SECRET } from '../../lib/config.ts';
import type { RunningServer } from '../../lib/http-server.ts';
import { bankAccountId, newId } from '../../lib/ids.ts';
import type { Principal } from '../../lib/principal.ts';
import { loadConsentsConfig } from '../../subgraphs/consents/config.ts';
import { startConsentsSubgraph } from '../../subgraphs/consents/server.ts';
import { SANDBOX_CONSENT_IDS } from '../../subgraphs/consents/storage/seed.ts';
import { SANDBOX_SEED_FILE } from '../support/seed.ts';
import { callSubgraph, type SubgraphResult } from '../support/subgraph-client.ts';
import { ALICE, BEN, DAY, SECOND, principal, silentLogger } from './helpers.ts';

type GqlResult = SubgraphResult;

const ALICE_CURRENT = bankAccountId(DEV_ID_HASH_SECRET, 'northwind', '22289');
const ALICE_SAVER = bankAccountId(DEV_ID_HASH_SECRET, 'northwind', '22290');

const CONSENT_FIELDS = `id status permissions createdAt authorisedAt expiresAt revokedAt
  client { id name kind } customer { id } accounts { id } history { status at actor }`;

describe('consents subgraph over HTTP', () => {
  let server: RunningServer;
  let clock = new Date('2026-11-23T10:00:00.000Z');

  beforeAll(async () => {
    const config = loadConsentsConfig({ CONSENTS_PORT: '0', LOG_LEVEL: 'silent', SEED_FILE: SANDBOX_SEED_FILE });
    server = await startConsentsSubgraph(config, { logger: silentLogger, now: () => clock });
  });
  afterAll(async () => {
    await server?.close();
  });

  const gql = (who: Principal | null, query: string, variables: Record<string, unknown> = {}): Promise<GqlResult> =>
    callSubgraph(server.url, 'consents', query, { principal: who, variables });
  const codes = (r: GqlResult) => r.errors?.map((e) => e.extensions?.code);

  const aliceApp = principal.firstParty(ALICE);
  const benApp = principal.firstParty(BEN);
  const budgetly = principal.thirdParty(ALICE, 'budgetly');
  const taxpal = principal.thirdParty(ALICE, 'taxpal');

  const customerConsents = (who: Principal, customerId: string, status?: string[]) =>
    gql(
      who,
      `query ($reps: [_Any!]!, $status: [ConsentStatus!]) { _entities(representations: $reps) { ... on Customer { id consents(status: $status) { ${CONSENT_FIELDS} } } } }`,
      { reps: [{ __typename: 'Customer', id: customerId }], status },
    );
  const readConsent = (who: Principal | null, id: string) =>
    gql(who, `query ($id: ID!) { consent(id: $id) { ${CONSENT_FIELDS} } }`, { id });

  it('refuses a request without the gateway signature with 401', async () => {
    const body = await callSubgraph(server.url, 'consents', '{ clientApp(id: "web-app") { id } }', { signed: false });
    expect(body.status).toBe(401);
    expect(body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(body).not.toHaveProperty('data.clientApp');
  });

  it('refuses a request signed with the wrong secret', async () => {
    const res = await callSubgraph(server.url, 'consents', '{ clientApp(id: "web-app") { id } }', {
      principal: aliceApp,
      secret: 'x'.repeat(40),
    });
    expect(res.status).toBe(401);
  });

  it("shows the seeded sandbox history to the customer, newest first, and only the client's own to a third party", async () => {
    const alice = await customerConsents(aliceApp, ALICE);
    const consents = alice.data?._entities[0].consents as any[];
    expect(consents.map((c) => [c.id, c.status, c.client.id])).toEqual([
      [SANDBOX_CONSENT_IDS.aliceBudgetlyAuthorised, 'AUTHORISED', 'budgetly'],
      [SANDBOX_CONSENT_IDS.aliceTaxpalRevoked, 'REVOKED', 'taxpal'],
    ]);
    expect(consents[0]).toMatchObject({
      permissions: ['ACCOUNTS', 'BALANCES', 'TRANSACTIONS'],
      accounts: [{ id: ALICE_CURRENT }],
      customer: { id: ALICE },
      client: { name: 'Budgetly', kind: 'THIRD_PARTY' },
    });
    expect(consents[1].history.map((e: any) => e.status)).toEqual(['AWAITING_AUTHORISATION', 'AUTHORISED', 'REVOKED']);

    const asBudgetly = await customerConsents(budgetly, ALICE);
    expect((asBudgetly.data?._entities[0].consents as any[]).map((c) => c.id)).toEqual([
      SANDBOX_CONSENT_IDS.aliceBudgetlyAuthorised,
    ]);
    // A client acting for Alice learns nothing about Ben's consents.
    expect((await customerConsents(principal.thirdParty(ALICE, 'budgetly'), BEN)).data?._entities[0].consents).toEqual(
      [],
    );
    // Staff and machine principals see nothing customer-scoped.
    expect((await customerConsents(principal.staff(), ALICE)).data?._entities[0].consents).toEqual([]);
  });

  it("filters a customer's consents by status", async () => {
    const r = await customerConsents(aliceApp, ALICE, ['REVOKED']);
    expect((r.data?._entities[0].consents as any[]).map((c) => c.id)).toEqual([SANDBOX_CONSENT_IDS.aliceTaxpalRevoked]);
  });

  it('request → authorise → read → revoke, with every step in the evidence trail', async () => {
    const requested = await gql(
      budgetly,
      `mutation ($input: RequestConsentInput!) { requestConsent(input: $input) { ${CONSENT_FIELDS} } }`,
      {
        input: {
          permissions: ['TRANSACTIONS', 'BALANCES', 'TRANSACTIONS'],
          expiresAt: new Date(clock.getTime() + 30 * DAY).toISOString(),
        },
      },
    );
    expect(requested.errors).toBeUndefined();
    const consent = requested.data?.requestConsent;
    expect(consent).toMatchObject({
      status: 'AWAITING_AUTHORISATION',
      permissions: ['BALANCES', 'TRANSACTIONS'],
      accounts: [],
      client: { id: 'budgetly' },
      customer: { id: ALICE },
      authorisedAt: null,
    });
    expect(consent.history).toEqual([
      { status: 'AWAITING_AUTHORISATION', at: clock.toISOString(), actor: 'client:budgetly' },
    ]);

    // Ben cannot see it or act on it; it behaves like a consent that does not exist.
    expect((await readConsent(benApp, consent.id)).data?.consent).toBeNull();
    const benAuthorises = await gql(
      benApp,
      `mutation ($input: AuthoriseConsentInput!) { authoriseConsent(input: $input) { id } }`,
      { input: { id: consent.id, accountIds: [newId('acc')] } },
    );
    expect(codes(benAuthorises)).toEqual(['NOT_FOUND']);
    // The requesting client cannot authorise on the customer's behalf.
    const clientAuthorises = await gql(
      budgetly,
      `mutation ($input: AuthoriseConsentInput!) { authoriseConsent(input: $input) { id } }`,
      { input: { id: consent.id, accountIds: [ALICE_CURRENT] } },
    );
    expect(codes(clientAuthorises)).toEqual(['FORBIDDEN']);

    clock = new Date(clock.getTime() + 60 * SECOND);
    const authorised = await gql(
      aliceApp,
      `mutation ($input: AuthoriseConsentInput!) { authoriseConsent(input: $input) { ${CONSENT_FIELDS} } }`,
      {
        input: { id: consent.id, accountIds: [ALICE_SAVER, ALICE_CURRENT, ALICE_SAVER] },
      },
    );
    expect(authorised.errors).toBeUndefined();
    expect(authorised.data?.authoriseConsent).toMatchObject({
      status: 'AUTHORISED',
      authorisedAt: clock.toISOString(),
    });
    expect((authorised.data?.authoriseConsent.accounts as { id: string }[]).map((a) => a.id).sort()).toEqual(
      [ALICE_CURRENT, ALICE_SAVER].sort(),
    );

    // The client reads its consent; another client does not see it.
    const asBudgetly = await readConsent(budgetly, consent.id);
    expect(asBudgetly.data?.consent).toMatchObject({ id: consent.id, status: 'AUTHORISED' });
    expect((await readConsent(taxpal, consent.id)).data?.consent).toBeNull();
    expect((await readConsent(principal.staff(), consent.id)).data?.consent).toBeNull();
    expect((await readConsent(null, consent.id)).data?.consent).toBeNull();

    // Only the customer revokes; the client cannot, Ben cannot even find it.
    expect(
      codes(await gql(budgetly, `mutation ($id: ID!) { revokeConsent(id: $id) { id } }`, { id: consent.id })),
    ).toEqual(['FORBIDDEN']);
    expect(
      codes(await gql(benApp, `mutation ($id: ID!) { revokeConsent(id: $id) { id } }`, { id: consent.id })),
    ).toEqual(['NOT_FOUND']);

    clock = new Date(clock.getTime() + 60 * SECOND);
    const revoked = await gql(aliceApp, `mutation ($id: ID!) { revokeConsent(id: $id) { ${CONSENT_FIELDS} } }`, {
      id: consent.id,
    });
    expect(revoked.data?.revokeConsent).toMatchObject({ status: 'REVOKED', revokedAt: clock.toISOString() });
    expect((revoked.data?.revokeConsent.history as any[]).map((e) => [e.status, e.actor])).toEqual([
      ['AWAITING_AUTHORISATION', 'client:budgetly'],
      ['AUTHORISED', `customer:${ALICE}`],
      ['REVOKED', `customer:${ALICE}`],
    ]);

    // A retried revoke is harmless and returns the same consent.
    const again = await gql(
      aliceApp,
      `mutation ($id: ID!) { revokeConsent(id: $id) { id status revokedAt history { status } } }`,
      { id: consent.id },
    );
    expect(again.data?.revokeConsent).toEqual({
      id: consent.id,
      status: 'REVOKED',
      revokedAt: revoked.data?.revokeConsent.revokedAt,
      history: [{ status: 'AWAITING_AUTHORISATION' }, { status: 'AUTHORISED' }, { status: 'REVOKED' }],
    });
    expect((await readConsent(budgetly, consent.id)).data?.consent.status).toBe('REVOKED');
  });

  it('a consent reads as EXPIRED from its expiry instant on', async () => {
    const requested = await gql(
      budgetly,
      `mutation ($input: RequestConsentInput!) { requestConsent(input: $input) { id expiresAt } }`,
      {
        input: { permissions: ['ACCOUNTS'], expiresAt: new Date(clock.getTime() + 10 * SECOND).toISOString() },
      },
    );
    const id = requested.data?.requestConsent.id as string;
    await gql(aliceApp, `mutation ($input: AuthoriseConsentInput!) { authoriseConsent(input: $input) { id } }`, {
      input: { id, accountIds: [ALICE_CURRENT] },
    });
    const start = clock;
    clock = new Date(start.getTime() + 10 * SECOND - 1);
    expect((await readConsent(budgetly, id)).data?.consent.status).toBe('AUTHORISED');
    clock = new Date(start.getTime() + 10 * SECOND);
    const expired = (await readConsent(budgetly, id)).data?.consent;
    expect(expired.status).toBe('EXPIRED');
    expect(expired.history.at(-1)).toEqual({ status: 'EXPIRED', at: expired.expiresAt, actor: 'system' });
    const revoke = await gql(aliceApp, `mutation ($id: ID!) { revokeConsent(id: $id) { id } }`, { id });
    expect(codes(revoke)).toEqual(['CONFLICT']);
    expect(revoke.errors?.[0]?.message).toMatch(/EXPIRED/);
  });

  it('validation errors carry BAD_USER_INPUT; only third-party clients request consents', async () => {
    const mutation = `mutation ($input: RequestConsentInput!) { requestConsent(input: $input) { id } }`;
    expect(codes(await gql(budgetly, mutation, { input: { permissions: [] } }))).toEqual(['BAD_USER_INPUT']);
    expect(
      codes(
        await gql(budgetly, mutation, {
          input: { permissions: ['ACCOUNTS'], expiresAt: new Date(clock.getTime() + 91 * DAY).toISOString() },
        }),
      ),
    ).toEqual(['BAD_USER_INPUT']);
    expect(codes(await gql(aliceApp, mutation, { input: { permissions: ['ACCOUNTS'] } }))).toEqual(['FORBIDDEN']);
    expect(codes(await gql(principal.staff(), mutation, { input: { permissions: ['ACCOUNTS'] } }))).toEqual([
      'FORBIDDEN',
    ]);
  });

  it('a client past the cap on pending requests gets CONSENT_REQUEST_LIMIT_EXCEEDED through the error masking, without a stack trace', async () => {
    // A customer of its own, so the other tests' requests do not count.
    const customer = newId('cus');
    const taxpalForCustomer = principal.thirdParty(customer, 'taxpal');
    const mutation = `mutation ($input: RequestConsentInput!) { requestConsent(input: $input) { id status } }`;
    for (let i = 0; i < 5; i++)
      expect(
        (await gql(taxpalForCustomer, mutation, { input: { permissions: ['IDENTITY'] } })).data?.requestConsent.status,
      ).toBe('AWAITING_AUTHORISATION');
    const refused = await gql(taxpalForCustomer, mutation, { input: { permissions: ['IDENTITY'] } });
    expect(refused.status).toBe(200);
    expect(refused.data).toBeNull();
    expect(refused.errors).toHaveLength(1);
    expect(refused.errors?.[0]?.extensions).toEqual({ code: 'CONSENT_REQUEST_LIMIT_EXCEEDED', maxPending: 5 });
    expect(refused.errors?.[0]?.message).toMatch(/awaiting this customer's decision/);
    expect(JSON.stringify(refused)).not.toMatch(/stack|\.ts:\d/i);
  });

  it('resolves Consent entity references only for callers who may see them', async () => {
    const query = `query ($reps: [_Any!]!) { _entities(representations: $reps) { ... on Consent { id status } } }`;
    const reps = [
      { __typename: 'Consent', id: SANDBOX_CONSENT_IDS.aliceBudgetlyAuthorised },
      { __typename: 'Consent', id: SANDBOX_CONSENT_IDS.benBudgetlyAwaiting },
      { __typename: 'Consent', id: 'cns_not-an-id' },
    ];
    expect((await gql(aliceApp, query, { reps })).data?._entities).toEqual([
      { id: SANDBOX_CONSENT_IDS.aliceBudgetlyAuthorised, status: 'AUTHORISED' },
      null,
      null,
    ]);
    expect((await gql(benApp, query, { reps })).data?._entities).toEqual([
      null,
      { id: SANDBOX_CONSENT_IDS.benBudgetlyAwaiting, status: 'AWAITING_AUTHORISATION' },
      null,
    ]);
  });

  it('client apps: public info for first- and third-party apps, nothing for internal ones', async () => {
    const query = `query ($id: ID!) { clientApp(id: $id) { id name kind } }`;
    expect((await gql(null, query, { id: 'web-app' })).data?.clientApp).toEqual({
      id: 'web-app',
      name: 'Platform web app',
      kind: 'FIRST_PARTY',
    });
    expect((await gql(aliceApp, query, { id: 'taxpal' })).data?.clientApp).toEqual({
      id: 'taxpal',
      name: 'TaxPal',
      kind: 'THIRD_PARTY',
    });
    expect((await gql(aliceApp, query, { id: 'ops-console' })).data?.clientApp).toBeNull();
    expect((await gql(aliceApp, query, { id: 'reconciler' })).data?.clientApp).toBeNull();
    expect((await gql(aliceApp, query, { id: 'no such app!' })).data?.clientApp).toBeNull();
    const refs = await gql(
      aliceApp,
      `query ($reps: [_Any!]!) { _entities(representations: $reps) { ... on ClientApp { id kind } } }`,
      {
        reps: [
          { __typename: 'ClientApp', id: 'mobile-app' },
          { __typename: 'ClientApp', id: 'ops-console' },
        ],
      },
    );
    expect(refs.data?._entities).toEqual([{ id: 'mobile-app', kind: 'FIRST_PARTY' }, null]);
  });

  it('reports ready when its database answers', async () => {
    const res = await fetch(server.url.replace(/\/graphql$/, '/readyz'));
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ checks: { database: true } });
  });
});
