/**
 * Authorization overhead benchmark (issue 3, "Cost"): `npm run bench:authz`.
 *
 * Same gateway code, same query, one run: the customer dashboard query (test/operations/
 * dashboard.graphql) through two gateways started from the same code in this process, one with
 * the authorization rules on (`authorization: 'enforce'`) and one with them off
 * (`authorization: 'disabled'`, a startGateway option for this benchmark only; it cannot be
 * reached from environment variables).
 *
 * The subgraphs are fake but honest: they serve the real subgraph SDLs (lib/subgraph-server.ts,
 * including the gateway-signature check) with in-memory data for ONE customer with 50 accounts,
 * each with balances and 20 transactions on the page, plus payments and consents, so the
 * gateway does the full federation work of the real dashboard. The token is a real ES256 access
 * token verified against a local JWKS.
 *
 * Load is closed-loop from this process: a fixed concurrency, a fixed number of requests per
 * arm and round after a warm-up, and arms alternating A/B, B/A, ... over several rounds to
 * cancel drift on a noisy shared machine. Prints requests/s, latency p50/p95/p99 and RSS per
 * arm, and the overhead 1 - rps_on / rps_off. Bounded in time; exits by itself; no pass/fail.
 *
 * Options (environment): BENCH_CONCURRENCY (8), BENCH_REQUESTS per arm and round (80),
 * BENCH_ROUNDS (4), BENCH_WARMUP per arm (20), BENCH_DEADLINE_MS (45000: no new round starts
 * after it).
 */
import { createServer } from 'node:http';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper/resolverMap.js';
import { loadGatewayConfig } from '../gateway/config.ts';
import { startGateway, type RunningGateway } from '../gateway/server.ts';
import { DEV_INTERNAL_SECRET } from '../lib/config.ts';
import { closeServer, listen, type RunningServer } from '../lib/http-server.ts';
import { derivedId } from '../lib/ids.ts';
import { createLogger, type Logger } from '../lib/logger.ts';
import type { SubgraphName } from '../lib/schema-files.ts';
import { startSubgraphServer, type BaseSubgraphContext } from '../lib/subgraph-server.ts';
import { SANDBOX_CLIENTS } from '../sandboxes/manifest.ts';
import { DASHBOARD } from './callers.ts';
import { closedLoop, intFromEnv, percentile, runBenchScript, type Outcome, type Phase } from './load.ts';

export type Arm = 'enforce' | 'disabled';

export interface BenchOptions {
  concurrency: number;
  /** Measured requests per arm and round. */
  requests: number;
  rounds: number;
  /** Unmeasured requests per arm before the first round. */
  warmup: number;
  /** Stop starting new rounds after this long (the result says how many rounds ran). */
  deadlineMs: number;
  accounts: number;
  transactionsPerAccount: number;
  /** Where progress lines go; defaults to nowhere. */
  log: (line: string) => void;
}

export interface ArmResult {
  arm: Arm;
  requests: number;
  /** Responses with GraphQL errors or without the full dashboard. */
  failed: number;
  rps: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  /** Process RSS (MiB), highest sample taken right after this arm's phases. Both gateways share the process. */
  rssMiB: number;
  /** requests/s of each round, in order. */
  roundRps: number[];
  firstError?: string;
}

export interface BenchResult {
  options: Omit<BenchOptions, 'log'>;
  roundsRun: number;
  enforce: ArmResult;
  disabled: ArmResult;
  /** 1 - rps_on / rps_off, as a percentage. */
  overheadPct: number;
  /** False when the gateway does not (yet) honour `authorization: 'disabled'`, so both arms ran the same rules. */
  authorizationOptionHonoured: boolean;
  notes: string[];
}

const DEFAULTS: Omit<BenchOptions, 'log'> = {
  concurrency: 8,
  requests: 80,
  rounds: 4,
  warmup: 20,
  deadlineMs: 45_000,
  accounts: 50,
  transactionsPerAccount: 20,
};

const ISSUER = 'http://bench-auth.local';
const AUDIENCE = 'https://api.financial-graph.local';
const SECRET = 'bench';
const CUSTOMER = derivedId('cus', SECRET, 'bench-customer');
const WEB_APP = SANDBOX_CLIENTS.find((c) => c.clientId === 'web-app')!;

// ---------------------------------------------------------------------------------------------
// In-memory world: one customer, many accounts.

