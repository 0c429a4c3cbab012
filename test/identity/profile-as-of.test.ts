import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { RunningServer } from '../../lib/http-server.ts';
import { PLATFORM_PARTNER_CREDENTIALS } from '../../sandboxes/manifest.ts';
import { loadIdentityConfig } from '../../subgraphs/identity/config.ts';
import { startIdentitySubgraph } from '../../subgraphs/identity/server.ts';
import { SANDBOX_SEED_FILE } from '../support/seed.ts';
import { waitBudget } from '../support/time.ts';
import { ALICE, customerPrincipal, graphql, silentLogger, startFakeOnfido, type FakeOnfido } from './helpers.ts';

/**
 * Customer.profileAsOf and the stale marks of the identity subgraph, on a local Onfido stand-in that
 * the test takes down: what the subgraph answers from Onfido's last known values
 * (partners/last-known-values.ts) is listed in extensions.stale at its path, naming onfido, and
 * profileAsOf is the oldest read time of what the answer holds, else the time of the request. It
 * covers what is answered and no more: the parts the query selects beside it, through fragments and
 * directives, at a root field or an entity reference.
 */
const PROFILE = `{ me { displayName profileAsOf legalName { givenName familyName } dateOfBirth address { town }
  kyc { status checks { id status reports { kind result } } } } }`;

interface Stale {
  path: string;
  source: string;
  asOf: string;
}

let onfido: FakeOnfido;
let server: RunningServer;

beforeAll(async () => {
  onfido = await startFakeOnfido();
  server = await startIdentitySubgraph(
    loadIdentityConfig({
      IDENTITY_PORT: '0',
      ONFIDO_URL: onfido.url,
      ONFIDO_API_TOKEN: PLATFORM_PARTNER_CREDENTIALS.onfidoApiToken,
      // One attempt per call, and a breaker that probes again soon: the tests take Onfido down and bring it back.
      ONFIDO_RETRIES: '0',
      ONFIDO_BREAKER_HALF_OPEN_AFTER_MS: '200',
      FALLBACK_CACHE: 'on',
      SEED_FILE: SANDBOX_SEED_FILE,
      LOG_LEVEL: 'silent',
    }),
    { logger: silentLogger },
  );
});
afterAll(async () => {
  await server?.close();
  await onfido?.close();
});
afterEach(() => onfido.override('/v3.6', null));

const onfidoDown = () => onfido.override('/v3.6', { status: 503, body: '{"error":{"type":"service_unavailable"}}' });
const web = customerPrincipal(ALICE);
const mobile = { ...web, clientId: 'mobile-app' };
const ask = (query: string, principal = web, variables?: Record<string, unknown>) =>
  graphql(server.url, query, { principal, ...(variables ? { variables } : {}) });

/**
 * Reads live once Onfido answers again (its breaker may still be open from an earlier test). The
 * fallback cache here is in memory: what the live read got is kept before its answer has left.
 */
async function readLive(query = PROFILE, principal = web, variables?: Record<string, unknown>) {
  let answer: Awaited<ReturnType<typeof ask>> | undefined;
  await vi.waitFor(async () => {
    answer = await ask(query, principal, variables);
    expect(answer.errors).toBeUndefined();
    expect(answer.extensions?.stale).toBeUndefined();
  }, waitBudget(15_000));
  return answer!;
}

