import { runServiceProcess } from '../../lib/service-main.ts';
import { loadPaymentsConfig } from './config.ts';

// Process entry of the payments subgraph (docker-compose, `node subgraphs/payments/main.ts`): lib/service-main.ts does
// the rest.
await runServiceProcess({
  name: 'payments',
  loadConfig: () => loadPaymentsConfig(),
  port: 'PAYMENTS_PORT',
  start: async (config, logger) => (await import('./server.ts')).startPaymentsSubgraph(config, { logger }),
});
