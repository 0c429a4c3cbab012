// npm run bench:payments
// p50/p99 latency of initiatePayment through the gateway with and without the gateway's
// idempotency layer (gateway/idempotency/), on the same stack in the same run: the sandbox bank,
// the consents and payments subgraphs and two gateways that differ only in that layer, measured in
// alternating rounds so that drift (caches warming, the ledger growing) affects both alike. Every
// request is a new payment (a fresh key): the layer's claim, the execution, the stored response.
// With DATABASE_URL (and REDIS_URL) the services use a PostgreSQL database made for the run
// (dropped at the end), as production would; otherwise one embedded PGlite.
//
// BENCH_ROUNDS (default 10) rounds of BENCH_REQUESTS (default 50) requests per variant, sent by
// BENCH_CONCURRENCY (default 1) clients; BENCH_WARMUP (default 30) requests per variant first.
// Prints req/s, p50/p95/p99 per variant and the p99 the layer adds (target: at most 3 ms).
import { randomBytes, randomUUID } from 'node:crypto';
import pg from 'pg';
import { loadGatewayConfig } from '../gateway/config.ts';
import { startGateway, type RunningGateway } from '../gateway/server.ts';
import { DEV_ID_HASH_SECRET } from '../lib/config.ts';
import { bankAccountId } from '../lib/ids.ts';
import { createLogger } from '../lib/logger.ts';
import { startSandboxes } from '../sandboxes/index.ts';
import { PLATFORM_PARTNER_CREDENTIALS, SANDBOX_CUSTOMERS } from '../sandboxes/manifest.ts';
import { SANDBOX_SEED_FILE } from '../sandboxes/seed.ts';
import { loadConsentsConfig } from '../subgraphs/consents/config.ts';
import { startConsentsSubgraph } from '../subgraphs/consents/server.ts';
import { loadPaymentsConfig } from '../subgraphs/payments/config.ts';
import { startPaymentsSubgraph } from '../subgraphs/payments/server.ts';

const int = (name: string, def: number) => {
  const v = process.env[name];
  const n = v === undefined || v === '' ? def : Number(v);
  if (!Number.isInteger(n) || n < 1) {
    process.stderr.write(`bench:payments: ${name}: must be a positive integer, got ${JSON.stringify(v)}\n`);
    process.exit(2);
  }
  return n;
};
const ROUNDS = int('BENCH_ROUNDS', 10);
const REQUESTS = int('BENCH_REQUESTS', 50);
const CONCURRENCY = int('BENCH_CONCURRENCY', 1);
const WARMUP = int('BENCH_WARMUP', 30);
const logger = createLogger('bench-payments', 'silent');
const closers: (() => Promise<unknown>)[] = [];

