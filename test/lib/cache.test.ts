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
      await a.set('k', { v: 1 }, 200);
      expect(await a.get('k')).toEqual({ v: 1 });
      expect(await b.get('k')).toBeUndefined();
      await new Promise((r) => setTimeout(r, 300));
      expect(await a.get('k')).toBeUndefined();
    } finally {
      await cache.close();
    }
  });

  it('claims a key once, even when two replicas race for it', async () => {
    const one = await openSharedCache({ redisUrl, logger, prefix });
    const two = redisUrl ? await openSharedCache({ redisUrl, logger, prefix }) : one;
    try {
      const key = `jti-${randomBytes(6).toString('hex')}`;
      const results = await Promise.all([one.claimOnce(key, 5_000), two.claimOnce(key, 5_000), one.claimOnce(key, 5_000)]);
      expect(results.filter(Boolean)).toHaveLength(1);
      expect(await two.claimOnce(key, 5_000)).toBe(false);
    } finally {
      await one.close();
      if (two !== one) await two.close();
    }
  });
});
