/**
 * Principal-keyed request sharing and signing cost (issue 7, "Benchmark"): `npm run bench:sharing`.
 *
 * The gateway no longer lets the executor library deduplicate in-flight subgraph requests (it
 * keyed on URL and body only, so customers received each other's data). gateway/subgraph-fetch.ts
 * shares an in-flight subgraph QUERY only when subgraph, canonical signed principal and body are
 * all identical (SUBGRAPH_REQUEST_SHARING=principal, the default). This benchmark shows, in one
 * run, what that recovers against no sharing at all (SUBGRAPH_REQUEST_SHARING=off), and that it
 * never hands one customer's answer to another:
 *
 * - The real platform in-process (scripts/platform.ts: partner sandboxes, the four subgraphs on
 *   in-memory PGlite), plus two extra gateways on the same subgraphs that differ only in
 *   SUBGRAPH_REQUEST_SHARING: `off` ("before") and `principal` ("after").
 * - Two workloads: the customer dashboard (test/operations/dashboard.graphql, every subgraph)
 *   and a light query (`me { id displayName }`, identity only). Requests alternate between two
 *   seeded customers (Alice, Ben), so the requests in flight at any moment always mix callers.
 * - Every answer is checked against the caller: `me.id` must be the caller, and no id (account,
 *   transaction, payment, consent) or display name of the other customer may appear. Such an
 *   answer is counted as foreign (and as failed); the count must be 0.
 * - The prom-client counter `subgraph_requests_shared_total` (lib/metrics.ts) is read before and
 *   after each phase: how many subgraph calls were answered by an identical in-flight call of
 *   the same principal. The `off` arm must share none.
 * - Load is closed-loop (bench/load.ts): a fixed concurrency, a fixed number of requests per arm
 *   and round after a warm-up, arms alternating A/B, B/A over rounds to cancel drift on a noisy
 *   shared machine. Phases are sized from the warm-up rate to fit the time budget.
 * - Signing cost: signInternalContext + verifyInternalContext (lib/internal-auth.ts) timed over
 *   many iterations for a typical subgraph body (a few hundred bytes) and a ~5 kB one, and for
 *   the exact subgraph bodies one dashboard request and one light request send (counted by
 *   watching globalThis.fetch during a single request of each).
 *
 * Bounded in time, exits by itself, prints a Markdown table; no pass/fail on the numbers.
 *
 * Options (environment): BENCH_CONCURRENCY (8), BENCH_DASHBOARD_REQUESTS per arm and round (40),
 * BENCH_LIGHT_REQUESTS per arm and round (300), BENCH_ROUNDS (4), BENCH_WARMUP per arm and query
 * (10), BENCH_DEADLINE_MS (40000: load phases; no new round starts after it, and phases are sized
 * to end within it), BENCH_SIGN_ITERATIONS (2000).
 */
import { loadGatewayConfig } from '../gateway/config.ts';
import { startGateway, type RunningGateway } from '../gateway/server.ts';
import { INTERNAL_AUTH_HEADER, signInternalContext, verifyInternalContext } from '../lib/internal-auth.ts';
import { createLogger } from '../lib/logger.ts';
import { metricsOf } from '../lib/metrics.ts';
import type { Principal } from '../lib/principal.ts';
import { startPlatform, type RunningPlatform } from '../scripts/platform.ts';
import { DASHBOARD, DASHBOARD_SCOPES, sandboxCustomers, WEB_APP_CLIENT_ID } from './callers.ts';
import { closedLoop, f1, f2, intFromEnv, percentile, runBenchScript, type Outcome, type Phase } from './load.ts';

export type Arm = 'off' | 'principal';
export type Workload = 'dashboard' | 'light';
const ARMS: readonly Arm[] = ['off', 'principal'];
const WORKLOADS: readonly Workload[] = ['dashboard', 'light'];

export interface SharingBenchOptions {
  concurrency: number;
  /** Measured dashboard requests per arm and round. */
  dashboardRequests: number;
  /** Measured light requests per arm and round. */
  lightRequests: number;
  rounds: number;
  /** Unmeasured requests per arm and query before the first round. */
  warmup: number;
  /** Budget of the load phases (warm-up included, platform start-up excluded): no new round starts after it. */
  deadlineMs: number;
  /** Iterations of each signing measurement. */
  signIterations: number;
  /** Where progress lines go; defaults to nowhere. */
  log: (line: string) => void;
}

