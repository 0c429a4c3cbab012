import { ConfigError, exitWithConfigProblems } from '../../lib/config.ts';
import { createLogger } from '../../lib/logger.ts';
import { runService } from '../../lib/service-main.ts';
import { loadPaymentsConfig, type PaymentsConfig } from './config.ts';

// Process entry of the payments subgraph (docker-compose, `node subgraphs/payments/main.ts`).
let config: PaymentsConfig;
try {
  config = loadPaymentsConfig();
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  exitWithConfigProblems('payments', err.problems);
}
const logger = createLogger('payments', config.LOG_LEVEL);
// The server module (Apollo, the database driver) loads only once the ports are known to be free.
await runService(
  'payments',
  logger,
  async () => (await import('./server.ts')).startPaymentsSubgraph(config, { logger }),
  { ports: [{ variable: 'PAYMENTS_PORT', port: config.PAYMENTS_PORT, host: config.HOST, hostVariable: 'HOST' }] },
);
