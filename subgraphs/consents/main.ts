import { ConfigError, exitWithConfigProblems } from '../../lib/config.ts';
import { createLogger } from '../../lib/logger.ts';
import { runService } from '../../lib/service-main.ts';
import { loadConsentsConfig, type ConsentsConfig } from './config.ts';

// Process entry of the consents subgraph (docker-compose, `node subgraphs/consents/main.ts`).
let config: ConsentsConfig;
try {
  config = loadConsentsConfig();
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  exitWithConfigProblems('consents', err.problems);
}
const logger = createLogger('consents', config.LOG_LEVEL);
// The server module (Apollo, the database driver) loads only once the ports are known to be free.
await runService(
  'consents',
  logger,
  async () => (await import('./server.ts')).startConsentsSubgraph(config, { logger }),
  { ports: [{ variable: 'CONSENTS_PORT', port: config.CONSENTS_PORT, host: config.HOST, hostVariable: 'HOST' }] },
);