export interface ArmResult {
  arm: Arm;
  workload: Workload;
  requests: number;
  /** Answers with GraphQL errors, without the expected data, or foreign. */
  failed: number;
  /** Answers holding the other customer's data (or another `me`). Must be 0. */
  foreign: number;
  rps: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  /** Increase of subgraph_requests_shared_total over this arm's measured phases. */
  shared: number;
  /** requests/s of each round, in order. */
  roundRps: number[];
  firstError?: string;
}

export interface SigningCost {
  label: string;
  /** Subgraph calls (signed internal requests) covered by one iteration. */
  calls: number;
  /** Body bytes of each call. */
  bodyBytes: number[];
  /** µs to sign all `calls` bodies (one signInternalContext each). */
  signUs: number;
  /** µs to verify all `calls` tokens against their bodies (one verifyInternalContext each). */
  verifyUs: number;
}

export interface SharingBenchResult {
  options: Omit<SharingBenchOptions, 'log'>;
  roundsRun: number;
  /** Time to start the platform and the two gateways. */
  setupMs: number;
  arms: Record<Workload, Record<Arm, ArmResult>>;
  /** after / before (principal / off): req/s and latency ratios per query. */
  ratios: Record<Workload, { rps: number; p50: number; p99: number }>;
  /** Per single body (typical, ~5 kB), then per dashboard request and per light request. */
  signing: SigningCost[];
  notes: string[];
}

export const DEFAULTS: Omit<SharingBenchOptions, 'log'> = {
  concurrency: 8,
  dashboardRequests: 40,
  lightRequests: 300,
  rounds: 4,
  warmup: 10,
  deadlineMs: 40_000,
  signIterations: 2000,
};

// Two seeded customers of the sandbox world, through the first-party web app (bench/callers.ts).
const CUSTOMERS = sandboxCustomers('Alice', 'Ben');
const CLIENT_ID = WEB_APP_CLIENT_ID;
const SCOPES = DASHBOARD_SCOPES;
const LIGHT = 'query Light { me { id displayName } }';

export interface Caller {
  name: string;
  customerId: string;
  token: string;
}

/** What one customer owns, from a request sent alone: an answer holding any of another customer's is foreign. */
export interface Owned {
  ids: Set<string>;
  displayName: string;
}

export interface DashboardData {
  me?: {
    id?: string;
    displayName?: string;
    accounts?: { id: string; transactions?: { edges?: { node: { id: string } }[] } }[];
    payments?: { edges?: { node: { id: string } }[] };
    consents?: { id: string }[];
  } | null;
}

export interface GraphQLBody {
  data?: DashboardData | null;
  errors?: { message: string; extensions?: { code?: string } }[];
}

/** Every customer-owned id an answer holds (institutions and client apps are public, so left out). */
export function ownedIds(data: DashboardData | null | undefined): string[] {
  const me = data?.me;
  if (!me) return [];
  return [
    ...(me.id ? [me.id] : []),
    ...(me.accounts ?? []).flatMap((a) => [a.id, ...(a.transactions?.edges ?? []).map((e) => e.node.id)]),
    ...(me.payments?.edges ?? []).map((e) => e.node.id),
    ...(me.consents ?? []).map((c) => c.id),
  ];
}

async function post(
  url: string,
  token: string,
  query: string,
  variables?: Record<string, unknown>,
): Promise<{ status: number; body: GraphQLBody }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(variables ? { query, variables } : { query }),
  });
  return { status: res.status, body: (await res.json()) as GraphQLBody };
}

const send = (url: string, caller: Caller, workload: Workload) =>
  workload === 'dashboard' ? post(url, caller.token, DASHBOARD, { transactions: 20 }) : post(url, caller.token, LIGHT);

/**
 * Judges one answer for `caller`: foreign when it names another `me` or holds anything the other
 * customer owns; failed when it has errors or lacks the caller's data.
 */
