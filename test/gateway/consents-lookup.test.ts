import { createServer } from 'node:http';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Keyv } from 'keyv';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { openSharedCache, type SharedCache } from '../../lib/cache.ts';
import { DEV_ID_HASH_SECRET, DEV_INTERNAL_SECRET } from '../../lib/config.ts';
import { closeServer, listen, type RunningServer } from '../../lib/http-server.ts';
import { ACCOUNT_PERMISSIONS, CONSENT_PERMISSIONS, consentedAccountsOf } from '../../lib/consent.ts';
import { openDatabase } from '../../lib/database.ts';
import { bankAccountId, newId } from '../../lib/ids.ts';
import { INTERNAL_AUTH_HEADER, signInternalContext } from '../../lib/internal-auth.ts';
import type { Principal } from '../../lib/principal.ts';
import {
  consentCacheKey,
  consentsSubgraphFetcher,
  createConsentLookup,
  isConsentsUnavailable,
  type ActiveConsent,
} from '../../gateway/authorization/consents.ts';
import type { CallerDirectory } from '../../gateway/authorization/caller.ts';
import { authzState, callerDenial } from '../../gateway/authorization/engine.ts';
import type { FieldPolicy } from '../../gateway/authorization/policy.ts';
import { loadConsentsConfig } from '../../subgraphs/consents/config.ts';
import { startConsentsSubgraph } from '../../subgraphs/consents/server.ts';
import { migrations } from '../../subgraphs/consents/storage/migrations.ts';
import { createConsentRepository } from '../../subgraphs/consents/storage/repository.ts';
import { SANDBOX_CONSENT_IDS, seedClients } from '../../subgraphs/consents/storage/seed.ts';
import { SANDBOX_SEED, SANDBOX_SEED_FILE } from '../support/seed.ts';
import {
  CASE_CLIENT,
  CASE_T0,
  CONSENT_CASES,
  caseAt,
  gridOf,
  storedConsents,
  type ConsentCase,
} from '../support/consent-cases.ts';
import { ALICE, logger } from './helpers.ts';
import { scaled } from '../support/time.ts';

/**
 * The gateway's consent lookup against the real consents subgraph (embedded PGlite, sandbox
 * seed: Alice → budgetly AUTHORISED for ACCOUNTS, BALANCES, TRANSACTIONS on her Northwind
 * current account; Alice → taxpal REVOKED).
 */
const REDIS_URL = process.env.REDIS_URL;
const ALICE_CURRENT = bankAccountId(DEV_ID_HASH_SECRET, 'northwind', '22289');
const ALICE_SAVER = bankAccountId(DEV_ID_HASH_SECRET, 'northwind', '22290');

const budgetly: Principal = {
  customerId: ALICE,
  clientId: 'budgetly',
  scopes: ['accounts:read', 'balances:read', 'transactions:read'],
};
const taxpal: Principal = { customerId: ALICE, clientId: 'taxpal', scopes: ['accounts:read', 'transactions:read'] };
const aliceWebApp: Principal = {
  customerId: ALICE,
  clientId: 'web-app',
  scopes: ['accounts:read', 'consents:read', 'consents:write'],
};
const staff: Principal = { customerId: null, clientId: 'ops-console', scopes: ['accounts:read'] };

async function startConsents(): Promise<RunningServer> {
  const config = loadConsentsConfig({
    ...process.env,
    CONSENTS_PORT: '0',
    SEED_FILE: SANDBOX_SEED_FILE,
    PGLITE_DIR: 'memory://',
    DATABASE_URL: undefined,
    LOG_LEVEL: 'silent',
  });
  return startConsentsSubgraph(config, { logger });
}

/** A fetcher against the subgraph that counts its calls (one call = one subgraph HTTP request). */
function countingFetcher(url: string, timeoutMs = 5_000) {
  const fetcher = consentsSubgraphFetcher({ url, internalSecret: DEV_INTERNAL_SECRET, timeoutMs, logger });
  const counter = {
    calls: 0,
    fetch: (p: Principal, rid: string) => {
      counter.calls++;
      return fetcher(p, rid);
    },
  };
  return counter;
}

