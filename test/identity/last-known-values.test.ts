import { randomBytes } from 'node:crypto';
import { Keyv } from 'keyv';
import { afterAll, describe, expect, it } from 'vitest';
import { openSharedCache, type SharedCache } from '../../lib/cache.ts';
import { ConfigError } from '../../lib/config.ts';
import { PartnerError } from '../../lib/errors.ts';
import { createFallbackCache, type FallbackCache } from '../../lib/fallback-cache.ts';
import { DependencyUnavailableError } from '../../lib/http-client.ts';
import { fallbackEnabled } from '../../lib/resilience-config.ts';
import { createLogger } from '../../lib/logger.ts';
import type { Principal } from '../../lib/principal.ts';
import type { KycReportModel, ProviderKycCheck, VerifiedIdentity } from '../../subgraphs/identity/domain/model.ts';
import { loadIdentityConfig } from '../../subgraphs/identity/config.ts';
import type { KycProvider } from '../../subgraphs/identity/domain/ports.ts';
import { withLastKnownValues } from '../../subgraphs/identity/partners/last-known-values.ts';

/**
 * The KYC provider's last known values (subgraphs/identity/partners/last-known-values.ts) on a
 * scripted provider: served only on an outage, only to the principal they were read for, stamped
 * with their read time, Dates intact, never readable where they are kept (they are personal data);
 * in memory and, where REDIS_URL is set, in the real Redis.
 */
const logger = createLogger('kyc-last-known-values', 'silent');
const alice: Principal = { customerId: 'cus_alice', clientId: 'web-app', scopes: ['identity:read', 'pii:read'] };
const aliceOnMobile: Principal = { ...alice, clientId: 'mobile-app' };
const aliceViaTaxpal: Principal = { customerId: 'cus_alice', clientId: 'taxpal', scopes: ['identity:read'] };
const ben: Principal = { ...alice, customerId: 'cus_ben' };
const APPLICANT = '6f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f';
const CHECK = '9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a';

/**
 * A provider whose next answers the test chooses: 'up' answers, 'down' is an outage, 'refuses' a
 * 403, 'off-contract' a contract violation, 'unknown' says it knows no such applicant (null, []).
 */
function scriptedProvider() {
  let mode: 'up' | 'down' | 'refuses' | 'off-contract' | 'unknown' = 'up';
  let version = 1;
  const fail = () => {
    if (mode === 'down') throw new DependencyUnavailableError('onfido', 'http-status', 'HTTP 503', { status: 503 });
    if (mode === 'refuses') throw new PartnerError('onfido', 'unavailable', 'answered HTTP 403', { status: 403 });
    if (mode === 'off-contract') throw new PartnerError('onfido', 'contract', 'bad payload');
  };
  const provider: KycProvider = {
    async getApplicant(): Promise<VerifiedIdentity | null> {
      fail();
      if (mode === 'unknown') return null;
      return {
        legalName: { givenName: 'Alice', familyName: `Carter v${version}` },
        dateOfBirth: '1990-05-17',
        address: { buildingNumber: '12', street: 'Elm Street', town: 'London', postcode: 'N1 7GU', country: 'GBR' },
      };
    },
    async listChecks(): Promise<ProviderKycCheck[]> {
      fail();
      if (mode === 'unknown') return [];
      return [
        {
          providerCheckId: CHECK,
          status: 'COMPLETE',
          result: version === 1 ? 'CLEAR' : 'CONSIDER',
          createdAt: new Date('2024-03-14T09:40:00Z'),
          completedAt: new Date('2024-03-14T09:45:00Z'),
        },
      ];
    },
    async listReports(): Promise<KycReportModel[]> {
      fail();
      if (mode === 'unknown') return [];
      return [{ kind: 'DOCUMENT', status: 'COMPLETE', result: 'CLEAR' }];
    },
  };
  return { provider, set: (m: typeof mode) => (mode = m), bump: () => version++ };
}

/**
 * The fallback cache, recording its writes: the layer keeps an answer without delaying it, and
 * settle() waits for what it is keeping (no sleeping on a loaded machine).
 */
