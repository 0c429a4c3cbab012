/**
 * This gateway against the gateways a user would pick instead (issue 13): `npm run bench:gateways`.
 *
 * One invocation, one machine, the SAME subgraphs for every gateway:
 * - The platform (partner sandboxes and the four subgraphs on in-memory PGlite, or on
 *   BENCH_DATABASE_URL) runs once, in this process (scripts/platform.ts).
 * - Every gateway runs in a child process of its own (this file with `--gateway <arm>`), so the
 *   CPU time (process.cpuUsage) and RSS reported are the gateway's alone:
 *   - `secured`: this gateway as shipped, fully secured: tokens verified against the JWKS, the
 *     authorization policy with consent checks, query limits, SUBGRAPH_REQUEST_SHARING=off;
 *   - `policy-off`: the same with `authorization: 'disabled'` (tokens still verified, limits on);
 *   - `apollo`: @apollo/gateway 2 under @apollo/server 5, defaults otherwise (it has no in-flight
 *     deduplication of subgraph requests);
 *   - `hive`: Hive Gateway's runtime (@graphql-hive/gateway-runtime, createGatewayRuntime, its
 *     HTTP transport) with the transport's in-flight deduplication switched off;
 *   - `secured-sharing`: `secured` with SUBGRAPH_REQUEST_SHARING=principal (identical in-flight
 *     subgraph queries of the same principal share one call);
 *   - `hive-dedup`: Hive Gateway with its default deduplication (on).
 * - The subgraphs accept only requests signed by a gateway (x-internal-auth, lib/internal-auth.ts:
 *   the principal and a hash of the exact body). The foreign gateways are given exactly what they
 *   need to be let in, nothing more: they forward the client's Authorization header to the
 *   subgraphs the way each documents (Apollo: RemoteGraphQLDataSource.willSendRequest; Hive:
 *   propagateHeaders), and a fetch hook (Apollo: the data source's `fetcher`; Hive: an onFetch
 *   plugin) signs each subgraph call with lib/internal-auth.ts, per call, for the principal read
 *   from that header. They do NOT verify the token (it is decoded, not checked: they run
 *   unsecured, as the issue asks), but they pay the same signing cost this gateway pays. Hive's
 *   deduplication keys on the headers it forwards, so with dedup on it merges only calls of the
 *   same caller; the bench checks that (foreign answers).
 * - The foreign gateways get the same supergraph with the authorization directives
 *   (@authenticated, @requiresScopes, @policy) and their SECURITY @link removed: both refuse a
 *   supergraph with a SECURITY feature they do not implement, and they run unsecured anyway.
 * - Load comes from another child process (`--load`): a closed loop over BENCH_CONNECTIONS
 *   keep-alive connections for BENCH_DURATION_MS per phase. Callers (three seeded customers)
 *   take turns request by request, so concurrent requests always mix callers. Every answer is
 *   compared with what that caller got alone: an answer holding another caller's ids is counted
 *   as foreign (must be 0), any other difference or error as failed.
 * - Queries: the customer dashboard (every subgraph, partner calls), a light query (`me { id
 *   displayName }`, identity only), and a payment list (identity + payments).
 * - Rounds: BENCH_ROUNDS (3) rounds; in each, every query runs on every arm, the arm order
 *   rotating between rounds; each figure is the median over the rounds.
 * - BENCH_CPU_PROF=<dir>: the `secured` child (or the arms listed in BENCH_PROFILE_ARMS) runs with
 *   `node --cpu-prof`, and the report ends with its top self time by module.
 *
 * Options (environment): BENCH_DURATION_MS (5000), BENCH_WARMUP_MS (2000, per arm and query),
 * BENCH_CONNECTIONS (20), BENCH_ROUNDS (3), BENCH_ARMS (all: a comma list), BENCH_QUERIES (all),
 * BENCH_CPU_PROF, BENCH_PROFILE_ARMS (secured), BENCH_DATABASE_URL.
 *
 * Bounded in time, prints Markdown tables; no pass/fail on the numbers.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, mkdirSync } from 'node:fs';
import {
  Agent,
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kind, parse, print, visit } from 'graphql';
import { decodeJwt } from 'jose';
import { principalFromClaims } from '../gateway/authentication.ts';
import { parseSupergraph } from '../gateway/supergraph.ts';
import { INTERNAL_AUTH_HEADER, signInternalContext } from '../lib/internal-auth.ts';
import { createLogger } from '../lib/logger.ts';
import { DASHBOARD, DASHBOARD_SCOPES, sandboxCustomers, WEB_APP_CLIENT_ID } from './callers.ts';
import { f1, f2, intFromEnv, percentile } from './load.ts';

export const ARMS = ['secured', 'policy-off', 'apollo', 'hive', 'secured-sharing', 'hive-dedup'] as const;
export type Arm = (typeof ARMS)[number];
export const QUERIES = ['dashboard', 'light', 'payments'] as const;
export type QueryName = (typeof QUERIES)[number];

const ARM_LABEL: Record<Arm, string> = {
  secured: 'this gateway, secured',
  'policy-off': 'this gateway, policy off',
  apollo: 'Apollo Gateway',
  hive: 'Hive Gateway',
  'secured-sharing': 'this gateway, secured, principal sharing',
  'hive-dedup': 'Hive Gateway, default dedup',
};

export const OPERATIONS: Record<QueryName, { query: string; variables?: Record<string, unknown> }> = {
  dashboard: { query: DASHBOARD, variables: { transactions: 20 } },
  light: { query: 'query Light { me { id displayName } }' },
  payments: {
    query:
      'query PaymentList { me { id payments(first: 20) { edges { cursor node { id status amount { amount currency } createdAt } } pageInfo { hasNextPage endCursor } } } }',
  },
};

// Three seeded customers of the sandbox world, through the first-party web app (bench/callers.ts).
const CUSTOMERS = sandboxCustomers('Alice', 'Ben', 'Clara');
const CLIENT_ID = WEB_APP_CLIENT_ID;
const SCOPES = DASHBOARD_SCOPES;
const ID_PATTERN = /\b(?:cus|acc|txn|pay|cns)_[a-z0-9]+/g;
const SELF = fileURLToPath(import.meta.url);

// ---------------------------------------------------------------------------------------------
// Messages between this process and its children.

interface StartGateway {
  type: 'start';
  arm: Arm;
  /** For the foreign gateways: the supergraph with the platform's URLs and no authorization directives. */
  foreignSupergraph: string;
  /** Subgraph name → URL. */
  subgraphs: Record<string, string>;
  authUrl: string;
  internalSecret: string;
}
interface GatewayStats {
  type: 'stats';
  /** process.cpuUsage() of the gateway process, µs. */
  cpuUs: number;
  rss: number;
}
export interface LoadCaller {
  name: string;
  token: string;
  /** JSON.stringify(data) the caller got alone. */
  expected: string;
  /** Ids only the other callers own: one of them in an answer makes it foreign. */
  othersIds: string[];
}
interface RunLoad {
  type: 'run';
  url: string;
  body: string;
  callers: LoadCaller[];
  connections: number;
  durationMs: number;
}
export interface LoadResult {
  type: 'result';
  requests: number;
  failed: number;
  foreign: number;
  elapsedMs: number;
  p50Ms: number;
  p99Ms: number;
  firstError?: string;
}

