import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import {
  createRemoteJWKSet,
  customFetch,
  errors as joseErrors,
  jwtVerify,
  type JWTPayload,
  type JWTVerifyGetKey,
} from 'jose';
import { LRUCache } from 'lru-cache';
import { isId } from '../lib/ids.ts';
import type { Principal } from '../lib/principal.ts';
import { DPOP_ALGORITHMS, ReplayCacheUnavailableError, type DpopResult, type DpopVerifier } from './dpop.ts';

/**
 * Authentication of callers: OAuth 2.1 access tokens (JWT, RFC 9068) issued by the
 * authorization server and verified against its JWKS, bearer or sender-constrained (DPoP).
 *
 * - The token is taken only from the Authorization header (`Bearer <token>`, or `DPoP <token>`
 *   for DPoP-bound tokens): never from the query string or the body, where it would end up in
 *   logs and browser history.
 * - Only asymmetric algorithms are accepted (PS256, ES256, EdDSA): `alg: none` and HS256 (which
 *   would let anyone holding a public key forge tokens) are refused before any key is looked up.
 * - issuer, audience, exp, nbf, iat and sub are checked with a few seconds of clock skew.
 * - The JWKS is fetched lazily, cached, and re-fetched for an unknown `kid` at most once per
 *   cooldown, so a key rotation at the authorization server is picked up without a restart
 *   while a flood of forged kids cannot hammer the authorization server.
 * - A token with `cnf.jkt` (RFC 9449) is accepted only as `Authorization: DPoP <token>` with a
 *   valid DPoP proof for this request (see dpop.ts); presented as a bearer token it is refused.
 *
 * A refusal carries the WWW-Authenticate challenge to send (RFC 6750 §3, RFC 9449 §7.1) and a
 * reason that is for the log only: clients get no detail that would help an attacker.
 */
export interface AuthenticatorOptions {
  issuer: string;
  audience: string;
  jwksUrl: string;
  /** Timeout of one JWKS fetch. */
  jwksTimeoutMs?: number;
  /**
   * The fetch of the JWKS (lib/http-client.ts fetchVia: the gateway's resilient client for it); default: global fetch.
   */
  jwksFetch?: (url: string | URL, init?: RequestInit) => Promise<Response>;
  /** Least time between two JWKS fetches caused by unknown kids (default 30 s). */
  jwksCooldownMs?: number;
  /** Seconds of clock skew tolerated on exp/iat/nbf (default 5). */
  clockToleranceSeconds?: number;
  /** Verifies DPoP proofs; without it DPoP-bound tokens are refused. */
  dpop?: DpopVerifier;
  /** Clock for exp/iat checks (tests and the sandbox platform may run on a fixed clock). */
  now?: () => Date;
  /**
   * Verified tokens remembered (see verifiedTokens below): at most `max` tokens, each for at most
   * `ttlMs` and never past its exp. Default 10 000 tokens, 30 s; `false` verifies every request.
   */
  verifiedTokenCache?: { max: number; ttlMs: number } | false;
}

/** The request a token was presented with: DPoP proofs are bound to its method and URL. */
export interface AuthenticationTarget {
  method: string;
  /** The full public URL of the request (GATEWAY_PUBLIC_URL + path). */
  url: string;
}

/** RFC 6750 / RFC 9449 error codes of a refused token. */
export type AuthenticationErrorCode = 'invalid_token' | 'invalid_dpop_proof';

export type AuthenticationResult =
  | { kind: 'anonymous' }
  | {
      kind: 'authenticated';
      principal: Principal;
      /** Thumbprint of the DPoP key the token is bound to. */ dpopJkt?: string;
    }
  | { kind: 'invalid'; reason: string; scheme: 'Bearer' | 'DPoP'; error: AuthenticationErrorCode };

/** The authorization server could not be reached to verify a token (JWKS down): not the caller's fault. */
export class AuthenticationUnavailableError extends Error {
  override name = 'AuthenticationUnavailableError';
}

/** Upper bound on a token's age whatever its exp says. */
const MAX_TOKEN_AGE_SECONDS = 24 * 3600;

export const ACCEPTED_ALGORITHMS = ['PS256', 'ES256', 'EdDSA'];
/** Token types accepted in the JOSE header (RFC 9068 at+jwt, or a plain JWT / none). */
const ACCEPTED_TYP = new Set(['at+jwt', 'application/at+jwt', 'jwt']);

/** The WWW-Authenticate value for a refused token, free of any detail about why. */
export function wwwAuthenticate(result: Extract<AuthenticationResult, { kind: 'invalid' }>): string {
  if (result.scheme === 'DPoP') return `DPoP error="${result.error}", algs="${DPOP_ALGORITHMS.join(' ')}"`;
  return `Bearer error="${result.error}"`;
}

