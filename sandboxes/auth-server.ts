import { randomUUID, timingSafeEqual } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTHeaderParameters } from 'jose';
import type { Logger } from '../lib/logger.ts';
import { DEFAULT_AUDIENCE } from './config.ts';
import { SANDBOX_CLIENTS, SANDBOX_CUSTOMERS, type SandboxClient } from './manifest.ts';
import { systemClock, type Now } from './lib/clock.ts';
import {
  header,
  startSandboxServer,
  type Dialect,
  type Route,
  type SandboxReply,
  type SandboxRequest,
  type SandboxServer,
} from './lib/server.ts';

/**
 * Sandbox OAuth 2.1 authorization server. It signs RFC 9068 JWT access tokens with an ES256 key
 * generated at start and publishes the key, so the gateway verifies tokens exactly as it would
 * against a real authorization server.
 *
 *   GET  /.well-known/oauth-authorization-server   RFC 8414 metadata
 *   GET  /.well-known/openid-configuration         the same document
 *   GET  /jwks.json                                { keys: [ES256 public JWK with kid, alg, use] }
 *   POST /token                                    client_credentials grant (STAFF and MACHINE clients)
 *   POST /sandbox/tokens                           sandbox only: a customer token as if after an
 *                                                  authorization-code + PKCE login
 *   GET  /sandbox/world                            sandbox only: who can be given a token (customers,
 *                                                  client apps and their allowed scopes; no secrets),
 *                                                  for tools that must not import the manifest (the
 *                                                  gateway's explorer)
 *
 * POST /token: `application/x-www-form-urlencoded` with grant_type=client_credentials and an
 * optional `scope` (space separated, default: every allowed scope); client authentication by
 * HTTP Basic (client_secret_basic) or client_id + client_secret in the body (client_secret_post).
 * Errors (RFC 6749 §5.2): invalid_client (401), unsupported_grant_type, invalid_scope,
 * unauthorized_client (FIRST_PARTY/THIRD_PARTY clients act for customers: use /sandbox/tokens),
 * invalid_request (400).
 *
 * POST /sandbox/tokens: JSON `{ customerId?: string | null, clientId: string, scopes?: string[] | string, dpopJkt?:
 * string }`. With `dpopJkt` (the RFC 7638 SHA-256 thumbprint of the client's DPoP public key) the token is
 * sender-constrained (RFC 9449): it carries `cnf: { jkt }` and token_type is `DPoP`.
 * FIRST_PARTY and THIRD_PARTY clients need a customerId of the manifest; STAFF and MACHINE
 * clients must not send one (their token's sub is the client id). Scopes default to every scope
 * the client may have; anything outside allowedScopes -> invalid_scope.
 *
 * Access token: header { alg: ES256, kid, typ: 'at+jwt' }; claims iss (the issuer: `issuer`
 * option, default the server's base URL), aud (default 'https://api.financial-graph.local'),
 * sub (customer id, or client id for client_credentials), client_id, scope (space separated),
 * iat, nbf (= iat), exp (iat + tokenTtlSeconds, default 900), jti (UUID). Times come from the
 * sandbox clock.
 */
export { DEFAULT_AUDIENCE };
export const DEFAULT_TOKEN_TTL_SECONDS = 900;

export interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

/** A fresh ES256 key (for tests: "a token signed by another key"). */
export async function generateSigningKey(kid = `sandbox-${randomUUID().slice(0, 8)}`): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' };
  return { kid, privateKey, publicJwk };
}

export interface TokenClaims {
  iss?: string;
  aud?: string | string[];
  sub?: string;
  client_id?: string;
  scope?: string;
  iat?: number;
  nbf?: number;
  exp?: number;
  jti?: string;
  [claim: string]: unknown;
}

/**
 * Signs exactly the claims given (nothing is added), with the key's kid and typ at+jwt unless
 * `header` overrides them. Tests use it for expired, not-yet-valid, wrong-audience or
 * wrong-issuer tokens, tokens without a claim, or tokens signed by an unknown key.
 */
export async function signAccessToken(
  key: SigningKey,
  claims: TokenClaims,
  header: Partial<JWTHeaderParameters> = {},
): Promise<string> {
  return new SignJWT(claims as Record<string, unknown>)
    .setProtectedHeader({ alg: 'ES256', kid: key.kid, typ: 'at+jwt', ...header })
    .sign(key.privateKey);
}

