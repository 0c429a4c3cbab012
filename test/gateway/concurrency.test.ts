import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSharedCache, type SharedCache } from '../../lib/cache.ts';
import { loadGatewayConfig } from '../../gateway/config.ts';
import { startGateway, type RunningGateway } from '../../gateway/server.ts';
import { startPlatform, type RunningPlatform } from '../../scripts/platform.ts';
import { gql, hasStackTrace, logger, type GraphQLResult } from './helpers.ts';
import { scaled } from '../support/time.ts';
import { ALICE, BEN, FIRST_PARTY_SCOPES } from '../support/customers.ts';

/**
 * Many customers at once: two customers through a first-party app and two third-party apps
 * under different consents send IDENTICAL documents with IDENTICAL variables at the same
 * moment, through two gateway replicas that share one cache (Redis when REDIS_URL is set) and
 * one database (a fresh PostgreSQL database when DATABASE_URL is set). Every answer must be
 * exactly the answer that caller gets alone (computed first, one request at a time), so no
 * caller ever receives another's objects and no rightful owner is ever refused.
 *
 * This is the test that failed while @graphql-tools/executor-http deduplicated in-flight
 * subgraph requests on URL and body only: the caller travelled in a header added after the
 * deduplication key was computed, so two callers sending the same document shared one answer.
 */
const ROUNDS = Number(process.env.CONCURRENCY_ROUNDS ?? 40);

interface Caller {
  name: string;
  customerId: string;
  clientId: string;
  token: string;
}

let platform: RunningPlatform;
let replicas: RunningGateway[] = [];
let sharedCache: SharedCache;
let database: { url: string; drop(): Promise<void> } | undefined;
let callers: Caller[];
let aliceAccount: string;
let benAccount: string;
let alicePayment: string;

