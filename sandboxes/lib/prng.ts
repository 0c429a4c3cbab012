import { createHash } from 'node:crypto';

/**
 * Seeded pseudo-random numbers for the sandboxes' generated data.
 *
 * Every stream is keyed by a list of parts (`createPrng(seed, accountId, 'day', 20412)`), so a
 * piece of data depends only on its own key: the transactions of one day of one account are the
 * same whatever else was generated before, which keeps ids stable across restarts and clocks.
 * The generator is sfc32 (small, fast, passes PractRand); the key is hashed with SHA-256 into
 * its 128-bit state. Not for secrets.
 */
export interface Prng {
  /** Uniform float in [0, 1). */
  next(): number;
  /** Uniform integer in [min, max] (both inclusive). */
  int(min: number, max: number): number;
  /** Uniform float in [min, max). */
  float(min: number, max: number): number;
  /** True with probability p. */
  chance(p: number): boolean;
  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T;
  /** One element, chosen with the given relative weights. */
  weighted<T>(items: readonly T[], weight: (item: T) => number): T;
  /** Number of events of a Poisson process with mean `lambda` (Knuth; fine for small lambda). */
  poisson(lambda: number): number;
  /** Lowercase hex string of `length` characters. */
  hex(length: number): string;
  /** Decimal digits string of `length` characters (may start with 0). */
  digits(length: number): string;
  /** RFC 4122 version-4-shaped UUID built from the stream. */
  uuid(): string;
}

export type SeedPart = string | number | bigint | boolean;

/** 32-bit words derived from the key parts; exported for tests. */
export function seedWords(parts: readonly SeedPart[]): [number, number, number, number] {
  const digest = createHash('sha256')
    .update(parts.map((p) => `${typeof p}:${String(p)}`).join('\u0000'))
    .digest();
  return [digest.readUInt32LE(0), digest.readUInt32LE(4), digest.readUInt32LE(8), digest.readUInt32LE(12)];
}

/** A stable hex digest of key parts (for ids that must not depend on stream position). */
export function stableHash(parts: readonly SeedPart[], length = 32): string {
  return createHash('sha256')
    .update(parts.map((p) => `${typeof p}:${String(p)}`).join('\u0000'))
    .digest('hex')
    .slice(0, length);
}

export function createPrng(...parts: SeedPart[]): Prng {
  let [a, b, c, d] = seedWords(parts);
  const nextUint32 = (): number => {
    // sfc32
    a >>>= 0;
    b >>>= 0;
    c >>>= 0;
    d >>>= 0;
    let t = (a + b) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    d = (d + 1) | 0;
    t = (t + d) | 0;
    c = (c + t) | 0;
    return t >>> 0;
  };
  // Warm up so that similar keys diverge immediately.
  for (let i = 0; i < 12; i++) nextUint32();

  const next = (): number => nextUint32() / 4294967296;
  const prng: Prng = {
    next,
    int(min, max) {
      if (max < min) throw new RangeError(`int(${min}, ${max}): max < min`);
      return min + Math.floor(next() * (max - min + 1));
    },
    float(min, max) {
      return min + next() * (max - min);
    },
    chance(p) {
      return next() < p;
    },
    pick(items) {
      if (items.length === 0) throw new RangeError('pick from an empty array');
      return items[Math.floor(next() * items.length)] as (typeof items)[number];
    },
    weighted(items, weight) {
      const total = items.reduce((sum, item) => sum + weight(item), 0);
      let r = next() * total;
      for (const item of items) {
        r -= weight(item);
        if (r < 0) return item;
      }
      return prng.pick(items);
    },
    poisson(lambda) {
      if (lambda <= 0) return 0;
      if (lambda > 30) return Math.max(0, Math.round(lambda + Math.sqrt(lambda) * gaussian(next)));
      const limit = Math.exp(-lambda);
      let k = 0;
      let p = next();
      while (p > limit) {
        k++;
        p *= next();
      }
      return k;
    },
    hex(length) {
      let out = '';
      while (out.length < length) out += nextUint32().toString(16).padStart(8, '0');
      return out.slice(0, length);
    },
    digits(length) {
      let out = '';
      while (out.length < length) out += String(nextUint32() % 10);
      return out;
    },
    uuid() {
      const h = prng.hex(32);
      const variant = ((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16);
      return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
    },
  };
  return prng;
}

function gaussian(next: () => number): number {
  const u = Math.max(next(), 1e-12);
  const v = next();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}
