import { ConfigError } from '../../lib/config.ts';
import { createLogger } from '../../lib/logger.ts';
import { exitWithConfigProblems, runService } from '../../lib/service-main.ts';
import { loadConsentsConfig, type ConsentsConfig } from './config.ts';
import { startConsentsSubgraph } from './server.ts';

// Process entry of the consents subgraph (docker-compose, `node subgraphs/consents/main.ts`).
let config: ConsentsConfig;
try {
  config = loadConsentsConfig();
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  exitWithConfigProblems('consents', err.problems);
}
const logger = createLogger('consents', config.LOG_LEVEL);
await runService('consents', logger, () => startConsentsSubgraph(config, { logger }), { ports: [{ variable: 'CONSENTS_PORT', port: config.CONSENTS_PORT, host: config.HOST, hostVariable: 'HOST' }] });