describe('Customer.profileAsOf and the stale marks of the identity subgraph', () => {
  it('live: the time of the request, and no marks', async () => {
    const before = Date.now();
    const live = await readLive();
    const me = live.data!.me as { profileAsOf: string; legalName: unknown; kyc: { status: string } };
    expect(Date.parse(me.profileAsOf)).toBeGreaterThanOrEqual(before - 1);
    expect(Date.parse(me.profileAsOf)).toBeLessThanOrEqual(Date.now());
    expect(me.legalName).toEqual({ givenName: 'Alice', familyName: 'Carter' });
    expect(me.kyc.status).toBe('APPROVED');
  });

  it('Onfido down: the same answer from its last known values, marked at each path, profileAsOf the oldest read time', async () => {
    const live = await readLive();
    onfidoDown();
    const servedAt = Date.now();
    const stale = await ask(PROFILE);
    expect(stale.errors).toBeUndefined();
    const { profileAsOf, ...rest } = stale.data!.me as { profileAsOf: string };
    const { profileAsOf: _live, ...liveRest } = live.data!.me as { profileAsOf: string };
    expect(rest).toEqual(liveRest);
    const marks = stale.extensions!.stale as Stale[];
    const checks = (liveRest as { kyc: { checks: unknown[] } }).kyc.checks;
    expect(marks.map((m) => m.path).sort()).toEqual(
      [
        'me.address',
        'me.dateOfBirth',
        'me.kyc',
        'me.legalName',
        ...checks.map((_c, i) => `me.kyc.checks.${i}.reports`),
      ].sort(),
    );
    for (const m of marks) {
      expect(m.source).toBe('onfido');
      expect(Date.parse(m.asOf)).toBeLessThan(servedAt);
    }
    expect(Date.parse(profileAsOf)).toBeLessThan(servedAt);
    expect(profileAsOf).toBe([...marks].sort((a, b) => Date.parse(a.asOf) - Date.parse(b.asOf))[0]!.asOf);
  });

  it('covers only what is answered: the own table alone is live and asks Onfido nothing', async () => {
    await readLive();
    onfidoDown();
    const calls = onfido.calls.length;
    const before = Date.now();
    const own = await ask('{ me { displayName email profileAsOf } }');
    expect(own.errors).toBeUndefined();
    expect(Date.parse((own.data!.me as { profileAsOf: string }).profileAsOf)).toBeGreaterThanOrEqual(before - 1);
    expect(own.extensions?.stale).toBeUndefined();
    expect(onfido.calls.length).toBe(calls);
    // A part skipped by a directive is not answered either.
    const skipped = await ask('query($s: Boolean!) { me { profileAsOf address @skip(if: $s) { town } } }', web, {
      s: true,
    });
    expect(Date.parse((skipped.data!.me as { profileAsOf: string }).profileAsOf)).toBeGreaterThanOrEqual(before - 1);
    expect(onfido.calls.length).toBe(calls);
  });

  it('through fragments and at entity references: the parts in them count, marked at the subgraph’s paths', async () => {
    const entities =
      'query($r: [_Any!]!) { _entities(representations: $r) { ... on Customer { profileAsOf legalName { givenName } } } }';
    const r = [{ __typename: 'Customer', id: ALICE }];
    await readLive('{ me { address { town } } }');
    await readLive(entities, web, { r });
    onfidoDown();
    const servedAt = Date.now();
    const fragment = await ask('{ me { ...Profile } } fragment Profile on Customer { profileAsOf address { town } }');
    expect(fragment.errors).toBeUndefined();
    expect(Date.parse((fragment.data!.me as { profileAsOf: string }).profileAsOf)).toBeLessThan(servedAt);
    expect((fragment.extensions!.stale as Stale[]).map((m) => m.path)).toEqual(['me.address']);
    const entity = await ask(entities, web, { r });
    expect(entity.errors).toBeUndefined();
    const [customer] = entity.data!._entities as { profileAsOf: string; legalName: { givenName: string } }[];
    expect(customer!.legalName.givenName).toBe('Alice');
    expect(Date.parse(customer!.profileAsOf)).toBeLessThan(servedAt);
    expect(entity.extensions!.stale).toEqual([
      { path: '_entities.0.legalName', source: 'onfido', asOf: customer!.profileAsOf },
    ]);
  });

  it('another app of the same customer read nothing: the provider’s fields fail, and profileAsOf is the request’s', async () => {
    await readLive();
    onfidoDown();
    const before = Date.now();
    const other = await ask(PROFILE, mobile);
    const me = other.data!.me as { profileAsOf: string; legalName: unknown; kyc: unknown; displayName: string };
    expect(me.displayName).toBe('Alice');
    expect(me.legalName).toBeNull();
    expect(me.kyc).toBeNull();
    expect(Date.parse(me.profileAsOf)).toBeGreaterThanOrEqual(before - 1);
    expect(other.extensions?.stale).toBeUndefined();
    const byPath = Object.fromEntries((other.errors ?? []).map((e) => [e.path?.join('.'), e.extensions?.code]));
    expect(byPath).toEqual({
      'me.legalName': 'PARTNER_UNAVAILABLE',
      'me.dateOfBirth': 'PARTNER_UNAVAILABLE',
      'me.address': 'PARTNER_UNAVAILABLE',
      'me.kyc': 'PARTNER_UNAVAILABLE',
    });
  });

  it('Onfido refusing the platform (401) or off its contract: nothing kept is served', async () => {
    await readLive();
    for (const answer of [
      { status: 401, body: '{"error":{"type":"authorization_error","message":"Authorization error"}}' },
      { status: 200, body: '{"unexpected":true}' },
    ]) {
      onfido.override('/v3.6', answer);
      const res = await ask('{ me { profileAsOf legalName { givenName } } }');
      expect((res.data!.me as { legalName: unknown }).legalName).toBeNull();
      expect(res.errors?.map((e) => e.path?.join('.'))).toEqual(['me.legalName']);
      expect(res.extensions?.stale).toBeUndefined();
    }
  });
});
