import { createServer } from 'node:http';
import { writeFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadGatewayConfig } from '../../gateway/config.ts';
import { startGateway, type RunningGateway } from '../../gateway/server.ts';
import { closeServer, listen } from '../../lib/http-server.ts';
import { metricsOf } from '../../lib/metrics.ts';
import {
  AUDIENCE,
  composeToySupergraph,
  gql,
  ISSUER,
  logger,
  startLocalJwks,
  startToySubgraph,
  writeTempSupergraph,
  type LocalJwks,
  type ToySubgraph,
} from './helpers.ts';

/**
 * Supergraph hot reload: a new supergraph (file change, or a new ETag at a polled URL) is served
 * without a restart; a request in flight finishes on the schema it started on; an invalid
 * supergraph is refused (error log, supergraph_reload_total{outcome="rejected"}) and the old one
 * keeps serving; the reloaded schema carries the same authorization as the first.
 */
const FED = 'extend schema @link(url: "https://specs.apollo.dev/federation/v2.6", import: ["@key", "@requiresScopes"])';
const V1 = `${FED}
type Query {
  version: String
  slow: String
  secret: String @requiresScopes(scopes: [["vault"]])
}`;
const V2 = `${FED}
type Query {
  version: String
  fresh: String
  secret: String @requiresScopes(scopes: [["vault"]])
}`;

const factor = Number(process.env.TEST_TIME_FACTOR ?? 1);
let jwks: LocalJwks;
let toy: ToySubgraph;
let releaseSlow: () => void = () => undefined;
let slowStarted: Promise<void>;
let markSlowStarted: () => void = () => undefined;
const cleanups: (() => Promise<void> | void)[] = [];

beforeAll(async () => {
  jwks = await startLocalJwks();
  // One subgraph server that can answer both versions of the schema.
  toy = await startToySubgraph('toy', `${V1}\nextend type Query { fresh: String }`, {
    Query: {
      version: () => 'v',
      fresh: () => 'new field',
      secret: () => 'gold',
      // Held until the test releases it: the request is in flight during the swap.
      slow: () =>
        new Promise<string>((resolve) => {
          markSlowStarted();
          releaseSlow = () => resolve('finished on the old schema');
        }),
    },
  });
});

afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
  await toy?.close();
  await jwks?.close();
});

const supergraphOf = (sdl: string) => composeToySupergraph([{ ...toy, typeDefs: sdl }]);

async function gatewayOn(
  supergraph: string,
  env: Record<string, string> = {},
  log: Parameters<typeof startGateway>[1]['logger'] = logger,
): Promise<RunningGateway> {
  const gateway = await startGateway(
    loadGatewayConfig({
      GATEWAY_PORT: '0',
      SUPERGRAPH: supergraph,
      AUTH_ISSUER: ISSUER,
      AUTH_AUDIENCE: AUDIENCE,
      AUTH_JWKS_URL: jwks.url,
      GATEWAY_AUTHORIZATION: 'directives',
      ...env,
    }),
    { logger: log },
  );
  cleanups.push(() => gateway.close());
  return gateway;
}

async function reloads(outcome: string): Promise<number> {
  const metric = await metricsOf('gateway').registry.getSingleMetric('supergraph_reload_total')?.get();
  return metric?.values.find((v) => v.labels.outcome === outcome)?.value ?? 0;
}

/** Polls until the condition holds (the watcher and the poller act on their own schedule). */
async function until(what: string, condition: () => Promise<boolean>, timeoutMs = 10_000 * factor): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const serves = (gateway: RunningGateway, field: string) => async () => {
  const res = await gql(gateway.url, `{ ${field} }`);
  return res.body.errors === undefined && res.body.data?.[field] !== undefined;
};

