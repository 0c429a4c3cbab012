import type { IncomingHttpHeaders } from 'node:http';
import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { isId } from '../lib/ids.ts';
import type { Principal } from '../lib/principal.ts';

/**
 * Authentication of callers: OAuth 2.1 bearer access tokens (JWT, RFC 9068) issued by the
 * authorization server and verified against its JWKS.
 *
 * - The token is taken only from `Authorization: Bearer <token>`: never from the query string
 *   or the body, where it would end up in logs and browser history.
 * - Only asymmetric algorithms are accepted (PS256, ES256, EdDSA): `alg: none` and HS256 (which
 *   would let anyone holding a public key forge tokens) are refused.
 * - issuer, audience, exp, iat and sub are required; a few seconds of clock skew are tolerated.
 * - The JWKS is fetched lazily, cached, and re-fetched for an unknown `kid` at most once per
 *   cooldown, so a flood of forged kids cannot hammer the authorization server.
 */
export interface AuthenticatorOptions {
  issuer: string;
  audience: string;
  jwksUrl: string;
  /** Timeout of one JWKS fetch. */
  jwksTimeoutMs?: number;
  /** Seconds of clock skew tolerated on exp/iat/nbf. */
  clockToleranceSeconds?: number;
  /** Clock for exp/iat checks (tests and the sandbox platform may run on a fixed clock). */
  now?: () => Date;
}

export type AuthenticationResult =
  | { kind: 'anonymous' }
  | { kind: 'authenticated'; principal: Principal }
  | { kind: 'invalid'; reason: string };

/** The authorization server could not be reached to verify a token (JWKS down): not the caller's fault. */
export class AuthenticationUnavailableError extends Error {
  override name = 'AuthenticationUnavailableError';
}

/** Upper bound on a token's age whatever its exp says. */
const MAX_TOKEN_AGE_SECONDS = 24 * 3600;

export const ACCEPTED_ALGORITHMS = ['PS256', 'ES256', 'EdDSA'];
/** Token types accepted in the JOSE header (RFC 9068 at+jwt, or a plain JWT / none). */
const ACCEPTED_TYP = new Set(['at+jwt', 'application/at+jwt', 'jwt']);

export interface Authenticator {
  authenticate(headers: IncomingHttpHeaders): Promise<AuthenticationResult>;
  /** True when the JWKS answers with at least one key (for /readyz). */
  jwksReachable(timeoutMs: number): Promise<boolean>;
}

export function createAuthenticator(opts: AuthenticatorOptions): Authenticator {
  const jwks = createRemoteJWKSet(new URL(opts.jwksUrl), {
    timeoutDuration: opts.jwksTimeoutMs ?? 5_000,
    cooldownDuration: 30_000,
    cacheMaxAge: 10 * 60_000,
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
      if (fetchFailure) throw new AuthenticationUnavailableError(`could not fetch the JWKS from ${opts.jwksUrl}: ${(err as Error).message}`, { cause: err });
      throw err;
    }
  };

  async function authenticate(headers: IncomingHttpHeaders): Promise<AuthenticationResult> {
    const header = headers.authorization;
    if (header === undefined || header === '') return { kind: 'anonymous' };
    const match = /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/i.exec(header.trim());
    if (!match) return { kind: 'invalid', reason: 'Authorization header is not a Bearer token' };
    const token = match[1]!;
    let payload: JWTPayload;
    try {
      const result = await jwtVerify(token, key, {
        algorithms: ACCEPTED_ALGORITHMS,
        issuer: opts.issuer,
        audience: opts.audience,
        requiredClaims: ['exp', 'iat', 'sub'],
        clockTolerance: opts.clockToleranceSeconds ?? 5,
        // Access tokens are short-lived; this bound also refuses an iat in the future.
        maxTokenAge: MAX_TOKEN_AGE_SECONDS,
        ...(opts.now ? { currentDate: opts.now() } : {}),
      });
      const typ = result.protectedHeader.typ;
      if (typ !== undefined && !ACCEPTED_TYP.has(typ.toLowerCase())) return { kind: 'invalid', reason: `token type ${typ} is not an access token` };
      // A sender-constrained (DPoP) token must not be accepted as a plain bearer token (RFC 9449 §7.1).
      if (result.payload.cnf !== undefined) return { kind: 'invalid', reason: 'sender-constrained token presented as a bearer token' };
      payload = result.payload;
    } catch (err) {
      if (err instanceof AuthenticationUnavailableError) throw err;
      return { kind: 'invalid', reason: err instanceof joseErrors.JOSEError ? `${err.code}: ${err.message}` : String(err) };
    }
    const principal = principalFromClaims(payload);
    return principal ? { kind: 'authenticated', principal } : { kind: 'invalid', reason: 'token carries no client_id' };
  }

  async function jwksReachable(timeoutMs: number): Promise<boolean> {
    try {
      const res = await fetch(opts.jwksUrl, { signal: AbortSignal.timeout(timeoutMs), headers: { accept: 'application/json' } });
      if (!res.ok) return false;
      const body = (await res.json()) as { keys?: unknown };
      return Array.isArray(body.keys) && body.keys.length > 0;
    } catch {
      return false;
    }
  }

  return { authenticate, jwksReachable };
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
  const clientId = typeof payload.client_id === 'string' ? payload.client_id : typeof payload.azp === 'string' ? payload.azp : null;
  if (!clientId) return null;
  const grant = [payload.gty, payload.grant_type].find((g) => typeof g === 'string') as string | undefined;
  const clientCredentials = grant !== undefined && /^client[-_]credentials$/.test(grant);
  const sub = payload.sub ?? '';
  const customerId = !clientCredentials && isId(sub, 'cus') ? sub : null;
  const scopes = typeof payload.scope === 'string' ? payload.scope.split(' ').filter(Boolean) : [];
  return { customerId, clientId, scopes };
}