export interface MintOptions {
  /** Customer the token acts for; omitted: sub = clientId (staff/machine). */
  customerId?: string;
  clientId: string;
  /** Defaults to every scope the client may have (unknown clients: none). */
  scopes?: string[];
  /** Overrides of the defaults (iss, aud, sub, exp...); `undefined` values remove a claim. */
  claims?: Partial<Record<keyof TokenClaims | string, unknown>>;
  /** Token lifetime from now (negative: already expired). */
  expiresInSeconds?: number;
  /** Sign with this key instead of the server's current key (it is not published). */
  key?: SigningKey;
  header?: Partial<JWTHeaderParameters>;
  /** Binds the token to a DPoP key (RFC 9449): adds `cnf: { jkt }` (the key's RFC 7638 thumbprint). */
  dpopJkt?: string;
}

export interface AuthServerOptions {
  port: number;
  host?: string;
  logger: Logger;
  now?: Now;
  /** `iss` of the tokens and base of the metadata URLs; default: the server's URL. */
  issuer?: string;
  audience?: string;
  tokenTtlSeconds?: number;
  /** Enables POST /sandbox/tokens and /__sandbox/* (default true). */
  adminRoutes?: boolean;
}

export interface RunningAuthServer extends SandboxServer {
  issuer: string;
  audience: string;
  jwksUrl: string;
  /** The key tokens are signed with now. */
  signingKey(): SigningKey;
  /** Published public keys (current and rotated-out ones). */
  jwks(): { keys: JWK[] };
  /** Adds a new current signing key; the old one stays published unless `dropOld`. */
  rotateKey(options?: { dropOld?: boolean }): Promise<SigningKey>;
  /** Mints a token with the server's defaults, bypassing client/scope checks (tests). */
  mint(options: MintOptions): Promise<string>;
}

interface OAuthError {
  error: string;
  error_description: string;
}

const oauthError = (
  status: number,
  error: string,
  description: string,
  headers: Record<string, string> = {},
): SandboxReply => ({
  status,
  body: { error, error_description: description } satisfies OAuthError,
  headers: { 'cache-control': 'no-store', ...headers },
});

const authDialect: Dialect = {
  invalidRequest: () => oauthError(400, 'invalid_request', 'invalid request'),
  failure: (status, _retry, _req) =>
    status === 429
      ? oauthError(429, 'temporarily_unavailable', 'rate limited')
      : oauthError(status, 'server_error', `HTTP ${status}`),
  notFound: (req, methodNotAllowed) =>
    methodNotAllowed
      ? oauthError(405, 'invalid_request', `${req.method} not allowed`)
      : { status: 404, body: { error: 'not_found', error_description: `no route ${req.path}` } },
  schemaViolation: (body) => ({ ...(body as object), access_token: 42 }),
};

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function parseScopes(input: unknown): string[] | undefined | null {
  if (input === undefined || input === null || input === '') return undefined;
  if (typeof input === 'string') return input.split(/\s+/).filter(Boolean);
  if (Array.isArray(input) && input.every((s) => typeof s === 'string')) return input as string[];
  return null;
}

