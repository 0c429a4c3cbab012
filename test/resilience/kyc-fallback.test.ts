import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RunningPlatform } from '../../scripts/platform.ts';
import { ALICE, BEN, FIRST_PARTY_SCOPES } from '../support/customers.ts';
import {
  askGateway,
  PLATFORM_START_BUDGET,
  startFallbackPlatform,
  staleServes,
  untilLive,
  type StaleMarkedAnswer,
} from '../support/fallback-platform.ts';

/**
 * The KYC provider down (issue 11): a customer still sees their verified identity and KYC as last
 * read, marked (Customer.profileAsOf older than the request, extensions.stale naming onfido at the
 * client's paths), while their profile from the platform's own table stays live; only to the
 * principal they were read for (another app of the same customer gets the usual PARTNER_UNAVAILABLE);
 * a third party under an IDENTITY consent gets its own, and nothing once the consent is revoked.
 * Through the whole platform with the Onfido sandbox's fault injection; the last known values live in
 * the identity subgraph (subgraphs/identity/partners/last-known-values.ts), encrypted.
 */
const PROFILE = `{ me { displayName profileAsOf legalName { givenName familyName } dateOfBirth address { town postcode }
  kyc { status checks { id status reports { kind result } } } } }`;

interface Me {
  displayName: string;
  profileAsOf: string;
  legalName: { givenName: string; familyName: string } | null;
  dateOfBirth: string | null;
  address: { town: string; postcode: string } | null;
  kyc: { status: string; checks: { id: string; status: string; reports: unknown[] }[] } | null;
}
interface Answer extends StaleMarkedAnswer {
  data?: { me?: Me | null } | null;
}

let platform: RunningPlatform;

beforeAll(async () => {
  platform = await startFallbackPlatform('ONFIDO', 'kyc-fallback');
}, PLATFORM_START_BUDGET);

afterAll(async () => {
  await platform?.close();
});

afterEach(() => {
  platform.sandboxes.onfido.faults.clear();
});

const tokenOf = (customerId: string, clientId = 'web-app', scopes?: string[]) =>
  platform.sandboxes.auth.mint({ customerId, clientId, ...(scopes ? { scopes } : {}) });
const ask = (token: string, query = PROFILE, variables: Record<string, unknown> = {}) =>
  askGateway<Answer>(platform, token, query, variables);
const onfidoDown = () => platform.sandboxes.onfido.faults.inject({ status: 503 });
/**
 * Reads live for `token` once Onfido answers again. The fallback cache is in memory here: what the
 * live read got is kept before the subgraph's answer has left.
 */
const readLive = (token: string, query = PROFILE) => untilLive(() => ask(token, query));
const withoutAsOf = ({ profileAsOf: _at, ...rest }: Me) => rest;

