import type { Server } from 'node:http';
import { constants } from 'node:os';
import {
  ConfigError,
  exitWithConfigProblems,
  loadMetricsConfig,
  loadShutdownConfig,
  type ServiceName,
  type ShutdownConfig,
} from './config.ts';
import { drainServer, markNotReady } from './http-server.ts';
import { createLogger, type Logger } from './logger.ts';
import { collectProcessMetrics, metricsOf } from './metrics.ts';
import { startMetricsServer, type RunningMetricsServer } from './metrics-server.ts';
import { runAsService } from './request-context.ts';
import { startTracing, type Tracing } from './tracing.ts';
import { claimOf, portProblem, portProblems, type PortClaim } from './ports.ts';

export { exitWithConfigProblems };

export interface RunServiceOptions {
  /** The public ports the service will listen on, checked (with the metrics port) before anything starts. */
  ports?: PortClaim[];
}

/**
 * Entry-point wrapper for a service process: checks that its ports are free, starts its operator
 * metrics listener (lib/metrics-server.ts; METRICS_HOST, METRICS_PORT, METRICS_TOKEN) and the
 * service, and on SIGINT/SIGTERM closes them (servers, pools, breakers) before exiting. A
 * configuration problem (a bad variable, a port in use) exits with status 2 and one line per
 * problem; any other start failure is logged and exits with status 1.
 */
export async function runService(
  name: ServiceName,
  logger: Logger,
  start: () => Promise<{ server?: Server; close(): Promise<void> }>,
  options: RunServiceOptions = {},
): Promise<void> {
  let running: { server?: Server; close(): Promise<void> };
  let metrics: RunningMetricsServer;
  let tracing: Tracing | undefined;
  let drainMs: number;
  let claims: PortClaim[] = [...(options.ports ?? [])];
  try {
    const metricsConfig = loadMetricsConfig(name);
    drainMs = loadShutdownConfig().SHUTDOWN_DRAIN_MS;
    claims = [
      ...claims,
      {
        variable: 'METRICS_PORT',
        port: metricsConfig.METRICS_PORT,
        host: metricsConfig.METRICS_HOST,
        hostVariable: 'METRICS_HOST',
      },
    ];
    // Before anything slow (a database, a supergraph fetch): a taken port is reported in milliseconds.
    const taken = await portProblems(claims);
    if (taken.length > 0) exitWithConfigProblems(name, taken);
    tracing = await startTracing(process.env, { service: name });
    // This process runs one service: its registry also carries the process metrics (CPU, memory, GC).
    const registry = metricsOf(name).registry;
    collectProcessMetrics(registry);
    metrics = await startMetricsServer({
      host: metricsConfig.METRICS_HOST,
      port: metricsConfig.METRICS_PORT,
      token: metricsConfig.METRICS_TOKEN,
      logger,
      registries: { [name]: registry },
    });
    running = await runAsService(name, start);
  } catch (err) {
    if (err instanceof ConfigError) exitWithConfigProblems(name, err.problems);
    // Taken between the check and the listen (another program was quicker): still the variable's problem.
    const claim = claimOf(err, claims);
    if (claim) exitWithConfigProblems(name, [portProblem(claim, (err as NodeJS.ErrnoException).code)]);
    logger.fatal({ err }, `${name} failed to start`);
    process.exit(1);
  }
  stopOnSignals({
    name,
    logger,
    drainMs,
    stop: async () => {
      // Not ready, stop accepting, let the requests in flight finish (up to the deadline) ...
      if (running.server) {
        markNotReady(running.server);
        const { cut } = await drainServer(running.server, drainMs);
        if (cut > 0) logger.warn({ cut, drainMs }, `${name}: requests still in flight at the drain deadline were cut`);
      }
      // ... then close the service (database pools, caches, breakers), the metrics listener and the trace export.
      await running.close();
      await metrics.close();
      await tracing?.shutdown();
    },
  });
}