export function judge(
  caller: Caller,
  own: Owned,
  other: Owned,
  workload: Workload,
  status: number,
  body: GraphQLBody,
): Outcome & { foreign?: true } {
  const me = body.data?.me;
  // An id both customers own (none today) would not be a leak, so only the other's alone count.
  const leaked = ownedIds(body.data).filter((id) => other.ids.has(id) && !own.ids.has(id));
  if (
    (me?.id && me.id !== caller.customerId) ||
    leaked.length > 0 ||
    (me?.displayName !== undefined && me.displayName === other.displayName && other.displayName !== own.displayName)
  ) {
    return {
      ok: false,
      foreign: true,
      error: `FOREIGN answer for ${caller.name}: me.id=${me?.id}, ${leaked.length} id(s) of the other customer`,
    };
  }
  if (body.errors?.length)
    return { ok: false, error: `${body.errors[0]!.extensions?.code ?? status}: ${body.errors[0]!.message}` };
  if (me?.id !== caller.customerId || me.displayName !== own.displayName)
    return { ok: false, error: `incomplete answer for ${caller.name} (HTTP ${status})` };
  if (workload === 'dashboard' && ownedIds(body.data).some((id) => !own.ids.has(id))) {
    // Not another customer's, but not what this customer owned alone either: report it, do not hide it.
    return { ok: false, error: `answer for ${caller.name} differs from the one it got alone` };
  }
  return { ok: true };
}

async function sharedCount(): Promise<number> {
  return (await metricsOf('gateway').sharedSubgraphRequests.get()).values.reduce((sum, v) => sum + v.value, 0);
}

interface SubgraphCall {
  subgraph: string;
  body: string;
}

/**
 * The signed subgraph calls one request makes: globalThis.fetch is watched (not changed) while
 * exactly that request is in flight, and every call to a subgraph URL carrying the internal
 * signature is recorded. gateway/subgraph-fetch.ts resolves `fetch` at call time, so it sees the wrapper.
 */
async function subgraphCallsOf(
  subgraphUrls: Record<string, string>,
  request: () => Promise<unknown>,
): Promise<SubgraphCall[]> {
  const calls: SubgraphCall[] = [];
  const original = globalThis.fetch;
  const byUrl = Object.entries(subgraphUrls);
  globalThis.fetch = ((input: Parameters<typeof fetch>[0], init?: RequestInit) => {
    const url = input instanceof Request ? input.url : String(input);
    const target = byUrl.find(([, u]) => url === u);
    if (target && typeof init?.body === 'string' && new Headers(init.headers).has(INTERNAL_AUTH_HEADER))
      calls.push({ subgraph: target[0], body: init.body });
    return original(input, init);
  }) as typeof fetch;
  try {
    await request();
  } finally {
    globalThis.fetch = original;
  }
  return calls;
}

/** A ~5 kB subgraph body: the entity fetch federation sends to resolve many accounts at once. */
function largeEntitiesBody(): string {
  const query =
    'query($representations:[_Any!]!){_entities(representations:$representations){__typename ...on Account{id name type currency maskedIdentifier currentBalance{type direction amount{amount currency}}}}}';
  const representations: { __typename: string; id: string }[] = [];
  let body = '';
  for (let i = 0; body.length < 5000; i++) {
    representations.push({ __typename: 'Account', id: `acc_${i.toString(36).padStart(26, 'k7q2vz')}` });
    body = JSON.stringify({ query, variables: { representations } });
  }
  return body;
}

/**
 * µs per iteration of signing, then of verifying, `calls` (each exactly as the gateway and the subgraph do it): the
 * median over five slices of `iterations`.
 */
async function signingCost(
  label: string,
  secret: string,
  principal: Principal,
  calls: SubgraphCall[],
  iterations: number,
): Promise<SigningCost> {
  const round = async (n: number) => {
    const tokens: string[] = [];
    const t0 = performance.now();
    for (let i = 0; i < n; i++)
      for (const c of calls)
        tokens.push(await signInternalContext(secret, c.subgraph, principal, `bench-${i}`, c.body));
    const t1 = performance.now();
    for (let i = 0, k = 0; i < n; i++)
      for (const c of calls) await verifyInternalContext(tokens[k++], c.subgraph, [secret], c.body);
    const t2 = performance.now();
    return { signUs: ((t1 - t0) * 1000) / n, verifyUs: ((t2 - t1) * 1000) / n };
  };
  await round(Math.max(1, Math.floor(iterations / 10))); // warm-up (JIT, key import caches)
  // The median of five slices, so one burst of a neighbour's work on a shared machine does not move the figure.
  const slices: { signUs: number; verifyUs: number }[] = [];
  for (let i = 0; i < 5; i++) slices.push(await round(Math.max(1, Math.ceil(iterations / 5))));
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  const signUs = median(slices.map((x) => x.signUs));
  const verifyUs = median(slices.map((x) => x.verifyUs));
  return { label, calls: calls.length, bodyBytes: calls.map((c) => Buffer.byteLength(c.body)), signUs, verifyUs };
}