interface World {
  accounts: Record<string, unknown>[];
  accountsById: Map<string, Record<string, unknown>>;
  transactionsByAccount: Map<string, Record<string, unknown>[]>;
  transactionsById: Map<string, Record<string, unknown>>;
  payments: Record<string, unknown>[];
  consents: Record<string, unknown>[];
}

function buildWorld(accounts: number, transactionsPerAccount: number): World {
  const base = Date.UTC(2026, 10, 23, 12, 0, 0);
  const world: World = {
    accounts: [],
    accountsById: new Map(),
    transactionsByAccount: new Map(),
    transactionsById: new Map(),
    payments: [],
    consents: [],
  };
  const institutions = [
    { id: 'northwind', name: 'Northwind Bank', standard: 'OBIE' },
    { id: 'rheinbank', name: 'Rheinbank', standard: 'BERLIN_GROUP' },
  ];
  for (let a = 0; a < accounts; a++) {
    const id = derivedId('acc', SECRET, 'account', String(a));
    const currency = a % 2 === 0 ? 'GBP' : 'EUR';
    const account = {
      id,
      holderId: CUSTOMER,
      name: `Account ${a + 1}`,
      type: (['CURRENT', 'SAVINGS', 'CREDIT_CARD'] as const)[a % 3],
      status: 'ENABLED',
      currency,
      maskedIdentifier: `••••${String(1000 + a).slice(-4)}`,
      institution: institutions[a % 2],
      balances: [
        {
          type: 'INTERIM_AVAILABLE',
          amount: { amount: `${1000 + a}.50`, currency },
          direction: 'CREDIT',
          asOf: new Date(base).toISOString(),
          includesCreditLine: false,
        },
        {
          type: 'CLOSING_BOOKED',
          amount: { amount: `${900 + a}.25`, currency },
          direction: 'CREDIT',
          asOf: new Date(base - 86_400_000).toISOString(),
          includesCreditLine: false,
        },
      ],
    };
    world.accounts.push(account);
    world.accountsById.set(id, account);
    const transactions: Record<string, unknown>[] = [];
    // More than a page, so hasNextPage is true as on a real account.
    for (let t = 0; t < transactionsPerAccount + 5; t++) {
      const occurredAt = new Date(base - (t + 1) * 3_600_000 - a * 1000).toISOString();
      const txn = {
        id: derivedId('txn', SECRET, 'txn', String(a), String(t)),
        accountId: id,
        amount: { amount: `${(t % 97) + 1}.${String(t % 100).padStart(2, '0')}`, currency },
        direction: t % 4 === 0 ? 'CREDIT' : 'DEBIT',
        status: t === 0 ? 'PENDING' : 'BOOKED',
        kind: 'STANDARD',
        occurredAt,
        bookedAt: t === 0 ? null : occurredAt,
        description: `Card payment ${t}`,
        counterpartyName: `Merchant ${t % 13}`,
      };
      transactions.push(txn);
      world.transactionsById.set(txn.id, txn);
    }
    world.transactionsByAccount.set(id, transactions);
  }
  for (let p = 0; p < 30; p++) {
    const createdAt = new Date(base - p * 86_400_000).toISOString();
    world.payments.push({
      id: derivedId('pay', SECRET, 'payment', String(p)),
      status: p % 5 === 0 ? 'PENDING' : 'SETTLED',
      amount: { amount: `${10 + p}.00`, currency: 'GBP' },
      debtorAccountId: world.accounts[0]!.id,
      creditor: { name: `Payee ${p}`, maskedIdentifier: '••••4321', identification: null },
      reference: `INV-${p}`,
      createdAt,
      updatedAt: createdAt,
    });
  }
  const accountIds = world.accounts.map((a) => a.id as string);
  world.consents.push(
    {
      id: derivedId('cns', SECRET, 'consent', 'budgetly'),
      clientId: 'budgetly',
      status: 'AUTHORISED',
      permissions: ['ACCOUNTS', 'BALANCES', 'TRANSACTIONS'],
      accountIds: accountIds.slice(0, 10),
    },
    {
      id: derivedId('cns', SECRET, 'consent', 'taxpal'),
      clientId: 'taxpal',
      status: 'REVOKED',
      permissions: ['ACCOUNTS', 'TRANSACTIONS', 'IDENTITY'],
      accountIds: accountIds.slice(0, 2),
    },
  );
  return world;
}

