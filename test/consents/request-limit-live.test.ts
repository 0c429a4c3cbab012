import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPlatform, type RunningPlatform } from '../../scripts/platform.ts';
import { SANDBOX } from '../support/customers.ts';
import { gql, hasStackTrace } from '../gateway/helpers.ts';
import { silentLogger } from './helpers.ts';
import { scaled } from '../support/time.ts';

/**
 * The cap on pending consent requests as a third-party app meets it: through the live gateway
 * (sandboxes, four subgraphs, gateway; in-memory PGlite), with CONSENTS_MAX_PENDING_PER_CLIENT
 * set to 2. The refusal must cross both error maskings (the subgraph's and the gateway's) with its
 * code and no stack trace. Concurrency is proven on PostgreSQL in concurrency.test.ts.
 */
let platform: RunningPlatform;

beforeAll(async () => {
  platform = await startPlatform({
    ports: 'free',
    env: {
      PGLITE_DIR: 'memory://',
      DATABASE_URL: undefined,
      REDIS_URL: undefined,
      LOG_LEVEL: 'silent',
      CONSENTS_MAX_PENDING_PER_CLIENT: '2',
    },
    logger: silentLogger,
  });
}, scaled(120_000));

afterAll(async () => {
  await platform?.close();
});

const REQUEST = 'mutation { requestConsent(input: { permissions: [ACCOUNTS, TRANSACTIONS] }) { id status } }';

describe('pending consent requests through the live gateway', () => {
  it('the third request of a client for one customer is refused with CONSENT_REQUEST_LIMIT_EXCEEDED; another client, or a decision, makes room', async () => {
    const customerId = SANDBOX.dev.customerId;
    const taxpal = await platform.sandboxes.auth.mint({
      customerId,
      clientId: 'taxpal',
      scopes: ['consents:read', 'consents:write'],
    });
    const budgetly = await platform.sandboxes.auth.mint({
      customerId,
      clientId: 'budgetly',
      scopes: ['consents:read', 'consents:write'],
    });
    const devApp = await platform.sandboxes.auth.mint({
      customerId,
      clientId: 'web-app',
      scopes: ['consents:read', 'consents:write'],
    });

    const ids: string[] = [];
    for (let i = 0; i < 2; i++) {
      const res = await gql(platform.gatewayUrl, REQUEST, { token: taxpal });
      expect(res.body.errors).toBeUndefined();
      ids.push((res.body.data?.requestConsent as { id: string }).id);
    }
    const refused = await gql(platform.gatewayUrl, REQUEST, { token: taxpal });
    expect(refused.status).toBe(200);
    expect(refused.body.data ?? null).toBeNull();
    expect(refused.body.errors?.map((e) => e.extensions?.code)).toEqual(['CONSENT_REQUEST_LIMIT_EXCEEDED']);
    expect(refused.body.errors?.[0]?.extensions).toMatchObject({ maxPending: 2 });
    expect(refused.body.errors?.[0]?.message).toMatch(/2 consent requests awaiting this customer's decision/);
    expect(hasStackTrace(refused.raw)).toBe(false);

    // Another client of the same customer has a cap of its own.
    const other = await gql(platform.gatewayUrl, REQUEST, { token: budgetly });
    expect(other.body.errors).toBeUndefined();

    // The customer rejects one of taxpal's requests: taxpal may ask again, once.
    const rejected = await gql(platform.gatewayUrl, 'mutation ($id: ID!) { rejectConsent(id: $id) { status } }', {
      token: devApp,
      variables: { id: ids[0] },
    });
    expect(rejected.body.data).toEqual({ rejectConsent: { status: 'REJECTED' } });
    expect((await gql(platform.gatewayUrl, REQUEST, { token: taxpal })).body.errors).toBeUndefined();
    expect(
      (await gql(platform.gatewayUrl, REQUEST, { token: taxpal })).body.errors?.map((e) => e.extensions?.code),
    ).toEqual(['CONSENT_REQUEST_LIMIT_EXCEEDED']);
  });
});
