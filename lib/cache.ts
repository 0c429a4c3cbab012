import KeyvRedis, { createClient, Keyv } from '@keyv/redis';
import { LRUCache } from 'lru-cache';
import type { Logger } from './logger.ts';

/**
 * The shared cache: in memory by default, Redis when REDIS_URL is set, so several gateway
 * replicas see the same entries. Two rules (DESIGN.md): a cache is never the only copy of
 * anything that matters, and a key always includes the principal it was read for.
 *
 * - `kv` is a keyv store for TTL caching (use a namespace per purpose).
 * - `claimOnce` atomically records the first use of a key (Redis SET NX PX), for replay
 *   protection such as DPoP proof `jti`s: a get-then-set through keyv would let two replicas
 *   both accept the same proof.
 */
export interface SharedCache {
  readonly kind: 'memory' | 'redis';
  /** A keyv store under the given namespace; entries expire by the ttl given on set. */
  store(namespace: string): Keyv;
  /** True the first time a key is claimed within ttlMs, false on every later claim. */
  claimOnce(key: string, ttlMs: number): Promise<boolean>;
  close(): Promise<void>;
}

export interface SharedCacheOptions {
  redisUrl?: string | undefined;
  logger: Logger;
  /** Prefix of every key, so several deployments can share one Redis. */
  prefix?: string;
  /**
   * true (default): the cache holds state that must be shared (replay tracking), so opening waits
   * until Redis answers. false: it is only a cache (last known values), so the service starts
   * without it while Redis is down, calls fail at once instead of queueing, and the client's own
   * reconnection brings the cache in when Redis comes up.
   */
  required?: boolean;
}

export async function openSharedCache(opts: SharedCacheOptions): Promise<SharedCache> {
  const prefix = opts.prefix ?? 'fdg';
  if (!opts.redisUrl) return memoryCache(prefix);
  const required = opts.required ?? true;
  const client = createClient({
    url: opts.redisUrl,
    socket: { connectTimeout: 2_000 },
    // An optional cache never queues calls behind a Redis that is down: they fail (and are skipped) at once.
    ...(required ? {} : { disableOfflineQueue: true }),
  });
  client.on('error', (err: Error) => opts.logger.error({ err: err.message }, 'redis connection error'));
  if (required) await client.connect();
  else
    client.connect().catch((err: unknown) => {
      opts.logger.warn({ err: (err as Error).message }, 'redis unavailable at start; going on without the cache');
    });
  const stores: Keyv[] = [];
  return {
    kind: 'redis',
    store(namespace) {
      const kv = new Keyv({
        store: new KeyvRedis(client as never),
        namespace: `${prefix}:${namespace}`,
        useKeyPrefix: false,
      });
      stores.push(kv);
      return kv;
    },
    async claimOnce(key, ttlMs) {
      const result = await client.set(`${prefix}:once:${key}`, '1', {
        condition: 'NX',
        expiration: { type: 'PX', value: Math.max(1, Math.ceil(ttlMs)) },
      });
      return result === 'OK';
    },
    async close() {
      // QUIT waits for Redis; with Redis down (the offline queue holds it forever) the socket is dropped instead.
      const quit = client.quit();
      const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 1_000).unref());
      const outcome = await Promise.race([quit.then(() => 'quit' as const), timer]).catch(() => 'failed' as const);
      if (outcome !== 'quit') {
        try {
          client.destroy();
        } catch {
          // Already closed: nothing left to drop.
        }
      }
    },
  };
}

/** Entries kept per in-memory namespace before the least recently used are dropped. */
const MEMORY_STORE_MAX_ENTRIES = 50_000;

/**
 * keyv's default in-memory store (a Map) only forgets expired entries when they are read again, so
 * a long-running single replica would grow with every principal it ever cached. An LRU bounds it
 * and drops what nobody has read for longest; keyv keeps deciding expiry (its entries carry their
 * own `expires`), so the LRU needs no TTL of its own.
 */
function boundedStore() {
  // keyv writes serialized entries; lru-cache only asks that values are not null or undefined.
  return new LRUCache<string, NonNullable<unknown>>({ max: MEMORY_STORE_MAX_ENTRIES });
}

function memoryCache(prefix: string): SharedCache {
  const claimed = new Map<string, number>();
  // One store per namespace, as with Redis: everyone holding this cache (e.g. two gateways in one
  // process) sees the same entries, so an invalidation by one reaches the others.
  const stores = new Map<string, Keyv>();
  let nextSweep = 0;
  return {
    kind: 'memory',
    store(namespace) {
      let kv = stores.get(namespace);
      if (!kv) stores.set(namespace, (kv = new Keyv({ store: boundedStore(), namespace: `${prefix}:${namespace}` })));
      return kv;
    },
    async claimOnce(key, ttlMs) {
      const now = Date.now();
      // Forget expired claims at most once a second, so a claim costs O(1) under load.
      if (now >= nextSweep) {
        for (const [k, until] of claimed) if (until <= now) claimed.delete(k);
        nextSweep = now + 1_000;
      }
      if ((claimed.get(key) ?? 0) > now) return false;
      claimed.set(key, now + ttlMs);
      return true;
    },
    async close() {
      claimed.clear();
    },
  };
}