// ---------------------------------------------------------------------------------------------
// Gateway children.

/**
 * The fetch of a foreign gateway's subgraph calls: signs each call for the caller named in its forwarded Authorization
 * header.
 */
function signingFetch(secret: string, nameOf: (url: string) => string | undefined) {
  return async (url: string, init: RequestInit): Promise<Response> => {
    const headers = new Headers(init.headers as ConstructorParameters<typeof Headers>[0]);
    const subgraph = nameOf(url);
    const body = typeof init.body === 'string' ? init.body : '';
    if (subgraph && typeof init.body === 'string') {
      const bearer = /^Bearer (.+)$/i.exec(headers.get('authorization') ?? '')?.[1];
      // Decoded, not verified: the foreign gateways run unsecured (see the header comment).
      const principal = bearer ? principalFromClaims(decodeJwt(bearer)) : null;
      headers.set(INTERNAL_AUTH_HEADER, await signInternalContext(secret, subgraph, principal, randomUUID(), body));
    }
    headers.delete('authorization');
    return fetch(url, { ...init, headers });
  };
}

/** The part of @graphql-hive/gateway-runtime's createGatewayRuntime the benchmark uses. */
type HiveRuntimeFactory = (config: {
  supergraph: string;
  logging: boolean;
  propagateHeaders: { fromClientToSubgraphs: (args: { request: Request }) => Record<string, string> };
  transportEntries?: Record<string, { options: Record<string, unknown> }>;
  plugins: () => { onFetch: (payload: { setFetchFn: (fetchFn: typeof fetch) => void }) => void }[];
}) => ((req: IncomingMessage, res: ServerResponse) => void) & { dispose(): Promise<void> };

