import { ConfigError } from '../../lib/config.ts';
import { createLogger } from '../../lib/logger.ts';
import { runService } from '../../lib/service-main.ts';
import { loadPaymentsConfig, type PaymentsConfig } from './config.ts';
import { startPaymentsSubgraph } from './server.ts';

// Process entry of the payments subgraph (docker-compose, `node subgraphs/payments/main.ts`).
let config: PaymentsConfig;
try {
  config = loadPaymentsConfig();
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  console.error(`payments: ${err.message}`);
  process.exit(2);
}
const logger = createLogger('payments', config.LOG_LEVEL);
await runService('payments', logger, () => startPaymentsSubgraph(config, { logger }));
