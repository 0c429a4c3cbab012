import { ConfigError, loadMetricsConfig, type ServiceName } from './config.ts';
import type { Logger } from './logger.ts';
import { startMetricsServer, type RunningMetricsServer } from './metrics-server.ts';

/**
 * Entry-point wrapper for a service process: starts its operator metrics listener
 * (lib/metrics-server.ts; METRICS_HOST, METRICS_PORT, METRICS_TOKEN) and the service, and on
 * SIGINT/SIGTERM closes them (servers, pools, breakers) before exiting. A configuration error
 * prints the variables at fault and exits with status 2; any other start failure exits with status 1.
 */
export async function runService(name: ServiceName, logger: Logger, start: () => Promise<{ close(): Promise<void> }>): Promise<void> {
  let running: { close(): Promise<void> };
  let metrics: RunningMetricsServer;
  try {
    const metricsConfig = loadMetricsConfig(name);
    // The listener comes first: a taken metrics port stops the process before it opens its database.
    metrics = await startMetricsServer({ host: metricsConfig.METRICS_HOST, port: metricsConfig.METRICS_PORT, token: metricsConfig.METRICS_TOKEN, logger });
    running = await start();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`${name}: ${err.message}`);
      process.exit(2);
    }
    logger.fatal({ err }, `${name} failed to start`);
    process.exit(1);
  }
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, `${name} shutting down`);
    const timer = setTimeout(() => process.exit(1), 10_000).unref();
    try {
      await running.close();
      await metrics.close();
    } finally {
      clearTimeout(timer);
      process.exit(0);
    }
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
}
