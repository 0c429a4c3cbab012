import { runServiceProcess } from '../../lib/service-main.ts';
import { loadConsentsConfig } from './config.ts';

// Process entry of the consents subgraph (docker-compose, `node subgraphs/consents/main.ts`): lib/service-main.ts does
// the rest.
await runServiceProcess({
  name: 'consents',
  loadConfig: () => loadConsentsConfig(),
  port: 'CONSENTS_PORT',
  start: async (config, logger) => (await import('./server.ts')).startConsentsSubgraph(config, { logger }),
});
