import { ConfigError } from '../../lib/config.ts';
import { createLogger } from '../../lib/logger.ts';
import { runService } from '../../lib/service-main.ts';
import { loadAccountsConfig, type AccountsConfig } from './config.ts';
import { startAccountsSubgraph } from './server.ts';

// Process entry of the accounts subgraph (docker-compose, `node subgraphs/accounts/main.ts`).
let config: AccountsConfig;
try {
  config = loadAccountsConfig();
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  console.error(`accounts: ${err.message}`);
  process.exit(2);
}
const logger = createLogger('accounts', config.LOG_LEVEL);
await runService('accounts', logger, () => startAccountsSubgraph(config, { logger }));
