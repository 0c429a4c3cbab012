import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginInlineTraceDisabled } from '@apollo/server/plugin/disabled';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { composeServices } from '@theguild/federation-composition';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWTPayload } from 'jose';
import { GraphQLError, parse } from 'graphql';
import { DEV_INTERNAL_SECRET } from '../../lib/config.ts';
import { closeServer, createGraphQLHttpServer, listen } from '../../lib/http-server.ts';
import { gatewayCaller } from '../../lib/subgraph-server.ts';
import { createLogger } from '../../lib/logger.ts';
import type { Principal } from '../../lib/principal.ts';
import { loadGatewayConfig } from '../../gateway/config.ts';
import { startGateway, type RunningGateway } from '../../gateway/server.ts';

export const logger = createLogger('test-gateway', 'silent');
export const ISSUER = 'http://auth.test.local';
export const AUDIENCE = 'https://api.financial-graph.local';
export const ALICE = 'cus_u57fz5zj7ojayz6np3d6x6kon4';

/** A local authorization server stand-in: one ES256 key served as a JWKS on a free port. */
export interface LocalJwks {
  url: string;
  kid: string;
  privateKey: CryptoKey;
  /** Signs an access token with the JWKS key; claims and header can be overridden. */
  sign(
    claims?: JWTPayload,
    opts?: {
      header?: Record<string, unknown>;
      key?: CryptoKey;
      alg?: string;
      expiresIn?: string | number;
      iat?: number;
    },
  ): Promise<string>;
  requests(): number;
  close(): Promise<void>;
}

export async function startLocalJwks(): Promise<LocalJwks> {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const kid = 'test-key-1';
  const jwk = { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' };
  let count = 0;
  const server = createServer((req, res) => {
    count++;
    if (req.url === '/jwks.json') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: [jwk] }));
      return;
    }
    res.writeHead(404).end();
  });
  const { url } = await listen(server, 0);
  return {
    url: `${url}/jwks.json`,
    kid,
    privateKey,
    async sign(claims = {}, opts = {}) {
      const jwt = new SignJWT({ client_id: 'web-app', scope: 'accounts:read identity:read', ...claims })
        .setProtectedHeader({ alg: opts.alg ?? 'ES256', kid, typ: 'at+jwt', ...opts.header })
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .setSubject(ALICE)
        .setIssuedAt(opts.iat)
        .setExpirationTime(opts.expiresIn ?? '5m');
      if (claims.iss !== undefined) jwt.setIssuer(claims.iss);
      if (claims.aud !== undefined) jwt.setAudience(claims.aud);
      if (claims.sub !== undefined) jwt.setSubject(claims.sub);
      return jwt.sign(opts.key ?? privateKey);
    },
    requests: () => count,
    close: () => closeServer(server),
  };
}

/** What a toy subgraph saw of one request. */
export interface SeenRequest {
  headers: IncomingHttpHeaders;
  principal: Principal | null;
}

export interface ToySubgraph {
  name: string;
  url: string;
  typeDefs: string;
  seen: SeenRequest[];
  close(): Promise<void>;
}

interface ToyContext {
  principal: Principal | null;
  headers: IncomingHttpHeaders;
}

/**
 * A tiny Federation v2 subgraph that accepts only gateway-signed requests (like the real
 * ones) and records what it received.
 */
export async function startToySubgraph(
  name: string,
  typeDefs: string,
  resolvers: Record<string, unknown>,
  secret = DEV_INTERNAL_SECRET,
): Promise<ToySubgraph> {
  const seen: SeenRequest[] = [];
  const apollo = new ApolloServer<ToyContext>({
    schema: buildSubgraphSchema({ typeDefs: parse(typeDefs), resolvers: resolvers as never }),
    includeStacktraceInErrorResponses: false,
    plugins: [ApolloServerPluginInlineTraceDisabled()],
  });
  await apollo.start();
  const server: Server = createGraphQLHttpServer<ToyContext>({
    apollo,
    logger,
    readiness: async () => ({ ok: true }),
    context: async (req, _rc, content) => {
      const principal = await gatewayCaller(req, name, [secret], content);
      seen.push({ headers: req.headers, principal });
      return { principal, headers: req.headers };
    },
  });
  const { url } = await listen(server, 0);
  return {
    name,
    url: `${url}/graphql`,
    typeDefs,
    seen,
    close: async () => {
      await closeServer(server);
      await apollo.stop();
    },
  };
}

const FED = 'extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key", "@shareable"])';

export const USERS_SDL = `${FED}
type Query {
  me: User
  whoami: Caller!
  "Throws a GraphQLError with this code, or (without one) an unexpected Error."
  failing(code: String): String
}
type User @key(fields: "id") {
  id: ID!
  name: String!
}
type Caller {
  customerId: String
  clientId: String
  scopes: [String!]!
  requestId: String
  traceparent: String
}`;

export const REVIEWS_SDL = `${FED}
type User @key(fields: "id") {
  id: ID!
  reviews: [Review!]!
}
type Review {
  id: ID!
  body: String!
}`;