export async function startAuthServer(options: AuthServerOptions): Promise<RunningAuthServer> {
  const now = options.now ?? systemClock;
  const audience = options.audience ?? DEFAULT_AUDIENCE;
  const ttl = options.tokenTtlSeconds ?? DEFAULT_TOKEN_TTL_SECONDS;
  const keys: SigningKey[] = [await generateSigningKey('sandbox-key-1')];
  let issuer = options.issuer?.replace(/\/+$/, '') ?? '';
  const log = options.logger.child({ sandbox: 'auth' });

  const current = () => keys[keys.length - 1]!;
  const nowSeconds = () => Math.floor(now().getTime() / 1000);

  async function issue(
    sub: string,
    client: SandboxClient,
    scopes: string[],
    dpopJkt?: string,
  ): Promise<{ token: string; expiresIn: number; scope: string }> {
    const iat = nowSeconds();
    const scope = scopes.join(' ');
    const token = await signAccessToken(current(), {
      iss: issuer,
      aud: audience,
      sub,
      client_id: client.clientId,
      scope,
      iat,
      nbf: iat,
      exp: iat + ttl,
      jti: randomUUID(),
      ...(dpopJkt ? { cnf: { jkt: dpopJkt } } : {}),
    });
    return { token, expiresIn: ttl, scope };
  }

  function metadata() {
    const scopes = [...new Set(SANDBOX_CLIENTS.flatMap((c) => c.allowedScopes))].sort();
    return {
      issuer,
      token_endpoint: `${issuer}/token`,
      jwks_uri: `${issuer}/jwks.json`,
      grant_types_supported: ['client_credentials'],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      response_types_supported: ['token'],
      scopes_supported: scopes,
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: ['ES256'],
      token_endpoint_auth_signing_alg_values_supported: ['ES256'],
      code_challenge_methods_supported: ['S256'],
      sandbox_token_endpoint: `${issuer}/sandbox/tokens`,
    };
  }

  function clientFromRequest(req: SandboxRequest, body: Record<string, unknown>): SandboxClient | SandboxReply {
    let id: string | undefined;
    let secret: string | undefined;
    const auth = header(req, 'authorization');
    if (auth && /^Basic\s+/i.test(auth)) {
      const decoded = Buffer.from(auth.replace(/^Basic\s+/i, ''), 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon < 0)
        return oauthError(401, 'invalid_client', 'malformed Basic credentials', {
          'www-authenticate': 'Basic realm="sandbox"',
        });
      id = decodeURIComponent(decoded.slice(0, colon));
      secret = decodeURIComponent(decoded.slice(colon + 1));
    } else {
      id = typeof body.client_id === 'string' ? body.client_id : undefined;
      secret = typeof body.client_secret === 'string' ? body.client_secret : undefined;
    }
    const client = id ? SANDBOX_CLIENTS.find((c) => c.clientId === id) : undefined;
    if (!client || !secret || !safeEqual(secret, client.clientSecret)) {
      return oauthError(401, 'invalid_client', 'client authentication failed', {
        'www-authenticate': 'Basic realm="sandbox"',
      });
    }
    return client;
  }

  const routes: Route[] = [
    {
      method: 'GET',
      path: '/.well-known/oauth-authorization-server',
      handler: () => ({ status: 200, body: metadata() }),
    },
    { method: 'GET', path: '/.well-known/openid-configuration', handler: () => ({ status: 200, body: metadata() }) },
    {
      method: 'GET',
      path: '/jwks.json',
      handler: () => ({
        status: 200,
        body: { keys: keys.map((k) => k.publicJwk) },
        headers: { 'cache-control': 'public, max-age=300' },
      }),
    },
    {
      method: 'POST',
      path: '/token',
      async handler(req) {
        if (!(req.headers['content-type'] ?? '').includes('application/x-www-form-urlencoded')) {
          return oauthError(400, 'invalid_request', 'the token request must be application/x-www-form-urlencoded');
        }
        const body = (req.body ?? {}) as Record<string, unknown>;
        const client = clientFromRequest(req, body);
        if ('status' in client) return client;
        if (body.grant_type !== 'client_credentials')
          return oauthError(
            400,
            'unsupported_grant_type',
            'only client_credentials is supported here (customer tokens: POST /sandbox/tokens)',
          );
        if (client.kind !== 'STAFF' && client.kind !== 'MACHINE')
          return oauthError(
            400,
            'unauthorized_client',
            `${client.kind} clients act for customers and cannot use client_credentials`,
          );
        const requested = parseScopes(body.scope);
        if (requested === null) return oauthError(400, 'invalid_request', 'scope must be a space separated string');
        const scopes = requested ?? client.allowedScopes;
        const refused = scopes.filter((s) => !client.allowedScopes.includes(s));
        if (refused.length)
          return oauthError(400, 'invalid_scope', `scope not allowed for ${client.clientId}: ${refused.join(' ')}`);
        const { token, expiresIn, scope } = await issue(client.clientId, client, scopes);
        log.info({ clientId: client.clientId, scope }, 'issued client_credentials token');
        return {
          status: 200,
          body: { access_token: token, token_type: 'Bearer', expires_in: expiresIn, scope },
          headers: { 'cache-control': 'no-store', pragma: 'no-cache' },
        };
      },
    },
    {
      method: 'GET',
      path: '/sandbox/world',
      admin: true,
      handler: () => ({
        status: 200,
        body: {
          customers: SANDBOX_CUSTOMERS.map((c) => ({
            customerId: c.customerId,
            displayName: c.displayName,
            banks: Object.keys(c.banks),
            kyc: c.kycOutcome,
          })),
          clients: SANDBOX_CLIENTS.map((c) => ({
            clientId: c.clientId,
            name: c.name,
            kind: c.kind,
            actsForCustomer: c.kind === 'FIRST_PARTY' || c.kind === 'THIRD_PARTY',
            allowedScopes: [...c.allowedScopes],
          })),
        },
        headers: { 'cache-control': 'no-store' },
      }),
    },
    {
      method: 'POST',
      path: '/sandbox/tokens',
      admin: true,
      async handler(req) {
        const body = (req.body && typeof req.body === 'object' ? req.body : {}) as Record<string, unknown>;
        const client =
          typeof body.clientId === 'string' ? SANDBOX_CLIENTS.find((c) => c.clientId === body.clientId) : undefined;
        if (!client) return oauthError(400, 'invalid_client', `unknown client ${JSON.stringify(body.clientId)}`);
        const customerId = body.customerId === null || body.customerId === undefined ? undefined : body.customerId;
        if (customerId !== undefined && typeof customerId !== 'string')
          return oauthError(400, 'invalid_request', 'customerId must be a string');
        const actsForCustomer = client.kind === 'FIRST_PARTY' || client.kind === 'THIRD_PARTY';
        if (actsForCustomer && !customerId)
          return oauthError(
            400,
            'invalid_request',
            `customerId is required for ${client.kind} client ${client.clientId}`,
          );
        if (!actsForCustomer && customerId)
          return oauthError(
            400,
            'unauthorized_client',
            `${client.clientId} is a ${client.kind} client and acts for itself: omit customerId`,
          );
        if (customerId && !SANDBOX_CUSTOMERS.some((c) => c.customerId === customerId))
          return oauthError(400, 'invalid_request', `unknown customer ${customerId}`);
        const requested = parseScopes(body.scopes);
        if (requested === null)
          return oauthError(400, 'invalid_request', 'scopes must be an array of strings or a space separated string');
        const scopes = requested ?? client.allowedScopes;
        const refused = scopes.filter((s) => !client.allowedScopes.includes(s));
        if (refused.length)
          return oauthError(400, 'invalid_scope', `scope not allowed for ${client.clientId}: ${refused.join(' ')}`);
        const dpopJkt = body.dpopJkt;
        if (dpopJkt !== undefined && (typeof dpopJkt !== 'string' || !/^[A-Za-z0-9_-]{43}$/.test(dpopJkt)))
          return oauthError(400, 'invalid_request', 'dpopJkt must be a base64url SHA-256 JWK thumbprint');
        const { token, expiresIn, scope } = await issue(customerId ?? client.clientId, client, scopes, dpopJkt);
        log.info(
          { clientId: client.clientId, customerId, scope, dpop: dpopJkt !== undefined },
          'issued sandbox customer token',
        );
        return {
          status: 200,
          body: {
            access_token: token,
            token_type: dpopJkt ? 'DPoP' : 'Bearer',
            expires_in: expiresIn,
            scope,
            clientId: client.clientId,
            ...(customerId ? { customerId } : {}),
          },
          headers: { 'cache-control': 'no-store' },
        };
      },
    },
  ];

  const server = await startSandboxServer({
    name: 'auth',
    port: options.port,
    ...(options.host ? { host: options.host } : {}),
    logger: options.logger,
    now,
    routes,
    dialect: authDialect,
    ...(options.adminRoutes !== undefined ? { adminRoutes: options.adminRoutes } : {}),
  });
  if (!issuer) issuer = server.url;

  return {
    ...server,
    issuer,
    audience,
    jwksUrl: `${issuer}/jwks.json`,
    signingKey: current,
    jwks: () => ({ keys: keys.map((k) => k.publicJwk) }),
    async rotateKey(rotation = {}) {
      const key = await generateSigningKey(`sandbox-key-${keys.length + 1}`);
      if (rotation.dropOld) keys.splice(0, keys.length);
      keys.push(key);
      return key;
    },
    async mint(mint) {
      const client = SANDBOX_CLIENTS.find((c) => c.clientId === mint.clientId);
      const iat = nowSeconds();
      const claims: TokenClaims = {
        iss: issuer,
        aud: audience,
        sub: mint.customerId ?? mint.clientId,
        client_id: mint.clientId,
        scope: (mint.scopes ?? client?.allowedScopes ?? []).join(' '),
        iat,
        nbf: iat,
        exp: iat + (mint.expiresInSeconds ?? ttl),
        jti: randomUUID(),
        ...(mint.dpopJkt ? { cnf: { jkt: mint.dpopJkt } } : {}),
      };
      for (const [name, value] of Object.entries(mint.claims ?? {})) {
        if (value === undefined) delete claims[name];
        else claims[name] = value;
      }
      return signAccessToken(mint.key ?? current(), claims, mint.header ?? {});
    },
  };
}
