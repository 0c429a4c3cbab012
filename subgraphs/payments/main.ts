import { ConfigError } from '../../lib/config.ts';
import { createLogger } from '../../lib/logger.ts';
import { exitWithConfigProblems, runService } from '../../lib/service-main.ts';
import { loadPaymentsConfig, type PaymentsConfig } from './config.ts';
import { startPaymentsSubgraph } from './server.ts';

// Process entry of the payments subgraph (docker-compose, `node subgraphs/payments/main.ts`).
let config: PaymentsConfig;
try {
  config = loadPaymentsConfig();
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  exitWithConfigProblems('payments', err.problems);
}
const logger = createLogger('payments', config.LOG_LEVEL);
await runService('payments', logger, () => startPaymentsSubgraph(config, { logger }), { ports: [{ variable: 'PAYMENTS_PORT', port: config.PAYMENTS_PORT, host: config.HOST, hostVariable: 'HOST' }] });