/** Sends a signed operation to the consents subgraph as `who` (to change consents under the lookup). */
async function subgraphCall(url: string, who: Principal, query: string, variables: Record<string, unknown> = {}) {
  const body = JSON.stringify({ query, variables });
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      [INTERNAL_AUTH_HEADER]: await signInternalContext(DEV_INTERNAL_SECRET, 'consents', who, 'test-mutation', body),
    },
    body,
  });
  const answer = (await res.json()) as { data?: Record<string, any>; errors?: unknown[] };
  expect(answer.errors).toBeUndefined();
  return answer.data!;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('consent lookup against the consents subgraph', () => {
  let consents: RunningServer;
  beforeAll(async () => {
    consents = await startConsents();
  });
  afterAll(async () => {
    await consents?.close();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  const lookupWith = (
    fetchActive: (p: Principal, rid: string) => Promise<ActiveConsent[]>,
    opts: { ttlMs?: number; now?: () => Date; cache?: Keyv } = {},
  ) =>
    createConsentLookup({
      fetchActive,
      cache: opts.cache ?? new Keyv(),
      ttlMs: opts.ttlMs ?? 500,
      logger,
      ...(opts.now ? { now: opts.now } : {}),
    });

  it("loads the third-party client's AUTHORISED consent with its permissions and accounts", async () => {
    const counter = countingFetcher(consents.url);
    const request = lookupWith(counter.fetch).forRequest(budgetly, 'req-1');
    const active = await request.active();
    expect(active).toHaveLength(1);
    expect(active[0]).toMatchObject({ id: SANDBOX_CONSENT_IDS.aliceBudgetlyAuthorised, accountIds: [ALICE_CURRENT] });
    expect([...active[0]!.permissions].sort()).toEqual(['ACCOUNTS', 'BALANCES', 'TRANSACTIONS']);
    expect(Number.isNaN(Date.parse(active[0]!.expiresAt))).toBe(false);

    expect(await request.grants('ACCOUNTS')).toBe(true);
    expect(await request.grants('BALANCES', ALICE_CURRENT)).toBe(true);
    expect(await request.grants('TRANSACTIONS', ALICE_SAVER)).toBe(false); // account not covered
    expect(await request.grants('PAYMENTS_INITIATION')).toBe(false); // permission not granted
    expect(await request.grants('IDENTITY', ALICE_CURRENT)).toBe(false);
  });

  it('grants nothing under a revoked consent, to first-party apps, staff or anonymous callers', async () => {
    const counter = countingFetcher(consents.url);
    const lookup = lookupWith(counter.fetch);
    expect(await lookup.forRequest(taxpal, 'req-2').active()).toEqual([]); // seeded REVOKED
    expect(await lookup.forRequest(taxpal, 'req-2').grants('ACCOUNTS', ALICE_CURRENT)).toBe(false);
    // The subgraph shows the customer's own app all her consents; none of them is held by web-app.
    expect(await lookup.forRequest(aliceWebApp, 'req-3').active()).toEqual([]);
    const callsBefore = counter.calls;
    expect(await lookup.forRequest(staff, 'req-4').grants('ACCOUNTS')).toBe(false);
    expect(await lookup.forRequest(null, 'req-5').active()).toEqual([]);
    expect(counter.calls).toBe(callsBefore); // no customer, nothing to ask
  });

  it('calls the subgraph once per request however many checks ask (DataLoader)', async () => {
    const counter = countingFetcher(consents.url);
    const lookup = lookupWith(counter.fetch);
    const request = lookup.forRequest(budgetly, 'req-batch');
    const checks = await Promise.all([
      ...Array.from({ length: 25 }, (_, i) =>
        request.grants(i % 2 ? 'BALANCES' : 'TRANSACTIONS', i % 3 ? ALICE_CURRENT : ALICE_SAVER),
      ),
      request.active().then((a) => a.length > 0),
    ]);
    expect(checks).toHaveLength(26);
    expect(counter.calls).toBe(1);
    // Later asks in the same request still use that one load.
    await request.grants('ACCOUNTS', ALICE_CURRENT);
    await request.active();
    expect(counter.calls).toBe(1);
  });

  it('shares the answer across requests within the TTL and reloads after it (shared cache)', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date());
    const counter = countingFetcher(consents.url);
    const lookup = lookupWith(counter.fetch, { ttlMs: 800 });
    expect(await lookup.forRequest(budgetly, 'req-a').grants('ACCOUNTS', ALICE_CURRENT)).toBe(true);
    vi.setSystemTime(Date.now() + 700);
    expect(await lookup.forRequest(budgetly, 'req-b').grants('ACCOUNTS', ALICE_CURRENT)).toBe(true);
    expect(counter.calls).toBe(1);
    vi.setSystemTime(Date.now() + 200); // 900 ms after the load: past the 800 ms TTL
    expect(await lookup.forRequest(budgetly, 'req-c').grants('ACCOUNTS', ALICE_CURRENT)).toBe(true);
    expect(counter.calls).toBe(2);
    // The key names the customer and the client: another client of the same customer is not served from it.
    await lookup.forRequest(taxpal, 'req-d').active();
    expect(counter.calls).toBe(3);
  });

  it('stops granting exactly at expiresAt (injected clock), even from a cached entry', async () => {
    const counter = countingFetcher(consents.url);
    let clock = new Date();
    const lookup = lookupWith(counter.fetch, { ttlMs: 1000, now: () => clock });
    const request = lookup.forRequest(budgetly, 'req-exp');
    const [consent] = await request.active();
    const expiresAt = Date.parse(consent!.expiresAt);

    clock = new Date(expiresAt - 1000);
    expect(await request.grants('ACCOUNTS', ALICE_CURRENT)).toBe(true);
    clock = new Date(expiresAt - 1);
    expect(await request.grants('ACCOUNTS', ALICE_CURRENT)).toBe(true);
    clock = new Date(expiresAt);
    expect(await request.grants('ACCOUNTS', ALICE_CURRENT)).toBe(false);
    expect(await request.active()).toEqual([]);
    clock = new Date(expiresAt + 1000);
    expect(await lookup.forRequest(budgetly, 'req-exp-2').grants('ACCOUNTS')).toBe(false);
    expect(counter.calls).toBeLessThanOrEqual(2);
  });

  it('fails closed with SERVICE_UNAVAILABLE when the subgraph is down, and never caches the failure', async () => {
    // A port where nothing listens any more.
    const gone = createServer();
    const { url: base } = await listen(gone, 0);
    await closeServer(gone);
    const url = `${base}/graphql`;
    const cache = new Keyv();
    const counter = countingFetcher(url, 1_000);
    const lookup = lookupWith(counter.fetch, { cache });
    const request = lookup.forRequest(budgetly, 'req-down');
    const err = await request.grants('ACCOUNTS', ALICE_CURRENT).then(
      () => null,
      (e: unknown) => e,
    );
    expect(isConsentsUnavailable(err)).toBe(true);
    expect((err as { extensions: Record<string, unknown> }).extensions).toMatchObject({
      code: 'SERVICE_UNAVAILABLE',
      service: 'consents',
    });
    expect(JSON.stringify((err as { extensions: unknown }).extensions)).not.toMatch(/stack/i);
    await expect(request.active()).rejects.toMatchObject({ extensions: { code: 'SERVICE_UNAVAILABLE' } });
    await expect(request.grants('BALANCES')).rejects.toMatchObject({ extensions: { code: 'SERVICE_UNAVAILABLE' } });
    expect(counter.calls).toBe(1); // the whole request is denied on one failed call, not one per check
    expect(await cache.get(consentCacheKey(ALICE, 'budgetly'))).toBeUndefined();
    // The next request tries again.
    await expect(lookup.forRequest(budgetly, 'req-down-2').grants('ACCOUNTS')).rejects.toMatchObject({
      extensions: { code: 'SERVICE_UNAVAILABLE' },
    });
    expect(counter.calls).toBe(2);
  });

  it('fails closed on a timeout, a refusal and a response of the wrong shape', async () => {
    let mode: 'hang' | 'refuse' | 'garbage' | 'errors' | 'wrong-shape' = 'hang';
    const fake = createServer((req, res) => {
      req.resume();
      if (mode === 'hang') return; // never answers
      if (mode === 'refuse')
        return void res.writeHead(401, { 'content-type': 'application/json' }).end('{"errors":[{"message":"no"}]}');
      res.writeHead(200, { 'content-type': 'application/json' });
      if (mode === 'garbage') return void res.end('<html>oops</html>');
      if (mode === 'errors')
        return void res.end(JSON.stringify({ data: null, errors: [{ message: 'database down' }] }));
      res.end(
        JSON.stringify({
          data: {
            _entities: [
              {
                consents: [
                  {
                    id: 'cns_x',
                    status: 'AUTHORISED',
                    permissions: ['EVERYTHING'],
                    expiresAt: 'soon',
                    client: { id: 'budgetly' },
                    accounts: [],
                  },
                ],
              },
            ],
          },
        }),
      );
    });
    const { url } = await listen(fake, 0);
    try {
      for (const m of ['hang', 'refuse', 'garbage', 'errors', 'wrong-shape'] as const) {
        mode = m;
        const lookup = lookupWith(countingFetcher(`${url}/graphql`, 200).fetch);
        await expect(lookup.forRequest(budgetly, `req-${m}`).grants('ACCOUNTS'), m).rejects.toMatchObject({
          extensions: { code: 'SERVICE_UNAVAILABLE' },
        });
      }
    } finally {
      fake.closeAllConnections();
      await closeServer(fake);
    }
  });

  it('refuses a TTL above one second', () => {
    expect(() => lookupWith(async () => [], { ttlMs: 1001 })).toThrow(/1000/);
    expect(() => lookupWith(async () => [], { ttlMs: 0 })).toThrow(RangeError);
  });
});

