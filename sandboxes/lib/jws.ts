import { generateKeyPairSync, sign, type JsonWebKey } from 'node:crypto';

/**
 * Detached JWS (RFC 7515 appendix F) for the OBIE `x-jws-signature` header: the sandbox signs
 * its payment answers with an ES256 key made at start, and inspects (but cannot verify: it has
 * no directory of TPP certificates) the signatures it receives.
 */
export interface JwsSigner {
  kid: string;
  publicJwk: JsonWebKey & { kid: string; alg: string; use: string };
  /** `<protected header>..<signature>` over the exact payload bytes. */
  signDetached(payload: string, extraHeader?: Record<string, unknown>): string;
}

export function createJwsSigner(kid: string): JwsSigner {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    kid,
    publicJwk: { ...(publicKey.export({ format: 'jwk' }) as JsonWebKey), kid, alg: 'ES256', use: 'sig' },
    signDetached(payload, extraHeader = {}) {
      const header = Buffer.from(
        JSON.stringify({ alg: 'ES256', kid, typ: 'JOSE', cty: 'application/json', ...extraHeader }),
      ).toString('base64url');
      const signingInput = `${header}.${Buffer.from(payload, 'utf8').toString('base64url')}`;
      const signature = sign('sha256', Buffer.from(signingInput), { key: privateKey, dsaEncoding: 'ieee-p1363' });
      return `${header}..${signature.toString('base64url')}`;
    },
  };
}

export type JwsInspection =
  { ok: true; header: Record<string, unknown> } | { ok: false; code: 'U017' | 'U018'; message: string; path?: string };

/**
 * Structural check of a detached JWS as OBIE asks TPPs to send it: three base64url parts with
 * an empty payload, a JSON protected header with an `alg` other than `none` and a `kid`, and
 * every claim named in `crit` present. The signature itself is not verified.
 */
export function inspectDetachedJws(value: string): JwsInspection {
  const parts = value.trim().split('.');
  if (parts.length !== 3 || parts[1] !== '' || !parts[0] || !parts[2]) {
    return {
      ok: false,
      code: 'U018',
      message: 'x-jws-signature must be a detached JWS: <protected header>..<signature>',
    };
  }
  let header: unknown;
  try {
    header = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8'));
  } catch {
    return { ok: false, code: 'U018', message: 'the JWS protected header is not base64url-encoded JSON' };
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header))
    return { ok: false, code: 'U018', message: 'the JWS protected header is not a JSON object' };
  const h = header as Record<string, unknown>;
  if (typeof h.alg !== 'string' || h.alg === '' || h.alg.toLowerCase() === 'none')
    return { ok: false, code: 'U017', message: 'the JWS header needs an alg other than none', path: 'alg' };
  if (typeof h.kid !== 'string' || h.kid === '')
    return { ok: false, code: 'U017', message: 'the JWS header needs a kid', path: 'kid' };
  if (h.crit !== undefined) {
    if (!Array.isArray(h.crit)) return { ok: false, code: 'U018', message: 'crit must be an array' };
    const missing = h.crit.filter((claim) => typeof claim !== 'string' || !(claim in h));
    if (missing.length)
      return {
        ok: false,
        code: 'U017',
        message: `claims named in crit are missing: ${missing.join(', ')}`,
        path: String(missing[0]),
      };
  }
  if (!/^[A-Za-z0-9_-]+$/.test(parts[2]))
    return { ok: false, code: 'U018', message: 'the JWS signature is not base64url' };
  return { ok: true, header: h };
}