/** The message a client gets for a refused token (the reason goes to the log only). */
export function refusalMessage(result: Extract<AuthenticationResult, { kind: 'invalid' }>): string {
  return result.error === 'invalid_dpop_proof' ? 'The DPoP proof is invalid' : 'The access token is invalid or expired';
}

export interface Authenticator {
  /** Without a target, DPoP-bound tokens are refused (their proof cannot be checked). */
  authenticate(headers: IncomingHttpHeaders, target?: AuthenticationTarget): Promise<AuthenticationResult>;
}

const AUTHORIZATION = /^(Bearer|DPoP) ([A-Za-z0-9\-._~+/]+=*)$/i;

export function createAuthenticator(opts: AuthenticatorOptions): Authenticator {
  const jwks = createRemoteJWKSet(new URL(opts.jwksUrl), {
    timeoutDuration: opts.jwksTimeoutMs ?? 5_000,
    cooldownDuration: opts.jwksCooldownMs ?? 30_000,
    cacheMaxAge: 10 * 60_000,
    ...(opts.jwksFetch ? { [customFetch]: opts.jwksFetch } : {}),
  });

  // The key resolver tells "the JWKS could not be fetched" (our outage) apart from "no key
  // matches this token" (the caller's problem).
  const key: JWTVerifyGetKey = async (header, token) => {
    try {
      return await jwks(header, token);
    } catch (err) {
      const fetchFailure =
        err instanceof joseErrors.JWKSTimeout ||
        err instanceof joseErrors.JWKSInvalid ||
        !(err instanceof joseErrors.JOSEError) ||
        err.code === 'ERR_JOSE_GENERIC';
      if (fetchFailure)
        throw new AuthenticationUnavailableError(
          `could not fetch the JWKS from ${opts.jwksUrl}: ${(err as Error).message}`,
          { cause: err },
        );
      throw err;
    }
  };

  /**
   * The signature check of a token already verified (jwtVerify: JWKS lookup and an ES256/PS256
   * verification, the largest cost of a light request) is not repeated for every request that
   * presents it. What is remembered, by SHA-256 of the token, is only the outcome of a successful
   * jwtVerify (the claims); failures are never remembered. An entry lives at most `ttlMs` (so a key
   * withdrawn from the JWKS stops being trusted soon after jose's own JWKS cache lets go of it) and
   * is used only while the time claims still hold by the gateway's clock: never at or past `exp`
   * (the skew tolerance is not granted from the cache), never before `nbf` or an `iat` in the future.
   * Everything that depends on the request is still checked on every request: the scheme (Bearer
   * or DPoP), the DPoP proof with its one-time `jti`, and the principal. The platform has no token
   * revocation list (tokens are short-lived; consents, which can be revoked, are looked up by the
   * authorization rules per request); one would be checked here, after the cache, per request.
   */
  const cacheOptions = opts.verifiedTokenCache ?? { max: 10_000, ttlMs: 30_000 };
  const verifiedTokens = cacheOptions
    ? new LRUCache<string, { payload: JWTPayload; typ: string | undefined }>({
        max: cacheOptions.max,
        ttl: cacheOptions.ttlMs,
      })
    : null;
  const tolerance = opts.clockToleranceSeconds ?? 5;
  const stillValid = (payload: JWTPayload, nowSeconds: number): boolean =>
    typeof payload.exp === 'number' &&
    nowSeconds < payload.exp &&
    (typeof payload.nbf !== 'number' || nowSeconds >= payload.nbf - tolerance) &&
    typeof payload.iat === 'number' &&
    nowSeconds >= payload.iat - tolerance &&
    nowSeconds - payload.iat - tolerance <= MAX_TOKEN_AGE_SECONDS;

  /** jwtVerify with the authenticator's rules, or the claims of the same token verified moments ago. */
  async function verifyToken(token: string): Promise<{ payload: JWTPayload; typ: string | undefined }> {
    const cacheKey = verifiedTokens ? createHash('sha256').update(token).digest('base64url') : '';
    const nowSeconds = (opts.now?.() ?? new Date()).getTime() / 1000;
    const known = verifiedTokens?.get(cacheKey);
    if (known && stillValid(known.payload, nowSeconds)) return known;
    const result = await jwtVerify(token, key, {
      algorithms: ACCEPTED_ALGORITHMS,
      issuer: opts.issuer,
      audience: opts.audience,
      requiredClaims: ['exp', 'iat', 'sub'],
      clockTolerance: tolerance,
      // Access tokens are short-lived; this bound also refuses an iat in the future.
      maxTokenAge: MAX_TOKEN_AGE_SECONDS,
      ...(opts.now ? { currentDate: opts.now() } : {}),
    });
    const verified = { payload: result.payload, typ: result.protectedHeader.typ };
    if (verifiedTokens && stillValid(verified.payload, nowSeconds)) verifiedTokens.set(cacheKey, verified);
    return verified;
  }

  async function authenticate(
    headers: IncomingHttpHeaders,
    target?: AuthenticationTarget,
  ): Promise<AuthenticationResult> {
    const header = headers.authorization;
    if (header === undefined || header === '') return { kind: 'anonymous' };
    const match = AUTHORIZATION.exec(header.trim());
    if (!match)
      return {
        kind: 'invalid',
        scheme: 'Bearer',
        error: 'invalid_token',
        reason: 'Authorization header is neither a Bearer nor a DPoP token',
      };
    const scheme = match[1]!.toLowerCase() === 'dpop' ? 'DPoP' : 'Bearer';
    const token = match[2]!;
    const refuse = (reason: string, error: AuthenticationErrorCode = 'invalid_token'): AuthenticationResult => ({
      kind: 'invalid',
      scheme,
      error,
      reason,
    });

    let payload: JWTPayload;
    try {
      const result = await verifyToken(token);
      const typ = result.typ;
      if (typ !== undefined && !ACCEPTED_TYP.has(typ.toLowerCase()))
        return refuse(`token type ${typ} is not an access token`);
      payload = result.payload;
    } catch (err) {
      if (err instanceof AuthenticationUnavailableError) throw err;
      return refuse(err instanceof joseErrors.JOSEError ? `${err.code}: ${err.message}` : String(err));
    }

    let dpopJkt: string | undefined;
    if (payload.cnf !== undefined) {
      const jkt =
        typeof payload.cnf === 'object' && payload.cnf !== null
          ? (payload.cnf as Record<string, unknown>).jkt
          : undefined;
      // Only DPoP binding is supported; a token bound otherwise (e.g. mTLS x5t#S256) is refused.
      if (typeof jkt !== 'string' || jkt === '')
        return refuse('token is bound by a confirmation method other than DPoP');
      // A sender-constrained token must not be accepted as a plain bearer token (RFC 9449 §7.2).
      if (scheme !== 'DPoP') return refuse('DPoP-bound token presented as a bearer token');
      if (!opts.dpop || !target)
        return refuse('DPoP-bound token but DPoP proofs cannot be verified here', 'invalid_dpop_proof');
      let proof: DpopResult;
      try {
        proof = await opts.dpop.verify({
          proof: headers.dpop,
          method: target.method,
          url: target.url,
          accessToken: token,
          jkt,
        });
      } catch (err) {
        if (err instanceof ReplayCacheUnavailableError)
          throw new AuthenticationUnavailableError(err.message, { cause: err });
        throw err;
      }
      if (!proof.ok) return refuse(proof.reason, 'invalid_dpop_proof');
      dpopJkt = jkt;
    } else if (scheme === 'DPoP') {
      return refuse('DPoP scheme used with a token that is not DPoP-bound');
    }

    const principal = principalFromClaims(payload);
    if (!principal) return refuse('token carries no client_id');
    return dpopJkt ? { kind: 'authenticated', principal, dpopJkt } : { kind: 'authenticated', principal };
  }

  return { authenticate };
}

/**
 * The principal a verified token stands for:
 * - customerId: `sub` when it is a customer id (cus_…) and the token was not issued through the
 *   client_credentials grant (a machine or staff client acting for itself has no customer);
 * - clientId: `client_id` (RFC 9068), falling back to `azp`;
 * - scopes: `scope` split on spaces.
 * Returns null when the token names no client.
 */
export function principalFromClaims(payload: JWTPayload): Principal | null {
  const clientId =
    typeof payload.client_id === 'string' ? payload.client_id : typeof payload.azp === 'string' ? payload.azp : null;
  if (!clientId) return null;
  const grant = [payload.gty, payload.grant_type].find((g) => typeof g === 'string') as string | undefined;
  const clientCredentials = grant !== undefined && /^client[-_]credentials$/.test(grant);
  const sub = payload.sub ?? '';
  const customerId = !clientCredentials && isId(sub, 'cus') ? sub : null;
  const scopes = typeof payload.scope === 'string' ? payload.scope.split(' ').filter(Boolean) : [];
  return { customerId, clientId, scopes };
}