/** The keys of a config whose values are numbers (its ports among them). */
type NumberKey<C> = { [K in keyof C]: C[K] extends number ? K : never }[keyof C] & string;

export interface ServiceProcess<C extends { LOG_LEVEL: string; HOST: string }> {
  name: ServiceName;
  /** The service's config loader; a ConfigError exits 2 with one line per problem. */
  loadConfig: () => C;
  /** The variable of the public port (e.g. PAYMENTS_PORT), listened on at HOST. */
  port: NumberKey<C>;
  /**
   * Starts the service. Import the server module inside it (`await import('./server.ts')`): Apollo,
   * the database driver and the rest load only once the configuration and the ports are known good.
   */
  start: (config: C, logger: Logger) => Promise<{ server?: Server; close(): Promise<void> }>;
}

/**
 * The whole of a service's main.ts: load its configuration (exit 2 with one line per problem),
 * make its logger, then runService with its public port claimed. Every subgraph's entry is this
 * one call, so they cannot drift apart.
 */
export async function runServiceProcess<C extends { LOG_LEVEL: string; HOST: string }>(
  service: ServiceProcess<C>,
): Promise<void> {
  let config: C;
  try {
    config = service.loadConfig();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    exitWithConfigProblems(service.name, err.problems);
  }
  const logger = createLogger(service.name, config.LOG_LEVEL);
  await runService(service.name, logger, () => service.start(config, logger), {
    ports: [{ variable: service.port, port: config[service.port] as number, host: config.HOST, hostVariable: 'HOST' }],
  });
}

// ---------------------------------------------------------------------------------------------
// Graceful stop (every process: this file for a service process, scripts/start.ts for npm start)

// The SHUTDOWN_DRAIN_MS setting lives in lib/config.ts, so the launcher can check it with the rest before loading this
// module.
export { loadShutdownConfig, type ShutdownConfig };

/**
 * Time allowed, after the drain, to close databases, caches and listeners before the process gives up on a clean stop.
 */
const CLOSE_BUDGET_MS = 5_000;

export interface StopOnSignalsOptions {
  name: string;
  logger: Logger;
  drainMs: number;
  /**
   * The graceful stop: not ready, drain (within drainMs), close connections. Its synchronous part
   * must already stop accepting (drainServer closes the listener at once), so that the "stopping"
   * line is only logged once a new connection would be refused.
   */
  stop: () => Promise<void>;
}

/**
 * SIGINT (Ctrl-C) and SIGTERM (an orchestrator) start a graceful stop: `stop` runs, and the process
 * exits 0 once it is done. A second signal exits at once with 128 + the signal's number (130 for
 * SIGINT, 143 for SIGTERM), as a shell reports a process killed by it: the person pressing Ctrl-C
 * twice wants out now. A stop that neither finishes nor fails within the drain and a close budget
 * exits 1.
 */
export function stopOnSignals(opts: StopOnSignalsOptions): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      opts.logger.warn(
        { signal },
        `${opts.name}: second ${signal}, exiting without waiting for the requests in flight`,
      );
      process.exit(128 + (constants.signals[signal] ?? 0));
    }
    stopping = true;
    const giveUp = setTimeout(() => {
      opts.logger.error(
        { budgetMs: opts.drainMs + CLOSE_BUDGET_MS },
        `${opts.name}: the stop did not finish in time; exiting`,
      );
      process.exit(1);
    }, opts.drainMs + CLOSE_BUDGET_MS);
    giveUp.unref();
    const stopped = opts.stop();
    opts.logger.info(
      { signal, drainMs: opts.drainMs },
      `${opts.name} stopping: not ready, no new connections, finishing the requests in flight`,
    );
    stopped.then(
      () => {
        opts.logger.info(`${opts.name} stopped`);
        process.exit(0);
      },
      (err: unknown) => {
        opts.logger.error({ err }, `${opts.name}: the stop failed`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}
