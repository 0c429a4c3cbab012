import { createServer } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadGatewayConfig } from '../../gateway/config.ts';
import { startGateway, type RunningGateway } from '../../gateway/server.ts';
import { closeServer, listen } from '../../lib/http-server.ts';
import { metricsOf } from '../../lib/metrics.ts';
import {
  AUDIENCE,
  composeToySupergraph,
  gql,
  hasStackTrace,
  ISSUER,
  logger,
  startLocalJwks,
  startToySubgraphs,
  writeTempSupergraph,
  type LocalJwks,
} from './helpers.ts';

/**
 * The gateway is a generic Federation v2 engine: it serves whatever supergraph it is given,
 * here one composed from two toy subgraphs, from a file or a URL, with URL overrides.
 */
let jwks: LocalJwks;
let toys: Awaited<ReturnType<typeof startToySubgraphs>>;
const cleanups: (() => Promise<void> | void)[] = [];

const CROSS = '{ me { id name reviews { body } } }';

beforeAll(async () => {
  jwks = await startLocalJwks();
  toys = await startToySubgraphs();
});

afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
  await toys?.close();
  await jwks?.close();
});

async function gatewayFor(supergraph: string, env: Record<string, string> = {}): Promise<RunningGateway> {
  const gateway = await startGateway(
    loadGatewayConfig({
      GATEWAY_PORT: '0',
      SUPERGRAPH: supergraph,
      AUTH_ISSUER: ISSUER,
      AUTH_AUDIENCE: AUDIENCE,
      AUTH_JWKS_URL: jwks.url,
      ...env,
    }),
    { logger, authorization: 'disabled' },
  );
  cleanups.push(() => gateway.close());
  return gateway;
}