type Ctx = BaseSubgraphContext;

/**
 * A subgraph serving the real SDL of `name` with in-memory resolvers, started exactly as the real
 * subgraphs are (lib/subgraph-server.ts: gateway signature, error masking, ownership stamps,
 * metrics), without their storage.
 */
function startFakeSubgraph(name: SubgraphName, resolvers: GraphQLResolverMap<Ctx>, logger: Logger) {
  return startSubgraphServer<Ctx>({
    name,
    resolvers,
    context: (base) => base,
    logger,
    common: { HOST: '127.0.0.1', INTERNAL_AUTH_SECRET: DEV_INTERNAL_SECRET, INTERNAL_AUTH_PREVIOUS_SECRET: undefined },
    port: 0,
  });
}
const own = (ctx: Ctx, customerId: string) => ctx.principal?.customerId === customerId && customerId === CUSTOMER;

function connection<T extends { id?: unknown }>(
  items: T[],
  first: number | null | undefined,
  after: string | null | undefined,
) {
  const size = Math.max(0, Math.min(first ?? 20, 100));
  const start = after ? Number(Buffer.from(after, 'base64url').toString()) + 1 : 0;
  const page = items.slice(start, start + size);
  const edges = page.map((node, i) => ({ cursor: Buffer.from(String(start + i)).toString('base64url'), node }));
  return { edges, pageInfo: { hasNextPage: start + size < items.length, endCursor: edges.at(-1)?.cursor ?? null } };
}