export async function runSharingBench(overrides: Partial<SharingBenchOptions> = {}): Promise<SharingBenchResult> {
  const { log = () => {}, ...rest } = overrides;
  const options = { ...DEFAULTS, ...rest };
  const notes: string[] = [];
  const logger = createLogger('bench-sharing', 'silent');
  const closers: (() => Promise<void>)[] = [];
  const setupStarted = performance.now();
  try {
    // In-memory PGlite and per-process caches: the arms are compared with each other, and the
    // benchmark must not depend on (or write to) a PostgreSQL or Redis it happens to find.
    const platform: RunningPlatform = await startPlatform({
      ports: 'free',
      env: { PGLITE_DIR: 'memory://', DATABASE_URL: undefined, REDIS_URL: undefined, LOG_LEVEL: 'silent' },
      logger,
    });
    closers.push(() => platform.close());
    const subgraphUrls = {
      identity: platform.urls.identity,
      accounts: platform.urls.accounts,
      payments: platform.urls.payments,
      consents: platform.urls.consents,
    };
    const configOf = (sharing: Arm) =>
      loadGatewayConfig({
        ...process.env,
        GATEWAY_PORT: '0',
        LOG_LEVEL: 'silent',
        REDIS_URL: undefined,
        SUBGRAPH_REQUEST_SHARING: sharing,
        AUTH_ISSUER: platform.urls.auth,
        AUTH_JWKS_URL: `${platform.urls.auth}/jwks.json`,
        IDENTITY_SUBGRAPH_URL: subgraphUrls.identity,
        ACCOUNTS_SUBGRAPH_URL: subgraphUrls.accounts,
        PAYMENTS_SUBGRAPH_URL: subgraphUrls.payments,
        CONSENTS_SUBGRAPH_URL: subgraphUrls.consents,
      });
    const gateways = {} as Record<Arm, RunningGateway>;
    for (const arm of ARMS) {
      const g = await startGateway(configOf(arm), { logger });
      gateways[arm] = g;
      closers.push(() => g.close());
    }
    const secret = configOf('off').INTERNAL_AUTH_SECRET;
    const callers: Caller[] = [];
    for (const [name, customerId] of Object.entries(CUSTOMERS)) {
      callers.push({
        name,
        customerId,
        token: await platform.sandboxes.auth.mint({ customerId, clientId: CLIENT_ID, scopes: SCOPES }),
      });
    }
    const setupMs = performance.now() - setupStarted;
    log(`platform and gateways started in ${(setupMs / 1000).toFixed(1)} s`);
    const loadStarted = performance.now();

    // What each customer owns, asked alone (no other request in flight, no sharing possible).
    const owned = new Map<Caller, Owned>();
    for (const caller of callers) {
      const { status, body } = await send(gateways.off.url, caller, 'dashboard');
      if (body.errors?.length || body.data?.me?.id !== caller.customerId || !body.data.me.displayName) {
        throw new Error(
          `the dashboard for ${caller.name} alone failed (HTTP ${status}): ${JSON.stringify(body.errors ?? body.data).slice(0, 300)}`,
        );
      }
      owned.set(caller, { ids: new Set(ownedIds(body.data)), displayName: body.data.me.displayName });
    }
    const [first, second] = callers as [Caller, Caller];
    if (owned.get(first)!.displayName === owned.get(second)!.displayName)
      notes.push('both customers have the same display name: the light query is checked on me.id only');

    // Signed subgraph calls of one request of each kind, in steady state (caches warmed above).
    const callsOf = {} as Record<Workload, SubgraphCall[]>;
    for (const workload of WORKLOADS)
      callsOf[workload] = await subgraphCallsOf(subgraphUrls, () => send(gateways.off.url, first, workload));

    // Closed-loop load: customers alternate per request (a counter shared by all workers), so
    // every batch of concurrent requests holds both customers.
    const foreignByPhase = { count: 0 };
    let turn = 0;
    const one = (arm: Arm, workload: Workload) => async (): Promise<Outcome> => {
      const caller = callers[turn++ % callers.length]!;
      const other = caller === first ? second : first;
      const { status, body } = await send(gateways[arm].url, caller, workload);
      const outcome = judge(caller, owned.get(caller)!, owned.get(other)!, workload, status, body);
      if (outcome.foreign) foreignByPhase.count++;
      return outcome;
    };
    const measure = async (n: number, arm: Arm, workload: Workload) => {
      foreignByPhase.count = 0;
      const before = await sharedCount();
      const phase = await closedLoop(n, options.concurrency, one(arm, workload));
      return { phase, foreign: foreignByPhase.count, shared: (await sharedCount()) - before };
    };

    const requested: Record<Workload, number> = { dashboard: options.dashboardRequests, light: options.lightRequests };
    const perPhase = { ...requested };
    const warmRate = {} as Record<Workload, number>;
    let warmForeign = 0;
    for (const workload of WORKLOADS) {
      let warmRequests = 0;
      let warmMs = 0;
      for (const arm of ARMS) {
        const warm = await measure(options.warmup, arm, workload);
        warmRequests += warm.phase.latencies.length;
        warmMs += warm.phase.elapsedMs;
        warmForeign += warm.foreign;
        log(
          `warm-up ${workload} ${arm}: ${options.warmup} requests, ${warm.phase.failed} failed${warm.phase.firstError ? ` (${warm.phase.firstError})` : ''}`,
        );
      }
      warmRate[workload] = warmRequests / Math.max(warmMs, 1);
    }
    // Each query gets half of what is left of the budget, sized from its warm-up rate (both arms
    // get the same count, so the comparison stays fair).
    const remainingMs = Math.max(options.deadlineMs - (performance.now() - loadStarted), 0);
    for (const workload of WORKLOADS) {
      const affordable = Math.floor(
        (warmRate[workload] * (remainingMs / WORKLOADS.length) * 0.8) / (2 * options.rounds),
      );
      perPhase[workload] = Math.max(Math.min(10, requested[workload]), Math.min(requested[workload], affordable));
      if (perPhase[workload] < requested[workload]) {
        notes.push(
          `${workload}: requests per arm and round reduced from ${requested[workload]} to ${perPhase[workload]} to stay within the ${options.deadlineMs} ms budget (warm-up ran at ${(warmRate[workload] * 1000).toFixed(1)} req/s)`,
        );
      }
    }
    if (warmForeign > 0) notes.push(`${warmForeign} FOREIGN answer(s) during the warm-up`);

    const phases = Object.fromEntries(WORKLOADS.map((w) => [w, { off: [], principal: [] }])) as unknown as Record<
      Workload,
      Record<Arm, { phase: Phase; foreign: number; shared: number }[]>
    >;
    let roundsRun = 0;
    for (let round = 0; round < options.rounds; round++) {
      if (round > 0 && performance.now() - loadStarted > options.deadlineMs) {
        notes.push(
          `stopped after ${round} of ${options.rounds} rounds: time budget of ${options.deadlineMs} ms reached`,
        );
        break;
      }
      const order: Arm[] = round % 2 === 0 ? ['off', 'principal'] : ['principal', 'off'];
      for (const workload of WORKLOADS) {
        for (const arm of order) {
          const m = await measure(perPhase[workload], arm, workload);
          phases[workload][arm].push(m);
          const p = m.phase;
          log(
            `round ${round + 1} ${workload.padEnd(9)} ${arm.padEnd(9)} ${((p.latencies.length / p.elapsedMs) * 1000).toFixed(1)} req/s, ${m.shared} shared${p.failed ? `, ${p.failed} failed (${p.firstError})` : ''}`,
          );
        }
      }
      roundsRun++;
    }

    const summarise = (workload: Workload, arm: Arm): ArmResult => {
      const list = phases[workload][arm];
      const latencies = list.flatMap((m) => m.phase.latencies).sort((a, b) => a - b);
      const elapsed = list.reduce((sum, m) => sum + m.phase.elapsedMs, 0);
      const firstError = list.find((m) => m.phase.firstError)?.phase.firstError;
      return {
        arm,
        workload,
        requests: latencies.length,
        failed: list.reduce((sum, m) => sum + m.phase.failed, 0),
        foreign: list.reduce((sum, m) => sum + m.foreign, 0),
        rps: elapsed > 0 ? (latencies.length / elapsed) * 1000 : 0,
        p50Ms: percentile(latencies, 50),
        p95Ms: percentile(latencies, 95),
        p99Ms: percentile(latencies, 99),
        shared: list.reduce((sum, m) => sum + m.shared, 0),
        roundRps: list.map((m) => (m.phase.latencies.length / m.phase.elapsedMs) * 1000),
        ...(firstError ? { firstError } : {}),
      };
    };
    const arms = Object.fromEntries(
      WORKLOADS.map((w) => [w, { off: summarise(w, 'off'), principal: summarise(w, 'principal') }]),
    ) as Record<Workload, Record<Arm, ArmResult>>;
    const ratios = Object.fromEntries(
      WORKLOADS.map((w) => {
        const { off, principal } = arms[w];
        return [
          w,
          { rps: principal.rps / off.rps, p50: principal.p50Ms / off.p50Ms, p99: principal.p99Ms / off.p99Ms },
        ];
      }),
    ) as SharingBenchResult['ratios'];
    for (const w of WORKLOADS) {
      if (arms[w].off.shared > 0)
        notes.push(
          `${w}: the 'off' gateway shared ${arms[w].off.shared} subgraph call(s): SUBGRAPH_REQUEST_SHARING=off is not honoured`,
        );
      if (arms[w].off.failed > 0 || arms[w].principal.failed > 0)
        notes.push(`${w}: some requests failed (see "failed"); throughput of failing requests is not comparable`);
    }

    // Signing cost, last (nothing else running): single bodies, then the exact bodies of one request of each kind.
    const principal: Principal = { customerId: first.customerId, clientId: CLIENT_ID, scopes: SCOPES };
    const typical = [...callsOf.dashboard].sort((a, b) => b.body.length - a.body.length)[0] ?? {
      subgraph: 'accounts',
      body: JSON.stringify({ query: DASHBOARD }),
    };
    const signing = [
      await signingCost(
        `typical subgraph body (largest call of a dashboard: ${typical.subgraph})`,
        secret,
        principal,
        [typical],
        options.signIterations,
      ),
      await signingCost(
        '~5 kB subgraph body (entity fetch)',
        secret,
        principal,
        [{ subgraph: 'accounts', body: largeEntitiesBody() }],
        options.signIterations,
      ),
      await signingCost('one dashboard request', secret, principal, callsOf.dashboard, options.signIterations),
      await signingCost('one light request', secret, principal, callsOf.light, options.signIterations),
    ];
    if (callsOf.dashboard.length === 0 || callsOf.light.length === 0)
      notes.push(
        'no signed subgraph call was seen for one of the queries: the per-request signing cost is not meaningful',
      );
    return { options, roundsRun, setupMs, arms, ratios, signing, notes };
  } finally {
    for (const close of closers.reverse()) await close().catch(() => {});
  }
}

