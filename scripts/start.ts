// npm start: the whole platform on the default ports (gateway 4000, subgraphs 4001-4004,
// partner sandboxes 4100-4103, operator metrics 127.0.0.1:9400), with PGlite data kept in .data/pglite/<subgraph>.
// Logs are pino JSON (LOG_LEVEL, default info); the banner below is printed once everything is up.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../lib/config.ts';
import { createLogger } from '../lib/logger.ts';
import { startPlatform, type RunningPlatform } from './platform.ts';

const EXAMPLE_CUSTOMER = 'cus_u57fz5zj7ojayz6np3d6x6kon4';
const root = new URL('../', import.meta.url);
const logger = createLogger('platform', process.env.LOG_LEVEL ?? 'info');
const pgliteDir = process.env.PGLITE_DIR ?? fileURLToPath(new URL('.data/pglite', root));

let platform: RunningPlatform;
try {
  platform = await startPlatform({ ports: 'default', env: { PGLITE_DIR: pgliteDir }, logger });
} catch (err) {
  if (err instanceof ConfigError) {
    console.error(`platform: ${err.message}`);
    process.exit(2);
  }
  if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
    console.error(`platform: a port is already in use (${(err as Error).message}); is the platform already running?`);
    process.exit(1);
  }
  logger.fatal({ err }, 'platform failed to start');
  process.exit(1);
}

const gatewayUrl = platform.gatewayUrl.replace('//127.0.0.1:', '//localhost:');
const dashboard = readFileSync(new URL('test/operations/dashboard.graphql', root), 'utf8')
  .split('\n')
  .filter((line) => !line.trimStart().startsWith('#'))
  .join(' ')
  .replace(/\s+/g, ' ')
  .trim();
const body = JSON.stringify({ query: dashboard }).replaceAll("'", "'\\''");

process.stdout.write(`
  Financial data graph is running
  ───────────────────────────────
  GraphQL gateway   ${gatewayUrl}
  Subgraphs         identity ${platform.urls.identity}
                    accounts ${platform.urls.accounts}
                    payments ${platform.urls.payments}
                    consents ${platform.urls.consents}
  Sandboxes         auth ${platform.urls.auth}  northwind ${platform.urls.northwind}
                    rheinbank ${platform.urls.rheinbank}  onfido ${platform.urls.onfido}
  Data              ${pgliteDir}
  Metrics           ${platform.urls.metrics}  (operators only: not served on the public ports)

  1. Get an access token for a sandbox customer (npm run token -- --help lists them):

     TOKEN=$(npm run -s token -- --customer ${EXAMPLE_CUSTOMER})

  2. Ask for the customer dashboard:

     curl -s ${gatewayUrl} -H 'content-type: application/json' -H "authorization: Bearer $TOKEN" \\
       -d '${body}'

  Ctrl-C stops everything.

`);

let stopping = false;
const stop = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'platform shutting down');
  const timer = setTimeout(() => process.exit(1), 15_000).unref();
  try {
    await platform.close();
  } finally {
    clearTimeout(timer);
    process.exit(0);
  }
};
process.once('SIGINT', () => void stop('SIGINT'));
process.once('SIGTERM', () => void stop('SIGTERM'));