/** Two toy subgraphs, "users" and "reviews", joined on User. */
export async function startToySubgraphs(): Promise<{
  users: ToySubgraph;
  reviews: ToySubgraph;
  close(): Promise<void>;
}> {
  const users = await startToySubgraph('users', USERS_SDL, {
    Query: {
      me: (_: unknown, __: unknown, ctx: ToyContext) =>
        ctx.principal?.customerId ? { id: ctx.principal.customerId, name: 'Alice' } : null,
      whoami: (_: unknown, __: unknown, ctx: ToyContext) => ({
        customerId: ctx.principal?.customerId ?? null,
        clientId: ctx.principal?.clientId ?? null,
        scopes: ctx.principal?.scopes ?? [],
        requestId: ctx.headers['x-request-id'] ?? null,
        traceparent: ctx.headers['traceparent'] ?? null,
      }),
      failing: (_: unknown, args: { code?: string | null }) => {
        if (args.code) throw new GraphQLError('Account not found', { extensions: { code: args.code } });
        throw new Error('connection to db at 10.0.0.5 failed: password authentication failed');
      },
    },
    User: { __resolveReference: (ref: { id: string }) => ({ id: ref.id, name: 'Alice' }) },
  });
  const reviews = await startToySubgraph('reviews', REVIEWS_SDL, {
    User: {
      __resolveReference: (ref: { id: string }) => ({ id: ref.id }),
      reviews: (user: { id: string }) => [{ id: `r1-${user.id}`, body: 'Great bank' }],
    },
  });
  return {
    users,
    reviews,
    close: async () => {
      await users.close();
      await reviews.close();
    },
  };
}

/** Composes subgraphs into a Federation v2 supergraph SDL (URLs as given). */
export function composeToySupergraph(subgraphs: { name: string; typeDefs: string; url: string }[]): string {
  const result = composeServices(subgraphs.map((s) => ({ name: s.name, typeDefs: parse(s.typeDefs), url: s.url })));
  if (result.errors) throw new Error(result.errors.map((e) => e.message).join('\n'));
  return result.supergraphSdl;
}

export function writeTempSupergraph(sdl: string): { path: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'gateway-test-'));
  const path = join(dir, 'supergraph.graphql');
  writeFileSync(path, sdl);
  return { path, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface GraphQLResult {
  status: number;
  headers: Headers;
  body: {
    data?: Record<string, unknown> | null;
    errors?: { message: string; path?: unknown; extensions?: Record<string, unknown> }[];
  };
  raw: string;
}

export async function gql(
  url: string,
  query: string,
  opts: { token?: string; headers?: Record<string, string>; variables?: Record<string, unknown> } = {},
): Promise<GraphQLResult> {
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
      ...opts.headers,
    },
    body: JSON.stringify({ query, variables: opts.variables }),
  });
  const raw = await res.text();
  return { status: res.status, headers: res.headers, body: JSON.parse(raw) as GraphQLResult['body'], raw };
}

/** True when a response carries anything that looks like a stack trace. */
export function hasStackTrace(raw: string): boolean {
  return /stacktrace|\n\s+at |\bat [\w.<>]+ \(|node_modules|\.ts:\d+/.test(raw);
}

/**
 * A gateway over the two toy subgraphs with a local JWKS, for tests of what the gateway does
 * around authorization (authentication, correlation). The toy schema has no authorization
 * policy, so deny-by-default would refuse every field: the rules are off here and tested
 * against the real supergraph in authorization-*.test.ts.
 */
export interface ToyGateway {
  gateway: RunningGateway;
  jwks: LocalJwks;
  toys: Awaited<ReturnType<typeof startToySubgraphs>>;
  close(): Promise<void>;
}

export async function startToyGateway(): Promise<ToyGateway> {
  const jwks = await startLocalJwks();
  const toys = await startToySubgraphs();
  const supergraphFile = writeTempSupergraph(composeToySupergraph([toys.users, toys.reviews]));
  const gateway = await startGateway(
    loadGatewayConfig({
      GATEWAY_PORT: '0',
      SUPERGRAPH: supergraphFile.path,
      AUTH_ISSUER: ISSUER,
      AUTH_AUDIENCE: AUDIENCE,
      AUTH_JWKS_URL: jwks.url,
    }),
    { logger, authorization: 'disabled' },
  );
  return {
    gateway,
    jwks,
    toys,
    async close() {
      await gateway.close();
      await toys.close();
      await jwks.close();
      supergraphFile.cleanup();
    },
  };
}

/** Gateway variables for tests whose four subgraphs are all one stub server, with a local JWKS. */
export function stubGatewayEnv(jwksUrl: string, subgraphUrl: string): Record<string, string> {
  return {
    GATEWAY_PORT: '0',
    AUTH_ISSUER: ISSUER,
    AUTH_AUDIENCE: AUDIENCE,
    AUTH_JWKS_URL: jwksUrl,
    ACCOUNTS_SUBGRAPH_URL: subgraphUrl,
    PAYMENTS_SUBGRAPH_URL: subgraphUrl,
    IDENTITY_SUBGRAPH_URL: subgraphUrl,
    CONSENTS_SUBGRAPH_URL: subgraphUrl,
  };
}