async function startArm(msg: StartGateway): Promise<{ url: string; close: () => Promise<void> }> {
  const byUrl = new Map(Object.entries(msg.subgraphs).map(([name, url]) => [url, name]));
  const nameOf = (url: string) => byUrl.get(url);
  if (msg.arm === 'secured' || msg.arm === 'policy-off' || msg.arm === 'secured-sharing') {
    const { loadGatewayConfig } = await import('../gateway/config.ts');
    const { startGateway } = await import('../gateway/server.ts');
    const config = loadGatewayConfig({
      ...process.env,
      GATEWAY_PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'silent',
      REDIS_URL: undefined,
      INTERNAL_AUTH_SECRET: msg.internalSecret,
      SUBGRAPH_REQUEST_SHARING: msg.arm === 'secured-sharing' ? 'principal' : 'off',
      AUTH_ISSUER: msg.authUrl,
      AUTH_JWKS_URL: `${msg.authUrl}/jwks.json`,
      ...Object.fromEntries(Object.entries(msg.subgraphs).map(([n, u]) => [`${n.toUpperCase()}_SUBGRAPH_URL`, u])),
    });
    const g = await startGateway(config, {
      logger: createLogger('gateway', 'silent'),
      authorization: msg.arm === 'policy-off' ? 'disabled' : 'enforce',
    });
    return { url: g.url, close: () => g.close() };
  }
  if (msg.arm === 'apollo') {
    const { ApolloGateway, RemoteGraphQLDataSource } = await import('@apollo/gateway');
    const { ApolloServer } = await import('@apollo/server');
    const { startStandaloneServer } = await import('@apollo/server/standalone');
    const fetcher = signingFetch(msg.internalSecret, nameOf);
    const gateway = new ApolloGateway({
      supergraphSdl: msg.foreignSupergraph,
      buildService: ({ url }) =>
        new RemoteGraphQLDataSource<{ authorization: string }>({
          url,
          fetcher: fetcher as never,
          willSendRequest({ request, context }) {
            if (context.authorization) request.http?.headers.set('authorization', context.authorization);
          },
        }),
    });
    const server = new ApolloServer({ gateway });
    const { url } = await startStandaloneServer(server, {
      listen: { port: 0, host: '127.0.0.1' },
      context: async ({ req }) => ({ authorization: req.headers.authorization ?? '' }),
    });
    return { url, close: () => server.stop() };
  }
  // Hive Gateway's runtime, on a plain node:http server (the runtime is a request listener).
  // Imported by a specifier TypeScript does not follow: its type declarations (through graphql-yoga)
  // augment graphql's GraphQLErrorExtensions for the whole program, which would retype the product's
  // own errors (gateway/authorization.ts). The few types used here are stated below instead.
  const hiveRuntime: string = '@graphql-hive/gateway-runtime';
  const { createGatewayRuntime } = (await import(hiveRuntime)) as { createGatewayRuntime: HiveRuntimeFactory };
  const fetchFn = signingFetch(msg.internalSecret, nameOf);
  const runtime = createGatewayRuntime({
    supergraph: msg.foreignSupergraph,
    logging: false,
    // Hive's documented way to pass a client header on to the subgraphs.
    propagateHeaders: {
      fromClientToSubgraphs: ({ request }) => ({ authorization: request.headers.get('authorization') ?? '' }),
    },
    ...(msg.arm === 'hive'
      ? { transportEntries: { '*.http': { options: { deduplicateInflightRequests: false } } } }
      : {}),
    plugins: () => [
      {
        onFetch({ setFetchFn }) {
          setFetchFn(fetchFn as never);
        },
      },
    ],
  });
  const server: Server = createServer(runtime);
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const address = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${address.port}/graphql`,
    close: async () => {
      server.closeAllConnections();
      await new Promise((done) => server.close(done));
      await runtime.dispose();
    },
  };
}

async function gatewayChild(): Promise<void> {
  let running: { url: string; close: () => Promise<void> } | undefined;
  process.on('message', async (msg: StartGateway | { type: 'stats' } | { type: 'stop' }) => {
    try {
      if (msg.type === 'start') {
        running = await startArm(msg);
        process.send!({ type: 'ready', url: running.url });
      } else if (msg.type === 'stats') {
        const cpu = process.cpuUsage();
        process.send!({ type: 'stats', cpuUs: cpu.user + cpu.system, rss: process.memoryUsage().rss } as GatewayStats);
      } else if (msg.type === 'stop') {
        await running?.close().catch(() => {});
        // A normal exit, so that --cpu-prof writes its profile.
        process.exit(0);
      }
    } catch (err) {
      process.send!({ type: 'error', error: (err as Error).stack ?? String(err) });
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Load child: a closed loop over keep-alive connections, judging every answer.

function postOnce(agent: Agent, url: URL, body: string, token: string): Promise<{ status: number; text: string }> {
  return new Promise((done, fail) => {
    const req = httpRequest(
      url,
      {
        method: 'POST',
        agent,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          authorization: `Bearer ${token}`,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => done({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', fail);
      },
    );
    req.on('error', fail);
    req.end(body);
  });
}

/** ok, failed (with a reason) or foreign: the answer holds an id only another caller owns. */
export function judgeAnswer(
  caller: LoadCaller,
  status: number,
  text: string,
): { ok: boolean; foreign?: true; error?: string } {
  let body: { data?: unknown; errors?: { message: string; extensions?: { code?: string } }[] };
  try {
    body = JSON.parse(text);
  } catch {
    return { ok: false, error: `HTTP ${status}: not JSON: ${text.slice(0, 120)}` };
  }
  const data = JSON.stringify(body.data ?? null);
  if (data === caller.expected && !body.errors?.length) return { ok: true };
  const leaked = caller.othersIds.find((id) => data.includes(id));
  if (leaked) return { ok: false, foreign: true, error: `FOREIGN answer for ${caller.name}: holds ${leaked}` };
  if (body.errors?.length)
    return { ok: false, error: `${body.errors[0]!.extensions?.code ?? status}: ${body.errors[0]!.message}` };
  return { ok: false, error: `answer for ${caller.name} differs from the one it got alone (HTTP ${status})` };
}

async function runLoad(msg: RunLoad): Promise<LoadResult> {
  const url = new URL(msg.url);
  const agent = new Agent({ keepAlive: true, maxSockets: msg.connections });
  const latencies: number[] = [];
  let failed = 0;
  let foreign = 0;
  let firstError: string | undefined;
  let turn = 0;
  const started = performance.now();
  const deadline = started + msg.durationMs;
  const worker = async () => {
    while (performance.now() < deadline) {
      const i = turn++ % msg.callers.length;
      const caller = msg.callers[i]!;
      const t0 = performance.now();
      let verdict: ReturnType<typeof judgeAnswer>;
      try {
        const { status, text } = await postOnce(agent, url, msg.body, caller.token);
        verdict = judgeAnswer(caller, status, text);
      } catch (err) {
        verdict = { ok: false, error: (err as Error).message };
      }
      latencies.push(performance.now() - t0);
      if (!verdict.ok) {
        failed++;
        if (verdict.foreign) foreign++;
        firstError ??= verdict.error;
      }
    }
  };
  await Promise.all(Array.from({ length: msg.connections }, worker));
  const elapsedMs = performance.now() - started;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  return {
    type: 'result',
    requests: latencies.length,
    failed,
    foreign,
    elapsedMs,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    ...(firstError ? { firstError } : {}),
  };
}

function loadChild(): void {
  process.on('message', async (msg: RunLoad | { type: 'stop' }) => {
    if (msg.type === 'stop') process.exit(0);
    process.send!(await runLoad(msg));
  });
}

// ---------------------------------------------------------------------------------------------
// The orchestrator.

export interface GatewaysBenchOptions {
  durationMs: number;
  warmupMs: number;
  connections: number;
  rounds: number;
  arms: readonly Arm[];
  queries: readonly QueryName[];
  /** Folder for .cpuprofile files of the profiled arms; none when unset. */
  cpuProfDir?: string;
  profileArms: readonly Arm[];
  databaseUrl?: string;
  log: (line: string) => void;
}

export const DEFAULTS: Omit<GatewaysBenchOptions, 'log'> = {
  durationMs: 5000,
  warmupMs: 2000,
  connections: 20,
  rounds: 3,
  arms: ARMS,
  queries: QUERIES,
  profileArms: ['secured'],
};

export interface PhaseResult {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  /** Gateway CPU (user + system) per request, ms. */
  cpuMsPerRequest: number;
  rssMb: number;
  requests: number;
  failed: number;
  foreign: number;
  firstError?: string;
}

export interface ArmQueryResult extends PhaseResult {
  arm: Arm;
  query: QueryName;
  rounds: PhaseResult[];
}

export interface ProfileSummary {
  arm: Arm;
  file: string;
  totalMs: number;
  top: { module: string; selfMs: number; share: number }[];
}

export interface GatewaysBenchResult {
  options: Omit<GatewaysBenchOptions, 'log'>;
  setupMs: number;
  results: ArmQueryResult[];
  profiles: ProfileSummary[];
  notes: string[];
}

/**
 * The supergraph for gateways that run unsecured: the platform's URLs, and no authorization directives or their
 * SECURITY link.
 */
export function foreignSupergraph(sdl: string, urls: Record<string, string>): string {
  const { subgraphs } = parseSupergraph(sdl);
  let out = sdl;
  for (const s of subgraphs) if (urls[s.name]) out = out.split(`url: "${s.url}"`).join(`url: "${urls[s.name]}"`);
  const security = new Set(['authenticated', 'requiresScopes', 'policy']);
  const stripped = visit(parse(out), {
    Directive(node) {
      if (security.has(node.name.value)) return null;
      const url = node.name.value === 'link' ? node.arguments?.find((a) => a.name.value === 'url')?.value : undefined;
      if (url?.kind === Kind.STRING && /\/(authenticated|requiresScopes|policy)\/v/.test(url.value)) return null;
      return undefined;
    },
    DirectiveDefinition(node) {
      return security.has(node.name.value) ? null : undefined;
    },
    ScalarTypeDefinition(node) {
      return node.name.value === 'requiresScopes__Scope' || node.name.value === 'policy__Policy' ? null : undefined;
    },
  });
  return print(stripped);
}

function median(values: number[]): number {
  const finite = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (finite.length === 0) return Number.NaN;
  const mid = Math.floor(finite.length / 2);
  return finite.length % 2 ? finite[mid]! : (finite[mid - 1]! + finite[mid]!) / 2;
}

interface Child {
  proc: ChildProcess;
  request<T>(msg: object, reply: string): Promise<T>;
}

function spawnChild(args: string[], execArgv: string[], env: NodeJS.ProcessEnv): Child {
  const proc = fork(SELF, args, {
    execArgv,
    env,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const request = <T>(msg: object, reply: string) =>
    new Promise<T>((done, fail) => {
      const onMessage = (m: { type: string; error?: string }) => {
        if (m.type === reply) {
          cleanup();
          done(m as T);
        } else if (m.type === 'error') {
          cleanup();
          fail(new Error(m.error));
        }
      };
      const onExit = (code: number | null) => {
        cleanup();
        fail(new Error(`child ${args.join(' ')} exited (${code}) before answering ${reply}`));
      };
      const cleanup = () => {
        proc.off('message', onMessage);
        proc.off('exit', onExit);
      };
      proc.on('message', onMessage);
      proc.on('exit', onExit);
      proc.send(msg);
    });
  return { proc, request };
}

async function stopChild(child: Child): Promise<void> {
  if (child.proc.exitCode !== null) return;
  const exited = new Promise<void>((done) => child.proc.once('exit', () => done()));
  child.proc.send({ type: 'stop' });
  const timer = setTimeout(() => child.proc.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

/** Top self time by module (package, project file, or V8's own buckets) of a .cpuprofile. */
export function summariseProfile(file: string, arm: Arm, top = 15): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as {
    nodes: { id: number; callFrame: { url: string; functionName: string } }[];
    samples: number[];
    timeDeltas: number[];
  };
  const moduleOf = new Map<number, string>();
  const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
  for (const node of profile.nodes) {
    const { url, functionName } = node.callFrame;
    let module: string;
    if (!url) module = functionName.startsWith('(') ? functionName : '(native)';
    else if (url.startsWith('node:')) module = 'node:' + url.slice(5).split('/')[0];
    else {
      const path = url.startsWith('file://') ? fileURLToPath(url) : url;
      const nm = path.lastIndexOf('node_modules/');
      if (nm >= 0) {
        const parts = path.slice(nm + 'node_modules/'.length).split('/');
        module = parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
      } else module = path.startsWith(root) ? path.slice(root.length + 1) : path;
    }
    moduleOf.set(node.id, module);
  }
  const self = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const dt = (profile.timeDeltas[i] ?? 0) / 1000;
    const module = moduleOf.get(id) ?? '(unknown)';
    if (module === '(idle)') return;
    total += dt;
    self.set(module, (self.get(module) ?? 0) + dt);
  });
  const sorted = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, top);
  return {
    arm,
    file,
    totalMs: total,
    top: sorted.map(([module, selfMs]) => ({ module, selfMs, share: total > 0 ? selfMs / total : 0 })),
  };
}

export async function runGatewaysBench(overrides: Partial<GatewaysBenchOptions> = {}): Promise<GatewaysBenchResult> {
  const { log = () => {}, ...rest } = overrides;
  const options = { ...DEFAULTS, ...rest };
  const notes: string[] = [];
  const closers: (() => Promise<void>)[] = [];
  const setupStarted = performance.now();
  const { startPlatform } = await import('../scripts/platform.ts');
  try {
    const platform = await startPlatform({
      ports: 'free',
      env: {
        PGLITE_DIR: 'memory://',
        DATABASE_URL: options.databaseUrl,
        REDIS_URL: undefined,
        LOG_LEVEL: 'silent',
        // Every answer is compared with the caller's reference answer: the seeded payments in
        // flight must not move on while the gateways are measured (only the round at start runs).
        PAYMENTS_POLL_INTERVAL_MS: '3600000',
      },
      logger: createLogger('bench-gateways', 'silent'),
    });
    closers.push(() => platform.close());
    const subgraphs = {
      identity: platform.urls.identity,
      accounts: platform.urls.accounts,
      payments: platform.urls.payments,
      consents: platform.urls.consents,
    };
    const { loadGatewayConfig } = await import('../gateway/config.ts');
    const internalSecret = loadGatewayConfig({ ...process.env, LOG_LEVEL: 'silent' }).INTERNAL_AUTH_SECRET;
    const sdl = readFileSync(new URL('../schema/supergraph.graphql', import.meta.url), 'utf8');
    const foreign = foreignSupergraph(sdl, subgraphs);

    const children = new Map<Arm, Child>();
    const urls = new Map<Arm, string>();
    if (options.cpuProfDir) mkdirSync(options.cpuProfDir, { recursive: true });
    await Promise.all(
      options.arms.map(async (arm) => {
        const profiled = options.cpuProfDir && options.profileArms.includes(arm);
        const child = spawnChild(
          ['--gateway', arm],
          profiled ? ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfDir}`, `--cpu-prof-name=${arm}.cpuprofile`] : [],
          // Hive Gateway reads LOG_LEVEL too, with other values: its logging is off through its config instead.
          arm.startsWith('hive') ? { ...process.env, LOG_LEVEL: undefined } : { ...process.env, LOG_LEVEL: 'silent' },
        );
        children.set(arm, child);
        closers.push(() => stopChild(child));
        const ready = await child.request<{ url: string }>(
          {
            type: 'start',
            arm,
            foreignSupergraph: foreign,
            subgraphs,
            authUrl: platform.urls.auth,
            internalSecret,
          } satisfies StartGateway,
          'ready',
        );
        urls.set(arm, ready.url);
      }),
    );
    const loader = spawnChild(['--load'], [], process.env);
    closers.push(() => stopChild(loader));

    // The callers, and what each gets alone from the secured gateway: the reference every answer is compared with.
    const tokens = new Map<string, string>();
    for (const [name, customerId] of Object.entries(CUSTOMERS))
      tokens.set(
        name,
        await platform.sandboxes.auth.mint({ customerId, clientId: CLIENT_ID, scopes: SCOPES, expiresInSeconds: 3600 }),
      );
    const reference = urls.get('secured') ?? [...urls.values()][0]!;
    const expected = new Map<QueryName, Map<string, string>>();
    for (const query of options.queries) {
      const byCaller = new Map<string, string>();
      for (const [name, token] of tokens) {
        const res = await fetch(reference, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          body: JSON.stringify(OPERATIONS[query]),
        });
        const body = (await res.json()) as { data?: { me?: { id?: string } }; errors?: unknown[] };
        if (body.errors?.length || body.data?.me?.id !== CUSTOMERS[name as keyof typeof CUSTOMERS])
          throw new Error(
            `${query} for ${name} alone failed (HTTP ${res.status}): ${JSON.stringify(body).slice(0, 300)}`,
          );
        byCaller.set(name, JSON.stringify(body.data));
      }
      expected.set(query, byCaller);
    }
    const callersOf = (query: QueryName): LoadCaller[] => {
      const byCaller = expected.get(query)!;
      const idsOf = (name: string) => new Set(byCaller.get(name)!.match(ID_PATTERN) ?? []);
      return [...tokens].map(([name, token]) => {
        const own = idsOf(name);
        const others = new Set<string>();
        for (const other of tokens.keys())
          if (other !== name) for (const id of idsOf(other)) if (!own.has(id)) others.add(id);
        return { name, token, expected: byCaller.get(name)!, othersIds: [...others] };
      });
    };
    // Every gateway must give each caller the same answer alone, or its failures are not load's doing.
    for (const [arm, url] of urls) {
      for (const query of options.queries) {
        for (const caller of callersOf(query)) {
          const res = await fetch(url, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${caller.token}` },
            body: JSON.stringify(OPERATIONS[query]),
          });
          const verdict = judgeAnswer(caller, res.status, await res.text());
          if (!verdict.ok) notes.push(`${arm} ${query} alone, ${caller.name}: ${verdict.error}`);
        }
      }
    }
    const setupMs = performance.now() - setupStarted;
    log(`platform and ${urls.size} gateways started in ${(setupMs / 1000).toFixed(1)} s`);

    const phase = async (arm: Arm, query: QueryName, durationMs: number): Promise<PhaseResult> => {
      const child = children.get(arm)!;
      const before = await child.request<GatewayStats>({ type: 'stats' }, 'stats');
      const load = await loader.request<LoadResult>(
        {
          type: 'run',
          url: urls.get(arm)!,
          body: JSON.stringify(OPERATIONS[query]),
          callers: callersOf(query),
          connections: options.connections,
          durationMs,
        } satisfies RunLoad,
        'result',
      );
      const after = await child.request<GatewayStats>({ type: 'stats' }, 'stats');
      return {
        rps: (load.requests / load.elapsedMs) * 1000,
        p50Ms: load.p50Ms,
        p99Ms: load.p99Ms,
        cpuMsPerRequest: load.requests ? (after.cpuUs - before.cpuUs) / 1000 / load.requests : Number.NaN,
        rssMb: after.rss / 2 ** 20,
        requests: load.requests,
        failed: load.failed,
        foreign: load.foreign,
        ...(load.firstError ? { firstError: load.firstError } : {}),
      };
    };

    for (const query of options.queries)
      for (const arm of options.arms) {
        const warm = await phase(arm, query, options.warmupMs);
        log(
          `warm-up ${query} ${arm}: ${warm.rps.toFixed(1)} req/s, ${warm.failed} failed${warm.firstError ? ` (${warm.firstError})` : ''}`,
        );
        if (warm.foreign) notes.push(`${warm.foreign} FOREIGN answer(s) in the warm-up of ${arm} ${query}`);
      }

    const rounds = new Map<string, PhaseResult[]>();
    for (let round = 0; round < options.rounds; round++) {
      // Rotate the arm order, so no arm always runs right after the same neighbour.
      const order = options.arms.map((_, i) => options.arms[(i + round) % options.arms.length]!);
      for (const query of options.queries) {
        for (const arm of order) {
          const r = await phase(arm, query, options.durationMs);
          const key = `${arm}|${query}`;
          rounds.set(key, [...(rounds.get(key) ?? []), r]);
          log(
            `round ${round + 1} ${query.padEnd(9)} ${arm.padEnd(16)} ${r.rps.toFixed(1)} req/s, p50 ${r.p50Ms.toFixed(1)} ms, p99 ${r.p99Ms.toFixed(1)} ms, CPU ${r.cpuMsPerRequest.toFixed(2)} ms/req${r.failed ? `, ${r.failed} failed (${r.firstError})` : ''}`,
          );
        }
      }
    }
    const results: ArmQueryResult[] = [];
    for (const query of options.queries)
      for (const arm of options.arms) {
        const list = rounds.get(`${arm}|${query}`) ?? [];
        const firstError = list.find((r) => r.firstError)?.firstError;
        results.push({
          arm,
          query,
          rounds: list,
          rps: median(list.map((r) => r.rps)),
          p50Ms: median(list.map((r) => r.p50Ms)),
          p99Ms: median(list.map((r) => r.p99Ms)),
          cpuMsPerRequest: median(list.map((r) => r.cpuMsPerRequest)),
          rssMb: Math.max(...list.map((r) => r.rssMb)),
          requests: list.reduce((s, r) => s + r.requests, 0),
          failed: list.reduce((s, r) => s + r.failed, 0),
          foreign: list.reduce((s, r) => s + r.foreign, 0),
          ...(firstError ? { firstError } : {}),
        });
      }

    // Stop the gateways (profiles are written on exit), then read the profiles.
    for (const child of children.values()) await stopChild(child);
    const profiles: ProfileSummary[] = [];
    if (options.cpuProfDir) {
      for (const arm of options.profileArms) {
        const file = join(options.cpuProfDir, `${arm}.cpuprofile`);
        if (readdirSync(options.cpuProfDir).includes(`${arm}.cpuprofile`)) profiles.push(summariseProfile(file, arm));
        else if (options.arms.includes(arm)) notes.push(`no CPU profile was written for ${arm}`);
      }
    }
    return { options, setupMs, results, profiles, notes };
  } finally {
    for (const close of closers.reverse()) await close().catch(() => {});
  }
}

export function formatGatewaysResult(r: GatewaysBenchResult): string {
  const o = r.options;
  const get = (arm: Arm, query: QueryName) => r.results.find((x) => x.arm === arm && x.query === query);
  const lines = [
    'Gateways side by side over the same subgraphs (platform in this process; each gateway and the load generator in a child process of its own)',
    `${o.connections} connections, three customers interleaved request by request; ${o.rounds} rounds of ${o.durationMs} ms per arm and query (arm order rotating), median; warm-up ${o.warmupMs} ms; Node ${process.version}; set up in ${(r.setupMs / 1000).toFixed(1)} s`,
    '',
    '| query | gateway | req/s | p50 ms | p99 ms | gateway CPU ms/req | RSS MB | requests | failed | foreign | req/s per round |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|',
  ];
  for (const query of o.queries)
    for (const arm of o.arms) {
      const x = get(arm, query);
      if (!x) continue;
      lines.push(
        `| ${query} | ${ARM_LABEL[arm]} | ${f1(x.rps)} | ${f1(x.p50Ms)} | ${f1(x.p99Ms)} | ${f2(x.cpuMsPerRequest)} | ${f1(x.rssMb)} | ${x.requests} | ${x.failed} | ${x.foreign} | ${x.rounds.map((p) => p.rps.toFixed(0)).join(' / ')} |`,
      );
    }
  const ratio = (a: Arm, b: Arm, query: QueryName, what: 'rps' | 'cpu') => {
    const x = get(a, query);
    const y = get(b, query);
    if (!x || !y) return Number.NaN;
    return what === 'rps' ? x.rps / y.rps : x.cpuMsPerRequest / y.cpuMsPerRequest;
  };
  const comparisons: [Arm, Arm, string, number][] = [
    ['secured', 'hive', 'secured / Hive (dedup off)', 1.0],
    ['secured', 'apollo', 'secured / Apollo', 1.2],
    ['secured', 'policy-off', 'secured / policy off', 0.9],
    ['secured-sharing', 'hive-dedup', 'secured + principal sharing / Hive default dedup', 1.0],
  ];
  lines.push(
    '',
    '| query | ratio | req/s ratio | target | met | CPU per request ratio |',
    '|---|---|---:|---:|---|---:|',
  );
  for (const query of o.queries)
    for (const [a, b, label, target] of comparisons) {
      const rps = ratio(a, b, query, 'rps');
      if (!Number.isFinite(rps)) continue;
      lines.push(
        `| ${query} | ${label} | ${f2(rps)} | >= ${target.toFixed(1)} | ${rps >= target ? 'yes' : 'NO'} | ${f2(ratio(a, b, query, 'cpu'))} |`,
      );
    }
  const foreign = r.results.reduce((s, x) => s + x.foreign, 0);
  lines.push(
    '',
    `foreign answers (another customer's data): ${foreign}${foreign === 0 ? '' : ' <- a cross-customer leak: investigate before anything else'}`,
    'gateway CPU: process.cpuUsage() of the gateway child over the phase, per request answered; RSS: the largest at the end of a phase.',
    'The subgraphs, the partner sandboxes, the load generator and the gateway share the machine: compare the ratios, not absolute numbers across machines.',
  );
  for (const x of r.results) if (x.firstError) lines.push(`first error, ${x.query} ${x.arm}: ${x.firstError}`);
  for (const p of r.profiles) {
    lines.push(
      '',
      `CPU profile of ${p.arm} (${p.file}): ${f1(p.totalMs)} ms of samples (idle excluded), top self time by module:`,
      '',
      '| module | self ms | share |',
      '|---|---:|---:|',
      ...p.top.map((t) => `| ${t.module} | ${f1(t.selfMs)} | ${(t.share * 100).toFixed(1)}% |`),
    );
  }
  lines.push(...r.notes.map((n) => `NOTE: ${n}`));
  return lines.join('\n');
}

function listFromEnv<T extends string>(name: string, all: readonly T[], fallback: readonly T[]): readonly T[] {
  const raw = process.env[name];
  if (!raw) return fallback;
  const list = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const bad = list.filter((x) => !all.includes(x as T));
  if (bad.length > 0 || list.length === 0) {
    console.error(`${name}: expected a comma list of ${all.join(', ')}, got ${JSON.stringify(raw)}`);
    process.exit(2);
  }
  return list as T[];
}

if (import.meta.main) {
  const mode = process.argv[2];
  if (mode === '--gateway') await gatewayChild();
  else if (mode === '--load') loadChild();
  else {
    const result = await runGatewaysBench({
      durationMs: intFromEnv('BENCH_DURATION_MS', DEFAULTS.durationMs),
      warmupMs: intFromEnv('BENCH_WARMUP_MS', DEFAULTS.warmupMs),
      connections: intFromEnv('BENCH_CONNECTIONS', DEFAULTS.connections),
      rounds: intFromEnv('BENCH_ROUNDS', DEFAULTS.rounds),
      arms: listFromEnv('BENCH_ARMS', ARMS, ARMS),
      queries: listFromEnv('BENCH_QUERIES', QUERIES, QUERIES),
      ...(process.env.BENCH_CPU_PROF ? { cpuProfDir: resolve(process.env.BENCH_CPU_PROF) } : {}),
      profileArms: listFromEnv('BENCH_PROFILE_ARMS', ARMS, DEFAULTS.profileArms),
      ...(process.env.BENCH_DATABASE_URL ? { databaseUrl: process.env.BENCH_DATABASE_URL } : {}),
      log: (line) => console.error(line),
    });
    console.log(formatGatewaysResult(result));
    process.exit(0);
  }
}