function resolversOf(world: World): Record<SubgraphName, GraphQLResolverMap<Ctx>> {
  const customer = {
    id: CUSTOMER,
    displayName: 'Benchmark Customer',
    createdAt: '2024-01-01T00:00:00.000Z',
    kyc: { status: 'APPROVED', startedAt: null, completedAt: null, checks: [] },
  };
  const clients = new Map(
    SANDBOX_CLIENTS.filter((c) => c.kind === 'FIRST_PARTY' || c.kind === 'THIRD_PARTY').map((c) => [
      c.clientId,
      { id: c.clientId, name: c.name, kind: c.kind },
    ]),
  );
  const accountOf = (ctx: Ctx, id: string) => {
    const account = world.accountsById.get(id);
    return account && own(ctx, account.holderId as string) ? account : null;
  };
  return {
    identity: {
      Query: {
        me: (_p, _a, ctx) => (ctx.principal?.customerId && own(ctx, ctx.principal.customerId) ? customer : null),
        customer: (_p, args: { id: string }, ctx) => (own(ctx, args.id) ? customer : null),
      },
      Customer: { __resolveReference: (ref: { id: string }, ctx: Ctx) => (own(ctx, ref.id) ? customer : null) },
    },
    accounts: {
      Query: {
        account: (_p, args: { id: string }, ctx) => accountOf(ctx, args.id),
        transaction: (_p, args: { id: string }, ctx) => {
          const txn = world.transactionsById.get(args.id);
          return txn && accountOf(ctx, txn.accountId as string) ? txn : null;
        },
      },
      Customer: {
        __resolveReference: (ref: { id: string }) => ({ id: ref.id }),
        accounts: (c: { id: string }, _a, ctx) => (own(ctx, c.id) ? world.accounts : []),
        unavailableInstitutions: () => [],
      },
      Account: {
        __resolveReference: (ref: { id: string }, ctx: Ctx) => accountOf(ctx, ref.id),
        holder: (a: { holderId: string }) => ({ id: a.holderId }),
        currentBalance: (a: { balances: unknown[] }) => a.balances[0] ?? null,
        identification: () => null,
        transactions: (a: { id: string }, args: { first?: number; after?: string }) =>
          connection(world.transactionsByAccount.get(a.id) ?? [], args.first, args.after),
      },
      Transaction: {
        __resolveReference: (ref: { id: string }, ctx: Ctx) => {
          const txn = world.transactionsById.get(ref.id);
          return txn && accountOf(ctx, txn.accountId as string) ? txn : null;
        },
        account: (t: { accountId: string }) => world.accountsById.get(t.accountId),
        reverses: () => null,
        reversedBy: () => null,
      },
    },
    payments: {
      Query: {
        payment: (_p, args: { id: string }, ctx) =>
          ctx.principal?.customerId === CUSTOMER ? (world.payments.find((p) => p.id === args.id) ?? null) : null,
      },
      Customer: {
        __resolveReference: (ref: { id: string }) => ({ id: ref.id }),
        payments: (c: { id: string }, args: { first?: number; after?: string }, ctx) =>
          connection(own(ctx, c.id) ? world.payments : [], args.first, args.after),
      },
      Payment: {
        __resolveReference: (ref: { id: string }, ctx: Ctx) =>
          ctx.principal?.customerId === CUSTOMER ? (world.payments.find((p) => p.id === ref.id) ?? null) : null,
        debtorAccount: (p: { debtorAccountId: string }) => ({ id: p.debtorAccountId }),
        statusHistory: (p: { status: string; createdAt: string }) => [
          { status: p.status, at: p.createdAt, reason: null },
        ],
      },
    },
    consents: {
      Query: {
        consent: () => null,
        clientApp: (_p, args: { id: string }) => clients.get(args.id) ?? null,
      },
      Customer: {
        __resolveReference: (ref: { id: string }) => ({ id: ref.id }),
        consents: (c: { id: string }, args: { status?: string[] | null }, ctx) => {
          if (!own(ctx, c.id)) return [];
          const clientId = ctx.principal?.clientId;
          const firstParty = clients.get(clientId ?? '')?.kind === 'FIRST_PARTY';
          return world.consents.filter(
            (x) =>
              (firstParty || x.clientId === clientId) &&
              (!args.status?.length || args.status.includes(x.status as string)),
          );
        },
      },
      Consent: {
        client: (c: { clientId: string }) => clients.get(c.clientId),
        customer: () => ({ id: CUSTOMER }),
        accounts: (c: { accountIds: string[] }) => c.accountIds.map((id) => ({ id })),
        createdAt: () => '2026-11-01T00:00:00.000Z',
        expiresAt: () => '2027-01-30T00:00:00.000Z',
        authorisedAt: () => '2026-11-01T00:05:00.000Z',
        revokedAt: (c: { status: string }) => (c.status === 'REVOKED' ? '2026-11-10T00:00:00.000Z' : null),
        history: () => [],
      },
      ClientApp: { __resolveReference: (ref: { id: string }) => clients.get(ref.id) ?? null },
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Harness.

interface Jwks {
  url: string;
  sign(scopes: string[]): Promise<string>;
  close(): Promise<void>;
}

async function startJwks(): Promise<Jwks> {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'bench-1', alg: 'ES256', use: 'sig' };
  const server = createServer((req, res) => {
    if (req.url === '/jwks.json')
      return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] }));
    res.writeHead(404).end();
  });
  const { url } = await listen(server, 0);
  return {
    url: `${url}/jwks.json`,
    sign: (scopes) =>
      new SignJWT({ client_id: WEB_APP.clientId, scope: scopes.join(' ') })
        .setProtectedHeader({ alg: 'ES256', kid: 'bench-1', typ: 'at+jwt' })
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .setSubject(CUSTOMER)
        .setIssuedAt()
        .setExpirationTime('1h')
        .sign(privateKey),
    close: () => closeServer(server),
  };
}

async function dashboardOnce(url: string, token: string, expectedAccounts: number): Promise<Outcome> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: DASHBOARD, variables: { transactions: 20 } }),
  });
  const body = (await res.json()) as {
    data?: { me?: { accounts?: unknown[] } | null } | null;
    errors?: { message: string; extensions?: { code?: string } }[];
  };
  if (body.errors?.length)
    return { ok: false, error: `${body.errors[0]!.extensions?.code ?? res.status}: ${body.errors[0]!.message}` };
  if (body.data?.me?.accounts?.length !== expectedAccounts)
    return { ok: false, error: `incomplete dashboard (HTTP ${res.status})` };
  return { ok: true };
}