const writes: Promise<void>[] = [];
const settle = async () => {
  await Promise.all(writes.splice(0));
};
function recording(cache: FallbackCache): FallbackCache {
  return {
    remember: (target, scope, value) => {
      const write = cache.remember(target, scope, value);
      writes.push(write);
      return write;
    },
    recall: (target, scope) => cache.recall(target, scope),
  };
}
const stores: { name: string; open: () => Promise<SharedCache> }[] = [
  { name: 'in memory', open: () => openSharedCache({ logger }) },
  ...(process.env.REDIS_URL
    ? [
        {
          name: 'in Redis',
          open: () =>
            openSharedCache({
              redisUrl: process.env.REDIS_URL,
              logger,
              prefix: `test-kyc-lkv-${randomBytes(4).toString('hex')}`,
            }),
        },
      ]
    : []),
];
const opened: SharedCache[] = [];
afterAll(async () => {
  for (const c of opened) await c.close();
});

describe.each(stores)('last known values of the KYC provider ($name)', ({ open }) => {
  async function setup() {
    const shared = await open();
    opened.push(shared);
    const cache = recording(
      createFallbackCache({
        store: shared.store('fallback'),
        key: randomBytes(32),
        ttlMs: 60_000,
        logger,
        service: 'identity',
      }),
    );
    const onfido = scriptedProvider();
    const as = (principal: Principal) =>
      withLastKnownValues(onfido.provider, principal, { cache, logger, service: 'identity' });
    return { onfido, as };
  }

  it('an outage answers the identity, checks and reports as last read, stamped with when they were read, Dates intact', async () => {
    const { onfido, as } = await setup();
    const before = new Date().toISOString();
    const live = await as(alice).getApplicant(APPLICANT);
    expect(live?.lastKnownAt).toBeUndefined();
    await as(alice).listChecks(APPLICANT);
    await as(alice).listReports(CHECK);
    await settle();
    onfido.set('down');
    const identity = await as(alice).getApplicant(APPLICANT);
    expect(identity).toEqual({ ...live, lastKnownAt: expect.any(String) });
    expect(identity!.lastKnownAt! >= before).toBe(true);
    expect(Date.parse(identity!.lastKnownAt!)).toBeLessThanOrEqual(Date.now());
    const checks = await as(alice).listChecks(APPLICANT);
    expect(checks).toHaveLength(1);
    expect(checks[0]!.createdAt).toEqual(new Date('2024-03-14T09:40:00Z'));
    expect(checks[0]!.completedAt).toEqual(new Date('2024-03-14T09:45:00Z'));
    expect(checks[0]!.lastKnownAt).toBeDefined();
    const reports = await as(alice).listReports(CHECK);
    expect(reports).toEqual([
      { kind: 'DOCUMENT', status: 'COMPLETE', result: 'CLEAR', lastKnownAt: expect.any(String) },
    ]);
    // Another applicant or check was never read: nothing to serve, the outage shows.
    await expect(as(alice).getApplicant('0b9a8c7d-6e5f-4a3b-9c2d-1e0f9a8b7c6d')).rejects.toThrow(
      DependencyUnavailableError,
    );
    await expect(as(alice).listReports('00000000-0000-4000-8000-000000000000')).rejects.toThrow(
      DependencyUnavailableError,
    );
  });

  it('the last good value is the newest live one', async () => {
    const { onfido, as } = await setup();
    await as(alice).listChecks(APPLICANT);
    onfido.bump();
    const live = await as(alice).listChecks(APPLICANT);
    expect(live[0]!.lastKnownAt).toBeUndefined();
    await settle();
    onfido.set('down');
    expect((await as(alice).listChecks(APPLICANT))[0]!.result).toBe('CONSIDER');
  });

  it('only the principal it was read for: another app of the customer, a third party or another customer gets the outage', async () => {
    const { onfido, as } = await setup();
    await Promise.all([as(alice).getApplicant(APPLICANT), as(aliceViaTaxpal).getApplicant(APPLICANT)]);
    await settle();
    onfido.set('down');
    const [web, taxpal, mobile, benAnswer] = await Promise.allSettled([
      as(alice).getApplicant(APPLICANT),
      as(aliceViaTaxpal).getApplicant(APPLICANT),
      as(aliceOnMobile).getApplicant(APPLICANT),
      as(ben).getApplicant(APPLICANT),
    ]);
    expect(web.status).toBe('fulfilled');
    expect(taxpal.status).toBe('fulfilled');
    expect(mobile).toMatchObject({ status: 'rejected', reason: expect.any(DependencyUnavailableError) });
    expect(benAnswer).toMatchObject({ status: 'rejected', reason: expect.any(DependencyUnavailableError) });
    // The same third party with other scopes is another principal.
    await expect(
      as({ ...aliceViaTaxpal, scopes: ['identity:read', 'pii:read'] }).getApplicant(APPLICANT),
    ).rejects.toThrow(DependencyUnavailableError);
  });

  it('a refusal (4xx) or an off-contract payload is passed on, never answered from what was kept', async () => {
    const { onfido, as } = await setup();
    await as(alice).getApplicant(APPLICANT);
    await as(alice).listChecks(APPLICANT);
    await settle();
    onfido.set('refuses');
    await expect(as(alice).getApplicant(APPLICANT)).rejects.toThrow(/403/);
    onfido.set('off-contract');
    await expect(as(alice).listChecks(APPLICANT)).rejects.toThrow(/bad payload/);
  });

  it('a newer answer that there is nothing replaces what was kept, and is not served as current', async () => {
    const { onfido, as } = await setup();
    await as(alice).getApplicant(APPLICANT);
    await as(alice).listChecks(APPLICANT);
    await settle();
    // Onfido no longer knows the applicant: its earlier identity and checks must not come back.
    onfido.set('unknown');
    expect(await as(alice).getApplicant(APPLICANT)).toBeNull();
    expect(await as(alice).listChecks(APPLICANT)).toEqual([]);
    await settle();
    onfido.set('down');
    // A null or an empty list cannot carry its read time: the outage shows instead.
    await expect(as(alice).getApplicant(APPLICANT)).rejects.toThrow(DependencyUnavailableError);
    await expect(as(alice).listChecks(APPLICANT)).rejects.toThrow(DependencyUnavailableError);
  });
});

