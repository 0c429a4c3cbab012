import { ConfigError } from './config.ts';
import type { Logger } from './logger.ts';

/**
 * Entry-point wrapper for a service process: starts it, and on SIGINT/SIGTERM closes it
 * (servers, pools, breakers) before exiting. A configuration error prints the variables at
 * fault and exits with status 2; any other start failure exits with status 1.
 */
export async function runService(name: string, logger: Logger, start: () => Promise<{ close(): Promise<void> }>): Promise<void> {
  let running: { close(): Promise<void> };
  try {
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
    } finally {
      clearTimeout(timer);
      process.exit(0);
    }
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
}
