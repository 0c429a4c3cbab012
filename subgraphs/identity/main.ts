import { ConfigError } from '../../lib/config.ts';
import { createLogger } from '../../lib/logger.ts';
import { runService } from '../../lib/service-main.ts';
import { loadIdentityConfig, type IdentityConfig } from './config.ts';
import { startIdentitySubgraph } from './server.ts';

// Process entry of the identity subgraph (docker-compose, `node subgraphs/identity/main.ts`).
let config: IdentityConfig;
try {
  config = loadIdentityConfig();
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  console.error(`identity: ${err.message}`);
  process.exit(2);
}
const logger = createLogger('identity', config.LOG_LEVEL);
await runService('identity', logger, () => startIdentitySubgraph(config, { logger }));
