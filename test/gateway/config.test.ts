import { createServer } from 'node:http';
import { describe, expect, it } from 'vitest';
import { loadGatewayConfig } from '../../gateway/config.ts';
import { loadSupergraph, SupergraphError } from '../../gateway/supergraph.ts';
import { startGateway } from '../../gateway/server.ts';
import { openSharedCache } from '../../lib/cache.ts';
import { ConfigError } from '../../lib/config.ts';
import { closeServer, listen } from '../../lib/http-server.ts';
import { SUPERGRAPH_PATH } from '../../lib/schema-files.ts';
import { logger, writeTempSupergraph } from './helpers.ts';

function configError(env: Record<string, string | undefined>): string {
  try {
    loadGatewayConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('gateway configuration', () => {
  it('has safe local defaults', () => {
    const config = loadGatewayConfig({});
    expect(config).toMatchObject({
      GATEWAY_PORT: 4000,
      HOST: '127.0.0.1',
      PROFILE: 'sandbox',
      SUPERGRAPH: SUPERGRAPH_PATH,
      SUBGRAPH_TIMEOUT_MS: 10_000,
      AUTH_ISSUER: 'http://127.0.0.1:4100',
      AUTH_AUDIENCE: 'https://api.financial-graph.local',
      AUTH_JWKS_URL: 'http://127.0.0.1:4100/jwks.json',
      subgraphUrls: {},
    });
  });

  it('collects <NAME>_SUBGRAPH_URL overrides for any subgraph name', () => {
    const config = loadGatewayConfig({
      ACCOUNTS_SUBGRAPH_URL: 'http://accounts:4002/graphql',
      INVENTORY_SUBGRAPH_URL: 'https://inv.example/graphql',
    });
    expect(config.subgraphUrls).toEqual({
      ACCOUNTS: 'http://accounts:4002/graphql',
      INVENTORY: 'https://inv.example/graphql',
    });
  });

  it('names every bad variable', () => {
    const message = configError({
      GATEWAY_PORT: 'http',
      SUBGRAPH_TIMEOUT_MS: '-5',
      AUTH_JWKS_URL: 'not a url',
      PAYMENTS_SUBGRAPH_URL: 'ftp://x/graphql',
    });
    expect(message).toContain('GATEWAY_PORT');
    expect(message).toContain('SUBGRAPH_TIMEOUT_MS');
    expect(message).toContain('AUTH_JWKS_URL');
    expect(message).toContain('PAYMENTS_SUBGRAPH_URL');
  });

  it('refuses the development secret, the sandbox issuer and audience, and a missing REDIS_URL in the production profile', () => {
    const message = configError({ PROFILE: 'production' });
    for (const name of ['INTERNAL_AUTH_SECRET', 'AUTH_ISSUER', 'AUTH_AUDIENCE', 'REDIS_URL'])
      expect(message).toContain(name);
    const production = {
      PROFILE: 'production',
      INTERNAL_AUTH_SECRET: 'x'.repeat(40),
      AUTH_ISSUER: 'https://auth.example',
      AUTH_AUDIENCE: 'https://api.example',
      REDIS_URL: 'redis://cache:6379',
    };
    expect(() => loadGatewayConfig(production)).not.toThrow();
    expect(configError({ ...production, REDIS_URL: undefined })).toMatch(
      /REDIS_URL: must be set in the production profile/,
    );
  });

  it('rejects a short INTERNAL_AUTH_SECRET', () => {
    expect(configError({ INTERNAL_AUTH_SECRET: 'short' })).toContain('INTERNAL_AUTH_SECRET');
  });
});

describe('supergraph loading', () => {
  it('says which SUPERGRAPH file is missing', async () => {
    await expect(loadSupergraph('/nonexistent/supergraph.graphql', { timeoutMs: 1000 })).rejects.toThrow(
      /SUPERGRAPH=\/nonexistent\/supergraph.graphql.*file not found/,
    );
  });

  it('refuses a schema that is not a supergraph', async () => {
    const file = writeTempSupergraph('type Query { hello: String }');
    try {
      await expect(loadSupergraph(file.path, { timeoutMs: 1000 })).rejects.toThrow(/not a Federation supergraph/);
    } finally {
      file.cleanup();
    }
  });

  it('says which URL failed and how', async () => {
    const server = createServer((_req, res) => res.writeHead(404).end());
    const { url } = await listen(server, 0);
    try {
      const err = await loadSupergraph(`${url}/supergraph.graphql`, { timeoutMs: 1000 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SupergraphError);
      expect((err as Error).message).toContain(`SUPERGRAPH=${url}/supergraph.graphql: HTTP 404`);
    } finally {
      await closeServer(server);
    }
  });

  it('the platform supergraph builds into a gateway that refuses anonymous data queries and serves introspection', async () => {
    const gateway = await startGateway(
      loadGatewayConfig({ GATEWAY_PORT: '0', AUTH_JWKS_URL: 'http://127.0.0.1:9/jwks.json' }),
      { logger },
    );
    try {
      expect(Object.keys(gateway.subgraphs).sort()).toEqual(['accounts', 'consents', 'identity', 'payments']);
      const res = await fetch(gateway.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: '{ __type(name: "Account") { name } me { id } }' }),
      });
      expect(res.status).toBe(401);
      const intro = await fetch(gateway.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: '{ __type(name: "Account") { name } }' }),
      });
      expect(await intro.json()).toEqual({ data: { __type: { name: 'Account' } } });
    } finally {
      await gateway.close();
    }
  });

  it('turns introspection off in the production profile', async () => {
    // Production insists on REDIS_URL; this test is about introspection, so it hands the gateway
    // an in-memory cache (the option exists for that) instead of needing a Redis server.
    const cache = await openSharedCache({ logger });
    const gateway = await startGateway(
      loadGatewayConfig({
        GATEWAY_PORT: '0',
        PROFILE: 'production',
        INTERNAL_AUTH_SECRET: 'p'.repeat(40),
        AUTH_ISSUER: 'https://auth.example',
        AUTH_AUDIENCE: 'https://api.example',
        AUTH_JWKS_URL: 'http://127.0.0.1:9/jwks.json',
        REDIS_URL: 'redis://127.0.0.1:9',
      }),
      { logger, cache },
    );
    try {
      const res = await fetch(gateway.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: '{ __schema { queryType { name } } }' }),
      });
      const body = (await res.json()) as { errors?: { extensions?: { code?: string } }[] };
      expect(body.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
    } finally {
      await gateway.close();
      await cache.close();
    }
  });
});