describe('supergraph hot reload', () => {
  it('serves a changed supergraph file while a request in flight finishes on the schema it started on', async () => {
    const file = writeTempSupergraph(supergraphOf(V1));
    cleanups.push(file.cleanup);
    const gateway = await gatewayOn(file.path);
    const updatedBefore = await reloads('updated');

    slowStarted = new Promise<void>((resolve) => (markSlowStarted = resolve));
    const inFlight = gql(gateway.url, '{ slow version }');
    await slowStarted;

    writeFileSync(file.path, supergraphOf(V2));
    await until('the new supergraph is served', serves(gateway, 'fresh'));
    expect(await reloads('updated')).toBe(updatedBefore + 1);
    // The new schema no longer has `slow`: new requests see that...
    const gone = await gql(gateway.url, '{ slow }');
    expect(gone.body.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
    // ...and the request that started before the swap completes on the old one.
    releaseSlow();
    const res = await inFlight;
    expect(res.body).toEqual({ data: { slow: 'finished on the old schema', version: 'v' } });

    // The reloaded schema carries the same authorization.
    const anonymous = await gql(gateway.url, '{ secret }');
    expect(anonymous.body.errors?.map((e) => e.extensions?.code)).toEqual(['UNAUTHORIZED_FIELD_OR_TYPE']);
    const granted = await gql(gateway.url, '{ secret }', { token: await jwks.sign({ scope: 'vault' }) });
    expect(granted.body).toEqual({ data: { secret: 'gold' } });
  });

  it('refuses an invalid supergraph with an error log and a metric, and keeps serving the old one', async () => {
    const file = writeTempSupergraph(supergraphOf(V1));
    cleanups.push(file.cleanup);
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString().split('\n')) if (line.trim()) lines.push(JSON.parse(line));
        done();
      },
    });
    const gateway = await gatewayOn(file.path, {}, pino({ level: 'info' }, sink));
    const rejectedBefore = await reloads('rejected');

    writeFileSync(file.path, 'type Query { this is not a supergraph');
    await until('the broken file is rejected', async () => (await reloads('rejected')) > rejectedBefore);
    expect(await serves(gateway, 'version')()).toBe(true);
    const logged = lines.find((l) => l.msg === 'new supergraph rejected; the previous one keeps serving');
    expect(logged).toMatchObject({ level: 50, supergraph: file.path });
    expect(String(logged?.err)).toMatch(/not valid GraphQL SDL/);

    // Valid GraphQL, but not a supergraph: rejected too.
    const rejectedNext = await reloads('rejected');
    writeFileSync(file.path, 'type Query { version: String }');
    await until('the plain schema is rejected', async () => (await reloads('rejected')) > rejectedNext);
    expect(await serves(gateway, 'version')()).toBe(true);
    expect(await serves(gateway, 'fresh')()).toBe(false);

    // A good one afterwards is taken.
    writeFileSync(file.path, supergraphOf(V2));
    await until('the fixed supergraph is served', serves(gateway, 'fresh'));
  });

  it('polls a supergraph URL with If-None-Match and serves a new ETag', async () => {
    let sdl = supergraphOf(V1);
    let etag = '"v1"';
    let conditional = 0;
    let notModified = 0;
    const server = createServer((req, res) => {
      if (req.headers['if-none-match']) conditional++;
      if (req.headers['if-none-match'] === etag) {
        notModified++;
        res.writeHead(304, { etag }).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain', etag }).end(sdl);
    });
    const { url } = await listen(server, 0);
    cleanups.push(() => closeServer(server));
    const gateway = await gatewayOn(`${url}/supergraph.graphql`, { SUPERGRAPH_POLL_INTERVAL_MS: '50' });

    await until('an unchanged supergraph is answered 304', async () => notModified >= 2);
    expect(conditional).toBeGreaterThanOrEqual(2);
    expect(await serves(gateway, 'fresh')()).toBe(false);

    sdl = supergraphOf(V2);
    etag = '"v2"';
    await until('the new ETag is served', serves(gateway, 'fresh'));
  });
});