/** A database of its own on the real PostgreSQL, so the seeded ids never collide with other test files. */
async function freshPostgresDatabase(baseUrl: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `fdg_concurrency_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: baseUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: baseUrl });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    },
  };
}

beforeAll(async () => {
  if (process.env.DATABASE_URL) database = await freshPostgresDatabase(process.env.DATABASE_URL);
  platform = await startPlatform({
    ports: 'free',
    env: { PGLITE_DIR: 'memory://', DATABASE_URL: database?.url, REDIS_URL: undefined, LOG_LEVEL: 'silent' },
    logger,
  });
  // Two replicas behind an imaginary load balancer, sharing one cache under a prefix of this run.
  sharedCache = await openSharedCache({
    redisUrl: process.env.REDIS_URL,
    logger,
    prefix: `fdg:test:${randomBytes(4).toString('hex')}`,
  });
  const env = {
    ...process.env,
    LOG_LEVEL: 'silent',
    GATEWAY_PORT: '0',
    AUTH_ISSUER: platform.urls.auth,
    AUTH_JWKS_URL: new URL('jwks.json', `${platform.urls.auth}/`).toString(),
    IDENTITY_SUBGRAPH_URL: platform.urls.identity,
    ACCOUNTS_SUBGRAPH_URL: platform.urls.accounts,
    PAYMENTS_SUBGRAPH_URL: platform.urls.payments,
    CONSENTS_SUBGRAPH_URL: platform.urls.consents,
  };
  replicas = await Promise.all([0, 1].map(() => startGateway(loadGatewayConfig(env), { logger, cache: sharedCache })));

  const mint = (customerId: string, clientId: string, scopes: string[]) =>
    platform.sandboxes.auth.mint({ customerId, clientId, scopes });
  const alice = {
    name: 'Alice (web-app)',
    customerId: ALICE,
    clientId: 'web-app',
    token: await mint(ALICE, 'web-app', FIRST_PARTY_SCOPES),
  };
  const ben = {
    name: 'Ben (web-app)',
    customerId: BEN,
    clientId: 'web-app',
    token: await mint(BEN, 'web-app', FIRST_PARTY_SCOPES),
  };
  const budgetly = {
    name: 'Budgetly for Alice',
    customerId: ALICE,
    clientId: 'budgetly',
    token: await mint(ALICE, 'budgetly', [
      'accounts:read',
      'balances:read',
      'transactions:read',
      'consents:read',
      'consents:write',
    ]),
  };
  const taxpal = {
    name: 'TaxPal for Ben',
    customerId: BEN,
    clientId: 'taxpal',
    token: await mint(BEN, 'taxpal', [
      'accounts:read',
      'transactions:read',
      'payments:read',
      'consents:read',
      'consents:write',
    ]),
  };
  callers = [alice, ben, budgetly, taxpal];

  // Budgetly holds a seeded consent from Alice; TaxPal gets one from Ben here, the way a real app does.
  const accountsOf = async (c: Caller) =>
    ((await ask(c, '{ me { accounts { id } } }')).body.data as { me: { accounts: { id: string }[] } }).me.accounts.map(
      (a) => a.id,
    );
  [aliceAccount] = (await accountsOf(alice)) as [string];
  [benAccount] = (await accountsOf(ben)) as [string];
  const requested = await ask(
    taxpal,
    'mutation { requestConsent(input: { permissions: [ACCOUNTS, TRANSACTIONS, PAYMENTS_INITIATION] }) { id } }',
  );
  const consentId = (requested.body.data as { requestConsent: { id: string } }).requestConsent.id;
  const authorised = await ask(
    ben,
    'mutation($id: ID!, $a: [ID!]!) { authoriseConsent(input: { id: $id, accountIds: $a }) { status } }',
    { id: consentId, a: [benAccount] },
  );
  expect(authorised.body.data).toEqual({ authoriseConsent: { status: 'AUTHORISED' } });
  const payments = await ask(alice, '{ me { payments(first: 1) { edges { node { id } } } } }');
  alicePayment = (payments.body.data as { me: { payments: { edges: { node: { id: string } }[] } } }).me.payments
    .edges[0]!.node.id;
}, scaled(180_000));

afterAll(async () => {
  await Promise.all(replicas.map((r) => r.close()));
  await sharedCache?.close();
  await platform?.close();
  await database?.drop();
});

let replica = 0;
/** One request through the next replica (round robin). */
function ask(caller: Caller, query: string, variables?: Record<string, unknown>): Promise<GraphQLResult> {
  const gateway = replicas[replica++ % replicas.length]!;
  return gql(gateway.url, query, { token: caller.token, variables });
}

/** The answer without what legitimately differs between two requests (request ids). */
function comparable(res: GraphQLResult): unknown {
  const errors = res.body.errors?.map((e) => ({ message: e.message, path: e.path, code: e.extensions?.code }));
  return { status: res.status, data: res.body.data ?? null, ...(errors ? { errors } : {}) };
}

/** Every opaque id of a kind found anywhere in an answer. */
function idsIn(value: unknown, out = new Set<string>()): Set<string> {
  if (typeof value === 'string' && /^(acc|pay|cns|cus|txn)_/.test(value)) out.add(value);
  else if (Array.isArray(value)) value.forEach((v) => idsIn(v, out));
  else if (value && typeof value === 'object') Object.values(value).forEach((v) => idsIn(v, out));
  return out;
}

interface Document {
  name: string;
  query: string;
  variables?: () => Record<string, unknown>;
}

const DOCUMENTS: Document[] = [
  { name: 'root field: my accounts', query: 'query Mine { me { id accounts { id name currency } } }' },
  {
    name: "entity by id: Alice's account",
    query: 'query One($id: ID!) { account(id: $id) { id name holder { id } } }',
    variables: () => ({ id: aliceAccount }),
  },
  {
    name: "entity by id: Ben's account",
    query: 'query One($id: ID!) { account(id: $id) { id name } }',
    variables: () => ({ id: benAccount }),
  },
  {
    name: 'nested connection: transactions',
    query:
      'query Txns { me { accounts { id transactions(first: 3) { edges { cursor node { id amount { amount currency } direction } } pageInfo { hasNextPage endCursor } } } } }',
  },
  {
    name: 'connection: payments',
    query: 'query Pays { me { payments(first: 5) { edges { node { id status debtorAccount { id } } } } } }',
  },
  {
    name: "entity by id: Alice's payment",
    query: 'query Pay($id: ID!) { payment(id: $id) { id status amount { amount currency } } }',
    variables: () => ({ id: alicePayment }),
  },
  { name: 'consents', query: 'query Cns { me { consents { id status client { id } } } }' },
];

describe('identical documents from different callers at the same moment', () => {
  it.each(DOCUMENTS)(
    '$name: every caller gets exactly its own answer',
    async (doc) => {
      const variables = doc.variables?.();
      // What each caller gets alone.
      const alone = new Map<string, unknown>();
      for (const caller of callers) {
        const res = await ask(caller, doc.query, variables);
        expect(hasStackTrace(res.raw)).toBe(false);
        alone.set(caller.name, comparable(res));
      }
      // The rightful owners are served: the answers alone are not all refusals.
      expect(callers.some((c) => (alone.get(c.name) as { data: unknown }).data !== null)).toBe(true);

      const wrong: string[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        // Every caller twice, all in the same tick, spread over both replicas.
        const batch = callers.flatMap((caller) => [caller, caller]);
        const answers = await Promise.all(batch.map((caller) => ask(caller, doc.query, variables)));
        answers.forEach((res, i) => {
          const caller = batch[i]!;
          const expected = alone.get(caller.name);
          const actual = comparable(res);
          if (JSON.stringify(actual) !== JSON.stringify(expected)) {
            const foreign = [...idsIn(actual)].filter((id) => !idsIn(expected).has(id));
            wrong.push(
              `round ${round}: ${caller.name} got ${foreign.length ? `foreign ids ${foreign.join(', ')}` : JSON.stringify(actual).slice(0, 300)} instead of ${JSON.stringify(expected).slice(0, 300)}`,
            );
          }
        });
      }
      expect(wrong, `${wrong.length} wrong answers in ${ROUNDS} rounds of ${callers.length * 2} requests`).toEqual([]);
    },
    scaled(180_000),
  );

  it(
    "mutations: identical consent requests are each the caller's own; only the owner can reject one",
    async () => {
      const [alice, ben, budgetly, taxpal] = callers as [Caller, Caller, Caller, Caller];
      const request =
        'mutation Ask { requestConsent(input: { permissions: [ACCOUNTS] }) { id status client { id } customer { id } } }';
      const reject = 'mutation No($id: ID!) { rejectConsent(id: $id) { id status } }';
      const wrong: string[] = [];
      for (let round = 0; round < Math.max(5, ROUNDS / 4); round++) {
        const [forAlice, forBen] = await Promise.all([ask(budgetly, request), ask(taxpal, request)]);
        const created = [
          [forAlice, budgetly, alice, ben],
          [forBen, taxpal, ben, alice],
        ] as const;
        for (const [res, client, owner, stranger] of created) {
          const consent = (
            res.body.data as { requestConsent: { id: string; client: { id: string }; customer: { id: string } } } | null
          )?.requestConsent;
          if (!consent || consent.client.id !== client.clientId || consent.customer.id !== owner.customerId) {
            wrong.push(`round ${round}: ${client.name} got ${JSON.stringify(res.body).slice(0, 200)}`);
            continue;
          }
          // Owner and stranger send the same rejection at the same moment.
          const [byOwner, byStranger] = await Promise.all([
            ask(owner, reject, { id: consent.id }),
            ask(stranger, reject, { id: consent.id }),
          ]);
          if (
            (byOwner.body.data as { rejectConsent?: { status: string } } | null)?.rejectConsent?.status !== 'REJECTED'
          ) {
            wrong.push(
              `round ${round}: ${owner.name} could not reject their own consent: ${JSON.stringify(byOwner.body).slice(0, 200)}`,
            );
          }
          if (byStranger.body.data !== null && byStranger.body.data !== undefined) {
            wrong.push(
              `round ${round}: ${stranger.name} rejected another customer's consent: ${JSON.stringify(byStranger.body).slice(0, 200)}`,
            );
          }
        }
      }
      expect(wrong).toEqual([]);
    },
    scaled(180_000),
  );
});
