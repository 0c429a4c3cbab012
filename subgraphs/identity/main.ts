import { runServiceProcess } from '../../lib/service-main.ts';
import { loadIdentityConfig } from './config.ts';

// Process entry of the identity subgraph (docker-compose, `node subgraphs/identity/main.ts`): lib/service-main.ts does
// the rest.
await runServiceProcess({
  name: 'identity',
  loadConfig: () => loadIdentityConfig(),
  port: 'IDENTITY_PORT',
  start: async (config, logger) => (await import('./server.ts')).startIdentitySubgraph(config, { logger }),
});
