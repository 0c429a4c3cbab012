import { z } from 'zod';
import { ConfigError, commonConfig, env, loadConfig } from '../lib/config.ts';
import { createLogger } from '../lib/logger.ts';
import { DEFAULT_AUDIENCE } from './auth-server.ts';
import { DEFAULT_SANDBOX_PORTS, startSandboxes } from './index.ts';
import { SANDBOX_SEED } from './manifest.ts';

/**
 * Runs the partner sandboxes standalone (docker-compose's `sandboxes` service):
 *   node sandboxes/main.ts
 * Environment: SANDBOX_HOST (default 127.0.0.1; 0.0.0.0 in containers), AUTH_PORT,
 * NORTHWIND_PORT, RHEINBANK_PORT, ONFIDO_PORT (4100-4103), AUTH_ISSUER (token iss and metadata
 * base; default the auth server's URL), AUTH_AUDIENCE, TOKEN_TTL_SECONDS, SANDBOX_SEED,
 * LOG_LEVEL, PROFILE (the /__sandbox admin routes exist only with PROFILE=sandbox).
 */
const schema = commonConfig.extend({
  SANDBOX_HOST: z.string().min(1).default('127.0.0.1'),
  AUTH_PORT: env.port(DEFAULT_SANDBOX_PORTS.auth),
  NORTHWIND_PORT: env.port(DEFAULT_SANDBOX_PORTS.northwind),
  RHEINBANK_PORT: env.port(DEFAULT_SANDBOX_PORTS.rheinbank),
  ONFIDO_PORT: env.port(DEFAULT_SANDBOX_PORTS.onfido),
  AUTH_ISSUER: env.optionalUrl(),
  AUTH_AUDIENCE: z.string().min(1).default(DEFAULT_AUDIENCE),
  TOKEN_TTL_SECONDS: z.coerce.number().int().min(1).max(86_400).default(900),
  SANDBOX_SEED: z.coerce.number().int().default(SANDBOX_SEED),
});

let config: z.infer<typeof schema>;
try {
  config = loadConfig(schema);
} catch (err) {
  if (err instanceof ConfigError) {
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  }
  throw err;
}

const logger = createLogger('sandboxes', config.LOG_LEVEL);
const sandboxes = await startSandboxes({
  ports: { auth: config.AUTH_PORT, northwind: config.NORTHWIND_PORT, rheinbank: config.RHEINBANK_PORT, onfido: config.ONFIDO_PORT },
  host: config.SANDBOX_HOST,
  logger,
  seed: config.SANDBOX_SEED,
  adminRoutes: config.PROFILE === 'sandbox',
  auth: { ...(config.AUTH_ISSUER ? { issuer: config.AUTH_ISSUER } : {}), audience: config.AUTH_AUDIENCE, tokenTtlSeconds: config.TOKEN_TTL_SECONDS },
});
logger.info({ urls: sandboxes.urls }, 'partner sandboxes ready');

let stopping = false;
const stop = (signal: string) => {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'stopping partner sandboxes');
  const force = setTimeout(() => process.exit(1), 10_000);
  force.unref();
  sandboxes.close().then(
    () => process.exit(0),
    (err: unknown) => {
      logger.error({ err }, 'failed to stop cleanly');
      process.exit(1);
    },
  );
};
process.on('SIGINT', () => stop('SIGINT'));
process.on('SIGTERM', () => stop('SIGTERM'));
