import { runServiceProcess } from '../../lib/service-main.ts';
import { loadAccountsConfig } from './config.ts';

// Process entry of the accounts subgraph (docker-compose, `node subgraphs/accounts/main.ts`): lib/service-main.ts does
// the rest.
await runServiceProcess({
  name: 'accounts',
  loadConfig: () => loadAccountsConfig(),
  port: 'ACCOUNTS_PORT',
  start: async (config, logger) => (await import('./server.ts')).startAccountsSubgraph(config, { logger }),
});