export async function runAuthorizationBench(overrides: Partial<BenchOptions> = {}): Promise<BenchResult> {
  const { log = () => {}, ...rest } = overrides;
  const options = { ...DEFAULTS, ...rest };
  const notes: string[] = [];
  const logger = createLogger('bench-authz', 'silent');
  const world = buildWorld(options.accounts, options.transactionsPerAccount);
  const resolvers = resolversOf(world);
  const closers: (() => Promise<void>)[] = [];
  const benchStarted = performance.now();
  try {
    const jwks = await startJwks();
    closers.push(() => jwks.close());
    const subgraphs: Record<string, RunningServer> = {};
    for (const name of ['identity', 'accounts', 'payments', 'consents'] as const satisfies readonly SubgraphName[]) {
      const s = await startFakeSubgraph(name, resolvers[name], logger);
      subgraphs[name] = s;
      closers.push(() => s.close());
    }
    const config = loadGatewayConfig({
      GATEWAY_PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'silent',
      AUTH_ISSUER: ISSUER,
      AUTH_AUDIENCE: AUDIENCE,
      AUTH_JWKS_URL: jwks.url,
      IDENTITY_SUBGRAPH_URL: subgraphs.identity!.url,
      ACCOUNTS_SUBGRAPH_URL: subgraphs.accounts!.url,
      PAYMENTS_SUBGRAPH_URL: subgraphs.payments!.url,
      CONSENTS_SUBGRAPH_URL: subgraphs.consents!.url,
    });
    // `authorization` is startGateway's benchmark-only switch (no environment variable reaches it).
    const gateways = {} as Record<Arm, RunningGateway>;
    for (const arm of ['enforce', 'disabled'] as const) {
      const g = await startGateway(config, { logger, authorization: arm });
      gateways[arm] = g;
      closers.push(() => g.close());
    }

    const token = await jwks.sign(WEB_APP.allowedScopes);
    // Does the gateway honour `authorization: 'disabled'`? A token without scopes must be
    // refused by the rules and served with them off.
    const bare = await jwks.sign([]);
    const probe = {
      enforce: await dashboardOnce(gateways.enforce.url, bare, options.accounts),
      disabled: await dashboardOnce(gateways.disabled.url, bare, options.accounts),
    };
    const honoured = !probe.enforce.ok && probe.disabled.ok;
    if (!honoured) {
      notes.push(
        probe.enforce.ok
          ? 'startGateway does not enforce scopes yet (a token without scopes read the whole dashboard): both arms ran the same gateway, so the ratio measures noise only.'
          : "startGateway ignores `authorization: 'disabled'` (a token without scopes was refused by both arms): both arms ran the same rules, so the ratio measures noise only.",
      );
    }

    const one = (arm: Arm) => () => dashboardOnce(gateways[arm].url, token, options.accounts);
    let warmRequests = 0;
    let warmMs = 0;
    for (const arm of ['enforce', 'disabled'] as const) {
      const warm = await closedLoop(options.warmup, options.concurrency, one(arm));
      warmRequests += warm.latencies.length;
      warmMs += warm.elapsedMs;
      log(
        `warm-up ${arm}: ${options.warmup} requests, ${warm.failed} failed${warm.firstError ? ` (${warm.firstError})` : ''}`,
      );
    }
    // Stay within the time budget on a slow or busy machine: size the phases from the warm-up
    // rate (both arms get the same count, so the comparison stays fair).
    const remainingMs = options.deadlineMs - (performance.now() - benchStarted);
    const affordable = Math.floor(
      ((warmRequests / Math.max(warmMs, 1)) * Math.max(remainingMs, 0) * 0.85) / (2 * options.rounds),
    );
    const perPhase = Math.max(Math.min(10, options.requests), Math.min(options.requests, affordable));
    if (perPhase < options.requests) {
      notes.push(
        `requests per arm and round reduced from ${options.requests} to ${perPhase} to stay within the ${options.deadlineMs} ms budget (warm-up ran at ${((warmRequests / warmMs) * 1000).toFixed(1)} req/s)`,
      );
      options.requests = perPhase;
    }

    const phases: Record<Arm, Phase[]> = { enforce: [], disabled: [] };
    const rss: Record<Arm, number> = { enforce: 0, disabled: 0 };
    let roundsRun = 0;
    for (let round = 0; round < options.rounds; round++) {
      if (round > 0 && performance.now() - benchStarted > options.deadlineMs) {
        notes.push(
          `stopped after ${round} of ${options.rounds} rounds: time budget of ${options.deadlineMs} ms reached`,
        );
        break;
      }
      const order: Arm[] = round % 2 === 0 ? ['enforce', 'disabled'] : ['disabled', 'enforce'];
      for (const arm of order) {
        const phase = await closedLoop(options.requests, options.concurrency, one(arm));
        phases[arm].push(phase);
        rss[arm] = Math.max(rss[arm], process.memoryUsage().rss);
        log(
          `round ${round + 1} ${arm.padEnd(8)} ${((phase.latencies.length / phase.elapsedMs) * 1000).toFixed(1)} req/s${phase.failed ? `, ${phase.failed} failed (${phase.firstError})` : ''}`,
        );
      }
      roundsRun++;
    }

    const summarise = (arm: Arm): ArmResult => {
      const list = phases[arm];
      const latencies = list.flatMap((p) => p.latencies).sort((a, b) => a - b);
      const elapsed = list.reduce((sum, p) => sum + p.elapsedMs, 0);
      const firstError = list.find((p) => p.firstError)?.firstError;
      return {
        arm,
        requests: latencies.length,
        failed: list.reduce((sum, p) => sum + p.failed, 0),
        rps: elapsed > 0 ? (latencies.length / elapsed) * 1000 : 0,
        p50Ms: percentile(latencies, 50),
        p95Ms: percentile(latencies, 95),
        p99Ms: percentile(latencies, 99),
        rssMiB: rss[arm] / 1024 / 1024,
        roundRps: list.map((p) => (p.latencies.length / p.elapsedMs) * 1000),
        ...(firstError ? { firstError } : {}),
      };
    };
    const enforce = summarise('enforce');
    const disabled = summarise('disabled');
    if (enforce.failed > 0 || disabled.failed > 0)
      notes.push('some dashboard requests failed (see "failed"); throughput of failing requests is not comparable');
    return {
      options,
      roundsRun,
      enforce,
      disabled,
      overheadPct: disabled.rps > 0 ? (1 - enforce.rps / disabled.rps) * 100 : Number.NaN,
      authorizationOptionHonoured: honoured,
      notes,
    };
  } finally {
    for (const close of closers.reverse()) await close().catch(() => {});
  }
}

