import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import { Keyv } from 'keyv';
import { LRUCache } from 'lru-cache';
import type { SharedCache } from './cache.ts';
import type { Logger } from './logger.ts';
import { bounded } from './resilience.ts';
import { decodeKey, fallbackEnabled, type FallbackCacheConfig } from './resilience-config.ts';
import { resilienceMetricsOf } from './resilience-metrics.ts';

/**
 * The last good value of a read, kept so it can be served, marked, when its source fails
 * (lib/http-client.ts `fallback`). Rules it enforces:
 *
 * - Per principal: the caller of remember/recall passes a scope that holds everything the answer
 *   depended on (the gateway: the subgraph, the signed principal with its consented accounts, and
 *   the exact request body). Entries live under HMAC-SHA256(key, target + scope), so a key reveals
 *   nothing and cannot be computed without the secret.
 * - Encrypted: the value and the time it was read are sealed with AES-256-GCM under the
 *   configured key (FALLBACK_CACHE_KEY), with the entry's own key as associated data, so an entry
 *   copied under another principal's key does not decrypt. A Redis dump holds no readable data.
 * - Only good values: the client remembers an answer only after the caller's check accepted it
 *   (a malformed or contract-violating payload is never cached).
 * - Never in the way: every cache call is bounded (opTimeoutMs) and its failure is counted and
 *   logged, never thrown. A Redis outage means no cache, not errors, and the Redis client's own
 *   reconnection brings the cache back.
 */
export interface FallbackCache {
  /** Keeps `value` as the last good answer of (target, scope). Never throws. */
  remember(target: string, scope: string, value: unknown): Promise<void>;
  /** The last good answer of (target, scope) and when it was read, if any. Never throws. */
  recall(target: string, scope: string): Promise<{ value: unknown; asOf: string } | undefined>;
}

export interface FallbackCacheOptions {
  /** A keyv namespace of the shared cache (lib/cache.ts: memory, or Redis with REDIS_URL). */
  store: Keyv;
  /** 32 bytes; null: a random key for this process (entries of other processes are then unreadable). */
  key: Buffer | null;
  /** How long a last good value may be served after it was read. */
  ttlMs: number;
  logger: Logger;
  /** Longest wait for one cache call before going on without it (default 200 ms). */
  opTimeoutMs?: number;
  /** Registry the figures go to (default: gateway). */
  service?: string;
}

const VERSION = 'v1';

export function createFallbackCache(opts: FallbackCacheOptions): FallbackCache {
  const key = opts.key ?? randomBytes(32);
  if (key.length !== 32) throw new RangeError('the fallback cache key must be 32 bytes');
  const opTimeoutMs = opts.opTimeoutMs ?? 200;
  const log = opts.logger.child({ component: 'fallback-cache' });
  const metrics = resilienceMetricsOf(opts.service ?? 'gateway');
  // keyv reports store errors as events; without a listener they would be thrown at the caller.
  opts.store.on?.('error', (err: unknown) =>
    log.debug({ err: err instanceof Error ? err.message : String(err) }, 'fallback cache store error'),
  );

  const entryKey = (target: string, scope: string) =>
    createHmac('sha256', key).update(target).update('\n').update(scope).digest('base64url');

  function seal(id: string, plain: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(Buffer.from(id));
    const data = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return [
      VERSION,
      iv.toString('base64url'),
      cipher.getAuthTag().toString('base64url'),
      data.toString('base64url'),
    ].join('.');
  }

  function open(id: string, sealed: string): string | null {
    const [version, iv, tag, data] = sealed.split('.');
    if (version !== VERSION || !iv || !tag || data === undefined) return null;
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
      decipher.setAAD(Buffer.from(id));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(data, 'base64url')), decipher.final()]).toString('utf8');
    } catch {
      return null;
    }
  }

  let failing = false;
  function failed(target: string, op: 'read' | 'write', err: unknown): void {
    metrics.cacheErrors.labels(target, op).inc();
    // One warning per outage, not one per request; the recovery is logged too.
    if (!failing)
      log.warn({ target, op, err: (err as Error).message }, 'fallback cache unavailable; going on without it');
    failing = true;
  }
  function succeeded(): void {
    if (failing) log.info('fallback cache available again');
    failing = false;
  }

  return {
    async remember(target, scope, value) {
      const id = entryKey(target, scope);
      try {
        const sealed = seal(id, JSON.stringify({ asOf: new Date().toISOString(), value }));
        await bounded(opts.store.set(id, sealed, opts.ttlMs), opTimeoutMs, 'fallback cache write');
        succeeded();
      } catch (err) {
        failed(target, 'write', err);
      }
    },
    async recall(target, scope) {
      const id = entryKey(target, scope);
      let raw: unknown;
      try {
        raw = await bounded(opts.store.get(id), opTimeoutMs, 'fallback cache read');
        succeeded();
      } catch (err) {
        failed(target, 'read', err);
        return undefined;
      }
      if (typeof raw !== 'string') return undefined;
      const plain = open(id, raw);
      if (plain === null) return undefined;
      try {
        const entry = JSON.parse(plain) as { asOf?: unknown; value?: unknown };
        return typeof entry.asOf === 'string' ? { value: entry.value, asOf: entry.asOf } : undefined;
      } catch {
        return undefined;
      }
    },
  };
}

/**
 * The fallback cache a service's configuration asks for (FALLBACK_CACHE, FALLBACK_CACHE_KEY,
 * FALLBACK_CACHE_TTL_SECONDS, lib/resilience-config.ts), in its shared cache; null when off.
 */
export function openConfiguredFallbackCache(
  config: FallbackCacheConfig,
  cache: SharedCache,
  logger: Logger,
  service: string,
): FallbackCache | null {
  if (!fallbackEnabled(config)) return null;
  const key = config.FALLBACK_CACHE_KEY ? decodeKey(config.FALLBACK_CACHE_KEY) : null;
  if (!key)
    logger.warn(
      { service },
      'FALLBACK_CACHE_KEY is not set: cached fallbacks are encrypted with a key of this process only (replicas do not share them)',
    );
  return createFallbackCache({
    store: fallbackStore(cache),
    key,
    ttlMs: config.FALLBACK_CACHE_TTL_SECONDS * 1000,
    logger,
    service,
  });
}

/** Bytes of fallback entries one process keeps in memory (without Redis), least recently used dropped first. */
export const FALLBACK_MEMORY_BYTES = 64 * 1024 * 1024;

/**
 * Where fallbacks live: the shared cache's Redis (entries expire with FALLBACK_CACHE_TTL_SECONDS; give
 * the Redis a maxmemory policy), or, in memory, a store bounded by size rather than by count: a
 * dashboard answer is tens of kilobytes, and the shared cache's in-memory namespaces only cap entries.
 */
function fallbackStore(cache: SharedCache): Keyv {
  if (cache.kind === 'redis') return cache.store('fallback');
  return new Keyv({
    store: new LRUCache<string, object | string>({
      maxSize: FALLBACK_MEMORY_BYTES,
      sizeCalculation: (value) =>
        Math.max(1, Buffer.byteLength(typeof value === 'string' ? value : JSON.stringify(value))),
    }),
    namespace: 'fallback',
  });
}
