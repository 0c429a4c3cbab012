import { ApolloServer } from '@apollo/server';
import { Counter, Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadGatewayConfig } from '../../gateway/config.ts';
import { deprecatedFieldUsage } from '../../gateway/deprecations.ts';
import { startGateway } from '../../gateway/server.ts';
import { metricsOf } from '../../lib/metrics.ts';
import { startMetricsServer } from '../../lib/metrics-server.ts';
import type { Principal } from '../../lib/principal.ts';
import {
  AUDIENCE,
  composeToySupergraph,
  gql,
  ISSUER,
  logger,
  startLocalJwks,
  startToySubgraph,
  writeTempSupergraph,
} from './helpers.ts';

/**
 * Usage of deprecated fields, per client: the plugin of gateway/deprecations.ts on a test-only
 * schema (the public schema deprecates nothing today), then the gateway serving a toy supergraph
 * with a deprecated field and the counter in its /metrics.
 */
const TYPE_DEFS = `
  type Query {
    account(id: ID!): Account
    accounts(first: Int, limit: Int @deprecated(reason: "Use first. removal: 2027-06-30")): [Account!]!
    node: Node
  }
  interface Node {
    id: ID!
    legacyId: String @deprecated(reason: "Use id. removal: 2027-06-30")
  }
  type Account implements Node {
    id: ID!
    legacyId: String @deprecated(reason: "Use id. removal: 2027-06-30")
    name: String
    nickname: String @deprecated(reason: "Use name. removal: 2027-06-30")
  }
`;
const ACCOUNT = { id: 'acc_1', legacyId: 'L1', name: 'Bills', nickname: 'bills' };
const RESOLVERS = {
  Query: { account: () => ACCOUNT, accounts: () => [ACCOUNT], node: () => ACCOUNT },
  Node: { __resolveType: () => 'Account' },
};

interface Context {
  principal: Principal | null;
}

let registry: Registry;
let counter: Counter<'field' | 'client_id'>;
let apollo: ApolloServer<Context>;

beforeAll(async () => {
  registry = new Registry();
  counter = new Counter({
    name: 'graphql_deprecated_field_requests_total',
    help: 'test',
    labelNames: ['field', 'client_id'] as const,
    registers: [registry],
  });
  apollo = new ApolloServer<Context>({
    typeDefs: TYPE_DEFS,
    resolvers: RESOLVERS,
    plugins: [deprecatedFieldUsage<Context>(counter)],
  });
  await apollo.start();
});

afterAll(async () => {
  await apollo?.stop();
});

const principal = (clientId: string): Principal => ({ customerId: 'cus_1', clientId, scopes: [] });

/** Runs an operation; the error code of its first error, if any. */
async function run(query: string, clientId: string | null, operationName?: string): Promise<unknown> {
  const response = await apollo.executeOperation(
    { query, operationName },
    { contextValue: { principal: clientId ? principal(clientId) : null } },
  );
  return response.body.kind === 'single' ? response.body.singleResult.errors?.[0]?.extensions?.code : undefined;
}

/** The counter as operators read it: "field client_id" → value, without the zero series. */
async function counts(): Promise<Record<string, number>> {
  const { values } = await counter.get();
  return Object.fromEntries(
    values.filter((v) => v.value > 0).map((v) => [`${v.labels.field} ${v.labels.client_id}`, v.value]),
  );
}

