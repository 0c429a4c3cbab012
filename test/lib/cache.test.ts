import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { openSharedCache } from '../../lib/cache.ts';
import { createLogger } from '../../lib/logger.ts';

const logger = createLogger('test', 'silent');
// In memory always; against the real Redis when REDIS_URL is set (as .ci/run does).
const backends: [string, string | undefined][] = [['memory', undefined]];
if (process.env.REDIS_URL) backends.push(['redis', process.env.REDIS_URL]);

describe.each(backends)('shared cache (%s)', (_kind, redisUrl) => {
  const prefix = `test-${randomBytes(4).toString('hex')}`;

  it('stores and expires entries per namespace', async () => {
    const cache = await openSharedCache({ redisUrl, logger, prefix });
    try {
      const a = cache.store('a');
      const b = cache.store('b');
      // A TTL long enough that the reads right after the write come before it on a busy machine.
      await a.set('k', { v: 1 }, 1_000);
      expect(await a.get('k')).toEqual({ v: 1 });
      expect(await b.get('k')).toBeUndefined();
      await new Promise((r) => setTimeout(r, 1_200));
      expect(await a.get('k')).toBeUndefined();
    } finally {
      await cache.close();
    }
  });

  it("gives everyone who opens a namespace the same entries, so one holder's delete reaches the others", async () => {
    const cache = await openSharedCache({ redisUrl, logger, prefix });
    try {
      const first = cache.store('shared');
      const second = cache.store('shared');
      await first.set('k', 'v', 5_000);
      expect(await second.get('k')).toBe('v');
      await second.delete('k');
      expect(await first.get('k')).toBeUndefined();
    } finally {
      await cache.close();
    }
  });

  it('claims a key once, even when two replicas race for it', async () => {
    const one = await openSharedCache({ redisUrl, logger, prefix });
    const two = redisUrl ? await openSharedCache({ redisUrl, logger, prefix }) : one;
    try {
      const key = `jti-${randomBytes(6).toString('hex')}`;
      const results = await Promise.all([
        one.claimOnce(key, 5_000),
        two.claimOnce(key, 5_000),
        one.claimOnce(key, 5_000),
      ]);
      expect(results.filter(Boolean)).toHaveLength(1);
      expect(await two.claimOnce(key, 5_000)).toBe(false);
    } finally {
      await one.close();
      if (two !== one) await two.close();
    }
  });
});

describe('in-memory store bounds', () => {
  it('drops the least recently used entries instead of growing without limit', async () => {
    const cache = await openSharedCache({ logger, prefix: 'bounded' });
    const kv = cache.store('n');
    const map = kv.store as Map<string, unknown> & { max: number };
    expect(map.max).toBeGreaterThan(0);
    for (let i = 0; i < map.max + 10; i++) map.set(`k${i}`, i);
    expect(map.size).toBe(map.max);
    expect(map.has('k0')).toBe(false);
    expect(map.has(`k${map.max + 9}`)).toBe(true);
    await cache.close();
  });

  it('keeps an entry that is read over one that is not, and keyv still expires entries by their ttl', async () => {
    const cache = await openSharedCache({ logger, prefix: 'lru' });
    const kv = cache.store('n');
    const max = (kv.store as { max: number }).max;
    await kv.set('read', 'kept');
    await kv.set('unread', 'dropped');
    for (let i = 0; i < max - 2; i++) await kv.set(`k${i}`, i);
    expect(await kv.get('read')).toBe('kept'); // the oldest entry, now the most recently used
    await kv.set('one-more', 1);
    expect(await kv.get('read')).toBe('kept');
    expect(await kv.get('unread')).toBeUndefined();
    await kv.set('short', 'lived', 1);
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(await kv.get('short')).toBeUndefined();
    await cache.close();
  });
});