describe('where the KYC provider’s last known values are kept', () => {
  it('holds no personal data readable: names, dates, addresses and ids are sealed', async () => {
    const entries = new Map<string, unknown>();
    const cache = recording(
      createFallbackCache({
        store: new Keyv({ store: entries }),
        key: randomBytes(32),
        ttlMs: 60_000,
        logger,
        service: 'identity',
      }),
    );
    const onfido = scriptedProvider();
    const provider = withLastKnownValues(onfido.provider, alice, { cache, logger, service: 'identity' });
    await provider.getApplicant(APPLICANT);
    await provider.listChecks(APPLICANT);
    await settle();
    expect(entries.size).toBe(2);
    const stored = JSON.stringify([...entries]);
    for (const secret of ['Alice', 'Carter', '1990-05-17', 'Elm Street', 'N1 7GU', APPLICANT, CHECK, 'cus_alice'])
      expect(stored).not.toContain(secret);
    onfido.set('down');
    expect((await provider.getApplicant(APPLICANT))?.legalName?.familyName).toBe('Carter v1');
  });
});

describe('the identity subgraph’s fallback settings', () => {
  const production = {
    PROFILE: 'production',
    INTERNAL_AUTH_SECRET: 'a-real-internal-secret-of-32-chars-or-more!',
    ONFIDO_URL: 'https://api.eu.onfido.com',
    ONFIDO_API_TOKEN: 'api_live.a-real-onfido-token-0123456789abcdef',
    ID_HASH_SECRET: 'a-real-id-hash-secret-of-32-chars-or-more!!',
    ONFIDO_WEBHOOK_TOKEN: 'a-real-onfido-webhook-token-0123456789abcdef',
  };
  const problems = (env: Record<string, string>): string[] => {
    try {
      loadIdentityConfig(env);
      return [];
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      return (err as ConfigError).problems;
    }
  };

  it('keeps last known values locally by default; production keeps personal data only under a configured key', () => {
    expect(fallbackEnabled(loadIdentityConfig({}))).toBe(true);
    expect(fallbackEnabled(loadIdentityConfig(production))).toBe(false);
    expect(problems({ ...production, FALLBACK_CACHE: 'on' })).toEqual([expect.stringMatching(/^FALLBACK_CACHE_KEY: /)]);
    const keyed = loadIdentityConfig({ ...production, FALLBACK_CACHE_KEY: randomBytes(32).toString('base64') });
    expect(fallbackEnabled(keyed)).toBe(true);
    expect(problems({ REDIS_URL: 'http://127.0.0.1:6379' })).toEqual([expect.stringMatching(/^REDIS_URL: /)]);
  });
});