describe('the KYC provider down: its last known values, marked, for the principal they were read for', () => {
  it('live: profileAsOf is the time of the request and nothing is marked', async () => {
    const alice = await tokenOf(ALICE);
    const before = Date.now();
    const live = await readLive(alice);
    const me = live.data!.me!;
    expect(Date.parse(me.profileAsOf)).toBeGreaterThanOrEqual(before - 1);
    expect(Date.parse(me.profileAsOf)).toBeLessThanOrEqual(Date.now());
    expect(me.legalName).toEqual({ givenName: 'Alice', familyName: 'Carter' });
    expect(me.kyc?.status).toBe('APPROVED');
  });

  it('Onfido down: legal name, address and KYC as last read, profileAsOf earlier, extensions.stale naming onfido at the client’s paths', async () => {
    const alice = await tokenOf(ALICE);
    const live = (await readLive(alice)).data!.me!;
    const before = await staleServes('identity', 'onfido');
    onfidoDown();
    const servedAt = Date.now();
    const stale = await ask(alice);
    expect(stale.errors).toBeUndefined();
    const me = stale.data!.me!;
    expect(withoutAsOf(me)).toEqual(withoutAsOf(live));
    expect(Date.parse(me.profileAsOf)).toBeLessThan(servedAt);
    const marks = stale.extensions?.stale ?? [];
    expect(marks.map((m) => m.path).sort()).toEqual(
      [
        'me.address',
        'me.dateOfBirth',
        'me.kyc',
        'me.legalName',
        ...live.kyc!.checks.map((_c, i) => `me.kyc.checks.${i}.reports`),
      ].sort(),
    );
    for (const m of marks) {
      expect(m.source).toBe('onfido');
      expect(Date.parse(m.asOf)).toBeLessThan(servedAt);
      expect(Date.parse(m.asOf)).toBeGreaterThanOrEqual(Date.parse(me.profileAsOf));
    }
    expect(marks.map((m) => m.asOf)).toContain(me.profileAsOf);
    expect(await staleServes('identity', 'onfido')).toBeGreaterThan(before);
    // The platform's own part of the profile needs no provider: live, with the request's time.
    const own = await ask(alice, '{ me { displayName email profileAsOf } }');
    expect(own.errors).toBeUndefined();
    expect(Date.parse((own.data!.me as unknown as { profileAsOf: string }).profileAsOf)).toBeGreaterThanOrEqual(
      servedAt,
    );
    expect(own.extensions?.stale).toBeUndefined();
  });

  it('overlapping customers and apps: another app of the same customer gets PARTNER_UNAVAILABLE, each customer their own', async () => {
    const aliceWeb = await tokenOf(ALICE);
    const aliceMobile = await tokenOf(ALICE, 'mobile-app');
    const ben = await tokenOf(BEN);
    // Alice on the web app and Ben read live now; Alice's mobile app never reads.
    await Promise.all([readLive(aliceWeb), readLive(ben)]);
    onfidoDown();
    const requestedAt = Date.now();
    const [web, mobile, benAnswer] = await Promise.all([ask(aliceWeb), ask(aliceMobile), ask(ben)]);
    expect(web.errors).toBeUndefined();
    expect(web.data!.me!.legalName).toEqual({ givenName: 'Alice', familyName: 'Carter' });
    expect(benAnswer.errors).toBeUndefined();
    expect(benAnswer.data!.me!.legalName?.givenName).toBe('Benjamin');
    expect(benAnswer.data!.me!.kyc?.status).toBe('REVIEW_REQUIRED');
    expect(JSON.stringify(benAnswer)).not.toMatch(/Carter|N1 7GU/);
    expect(benAnswer.extensions?.stale?.every((m) => m.source === 'onfido')).toBe(true);
    // Alice's mobile app never read Onfido: nothing kept for it, so the provider's fields fail as usual.
    const m = mobile.data!.me!;
    expect(m.displayName).toBe('Alice');
    expect([m.legalName, m.dateOfBirth, m.address, m.kyc]).toEqual([null, null, null, null]);
    expect(Date.parse(m.profileAsOf)).toBeGreaterThanOrEqual(requestedAt - 1);
    expect(mobile.extensions?.stale).toBeUndefined();
    const failed = Object.fromEntries((mobile.errors ?? []).map((e) => [e.path?.join('.'), e.extensions?.code]));
    expect(failed).toEqual({
      'me.legalName': 'PARTNER_UNAVAILABLE',
      'me.dateOfBirth': 'PARTNER_UNAVAILABLE',
      'me.address': 'PARTNER_UNAVAILABLE',
      'me.kyc': 'PARTNER_UNAVAILABLE',
    });
    expect(JSON.stringify(mobile)).not.toMatch(/Carter|Chapel Road|N1 7GU|1988-07-21/);
  });

  it('a third party under an IDENTITY consent gets its own last known values, and nothing once the consent is revoked', async () => {
    const web = await tokenOf(ALICE, 'web-app', FIRST_PARTY_SCOPES);
    const taxpalAdmin = await tokenOf(ALICE, 'taxpal', ['consents:read', 'consents:write']);
    const requested = await ask(taxpalAdmin, 'mutation { requestConsent(input: { permissions: [IDENTITY] }) { id } }');
    expect(requested.errors).toBeUndefined();
    const consentId = (requested.data as unknown as { requestConsent: { id: string } }).requestConsent.id;
    const authorised = await ask(
      web,
      'mutation($id: ID!) { authoriseConsent(input: { id: $id, accountIds: [] }) { status } }',
      { id: consentId },
    );
    expect(authorised.errors).toBeUndefined();

    const taxpal = await tokenOf(ALICE, 'taxpal', ['identity:read', 'pii:read']);
    const query = '{ me { profileAsOf legalName { familyName } address { postcode } kyc { status } } }';
    const live = (await readLive(taxpal, query)).data!.me!;
    expect(live.legalName?.familyName).toBe('Carter');

    onfidoDown();
    const servedAt = Date.now();
    const stale = await ask(taxpal, query);
    expect(stale.errors).toBeUndefined();
    expect(withoutAsOf(stale.data!.me!)).toEqual(withoutAsOf(live));
    expect(Date.parse(stale.data!.me!.profileAsOf)).toBeLessThan(servedAt);
    expect(stale.extensions?.stale?.map((m) => m.path).sort()).toEqual(['me.address', 'me.kyc', 'me.legalName']);

    const revoked = await ask(web, 'mutation($id: ID!) { revokeConsent(id: $id) { status } }', { id: consentId });
    expect(revoked.errors).toBeUndefined();
    const after = await ask(taxpal, query);
    // No consent: nothing of the profile, live or last known.
    expect(after.data?.me ?? null).toBeNull();
    expect(after.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(JSON.stringify(after)).not.toMatch(/Carter|N1 7GU|APPROVED/);
    expect(after.extensions?.stale).toBeUndefined();
  });
});