async function database(): Promise<Record<string, string>> {
  const url = process.env.DATABASE_URL;
  if (!url) return { PGLITE_DIR: `memory://bench-payments-${randomBytes(4).toString('hex')}` };
  const name = `bench_payments_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  closers.push(async () => {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await c.end();
  });
  const u = new URL(url);
  u.pathname = `/${name}`;
  return { DATABASE_URL: u.toString() };
}

const INITIATE = `mutation($input: InitiatePaymentInput!) { initiatePayment(input: $input) { id status } }`;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function main() {
  const db = await database();
  const sandboxes = await startSandboxes({ ports: 0, logger });
  closers.push(() => sandboxes.close());
  const consents = await startConsentsSubgraph(
    loadConsentsConfig({ CONSENTS_PORT: '0', SEED_FILE: SANDBOX_SEED_FILE, LOG_LEVEL: 'silent', ...db }),
    { logger },
  );
  closers.push(() => consents.close());
  const payments = await startPaymentsSubgraph(
    loadPaymentsConfig({
      PAYMENTS_PORT: '0',
      SEED_FILE: SANDBOX_SEED_FILE,
      LOG_LEVEL: 'silent',
      NORTHWIND_URL: sandboxes.urls.northwind,
      NORTHWIND_PIS_TOKEN: PLATFORM_PARTNER_CREDENTIALS.northwindPisToken,
      PAYMENTS_POLL_INTERVAL_MS: '3600000',
      ...db,
    }),
    { logger },
  );
  closers.push(() => payments.close());
  const gateway = async (layer: boolean): Promise<RunningGateway> => {
    const g = await startGateway(
      loadGatewayConfig({
        GATEWAY_PORT: '0',
        LOG_LEVEL: 'silent',
        AUTH_ISSUER: sandboxes.urls.auth,
        AUTH_JWKS_URL: sandboxes.urls.jwks,
        PAYMENTS_SUBGRAPH_URL: payments.url,
        CONSENTS_SUBGRAPH_URL: consents.url,
        ACCOUNTS_SUBGRAPH_URL: 'http://127.0.0.1:9/graphql',
        IDENTITY_SUBGRAPH_URL: 'http://127.0.0.1:9/graphql',
        ...(process.env.REDIS_URL ? { REDIS_URL: process.env.REDIS_URL } : {}),
        ...db,
      }),
      // Without the layer: no field is money-moving for it (the same code path the policy would skip).
      { logger, ...(layer ? {} : { moneyMovingFields: new Map() }) },
    );
    closers.push(() => g.close());
    return g;
  };
  const variants = { with: await gateway(true), without: await gateway(false) };
  const alice = SANDBOX_CUSTOMERS.find((c) => c.displayName === 'Alice')!;
  const account = alice.banks.northwind!.accounts.find((a) => a.kind === 'current' && a.currency === 'GBP')!;
  const debtorAccountId = bankAccountId(DEV_ID_HASH_SECRET, 'northwind', account.bankAccountId);
  const token = await sandboxes.auth.mint({ customerId: alice.customerId, clientId: 'web-app' });

  const one = async (url: string): Promise<number> => {
    const body = JSON.stringify({
      query: INITIATE,
      variables: {
        input: {
          idempotencyKey: `b-${randomUUID()}`,
          debtorAccountId,
          creditor: { name: 'Sam Ellis', sortCode: '771100', accountNumber: '22334455' },
          amount: { amount: '1.00', currency: 'GBP' },
          reference: 'BENCH',
        },
      },
    });
    const started = performance.now();
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body,
    });
    const json = (await res.json()) as { errors?: unknown[] };
    const ms = performance.now() - started;
    if (json.errors) throw new Error(`initiatePayment failed: ${JSON.stringify(json.errors)}`);
    return ms;
  };
  const round = async (url: string, n: number): Promise<{ samples: number[]; seconds: number }> => {
    const samples: number[] = [];
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < n) {
          next += 1;
          samples.push(await one(url));
        }
      }),
    );
    return { samples, seconds: (performance.now() - started) / 1000 };
  };

  await round(variants.with.url, WARMUP);
  await round(variants.without.url, WARMUP);
  const results = { with: { samples: [] as number[], seconds: 0 }, without: { samples: [] as number[], seconds: 0 } };
  for (let r = 0; r < ROUNDS; r++) {
    // Alternate which goes first, so neither always runs on a machine the other just warmed.
    const order = r % 2 === 0 ? (['with', 'without'] as const) : (['without', 'with'] as const);
    for (const v of order) {
      const { samples, seconds } = await round(variants[v].url, REQUESTS);
      results[v].samples.push(...samples);
      results[v].seconds += seconds;
    }
    process.stderr.write(`bench:payments: round ${r + 1}/${ROUNDS}\n`);
  }
  const stats = (v: 'with' | 'without') => {
    const s = [...results[v].samples].sort((a, b) => a - b);
    return {
      requests: s.length,
      reqPerSec: s.length / results[v].seconds,
      p50: percentile(s, 50),
      p95: percentile(s, 95),
      p99: percentile(s, 99),
      mean: s.reduce((a, b) => a + b, 0) / s.length,
    };
  };
  const w = stats('with');
  const wo = stats('without');
  const fmt = (n: number) => n.toFixed(2).padStart(8);
  const storage = db.DATABASE_URL ? 'PostgreSQL' : 'PGlite (embedded)';
  const lines = [
    `bench:payments — initiatePayment through the gateway, ${ROUNDS} alternating rounds x ${REQUESTS} requests, concurrency ${CONCURRENCY}, ${storage}${process.env.REDIS_URL ? ' + Redis' : ''}`,
    `  variant                         requests   req/s      p50 ms   p95 ms   p99 ms  mean ms`,
    `  with the idempotency layer      ${String(w.requests).padStart(8)} ${fmt(w.reqPerSec)} ${fmt(w.p50)} ${fmt(w.p95)} ${fmt(w.p99)} ${fmt(w.mean)}`,
    `  without the layer               ${String(wo.requests).padStart(8)} ${fmt(wo.reqPerSec)} ${fmt(wo.p50)} ${fmt(wo.p95)} ${fmt(wo.p99)} ${fmt(wo.mean)}`,
    `  added by the layer: p50 ${(w.p50 - wo.p50).toFixed(2)} ms, p99 ${(w.p99 - wo.p99).toFixed(2)} ms (target: at most 3 ms at p99)`,
    `  memory: rss ${(process.memoryUsage().rss / 1_048_576).toFixed(0)} MB, heap used ${(process.memoryUsage().heapUsed / 1_048_576).toFixed(0)} MB (one process: sandboxes, subgraphs, gateways)`,
    `  payments at the bank: ${sandboxes.northwind.paymentConsents().length} (one per request)`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

try {
  await main();
} finally {
  for (const c of closers.reverse()) await c().catch(() => {});
}
process.exit(0);
