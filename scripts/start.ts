// npm start: the whole platform, by default on ports 4000 (gateway), 4001-4004 (subgraphs),
// 4100-4103 (partner sandboxes) and 127.0.0.1:9400 (operator metrics), each moved by the same
// variable as when the part runs alone (`npm start -- --help` lists them), with PGlite data kept in .data/pglite (one
// database, a schema per subgraph). Logs are pino JSON (LOG_LEVEL, default info); the banner below is printed once
// everything is up.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ConfigError, exitWithConfigProblems } from '../lib/config.ts';
import { createLogger } from '../lib/logger.ts';
import { claimOf, portProblem, portProblems } from '../lib/ports.ts';
import type { RunningPlatform } from './platform.ts';
import { launcherPortClaims, launcherProblems, startHelp } from './start-config.ts';

const EXAMPLE_CUSTOMER = 'cus_u57fz5zj7ojayz6np3d6x6kon4';
const root = new URL('../', import.meta.url);

// Arguments first: --help answers without touching the configuration.
let args: { help?: boolean };
try {
  ({ values: args } = parseArgs({ options: { help: { type: 'boolean', short: 'h' } }, strict: true }));
} catch (err) {
  exitWithConfigProblems('platform', [`${(err as Error).message}; npm start takes no arguments but --help`]);
}
if (args.help) {
  process.stdout.write(`${startHelp()}\n`);
  process.exit(0);
}

// Then every part's configuration and every port, before anything slow starts (and before a
// logger is made from a LOG_LEVEL that may be wrong): one line per problem, exit status 2.
const pgliteDir = process.env.PGLITE_DIR ?? fileURLToPath(new URL('.data/pglite', root));
const env = { ...process.env, PGLITE_DIR: pgliteDir };
const problems = launcherProblems(env);
if (problems.length > 0) exitWithConfigProblems('platform', problems);
const claims = launcherPortClaims(env);
const taken = await portProblems(claims);
if (taken.length > 0) exitWithConfigProblems('platform', taken);

// Only now the platform's modules (Apollo, PGlite, the sandboxes): the checks above answer in the
// time Node takes to start, not in the time it takes to load everything.
const [{ startPlatform }, { SupergraphError }, { loadShutdownConfig, stopOnSignals }] = await Promise.all([
  import('./platform.ts'),
  import('../gateway/supergraph.ts'),
  import('../lib/service-main.ts'),
]);
const logger = createLogger('platform', process.env.LOG_LEVEL ?? 'info');
let platform: RunningPlatform;
try {
  platform = await startPlatform({ ports: 'default', env: { PGLITE_DIR: pgliteDir }, logger });
} catch (err) {
  if (err instanceof ConfigError) exitWithConfigProblems('platform', err.problems);
  if (err instanceof SupergraphError) exitWithConfigProblems('platform', [`SUPERGRAPH: ${err.message}`]);
  // Taken between the check and the listen (another program was quicker): still the variable's problem.
  const claim = claimOf(err, claims);
  if (claim) exitWithConfigProblems('platform', [portProblem(claim, (err as NodeJS.ErrnoException).code)]);
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
// npm run token finds the authorization server at 127.0.0.1:4100 (or AUTH_ISSUER / AUTH_PORT): say so when it moved.
const tokenEnv =
  platform.urls.auth.replace(/\/$/, '') === 'http://127.0.0.1:4100' ? '' : `AUTH_ISSUER=${platform.urls.auth} `;

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

     TOKEN=$(${tokenEnv}npm run -s token -- --customer ${EXAMPLE_CUSTOMER})

  2. Ask for the customer dashboard:

     curl -s ${gatewayUrl} -H 'content-type: application/json' -H "authorization: Bearer $TOKEN" \\
       -d '${body}'

  Ctrl-C stops everything.

`);

// Ctrl-C or SIGTERM: graceful stop (lib/service-main.ts stopOnSignals; SHUTDOWN_DRAIN_MS, already checked by
// startPlatform).
const { SHUTDOWN_DRAIN_MS: drainMs } = loadShutdownConfig();
stopOnSignals({
  name: 'platform',
  logger,
  drainMs,
  stop: async () => {
    const { cut } = await platform.stop(drainMs);
    if (cut > 0) logger.warn({ cut, drainMs }, 'platform: requests still in flight at the drain deadline were cut');
  },
});
