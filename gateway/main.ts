// Process entry of the gateway: `node gateway/main.ts` (docker-compose, or alone against running subgraphs).
import { ConfigError, exitWithConfigProblems } from '../lib/config.ts';
import { createLogger } from '../lib/logger.ts';
import { runService } from '../lib/service-main.ts';
import { loadGatewayConfig, type GatewayConfig } from './config.ts';

let config: GatewayConfig;
try {
  config = loadGatewayConfig();
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  exitWithConfigProblems('gateway', err.problems);
}
const logger = createLogger('gateway', config.LOG_LEVEL);
await runService(
  'gateway',
  logger,
  async () => {
    // The server module (Apollo, the federation executor) loads only once the ports are known to be free.
    const [{ startGateway }, { SupergraphError }] = await Promise.all([
      import('./server.ts'),
      import('./supergraph.ts'),
    ]);
    try {
      return await startGateway(config, { logger });
    } catch (err) {
      // SUPERGRAPH names a file or URL that does not hold a supergraph: the setting is what to fix.
      if (err instanceof SupergraphError) throw new ConfigError([`SUPERGRAPH: ${err.message}`]);
      throw err;
    }
  },
  { ports: [{ variable: 'GATEWAY_PORT', port: config.GATEWAY_PORT, host: config.HOST, hostVariable: 'HOST' }] },
);