export function formatSharingResult(r: SharingBenchResult): string {
  const o = r.options;
  const armName = (a: Arm) => (a === 'off' ? 'before: off' : 'after: principal');
  const row = (a: ArmResult) =>
    `| ${a.workload} | ${armName(a.arm)} | ${f1(a.rps)} | ${f1(a.p50Ms)} | ${f1(a.p95Ms)} | ${f1(a.p99Ms)} | ${a.requests} | ${a.failed} | ${a.foreign} | ${a.shared} | ${f2(a.requests ? a.shared / a.requests : Number.NaN)} | ${a.roundRps.map((x) => x.toFixed(0)).join(' / ')} |`;
  const dashboardP50 = r.arms.dashboard.principal.p50Ms;
  const signRow = (s: SigningCost) =>
    `| ${s.label} | ${s.calls} | ${s.bodyBytes.join(' + ')} | ${f1(s.signUs)} | ${f1(s.verifyUs)} | ${f1(s.signUs + s.verifyUs)} |`;
  const dashboardSigning = r.signing.find((s) => s.label === 'one dashboard request');
  const foreign = WORKLOADS.reduce((sum, w) => sum + r.arms[w].off.foreign + r.arms[w].principal.foreign, 0);
  return [
    'Subgraph request sharing keyed by principal (SUBGRAPH_REQUEST_SHARING: off = before, principal = after), real platform in-process',
    `customers Alice and Ben alternating per request; concurrency ${o.concurrency}; per arm and round ${o.dashboardRequests} dashboard / ${o.lightRequests} light requests (before sizing to the budget); ` +
      `${r.roundsRun} rounds (alternating A/B, B/A); warm-up ${o.warmup} per arm and query; Node ${process.version}; platform started in ${(r.setupMs / 1000).toFixed(1)} s`,
    '',
    '| query | arm | req/s | p50 ms | p95 ms | p99 ms | requests | failed | foreign answers | shared subgraph calls | shared per request | req/s per round |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
    ...WORKLOADS.flatMap((w) => [row(r.arms[w].off), row(r.arms[w].principal)]),
    '',
    '| query | req/s after/before | p50 after/before | p99 after/before |',
    '|---|---:|---:|---:|',
    ...WORKLOADS.map((w) => `| ${w} | ${f2(r.ratios[w].rps)} | ${f2(r.ratios[w].p50)} | ${f2(r.ratios[w].p99)} |`),
    '',
    `Signing cost of internal requests (HS256 JWT bound to a SHA-256 of the body; signInternalContext at the gateway, verifyInternalContext at the subgraph), ${o.signIterations} iterations, median of 5 slices:`,
    '',
    '| what | signed calls | body bytes | µs sign | µs verify | µs sign + verify |',
    '|---|---:|---|---:|---:|---:|',
    ...r.signing.map(signRow),
    '',
    dashboardSigning && Number.isFinite(dashboardP50)
      ? `signing + verifying one dashboard request: ${f1(dashboardSigning.signUs + dashboardSigning.verifyUs)} µs = ${f2(((dashboardSigning.signUs + dashboardSigning.verifyUs) / 1000 / dashboardP50) * 100)}% of its p50 latency (after)`
      : 'signing share of the dashboard latency: n/a',
    `foreign answers (another customer's data): ${foreign}${foreign === 0 ? '' : ' <- a cross-customer leak: investigate before anything else'}`,
    "shared subgraph calls: subgraph_requests_shared_total (lib/metrics.ts) over each arm's measured phases; the 'off' arm must share none.",
    'Arms run one after the other on the same platform (one process, 2 cores shared by load generator, gateways, subgraphs and sandboxes); compare the ratios, not absolute numbers across machines.',
    ...WORKLOADS.flatMap((w) =>
      ARMS.flatMap((a) => (r.arms[w][a].firstError ? [`first error, ${w} ${a}: ${r.arms[w][a].firstError}`] : [])),
    ),
    ...r.notes.map((n) => `NOTE: ${n}`),
  ].join('\n');
}

if (import.meta.main) {
  // 180 s: start-up of the platform on a busy machine is the only part not bounded by BENCH_DEADLINE_MS.
  await runBenchScript('bench:sharing', 180_000, async () => {
    const result = await runSharingBench({
      concurrency: intFromEnv('BENCH_CONCURRENCY', DEFAULTS.concurrency),
      dashboardRequests: intFromEnv('BENCH_DASHBOARD_REQUESTS', DEFAULTS.dashboardRequests),
      lightRequests: intFromEnv('BENCH_LIGHT_REQUESTS', DEFAULTS.lightRequests),
      rounds: intFromEnv('BENCH_ROUNDS', DEFAULTS.rounds),
      warmup: intFromEnv('BENCH_WARMUP', DEFAULTS.warmup),
      deadlineMs: intFromEnv('BENCH_DEADLINE_MS', DEFAULTS.deadlineMs),
      signIterations: intFromEnv('BENCH_SIGN_ITERATIONS', DEFAULTS.signIterations),
      log: (line) => console.error(line),
    });
    return formatSharingResult(result);
  });
}
