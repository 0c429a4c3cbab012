import { ConfigError } from '../../lib/config.ts';
import { createLogger } from '../../lib/logger.ts';
import { exitWithConfigProblems, runService } from '../../lib/service-main.ts';
import { loadAccountsConfig, type AccountsConfig } from './config.ts';
import { startAccountsSubgraph } from './server.ts';

// Process entry of the accounts subgraph (docker-compose, `node subgraphs/accounts/main.ts`).
let config: AccountsConfig;
try {
  config = loadAccountsConfig();
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  exitWithConfigProblems('accounts', err.problems);
}
const logger = createLogger('accounts', config.LOG_LEVEL);
await runService('accounts', logger, () => startAccountsSubgraph(config, { logger }), { ports: [{ variable: 'ACCOUNTS_PORT', port: config.ACCOUNTS_PORT, host: config.HOST, hostVariable: 'HOST' }] });