describe.skipIf(!REDIS_URL)(
  `two gateway replicas sharing one Redis${REDIS_URL ? '' : ' (skipped: REDIS_URL is not set)'}`,
  () => {
    let consents: RunningServer;
    let cacheA: SharedCache;
    let cacheB: SharedCache;
    const ttlMs = 600;

    beforeAll(async () => {
      consents = await startConsents();
      const prefix = `test-consents-${randomBytes(6).toString('hex')}`;
      cacheA = await openSharedCache({ redisUrl: REDIS_URL, logger, prefix });
      cacheB = await openSharedCache({ redisUrl: REDIS_URL, logger, prefix });
    });
    afterAll(async () => {
      await cacheA?.close();
      await cacheB?.close();
      await consents?.close();
    });

    it('after invalidate() on replica A, replica B refetches at once; without it, B sees a change within the TTL', async () => {
      expect(cacheA.kind).toBe('redis');
      const counterA = countingFetcher(consents.url);
      const counterB = countingFetcher(consents.url);
      const replicaA = createConsentLookup({
        fetchActive: counterA.fetch,
        cache: cacheA.store('consents'),
        ttlMs,
        logger,
      });
      const replicaB = createConsentLookup({
        fetchActive: counterB.fetch,
        cache: cacheB.store('consents'),
        ttlMs,
        logger,
      });

      // A loads and fills the shared cache; B is served from it.
      expect(await replicaA.forRequest(budgetly, 'r1').grants('ACCOUNTS', ALICE_CURRENT)).toBe(true);
      expect(await replicaB.forRequest(budgetly, 'r2').grants('ACCOUNTS', ALICE_CURRENT)).toBe(true);
      expect(counterA.calls + counterB.calls).toBeGreaterThanOrEqual(1);

      // Alice revokes through replica A, which invalidates: B's next request is refused.
      await subgraphCall(consents.url, aliceWebApp, 'mutation ($id: ID!) { revokeConsent(id: $id) { status } }', {
        id: SANDBOX_CONSENT_IDS.aliceBudgetlyAuthorised,
      });
      await replicaA.invalidate(ALICE, 'budgetly');
      const bCallsBefore = counterB.calls;
      expect(await replicaB.forRequest(budgetly, 'r3').grants('ACCOUNTS', ALICE_CURRENT)).toBe(false);
      expect(counterB.calls).toBe(bCallsBefore + 1);

      // A new consent is granted and nobody invalidates: once the TTL has passed, B sees it.
      const requested = await subgraphCall(
        consents.url,
        budgetly,
        'mutation { requestConsent(input: { permissions: [ACCOUNTS] }) { id } }',
      );
      const id = requested.requestConsent.id as string;
      await subgraphCall(
        consents.url,
        aliceWebApp,
        'mutation ($id: ID!, $a: [ID!]!) { authoriseConsent(input: { id: $id, accountIds: $a }) { status } }',
        { id, a: [ALICE_SAVER] },
      );
      await sleep(ttlMs + 50);
      const b = replicaB.forRequest(budgetly, 'r4');
      expect(await b.grants('ACCOUNTS', ALICE_SAVER)).toBe(true);
      expect((await b.active()).map((c) => c.id)).toEqual([id]);

      // And A, too, after revoking that one and invalidating from B.
      await subgraphCall(consents.url, aliceWebApp, 'mutation ($id: ID!) { revokeConsent(id: $id) { status } }', {
        id,
      });
      await replicaB.invalidate(ALICE, 'budgetly');
      expect(await replicaA.forRequest(budgetly, 'r5').active()).toEqual([]);
    });
  },
);

