import { ConfigError, exitWithConfigProblems } from '../lib/config.ts';
import { createLogger } from '../lib/logger.ts';
import { claimOf, portProblem, portProblems, type PortClaim } from '../lib/ports.ts';
import { loadSandboxesConfig, SANDBOX_PORT_VARIABLES, type SandboxesConfig } from './config.ts';
import type { RunningSandboxes, SandboxName } from './index.ts';
import { partnerSpecsProblem } from './lib/partner-specs.ts';

/**
 * Runs the partner sandboxes standalone (docker-compose's `sandboxes` service):
 *   node sandboxes/main.ts
 * Environment: sandboxes/config.ts. A configuration problem (a bad variable, a port in use, a
 * PARTNER_SPECS_DIR without the specs) exits with status 2 and one line per problem.
 */
const problems: string[] = [];
let config: SandboxesConfig | undefined;
try {
  config = loadSandboxesConfig();
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  problems.push(...err.problems);
}
if (config?.SANDBOX_NORTHWIND_WEBHOOK_URL && !config.SANDBOX_NORTHWIND_WEBHOOK_SECRET)
  problems.push('SANDBOX_NORTHWIND_WEBHOOK_SECRET is required when SANDBOX_NORTHWIND_WEBHOOK_URL is set');
if (config?.SANDBOX_ONFIDO_WEBHOOK_URL && !config.SANDBOX_ONFIDO_WEBHOOK_TOKEN)
  problems.push('SANDBOX_ONFIDO_WEBHOOK_TOKEN is required when SANDBOX_ONFIDO_WEBHOOK_URL is set');
const specsProblem = partnerSpecsProblem();
if (specsProblem) problems.push(specsProblem);
if (problems.length > 0 || !config) exitWithConfigProblems('sandboxes', problems);

const ports: Record<SandboxName, number> = {
  auth: config.AUTH_PORT,
  northwind: config.NORTHWIND_PORT,
  rheinbank: config.RHEINBANK_PORT,
  onfido: config.ONFIDO_PORT,
};
const claims: PortClaim[] = (Object.keys(ports) as SandboxName[]).map((name) => ({
  variable: SANDBOX_PORT_VARIABLES[name],
  port: ports[name],
  host: config.SANDBOX_HOST,
  hostVariable: 'SANDBOX_HOST',
}));
const taken = await portProblems(claims);
if (taken.length > 0) exitWithConfigProblems('sandboxes', taken);

const logger = createLogger('sandboxes', config.LOG_LEVEL);
let sandboxes: RunningSandboxes;
try {
  // The sandboxes (their generated ledgers, the OpenAPI validator) load only once the checks have passed.
  const { startSandboxes } = await import('./index.ts');
  sandboxes = await startSandboxes({
    ports,
    host: config.SANDBOX_HOST,
    logger,
    seed: config.SANDBOX_SEED,
    adminRoutes: config.PROFILE === 'sandbox',
    northwind: {
      webhooks: {
        url: config.SANDBOX_NORTHWIND_WEBHOOK_URL,
        secrets: [config.SANDBOX_NORTHWIND_WEBHOOK_SECRET, config.SANDBOX_NORTHWIND_WEBHOOK_PREVIOUS_SECRET].filter(
          (s): s is string => s !== undefined,
        ),
        maxAttempts: config.SANDBOX_WEBHOOK_MAX_ATTEMPTS,
      },
    },
    onfido: {
      webhooks: {
        url: config.SANDBOX_ONFIDO_WEBHOOK_URL,
        token: config.SANDBOX_ONFIDO_WEBHOOK_TOKEN,
        maxAttempts: config.SANDBOX_WEBHOOK_MAX_ATTEMPTS,
      },
    },
    auth: {
      ...(config.AUTH_ISSUER ? { issuer: config.AUTH_ISSUER } : {}),
      audience: config.AUTH_AUDIENCE,
      tokenTtlSeconds: config.TOKEN_TTL_SECONDS,
    },
  });
} catch (err) {
  if (err instanceof ConfigError) exitWithConfigProblems('sandboxes', err.problems);
  const claim = claimOf(err, claims);
  if (claim) exitWithConfigProblems('sandboxes', [portProblem(claim, (err as NodeJS.ErrnoException).code)]);
  logger.fatal({ err }, 'partner sandboxes failed to start');
  process.exit(1);
}
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
