import { ConfigError, exitWithConfigProblems } from '../../lib/config.ts';
import { createLogger } from '../../lib/logger.ts';
import { runService } from '../../lib/service-main.ts';
import { loadAccountsConfig, type AccountsConfig } from './config.ts';

// Process entry of the accounts subgraph (docker-compose, `node subgraphs/accounts/main.ts`).
let config: AccountsConfig;
try {
  config = loadAccountsConfig();
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  exitWithConfigProblems('accounts', err.problems);
}
const logger = createLogger('accounts', config.LOG_LEVEL);
// The server module (Apollo, the database driver) loads only once the ports are known to be free.
await runService(
  'accounts',
  logger,
  async () => (await import('./server.ts')).startAccountsSubgraph(config, { logger }),
  { ports: [{ variable: 'ACCOUNTS_PORT', port: config.ACCOUNTS_PORT, host: config.HOST, hostVariable: 'HOST' }] },
);
