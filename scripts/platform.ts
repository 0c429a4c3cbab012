import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { loadGatewayConfig } from '../gateway/config.ts';
import { startGateway } from '../gateway/server.ts';
import { ConfigError, loadMetricsConfig } from '../lib/config.ts';
import { drainServer, markNotReady, type RunningServer } from '../lib/http-server.ts';
import { createLogger, type Logger } from '../lib/logger.ts';
import { collectProcessMetrics, metricsOf } from '../lib/metrics.ts';
import { startMetricsServer } from '../lib/metrics-server.ts';
import { runAsService } from '../lib/request-context.ts';
import { loadShutdownConfig } from '../lib/service-main.ts';
import { startTracing, tracingSettings } from '../lib/tracing.ts';
import { loadSandboxesConfig } from '../sandboxes/config.ts';
import { startSandboxes, type RunningSandboxes } from '../sandboxes/index.ts';
import { PLATFORM_PARTNER_CREDENTIALS } from '../sandboxes/manifest.ts';
import { SANDBOX_SEED_FILE } from '../sandboxes/seed.ts';
import { loadAccountsConfig } from '../subgraphs/accounts/config.ts';
import { startAccountsSubgraph } from '../subgraphs/accounts/server.ts';
import { loadConsentsConfig } from '../subgraphs/consents/config.ts';
import { startConsentsSubgraph } from '../subgraphs/consents/server.ts';
import { loadIdentityConfig } from '../subgraphs/identity/config.ts';
import { startIdentitySubgraph } from '../subgraphs/identity/server.ts';
import { loadPaymentsConfig } from '../subgraphs/payments/config.ts';
import { startPaymentsSubgraph } from '../subgraphs/payments/server.ts';

/**
 * The whole product in one process: partner sandboxes, the four subgraphs and the gateway,
 * started in dependency order and stopped in reverse. `npm start` uses it on the default ports;
 * end-to-end tests use free ports and in-memory PGlite.
 *
 * - One embedded PGlite for the four subgraphs, a schema (and a role) each (lib/database.ts), in
 *   PGLITE_DIR (or one in-memory database): a PGlite instance costs about 200 MB and seconds.
 * - Each part runs as itself (lib/request-context.ts runAsService): its own metrics registry and
 *   its own traces, as if it ran in its own process. One operator listener
 *   (METRICS_HOST/METRICS_PORT/METRICS_TOKEN, default 127.0.0.1:9400) serves /metrics/<part> for
 *   gateway, identity, accounts, payments, consents and platform (Node's process metrics, once),
 *   and /metrics for all of them, told apart by the `service` label.
 * - stop() is the graceful stop of `npm start` (Ctrl-C): every part turns not ready, the gateway
 *   drains its requests in flight while the subgraphs still answer them, then the subgraphs drain,
 *   and only then are databases, caches and sandboxes closed.
 */
export interface PlatformOptions {
  /**
   * 'default': each part reads its own variables, as when it runs alone (GATEWAY_PORT, IDENTITY_PORT, ...,
   * AUTH_PORT, ..., METRICS_PORT, HOST, SANDBOX_HOST; defaults 4000, 4001-4004, 4100-4103, 9400), and partner
   * URLs set in the environment win over the sandboxes'. 'free': any free port, partners always the sandboxes.
   */
  ports?: 'default' | 'free';
  /** Environment overrides on top of process.env (e.g. PGLITE_DIR, DATABASE_URL, LOG_LEVEL). */
  env?: Record<string, string | undefined>;
  logger?: Logger;
  /** Clock shared by the sandboxes, the subgraphs and the gateway's token checks. */
  now?: () => Date;
}

export interface PlatformUrls {
  gateway: string;
  identity: string;
  accounts: string;
  payments: string;
  consents: string;
  auth: string;
  northwind: string;
  rheinbank: string;
  onfido: string;
  /** The operator metrics listener's /metrics URL (not on any public port). */
  metrics: string;
}