describe('generic federation engine', () => {
  it('resolves a cross-subgraph query through a foreign supergraph read from a file', async () => {
    const file = writeTempSupergraph(composeToySupergraph([toys.users, toys.reviews]));
    cleanups.push(file.cleanup);
    const gateway = await gatewayFor(file.path);
    const reviewsBefore = toys.reviews.seen.length;
    const res = await gql(gateway.url, CROSS, { token: await jwks.sign() });
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data).toEqual({
      me: { id: 'cus_u57fz5zj7ojayz6np3d6x6kon4', name: 'Alice', reviews: [{ body: 'Great bank' }] },
    });
    // The entity fetch went to the reviews subgraph, signed for it.
    expect(toys.reviews.seen.length).toBeGreaterThan(reviewsBefore);
    expect(toys.reviews.seen.at(-1)?.principal?.customerId).toBe('cus_u57fz5zj7ojayz6np3d6x6kon4');
  });

  it('loads the supergraph from an http URL and applies <NAME>_SUBGRAPH_URL overrides', async () => {
    // The supergraph records a dead URL for users; USERS_SUBGRAPH_URL points at the real one.
    const sdl = composeToySupergraph([{ ...toys.users, url: 'http://127.0.0.1:9/graphql' }, toys.reviews]);
    const server = createServer((req, res) => {
      if (req.url === '/supergraph.graphql') res.writeHead(200, { 'content-type': 'text/plain' }).end(sdl);
      else res.writeHead(404).end();
    });
    const { url } = await listen(server, 0);
    cleanups.push(() => closeServer(server));
    const gateway = await gatewayFor(`${url}/supergraph.graphql`, { USERS_SUBGRAPH_URL: toys.users.url });
    expect(gateway.subgraphs).toEqual({ users: toys.users.url, reviews: toys.reviews.url });
    const res = await gql(gateway.url, CROSS, { token: await jwks.sign() });
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data).toEqual({
      me: { id: 'cus_u57fz5zj7ojayz6np3d6x6kon4', name: 'Alice', reviews: [{ body: 'Great bank' }] },
    });
  });

  it('answers SERVICE_UNAVAILABLE for the fields of a subgraph that is down, without stack traces', async () => {
    const file = writeTempSupergraph(
      composeToySupergraph([toys.users, { ...toys.reviews, url: 'http://127.0.0.1:9/graphql' }]),
    );
    cleanups.push(file.cleanup);
    const gateway = await gatewayFor(file.path);
    const res = await gql(gateway.url, CROSS, { token: await jwks.sign() });
    expect(res.body.errors?.map((e) => e.extensions?.code)).toContain('SERVICE_UNAVAILABLE');
    expect(hasStackTrace(res.raw)).toBe(false);
    // What the healthy subgraph owns still resolves.
    const own = await gql(gateway.url, '{ me { id name } }', { token: await jwks.sign() });
    expect(own.body.data).toEqual({ me: { id: 'cus_u57fz5zj7ojayz6np3d6x6kon4', name: 'Alice' } });
    // One subgraph down does not take the gateway out of the load balancer (issue 11): /readyz stays
    // 200 and names the subgraph that is down in its report.
    const ready = await fetch(gateway.url.replace(/graphql$/, 'readyz'));
    expect(ready.status).toBe(200);
    const body = (await ready.json()) as {
      checks: Record<string, boolean>;
      dependencies: Record<string, { reachable: boolean }>;
    };
    expect(body.checks).toEqual({ jwks: true });
    expect(body.dependencies['subgraph:users']).toMatchObject({ reachable: true });
    expect(body.dependencies['subgraph:reviews']).toMatchObject({ reachable: false });
  });

  it('subgraphs refuse requests not signed by the gateway, and a secret mismatch is not blamed on the client', async () => {
    const unsigned = await fetch(toys.users.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ whoami { clientId } }' }),
    });
    expect(unsigned.status).toBe(401);

    const file = writeTempSupergraph(composeToySupergraph([toys.users, toys.reviews]));
    cleanups.push(file.cleanup);
    const gateway = await gatewayFor(file.path, {
      INTERNAL_AUTH_SECRET: 'a-different-secret-than-the-subgraphs-have-000',
    });
    const res = await gql(gateway.url, '{ whoami { clientId } }', { token: await jwks.sign() });
    expect(res.body.errors?.map((e) => e.extensions?.code)).toEqual(['INTERNAL_SERVER_ERROR']);
    expect(hasStackTrace(res.raw)).toBe(false);
  });

  it('is ready when the JWKS answers, and reports every subgraph', async () => {
    const file = writeTempSupergraph(composeToySupergraph([toys.users, toys.reviews]));
    cleanups.push(file.cleanup);
    const gateway = await gatewayFor(file.path);
    const ready = await fetch(gateway.url.replace(/graphql$/, 'readyz'));
    expect(ready.status).toBe(200);
    // The gateway's registry: /metrics is served to operators by lib/metrics-server.ts, not on the gateway's port.
    const metrics = await metricsOf('gateway').registry.metrics();
    expect(metrics).toContain('target="subgraph:users"');
  });

  it('is not ready when the JWKS does not answer', async () => {
    const file = writeTempSupergraph(composeToySupergraph([toys.users, toys.reviews]));
    cleanups.push(file.cleanup);
    const gateway = await gatewayFor(file.path, { AUTH_JWKS_URL: 'http://127.0.0.1:9/jwks.json' });
    const ready = await fetch(gateway.url.replace(/graphql$/, 'readyz'));
    expect(ready.status).toBe(503);
    expect(((await ready.json()) as { checks: Record<string, boolean> }).checks.jwks).toBe(false);
    // A token cannot be verified: the caller gets a retryable 503, not UNAUTHENTICATED.
    const res = await gql(gateway.url, '{ me { id } }', { token: await jwks.sign() });
    expect(res.status).toBe(503);
    expect(res.body.errors?.[0]?.extensions?.code).toBe('SERVICE_UNAVAILABLE');
  });
});

describe('error masking at the gateway', () => {
  it('keeps the codes a client can act on and hides unexpected subgraph errors', async () => {
    const file = writeTempSupergraph(composeToySupergraph([toys.users, toys.reviews]));
    cleanups.push(file.cleanup);
    const gateway = await gatewayFor(file.path);
    const token = await jwks.sign();
    const known = await gql(gateway.url, '{ failing(code: "NOT_FOUND") }', { token });
    expect(known.body.errors?.map((e) => [e.message, e.extensions?.code])).toEqual([
      ['Account not found', 'NOT_FOUND'],
    ]);
    const unexpected = await gql(gateway.url, '{ failing }', { token });
    expect(unexpected.body.errors?.map((e) => [e.message, e.extensions?.code])).toEqual([
      ['Internal server error', 'INTERNAL_SERVER_ERROR'],
    ]);
    expect(unexpected.raw).not.toContain('10.0.0.5');
    expect(hasStackTrace(known.raw + unexpected.raw)).toBe(false);
  });
});
