import { ConfigError, exitWithConfigProblems } from '../../lib/config.ts';
import { createLogger } from '../../lib/logger.ts';
import { runService } from '../../lib/service-main.ts';
import { loadIdentityConfig, type IdentityConfig } from './config.ts';

// Process entry of the identity subgraph (docker-compose, `node subgraphs/identity/main.ts`).
let config: IdentityConfig;
try {
  config = loadIdentityConfig();
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  exitWithConfigProblems('identity', err.problems);
}
const logger = createLogger('identity', config.LOG_LEVEL);
// The server module (Apollo, the database driver) loads only once the ports are known to be free.
await runService(
  'identity',
  logger,
  async () => (await import('./server.ts')).startIdentitySubgraph(config, { logger }),
  { ports: [{ variable: 'IDENTITY_PORT', port: config.IDENTITY_PORT, host: config.HOST, hostVariable: 'HOST' }] },
);
