import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadGatewayConfig } from '../../gateway/config.ts';
import { createOverrideHandler } from '../../gateway/progressive-override.ts';
import { startGateway, type RunningGateway } from '../../gateway/server.ts';
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
 * Progressive override: `@override(from: "legacy", label: ...)` moves Product.price from the
 * legacy subgraph to the pricing one for a share of requests (percent(N)) or when a custom label
 * is on (GATEWAY_OVERRIDE_LABELS). Each subgraph answers with a different price, so the answer
 * says who resolved it; a request must never end up with the field from neither.
 */
const LEGACY = `extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key", "@shareable"])
type Query {
  products: [Product!]!
}
type Product @key(fields: "id") {
  id: ID!
  name: String!
  price: Int!
  stock: Int!
}`;

const pricing = (
  label: string,
) => `extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key", "@override"])
type Product @key(fields: "id") {
  id: ID!
  price: Int! @override(from: "legacy", label: "${label}")
  stock: Int! @override(from: "legacy", label: "${label}")
}`;

const PRODUCTS = [
  { id: 'p1', name: 'Card' },
  { id: 'p2', name: 'Loan' },
  { id: 'p3', name: 'Savings' },
];

let jwks: LocalJwks;
let legacy: ToySubgraph;
const pricingSubgraphs = new Map<string, ToySubgraph>();
const cleanups: (() => Promise<void> | void)[] = [];

beforeAll(async () => {
  jwks = await startLocalJwks();
  legacy = await startToySubgraph('legacy', LEGACY, {
    Query: { products: () => PRODUCTS.map((p) => ({ ...p, price: 1, stock: 10 })) },
    Product: { __resolveReference: (ref: { id: string }) => ({ ...ref, price: 1, stock: 10 }) },
  });
});

afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
  for (const s of pricingSubgraphs.values()) await s.close();
  await legacy?.close();
  await jwks?.close();
});

async function gatewayWith(label: string, env: Record<string, string> = {}): Promise<RunningGateway> {
  let sub = pricingSubgraphs.get(label);
  if (!sub) {
    sub = await startToySubgraph('pricing', pricing(label), {
      Product: { __resolveReference: (ref: { id: string }) => ({ id: ref.id, price: 2, stock: 20 }) },
    });
    pricingSubgraphs.set(label, sub);
  }
  const file = writeTempSupergraph(composeToySupergraph([legacy, sub]));
  cleanups.push(file.cleanup);
  const gateway = await startGateway(
    loadGatewayConfig({
      GATEWAY_PORT: '0',
      SUPERGRAPH: file.path,
      AUTH_ISSUER: ISSUER,
      AUTH_AUDIENCE: AUDIENCE,
      AUTH_JWKS_URL: jwks.url,
      GATEWAY_AUTHORIZATION: 'directives',
      ...env,
    }),
    { logger },
  );
  cleanups.push(() => gateway.close());
  return gateway;
}

const QUERY = '{ products { id name price stock } }';

/** Which subgraph priced the answer: 'legacy', 'pricing', or 'mixed' (never acceptable). */
function pricedBy(data: unknown): 'legacy' | 'pricing' | 'mixed' {
  const products = (data as { products: { price: number; stock: number }[] }).products;
  const prices = new Set(
    products.flatMap((p) => [p.price === 1 ? 'legacy' : 'pricing', p.stock === 10 ? 'legacy' : 'pricing']),
  );
  return prices.size === 1 ? ([...prices][0] as 'legacy' | 'pricing') : 'mixed';
}

async function run(gateway: RunningGateway, n: number, concurrency = 10) {
  const seen = { legacy: 0, pricing: 0, mixed: 0, errors: 0 };
  for (let i = 0; i < n; i += concurrency) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(concurrency, n - i) }, () => gql(gateway.url, QUERY)),
    );
    for (const res of batch) {
      if (res.body.errors) seen.errors++;
      else {
        expect(res.body.data?.products).toHaveLength(3);
        seen[pricedBy(res.body.data)]++;
      }
    }
  }
  return seen;
}

describe('progressive override', () => {
  it('percent(0) always keeps the old owner, percent(100) always the new one', async () => {
    expect(await run(await gatewayWith('percent(0)'), 30)).toEqual({ legacy: 30, pricing: 0, mixed: 0, errors: 0 });
    expect(await run(await gatewayWith('percent(100)'), 30)).toEqual({ legacy: 0, pricing: 30, mixed: 0, errors: 0 });
  });

  it('percent(50) splits requests between the owners and never answers with an error or a mix', async () => {
    const seen = await run(await gatewayWith('percent(50)'), 300);
    expect(seen.errors).toBe(0);
    expect(seen.mixed).toBe(0);
    // 300 fair draws: either side below 60 has a probability under 1e-25.
    expect(seen.legacy).toBeGreaterThan(60);
    expect(seen.pricing).toBeGreaterThan(60);
  });

  it('a custom label moves the field only when GATEWAY_OVERRIDE_LABELS turns it on', async () => {
    expect(await run(await gatewayWith('beta'), 10)).toEqual({ legacy: 10, pricing: 0, mixed: 0, errors: 0 });
    const on = await gatewayWith('beta', { GATEWAY_OVERRIDE_LABELS: 'alpha, beta' });
    expect(await run(on, 10)).toEqual({ legacy: 0, pricing: 10, mixed: 0, errors: 0 });
  });

  it('decides each label once per request, and separately for each request', () => {
    let draws = 0;
    const handler = createOverrideHandler([], () => (draws++ % 2 === 0 ? 0.2 : 0.8));
    const first = {};
    const second = {};
    const label = 'fdg-percent:50';
    expect([handler(label, first), handler(label, first), handler(label, first)]).toEqual([true, true, true]);
    expect([handler(label, second), handler(label, second)]).toEqual([false, false]);
    expect(draws).toBe(2);
  });
});
