// Process entry of the gateway: `node gateway/main.ts` (docker-compose, or alone against running subgraphs).
import { createLogger } from '../lib/logger.ts';
import { runService } from '../lib/service-main.ts';
import { loadGatewayConfig } from './config.ts';
import { startGateway } from './server.ts';

const logger = createLogger('gateway');
await runService('gateway', logger, async () => startGateway(loadGatewayConfig(), { logger }));