describe('deprecated field usage', () => {
  it('counts each deprecated field an operation selects once, per client, through fragments and interfaces, and nothing else', async () => {
    counter.reset();
    await run('{ account(id: "acc_1") { id name } }', 'modern-app');
    expect(await counts()).toEqual({});

    await run(
      `query Dashboard { account(id: "acc_1") { nickname ...Legacy ... on Account { nickname } } node { legacyId } accounts(limit: 5) { id } }
       fragment Legacy on Account { nickname legacyId }`,
      'legacy-app',
    );
    expect(await counts()).toEqual({
      'Account.nickname legacy-app': 1,
      'Account.legacyId legacy-app': 1,
      'Node.legacyId legacy-app': 1,
      'Query.accounts(limit:) legacy-app': 1,
    });

    await run('{ account(id: "acc_1") { nickname } }', 'legacy-app');
    await run('{ account(id: "acc_1") { nickname } }', 'partner-app');
    await run('{ account(id: "acc_1") { nickname } }', null);
    expect(await counts()).toMatchObject({
      'Account.nickname legacy-app': 2,
      'Account.nickname partner-app': 1,
      'Account.nickname anonymous': 1,
    });
  });

  it('counts only the operation that runs, and nothing for one that never executes', async () => {
    counter.reset();
    const twoOperations = 'query A { account(id: "acc_1") { nickname } } query B { account(id: "acc_1") { name } }';
    expect(await run(twoOperations, 'legacy-app', 'B')).toBeUndefined();
    expect(await run('{ account(id: "acc_1") { nickname doesNotExist } }', 'legacy-app')).toBe(
      'GRAPHQL_VALIDATION_FAILED',
    );
    // Which operation to run is not said: Apollo's own answer, not an error of the plugin.
    expect(await run(twoOperations, 'legacy-app')).toBe('OPERATION_RESOLUTION_FAILURE');
    expect(await run(twoOperations, 'legacy-app', 'C')).toBe('OPERATION_RESOLUTION_FAILURE');
    expect(await counts()).toEqual({});
    await run(twoOperations, 'legacy-app', 'A');
    expect(await counts()).toEqual({ 'Account.nickname legacy-app': 1 });
    expect(await registry.metrics()).toContain(
      'graphql_deprecated_field_requests_total{field="Account.nickname",client_id="legacy-app"} 1',
    );
  });
});

describe('the gateway', () => {
  it('counts deprecated fields of the supergraph it serves per client, in /metrics', async () => {
    const subgraph = await startToySubgraph(
      'profiles',
      `extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])
       type Query { profile: Profile }
       type Profile @key(fields: "id") {
         id: ID!
         displayName: String
         nickname: String @deprecated(reason: "Use displayName. removal: 2027-06-30")
       }`,
      { Query: { profile: () => ({ id: 'p1', displayName: 'Alice', nickname: 'Al' }) } },
    );
    const jwks = await startLocalJwks();
    const supergraph = writeTempSupergraph(composeToySupergraph([subgraph]));
    // The toy schema has no authorization policy (see helpers.ts startToyGateway).
    const gateway = await startGateway(
      loadGatewayConfig({
        GATEWAY_PORT: '0',
        SUPERGRAPH: supergraph.path,
        AUTH_ISSUER: ISSUER,
        AUTH_AUDIENCE: AUDIENCE,
        AUTH_JWKS_URL: jwks.url,
      }),
      {
        logger,
        authorization: 'disabled',
      },
    );
    const operator = await startMetricsServer({
      host: '127.0.0.1',
      port: 0,
      logger,
      registries: { gateway: metricsOf('gateway').registry },
    });
    try {
      const legacy = await jwks.sign({ client_id: 'legacy-app' });
      const modern = await jwks.sign({ client_id: 'modern-app' });
      expect((await gql(gateway.url, '{ profile { nickname } }', { token: legacy })).body.data).toEqual({
        profile: { nickname: 'Al' },
      });
      await gql(gateway.url, '{ profile { id nickname } }', { token: legacy });
      await gql(gateway.url, '{ profile { displayName } }', { token: modern });
      const exposition = await (await fetch(operator.url)).text();
      const series = exposition.split('\n').filter((l) => l.startsWith('graphql_deprecated_field_requests_total{'));
      expect(series).toEqual([
        expect.stringMatching(
          /^graphql_deprecated_field_requests_total\{.*field="Profile\.nickname",client_id="legacy-app".*\} 2$/,
        ),
      ]);
    } finally {
      await operator.close();
      await gateway.close();
      await subgraph.close();
      await jwks.close();
      supergraph.cleanup();
    }
  });
});