export function formatBenchResult(r: BenchResult): string {
  const o = r.options;
  const row = (a: ArmResult) =>
    `| ${a.arm === 'enforce' ? 'rules on (enforce)' : 'rules off (disabled)'} | ${a.rps.toFixed(1)} | ${a.p50Ms.toFixed(1)} | ${a.p95Ms.toFixed(1)} | ${a.p99Ms.toFixed(1)} | ${a.rssMiB.toFixed(0)} | ${a.requests} | ${a.failed} | ${a.roundRps.map((x) => x.toFixed(0)).join(' / ')} |`;
  return [
    `Authorization overhead on the customer dashboard query (${o.accounts} accounts x ${o.transactionsPerAccount} transactions, payments, consents)`,
    `concurrency ${o.concurrency}, ${o.requests} requests per arm and round, ${r.roundsRun} rounds (alternating A/B, B/A), warm-up ${o.warmup} per arm; Node ${process.version}`,
    '',
    '| arm | req/s | p50 ms | p95 ms | p99 ms | RSS MiB | requests | failed | req/s per round |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---|',
    row(r.enforce),
    row(r.disabled),
    '',
    `authorization overhead (1 - rps_on / rps_off): ${r.overheadPct.toFixed(1)}%`,
    r.authorizationOptionHonoured
      ? 'check: a token without scopes was refused with rules on and served with rules off, so the arms differ only in authorization.'
      : 'check FAILED: the two arms did not differ on a token without scopes (see NOTE).',
    'RSS is the whole process (both gateways, the fake subgraphs and the load generator share it), sampled after each arm phase.',
    ...(r.enforce.firstError ? [`first error, rules on: ${r.enforce.firstError}`] : []),
    ...(r.disabled.firstError ? [`first error, rules off: ${r.disabled.firstError}`] : []),
    ...r.notes.map((n) => `NOTE: ${n}`),
  ].join('\n');
}

if (import.meta.main) {
  await runBenchScript('bench:authz', 90_000, async () => {
    const result = await runAuthorizationBench({
      concurrency: intFromEnv('BENCH_CONCURRENCY', DEFAULTS.concurrency),
      requests: intFromEnv('BENCH_REQUESTS', DEFAULTS.requests),
      rounds: intFromEnv('BENCH_ROUNDS', DEFAULTS.rounds),
      warmup: intFromEnv('BENCH_WARMUP', DEFAULTS.warmup),
      deadlineMs: intFromEnv('BENCH_DEADLINE_MS', DEFAULTS.deadlineMs),
      log: (line) => console.error(line),
    });
    return formatBenchResult(result);
  });
}
