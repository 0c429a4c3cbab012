import { createHash } from 'node:crypto';
import {
  base64url,
  calculateJwkThumbprint,
  decodeProtectedHeader,
  EmbeddedJWK,
  errors as joseErrors,
  jwtVerify,
  type JWK,
} from 'jose';
import type { SharedCache } from '../lib/cache.ts';

/**
 * DPoP proof verification for sender-constrained access tokens (RFC 9449 §4.3, §7).
 *
 * A token whose `cnf.jkt` names a key thumbprint is only accepted as `Authorization: DPoP <token>`
 * together with a `DPoP` header holding a proof JWT that:
 * - is a compact JWS with typ `dpop+jwt` and an allowed asymmetric alg (never none or HMAC);
 * - carries a public `jwk` in its header that verifies its signature, and whose RFC 7638
 *   thumbprint equals the token's `cnf.jkt`;
 * - claims htm = the request method, htu = the request URL without query and fragment
 *   (compared after scheme/host/port normalisation, against the gateway's public URL, never
 *   the Host header a client controls), iat within ±iatWindowSeconds of now,
 *   ath = base64url(SHA-256(access token)), and a jti not seen before.
 *
 * Replays are caught with SharedCache.claimOnce (Redis SET NX when REDIS_URL is set), so a proof
 * accepted by one gateway replica is refused by every other. The jti is claimed last, only once
 * everything else checked out, under a key that includes the proof key's thumbprint: one client
 * cannot burn another client's jtis.
 */
export const DPOP_ALGORITHMS = ['ES256', 'PS256', 'EdDSA'] as const;

export interface DpopVerifierOptions {
  cache: Pick<SharedCache, 'claimOnce'>;
  /** Accepted distance between a proof's iat and now, in seconds (default 60). */
  iatWindowSeconds?: number;
  /** Extra clock skew tolerated on top of the window, in seconds (default 5). */
  clockToleranceSeconds?: number;
  now?: () => Date;
}

/** What the proof must be bound to: the request and the access token it comes with. */
export interface DpopRequest {
  /** The DPoP header value(s) as received. */
  proof: string | string[] | undefined;
  method: string;
  /** The full public URL of the request (query and fragment are ignored). */
  url: string;
  accessToken: string;
  /** cnf.jkt of the access token. */
  jkt: string;
}

/** The replay cache could not be asked (Redis down): the proof can be neither accepted nor refused. */
export class ReplayCacheUnavailableError extends Error {
  override name = 'ReplayCacheUnavailableError';
}

export type DpopResult = { ok: true; jti: string } | { ok: false; reason: string };

export interface DpopVerifier {
  verify(request: DpopRequest): Promise<DpopResult>;
}

const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/** `scheme://host[:port]/path` of a URL: lower-case scheme and host, no default port, no query or fragment. */
export function normalizeHtu(value: string): string | null {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return null;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return null;
  // WHATWG URL parsing already lower-cases scheme and host, drops default ports and
  // normalises dot segments and percent-encoding of the path.
  return `${url.protocol}//${url.host}${url.pathname}`;
}

/** base64url(SHA-256(ASCII access token)): the `ath` claim (RFC 9449 §4.2). */
export function accessTokenHash(accessToken: string): string {
  return base64url.encode(createHash('sha256').update(accessToken, 'ascii').digest());
}

export function createDpopVerifier(opts: DpopVerifierOptions): DpopVerifier {
  const window = opts.iatWindowSeconds ?? 60;
  const tolerance = opts.clockToleranceSeconds ?? 5;
  const nowSeconds = () => Math.floor((opts.now?.() ?? new Date()).getTime() / 1000);
  // A proof is accepted while its iat is within the window, so its jti must be remembered
  // at least that long (from the earliest to the latest moment it could be accepted).
  const replayTtlMs = (2 * window + 2 * tolerance + 1) * 1000;

  async function verify(request: DpopRequest): Promise<DpopResult> {
    const { proof } = request;
    if (proof === undefined || proof === '') return { ok: false, reason: 'DPoP proof missing' };
    if (Array.isArray(proof) || !COMPACT_JWS.test(proof))
      return { ok: false, reason: 'DPoP header is not exactly one compact JWS' };

    let header;
    try {
      header = decodeProtectedHeader(proof);
    } catch {
      return { ok: false, reason: 'DPoP proof header is not valid JSON' };
    }
    if (header.typ !== 'dpop+jwt') return { ok: false, reason: `DPoP proof typ is ${String(header.typ)}` };
    if (typeof header.alg !== 'string' || !(DPOP_ALGORITHMS as readonly string[]).includes(header.alg))
      return { ok: false, reason: `DPoP proof alg ${String(header.alg)} not allowed` };
    const jwk = header.jwk as JWK | undefined;
    if (!jwk || typeof jwk !== 'object') return { ok: false, reason: 'DPoP proof has no jwk header' };
    // A private key in the header is refused by EmbeddedJWK too; refuse early and explicitly.
    if ('d' in jwk || 'p' in jwk || 'k' in jwk) return { ok: false, reason: 'DPoP proof jwk is not a public key' };

    let payload;
    try {
      ({ payload } = await jwtVerify(proof, EmbeddedJWK, {
        typ: 'dpop+jwt',
        algorithms: [...DPOP_ALGORITHMS],
        requiredClaims: ['jti', 'htm', 'htu', 'iat'],
        clockTolerance: tolerance,
        currentDate: new Date(nowSeconds() * 1000),
      }));
    } catch (err) {
      return {
        ok: false,
        reason: `DPoP proof does not verify: ${err instanceof joseErrors.JOSEError ? `${err.code}: ${err.message}` : String(err)}`,
      };
    }

    let thumbprint: string;
    try {
      thumbprint = await calculateJwkThumbprint(jwk, 'sha256');
    } catch {
      return { ok: false, reason: 'DPoP proof jwk has no thumbprint' };
    }
    if (thumbprint !== request.jkt) return { ok: false, reason: 'DPoP proof key does not match the token cnf.jkt' };

    if (payload.htm !== request.method.toUpperCase())
      return { ok: false, reason: `DPoP htm ${String(payload.htm)} does not match ${request.method}` };
    const expectedHtu = normalizeHtu(request.url);
    const htu = typeof payload.htu === 'string' ? normalizeHtu(payload.htu) : null;
    if (htu === null || expectedHtu === null || htu !== expectedHtu)
      return { ok: false, reason: `DPoP htu ${String(payload.htu)} does not match ${expectedHtu}` };

    const iat = payload.iat;
    const now = nowSeconds();
    if (typeof iat !== 'number' || Math.abs(now - iat) > window + tolerance)
      return { ok: false, reason: `DPoP iat ${String(iat)} outside ±${window}s of ${now}` };

    if (payload.ath !== accessTokenHash(request.accessToken))
      return { ok: false, reason: 'DPoP ath does not match the access token' };

    const jti = payload.jti;
    if (typeof jti !== 'string' || jti.length === 0 || jti.length > 256)
      return { ok: false, reason: 'DPoP jti missing or too long' };
    const key = `dpop:${createHash('sha256').update(`${thumbprint}\u0000${jti}`).digest('base64url')}`;
    let first: boolean;
    try {
      first = await opts.cache.claimOnce(key, replayTtlMs);
    } catch (err) {
      // Fail closed, but as our outage (503), not the caller's fault.
      throw new ReplayCacheUnavailableError(`DPoP replay cache unavailable: ${(err as Error).message}`, { cause: err });
    }
    if (!first) return { ok: false, reason: 'DPoP proof replayed (jti already used)' };
    return { ok: true, jti };
  }

  return { verify };
}
