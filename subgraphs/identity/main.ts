import { ConfigError } from '../../lib/config.ts';
import { createLogger } from '../../lib/logger.ts';
import { exitWithConfigProblems, runService } from '../../lib/service-main.ts';
import { loadIdentityConfig, type IdentityConfig } from './config.ts';
import { startIdentitySubgraph } from './server.ts';

// Process entry of the identity subgraph (docker-compose, `node subgraphs/identity/main.ts`).
let config: IdentityConfig;
try {
  config = loadIdentityConfig();
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  exitWithConfigProblems('identity', err.problems);
}
const logger = createLogger('identity', config.LOG_LEVEL);
await runService('identity', logger, () => startIdentitySubgraph(config, { logger }), { ports: [{ variable: 'IDENTITY_PORT', port: config.IDENTITY_PORT, host: config.HOST, hostVariable: 'HOST' }] });