/**
 * The gateway's side of the shared table of consent cases (test/support/consent-cases.ts; the
 * consents subgraph's side is test/consents/consent-cases.test.ts): every case's consents are
 * stored in a consents subgraph's database, and the gateway's lookup, fed by
 * consentsSubgraphFetcher from that running subgraph, answers the grid (grants with and without an
 * account, the consented accounts it signs into the principal, and the engine's caller-level
 * check) with the table's answers. Both clocks (the subgraph's and the lookup's) are set to the
 * case's instant.
 */
describe('the shared table of consent cases, against the gateway', () => {
  let dir: string;
  let consents: RunningServer;
  // Starts at the table's origin: the subgraph's expiry sweep runs at start with this clock, and
  // must not record as EXPIRED a consent that a case reads just before its expiry.
  let clock = CASE_T0;
  const customers = new Map<ConsentCase, string>();

  beforeAll(async () => {
    // The cases' consents (every status, other clients' ones, empty accounts) are written straight
    // into the subgraph's database before it starts; the API could not create most of them.
    dir = await mkdtemp(join(tmpdir(), 'consent-cases-'));
    const db = await openDatabase({ schema: 'consents', pgliteDir: dir, migrations, logger });
    try {
      await seedClients(db, SANDBOX_SEED);
      const repo = createConsentRepository(db);
      for (const consentCase of CONSENT_CASES) {
        const customer = newId('cus');
        customers.set(consentCase, customer);
        for (const { consent, event } of storedConsents(consentCase, customer))
          await repo.createConsent(consent, event);
      }
    } finally {
      await db.close();
    }
    // The sweep's period is the longest allowed, so it never runs again during the cases.
    const config = loadConsentsConfig({
      ...process.env,
      CONSENTS_PORT: '0',
      SEED_FILE: SANDBOX_SEED_FILE,
      PGLITE_DIR: dir,
      DATABASE_URL: undefined,
      LOG_LEVEL: 'silent',
      CONSENTS_EXPIRY_SWEEP_MS: '600000',
    });
    consents = await startConsentsSubgraph(config, { logger, now: () => clock });
  }, scaled(60_000));
  afterAll(async () => {
    await consents?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** The client registry says budgetly is a third party; nothing else is asked of it here. */
  const directory: CallerDirectory = {
    kindOf: async () => 'thirdParty',
    ownedAccountIds: async () => new Set(),
    transactionAccountId: async () => null,
    paymentDebtorAccountIds: async (_p, _r, ids) => ids.map(() => null),
    consentClientId: async () => null,
  };
  const fieldNeeding = (consent: FieldPolicy['consent']): FieldPolicy => ({
    callers: ['thirdParty'],
    scopes: [],
    consent,
    pii: false,
    decided: 'operation',
    object: null,
    note: 'consent-cases',
  });

  function requestFor(consentCase: ConsentCase, requestId: string) {
    clock = caseAt(consentCase);
    const lookup = createConsentLookup({
      fetchActive: consentsSubgraphFetcher({
        url: consents.url,
        internalSecret: DEV_INTERNAL_SECRET,
        timeoutMs: 5_000,
        logger,
      }),
      cache: new Keyv(),
      ttlMs: 1000,
      logger,
      now: () => clock,
    });
    const caller: Principal = { customerId: customers.get(consentCase)!, clientId: CASE_CLIENT, scopes: [] };
    return { lookup, caller, request: lookup.forRequest(caller, requestId) };
  }

  describe.each(CONSENT_CASES)('$name', (consentCase) => {
    it('grants() answers the grid as the table says', async () => {
      const { request } = requestFor(consentCase, 'req-grid');
      const answers = [];
      for (const q of gridOf(consentCase))
        answers.push([
          q.question,
          q.accountId === undefined
            ? await request.grants(q.permission)
            : await request.grants(q.permission, q.accountId),
        ]);
      expect(answers).toEqual(gridOf(consentCase).map((q) => [q.question, q.expected]));
      // An account id that could not be determined is refused, never read as "some account".
      for (const permission of ACCOUNT_PERMISSIONS)
        expect(await request.grants(permission, undefined), permission).toBe(false);
    });

    it('the consented accounts signed into the principal are exactly the accounts the table grants', async () => {
      const { request } = requestFor(consentCase, 'req-accounts');
      const active = await request.active();
      const accounts = consentedAccountsOf(active, clock);
      for (const permission of ACCOUNT_PERMISSIONS) {
        const granted = gridOf(consentCase).filter(
          (q) => q.permission === permission && q.accountId !== undefined && q.expected,
        );
        expect([...accounts[permission]].sort(), permission).toEqual(granted.map((q) => q.accountId).sort());
      }
    });

    it("the engine's caller-level check (callerDenial) lets a field through exactly when the table's caller-level answer is yes", async () => {
      const { lookup, caller } = requestFor(consentCase, 'req-denial');
      const state = authzState({}, caller, 'req-denial', { consents: lookup, directory });
      for (const permission of CONSENT_PERMISSIONS) {
        const denial = await callerDenial(`Case.${permission}`, fieldNeeding(permission), state);
        const expected = gridOf(consentCase).find((q) => q.question === permission)!.expected;
        expect(denial === null, permission).toBe(expected);
        if (denial) expect(denial).toMatchObject({ reason: 'CONSENT', missingConsent: permission });
      }
    });
  });
});
