import { ConfigError } from '../../lib/config.ts';
import { createLogger } from '../../lib/logger.ts';
import { runService } from '../../lib/service-main.ts';
import { loadConsentsConfig, type ConsentsConfig } from './config.ts';
import { startConsentsSubgraph } from './server.ts';

// Process entry of the consents subgraph (docker-compose, `node subgraphs/consents/main.ts`).
let config: ConsentsConfig;
try {
  config = loadConsentsConfig();
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  console.error(`consents: ${err.message}`);
  process.exit(2);
}
const logger = createLogger('consents', config.LOG_LEVEL);
await runService('consents', logger, () => startConsentsSubgraph(config, { logger }));
