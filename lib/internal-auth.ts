import { SignJWT, jwtVerify, errors as joseErrors } from 'jose';
import { parseConsentedAccounts, type Principal } from './principal.ts';

/**
 * Gateway-to-subgraph trust. The gateway signs a short-lived JWT (HS256, shared secret
 * INTERNAL_AUTH_SECRET) that carries the verified principal and the request id, and sends it
 * in the `x-internal-auth` header. A subgraph accepts a request only with a valid signature,
 * the audience `subgraph:<name>`, issuer `gateway` and a lifetime of at most 60 s; it then
 * takes the principal from this token and from nowhere else.
 *
 * Why a shared-secret JWT and not mTLS: it needs no PKI to run locally, it works unchanged
 * behind any load balancer, and it carries the principal in the same signed envelope. In
 * production the secret comes from the secret store and is rotated by deploying a second
 * secret in INTERNAL_AUTH_PREVIOUS_SECRET for the overlap window.
 */
export const INTERNAL_AUTH_HEADER = 'x-internal-auth';
const ISSUER = 'gateway';
const LIFETIME_SECONDS = 60;

export class InternalAuthError extends Error {
  override name = 'InternalAuthError';
}

function keyOf(secret: string): Uint8Array {
  if (secret.length < 32) throw new Error('internal auth secret must be at least 32 characters');
  return new TextEncoder().encode(secret);
}

export async function signInternalContext(secret: string, subgraph: string, principal: Principal | null, requestId: string): Promise<string> {
  return new SignJWT({ principal, rid: requestId })
    .setProtectedHeader({ alg: 'HS256', typ: 'internal+jwt' })
    .setIssuer(ISSUER)
    .setAudience(`subgraph:${subgraph}`)
    .setIssuedAt()
    .setExpirationTime(`${LIFETIME_SECONDS}s`)
    .sign(keyOf(secret));
}

export interface InternalContext {
  principal: Principal | null;
  requestId: string;
}

export async function verifyInternalContext(token: string | undefined, subgraph: string, secrets: string[]): Promise<InternalContext> {
  if (!token) throw new InternalAuthError('missing internal auth header');
  let lastError: unknown;
  for (const secret of secrets) {
    try {
      const { payload } = await jwtVerify(token, keyOf(secret), {
        algorithms: ['HS256'],
        issuer: ISSUER,
        audience: `subgraph:${subgraph}`,
        maxTokenAge: LIFETIME_SECONDS,
        clockTolerance: 5,
        typ: 'internal+jwt',
      });
      return { principal: parsePrincipal(payload.principal), requestId: typeof payload.rid === 'string' ? payload.rid : '' };
    } catch (err) {
      lastError = err;
      if (!(err instanceof joseErrors.JWSSignatureVerificationFailed)) break;
    }
  }
  throw new InternalAuthError(`invalid internal auth token: ${(lastError as Error)?.message ?? 'unknown'}`);
}

function parsePrincipal(value: unknown): Principal | null {
  if (value === null || value === undefined) return null;
  const p = value as Record<string, unknown>;
  if (
    (p.customerId !== null && typeof p.customerId !== 'string') ||
    typeof p.clientId !== 'string' ||
    !Array.isArray(p.scopes) ||
    !p.scopes.every((s) => typeof s === 'string')
  ) {
    throw new InternalAuthError('malformed principal in internal auth token');
  }
  let consentedAccounts;
  try {
    consentedAccounts = parseConsentedAccounts(p.consentedAccounts);
  } catch (err) {
    throw new InternalAuthError(`malformed principal in internal auth token: ${(err as Error).message}`);
  }
  const principal: Principal = { customerId: p.customerId as string | null, clientId: p.clientId, scopes: p.scopes as string[] };
  return consentedAccounts ? { ...principal, consentedAccounts } : principal;
}