export interface RunningPlatform {
  /** The gateway's /graphql URL. */
  gatewayUrl: string;
  urls: PlatformUrls;
  sandboxes: RunningSandboxes;
  /** Stops at once: requests in flight are cut (tests). */
  close(): Promise<void>;
  /**
   * Graceful stop: not ready everywhere, the gateway then the subgraphs drain their requests in
   * flight within `drainMs` in all, then everything is closed. Resolves with the requests cut at the deadline.
   */
  stop(drainMs: number): Promise<{ cut: number }>;
}

const SUBGRAPH_PORTS = { identity: 4001, accounts: 4002, payments: 4003, consents: 4004 } as const;
type SubgraphName = keyof typeof SUBGRAPH_PORTS;
const SUBGRAPH_NAMES = Object.keys(SUBGRAPH_PORTS) as SubgraphName[];
/** The parts with a metrics registry of their own (the sandboxes stand in for partners and have none). */
const PARTS = ['gateway', ...SUBGRAPH_NAMES] as const;

export async function startPlatform(options: PlatformOptions = {}): Promise<RunningPlatform> {
  const env: Record<string, string | undefined> = { ...process.env, ...options.env };
  const logger = options.logger ?? createLogger('platform', env.LOG_LEVEL ?? 'info');
  const free = options.ports === 'free';
  const now = options.now;
  const started: { name: string; close(): Promise<void> }[] = [];
  // Each part logs as its own service, exactly as it would in its own process.
  const child = (name: string) =>
    options.logger ? options.logger.child({ part: name }) : createLogger(name, env.LOG_LEVEL ?? 'info');

  const closeAll = async () => {
    for (const part of started.splice(0).reverse()) {
      try {
        await part.close();
      } catch (err) {
        logger.error({ err, part: part.name }, 'failed to stop part of the platform');
      }
    }
  };

  // 0. Check every service's configuration before starting anything, so a bad variable stops
  // the platform with one message naming it (and the service that reads it).
  preflight(env);

  try {
    // Trace export (OTEL_*, lib/tracing.ts), first in and so last out: the stop's own spans are flushed.
    const tracing = await startTracing(env);
    if (tracing) started.push({ name: 'tracing', close: () => tracing.shutdown() });

    // 1. The operator metrics listener, first: it is cheap, and a taken port fails before anything else starts.
    const metricsConfig = loadMetricsConfig('gateway', free ? { ...env, METRICS_PORT: '0' } : env);
    const registries = Object.fromEntries([
      ['platform', processRegistry()],
      ...PARTS.map((part) => [part, metricsOf(part).registry] as const),
    ]);
    const metrics = await startMetricsServer({
      host: metricsConfig.METRICS_HOST,
      port: metricsConfig.METRICS_PORT,
      token: metricsConfig.METRICS_TOKEN,
      logger: child('metrics'),
      registries,
    });
    started.push({ name: 'metrics', close: () => metrics.close() });

    // 2. Partner sandboxes (authorization server, banks, KYC provider), on their own variables
    // (sandboxes/config.ts: AUTH_PORT..., SANDBOX_HOST, SANDBOX_SEED, AUTH_ISSUER, AUTH_AUDIENCE, TOKEN_TTL_SECONDS).
    const sb = loadSandboxesConfig(env);
    const sandboxes = await startSandboxes({
      ports: free
        ? 0
        : { auth: sb.AUTH_PORT, northwind: sb.NORTHWIND_PORT, rheinbank: sb.RHEINBANK_PORT, onfido: sb.ONFIDO_PORT },
      ...(free ? {} : { host: sb.SANDBOX_HOST }),
      seed: sb.SANDBOX_SEED,
      adminRoutes: sb.PROFILE === 'sandbox',
      // The gateway checks tokens against the issuer and audience the sandbox mints them with.
      auth: {
        ...(sb.AUTH_ISSUER && !free ? { issuer: sb.AUTH_ISSUER } : {}),
        audience: sb.AUTH_AUDIENCE,
        tokenTtlSeconds: sb.TOKEN_TTL_SECONDS,
      },
      ...(now ? { now } : {}),
      logger: child('sandboxes'),
    });
    started.push({ name: 'sandboxes', close: () => sandboxes.close() });
    const partnerEnv = {
      NORTHWIND_URL: sandboxes.urls.northwind,
      RHEINBANK_URL: sandboxes.urls.rheinbank,
      ONFIDO_URL: sandboxes.urls.onfido,
      AUTH_ISSUER: sandboxes.urls.auth,
      AUTH_JWKS_URL: sandboxes.urls.jwks,
      // The platform's credentials at the sandboxes: partner credentials reach the subgraphs through configuration
      // only.
      ONFIDO_API_TOKEN: PLATFORM_PARTNER_CREDENTIALS.onfidoApiToken,
      NORTHWIND_PIS_TOKEN: PLATFORM_PARTNER_CREDENTIALS.northwindPisToken,
      // The sandbox bank signs its payment webhooks with this and the payments subgraph verifies them: one per run.
      NORTHWIND_WEBHOOK_SECRET: `whsec_${randomBytes(32).toString('base64')}`,
      // The KYC sandbox signs its check events with this (X-SHA2-Signature) and identity verifies them: one per run.
      ONFIDO_WEBHOOK_TOKEN: randomBytes(32).toString('base64url'),
    };
    // Under npm start ('default') a partner URL or credential the operator set wins, as it would for the subgraph run
    // alone.
    if (!free) {
      for (const key of Object.keys(partnerEnv) as (keyof typeof partnerEnv)[]) {
        const set = env[key];
        if (set) partnerEnv[key] = set;
      }
    }

    // 3. The subgraphs, each with its own port and schema, all in one embedded database (unless DATABASE_URL).
    const pgliteDir = env.DATABASE_URL ? env.PGLITE_DIR : sharedPgliteDir(env.PGLITE_DIR, logger);
    // The sandbox profile seeds each subgraph from the sandboxes' published world (lib/seed.ts), unless SEED_FILE names
    // another.
    const seedEnv = { SEED_FILE: env.SEED_FILE || (sb.PROFILE === 'sandbox' ? SANDBOX_SEED_FILE : undefined) };
    const subgraphEnv = (name: SubgraphName) => ({
      ...env,
      ...partnerEnv,
      ...seedEnv,
      PGLITE_DIR: pgliteDir,
      ...(free ? { [`${name.toUpperCase()}_PORT`]: '0' } : {}),
    });
    const starters: Record<SubgraphName, () => Promise<RunningServer>> = {
      identity: async () =>
        startIdentitySubgraph(loadIdentityConfig(subgraphEnv('identity')), { logger: child('identity'), now }),
      accounts: async () =>
        startAccountsSubgraph(loadAccountsConfig(subgraphEnv('accounts')), { logger: child('accounts'), now }),
      payments: async () =>
        startPaymentsSubgraph(loadPaymentsConfig(subgraphEnv('payments')), { logger: child('payments'), now }),
      consents: async () =>
        startConsentsSubgraph(loadConsentsConfig(subgraphEnv('consents')), { logger: child('consents'), now }),
    };
    const names = Object.keys(starters) as SubgraphName[];
    // Each start runs as its subgraph: what it creates is measured and traced under its name.
    const results = await Promise.allSettled(names.map((n) => runAsService(n, starters[n])));
    const subgraphs = {} as Record<SubgraphName, RunningServer>;
    results.forEach((r, i) => {
      const name = names[i]!;
      if (r.status === 'fulfilled') {
        subgraphs[name] = r.value;
        started.push({ name, close: () => r.value.close() });
      }
    });
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    // The bank's payment events go to the payments subgraph's webhook receiver (issue 10).
    sandboxes.northwind.webhooks.configure({
      url: subgraphs.payments.url.replace(/\/graphql$/, '/webhooks/northwind'),
      secrets: [partnerEnv.NORTHWIND_WEBHOOK_SECRET],
    });
    // Onfido's check events go to the identity subgraph's webhook receiver (issue 10).
    sandboxes.onfido.webhooks.configure({
      url: subgraphs.identity.url.replace(/\/graphql$/, '/webhooks/onfido'),
      token: partnerEnv.ONFIDO_WEBHOOK_TOKEN,
    });

    // 4. The gateway, pointed at the subgraphs actually started.
    const gateway = await runAsService('gateway', () =>
      startGateway(
        loadGatewayConfig({
          ...env,
          ...partnerEnv,
          ...(free ? { GATEWAY_PORT: '0' } : {}),
          // Its idempotency records (schema `gateway`) in the subgraphs' embedded database: no PGlite of its own.
          PGLITE_DIR: pgliteDir,
          IDENTITY_SUBGRAPH_URL: subgraphs.identity.url,
          ACCOUNTS_SUBGRAPH_URL: subgraphs.accounts.url,
          PAYMENTS_SUBGRAPH_URL: subgraphs.payments.url,
          CONSENTS_SUBGRAPH_URL: subgraphs.consents.url,
        }),
        { logger: child('gateway'), now },
      ),
    );
    started.push({ name: 'gateway', close: () => gateway.close() });

    let stopping: Promise<{ cut: number }> | undefined;
    const stop = (drainMs: number) =>
      (stopping ??= (async () => {
        const deadline = performance.now() + drainMs;
        const left = () => Math.max(0, deadline - performance.now());
        const subgraphServers = names.map((n) => subgraphs[n].server);
        // Everyone out of rotation at once; the subgraphs keep answering the gateway's requests in flight.
        for (const server of [gateway.server, ...subgraphServers]) markNotReady(server);
        const fromGateway = await drainServer(gateway.server, left());
        const fromSubgraphs = await Promise.all(subgraphServers.map((server) => drainServer(server, left())));
        await closeAll();
        return { cut: fromGateway.cut + fromSubgraphs.reduce((sum, d) => sum + d.cut, 0) };
      })());

    return {
      gatewayUrl: gateway.url,
      urls: {
        gateway: gateway.url,
        identity: subgraphs.identity.url,
        accounts: subgraphs.accounts.url,
        payments: subgraphs.payments.url,
        consents: subgraphs.consents.url,
        auth: sandboxes.urls.auth,
        northwind: sandboxes.urls.northwind,
        rheinbank: sandboxes.urls.rheinbank,
        onfido: sandboxes.urls.onfido,
        metrics: metrics.url,
      },
      sandboxes,
      close: closeAll,
      stop,
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}

function preflight(env: Record<string, string | undefined>): void {
  const problems: string[] = [];
  const loaders: [string, (e: Record<string, string | undefined>) => unknown][] = [
    ['identity', loadIdentityConfig],
    ['accounts', loadAccountsConfig],
    ['payments', loadPaymentsConfig],
    ['consents', loadConsentsConfig],
    ['gateway', loadGatewayConfig],
    ['metrics', (e) => loadMetricsConfig('gateway', e)],
    ['shutdown', loadShutdownConfig],
    ['tracing', tracingSettings],
  ];
  for (const [name, load] of loaders) {
    try {
      load(env);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      problems.push(...err.problems.map((p) => `${name}: ${p}`));
    }
  }
  if (problems.length > 0) throw new ConfigError([...new Set(problems)]);
}

let platformRegistry: Registry | undefined;

/**
 * Node's process metrics, once per process, under service="platform": the parts share the process, so none of them owns
 * them.
 */
function processRegistry(): Registry {
  if (!platformRegistry) {
    platformRegistry = new Registry();
    platformRegistry.setDefaultLabels({ service: 'platform' });
    collectProcessMetrics(platformRegistry);
  }
  return platformRegistry;
}

/**
 * The embedded database the four subgraphs share: PGLITE_DIR itself when it is a directory, else
 * an in-memory database of this platform alone (a named one: lib/database.ts shares
 * "memory://<name>" between the handles of that name, while plain "memory://" is private).
 */
function sharedPgliteDir(dir: string | undefined, logger: Logger): string {
  if (!dir || dir === 'memory://') return `memory://platform-${randomUUID()}`;
  if (dir.startsWith('memory://')) return dir;
  mkdirSync(dir, { recursive: true });
  // Earlier versions kept one database per subgraph in <dir>/<subgraph>: say why that data is not seen.
  const legacy = SUBGRAPH_NAMES.filter((name) => existsSync(join(dir, name, 'PG_VERSION')));
  if (legacy.length > 0 && !existsSync(join(dir, 'PG_VERSION'))) {
    logger.warn(
      { dir, legacy: legacy.map((name) => join(dir, name)) },
      'the subgraphs now share one database in PGLITE_DIR; the per-subgraph databases of an earlier version beside it are no longer read and can be deleted',
    );
  }
  return dir;
}
