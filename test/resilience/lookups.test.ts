import { randomBytes } from 'node:crypto';
import { Keyv } from 'keyv';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CLIENT_KIND_TTL_MS, createCallerDirectory } from '../../gateway/authorization/caller.ts';
import { loadGatewayConfig } from '../../gateway/config.ts';
import { ConfigError } from '../../lib/config.ts';
import { createLogger } from '../../lib/logger.ts';
import { fallbackEnabled } from '../../lib/resilience-config.ts';
import type { Principal } from '../../lib/principal.ts';

const logger = createLogger('test', 'silent');
/** A complete production environment of the gateway (as test/lib/production-config.test.ts has it). */
const PRODUCTION = {
  PROFILE: 'production',
  INTERNAL_AUTH_SECRET: 'prod-internal-secret-9f8e7d6c5b4a39281706f5e4',
  AUTH_ISSUER: 'https://auth.example.com',
  AUTH_AUDIENCE: 'https://api.example.com',
  REDIS_URL: 'rediss://cache.example.com:6380',
};

afterEach(() => {
  vi.useRealTimers();
});

describe('client-kind memo (gateway/authorization/caller.ts)', () => {
  it('is refreshed after its TTL, so the shared cache is read once per TTL, not on every later request', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2026-01-01T00:00:00Z'));
    const cache = new Keyv();
    await cache.set('kind:web-app', 'FIRST_PARTY');
    const reads = vi.spyOn(cache, 'get');
    const directory = createCallerDirectory({
      subgraphUrls: {},
      internalSecret: 'x'.repeat(32),
      timeoutMs: 1_000,
      cache,
      logger,
    });
    const principal: Principal = { customerId: 'cus_u57fz5zj7ojayz6np3d6x6kon4', clientId: 'web-app', scopes: [] };
    expect(await directory.kindOf(principal, 'r1')).toBe('customer');
    expect(await directory.kindOf(principal, 'r2')).toBe('customer');
    expect(reads).toHaveBeenCalledTimes(1);

    vi.setSystemTime(Date.now() + CLIENT_KIND_TTL_MS + 1);
    expect(await directory.kindOf(principal, 'r3')).toBe('customer');
    expect(reads).toHaveBeenCalledTimes(2);
    // Memoised again: the next requests of this TTL do not read the shared cache.
    for (let i = 0; i < 5; i++) expect(await directory.kindOf(principal, `r${4 + i}`)).toBe('customer');
    expect(reads).toHaveBeenCalledTimes(2);
  });

  it('a shared cache that hangs costs a lookup a bounded wait, then the registry is asked (and fails closed here)', async () => {
    const cache = { get: () => new Promise(() => {}), set: () => new Promise(() => {}) } as unknown as Keyv;
    const directory = createCallerDirectory({
      subgraphUrls: {},
      internalSecret: 'x'.repeat(32),
      timeoutMs: 1_000,
      cache,
      logger,
    });
    const principal: Principal = { customerId: 'cus_u57fz5zj7ojayz6np3d6x6kon4', clientId: 'other-app', scopes: [] };
    // No consents subgraph configured: the lookup is refused as SERVICE_UNAVAILABLE, never a guess.
    await expect(directory.kindOf(principal, 'r')).rejects.toMatchObject({
      extensions: { code: 'SERVICE_UNAVAILABLE', service: 'authorization' },
    });
  });
});

describe('resilience configuration', () => {
  it('defaults, and FALLBACK_CACHE=on in production without a key is refused with one line naming it', () => {
    const config = loadGatewayConfig({});
    expect(config).toMatchObject({
      GATEWAY_REQUEST_DEADLINE_MS: 15_000,
      SUBGRAPH_RETRIES: 1,
      SUBGRAPH_CONCURRENCY: 64,
      SUBGRAPH_QUEUE: 64,
      FALLBACK_CACHE_TTL_SECONDS: 86_400,
    });
    let problems: readonly string[] = [];
    try {
      loadGatewayConfig({ ...PRODUCTION, FALLBACK_CACHE: 'on' });
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      problems = (err as ConfigError).problems;
    }
    expect(problems.filter((p) => p.startsWith('FALLBACK_CACHE_KEY'))).toEqual([
      expect.stringContaining('required in production when FALLBACK_CACHE=on'),
    ]);
    // Production without the variable: fallbacks are off (nothing personal cached in the clear); with a key: on.
    expect(fallbackEnabled(loadGatewayConfig(PRODUCTION))).toBe(false);
    const key = randomBytes(32).toString('base64');
    expect(fallbackEnabled(loadGatewayConfig({ ...PRODUCTION, FALLBACK_CACHE: 'on', FALLBACK_CACHE_KEY: key }))).toBe(
      true,
    );
    expect(() => loadGatewayConfig({ FALLBACK_CACHE_KEY: 'too-short' })).toThrow(ConfigError);
    expect(loadGatewayConfig({ FALLBACK_CACHE_KEY: 'ab'.repeat(32) }).FALLBACK_CACHE_KEY).toBe('ab'.repeat(32));
  });
});
