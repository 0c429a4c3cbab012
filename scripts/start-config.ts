import { loadGatewayConfig } from '../gateway/config.ts';
import { ConfigError, loadMetricsConfig, loadShutdownConfig } from '../lib/config.ts';
import type { PortClaim } from '../lib/ports.ts';
import { loadSandboxesConfig, SANDBOX_PORT_VARIABLES } from '../sandboxes/config.ts';
import type { SandboxName } from '../sandboxes/index.ts';
import { partnerSpecsProblem } from '../sandboxes/lib/partner-specs.ts';
import { loadAccountsConfig } from '../subgraphs/accounts/config.ts';
import { loadConsentsConfig } from '../subgraphs/consents/config.ts';
import { loadIdentityConfig } from '../subgraphs/identity/config.ts';
import { loadPaymentsConfig } from '../subgraphs/payments/config.ts';

/**
 * What `npm start` (scripts/start.ts) checks before it starts anything: the configuration of every
 * part, read from the same variables and by the same loaders as when each part runs in its own
 * process (README.md, Configuration), and the ports they will listen on. Kept apart from start.ts
 * so tests and the help text can use it without starting the platform.
 */
type Env = Record<string, string | undefined>;

const SUBGRAPHS = ['identity', 'accounts', 'payments', 'consents'] as const;
type SubgraphName = (typeof SUBGRAPHS)[number];

const LOADERS: [string, (env: Env) => unknown][] = [
  ['identity', loadIdentityConfig],
  ['accounts', loadAccountsConfig],
  ['payments', loadPaymentsConfig],
  ['consents', loadConsentsConfig],
  ['gateway', loadGatewayConfig],
  ['sandboxes', loadSandboxesConfig],
  ['metrics', (env) => loadMetricsConfig('gateway', env)],
  ['shutdown', loadShutdownConfig],
];

/**
 * Every configuration problem of every part, one line each. A variable several parts read (LOG_LEVEL,
 * HOST, ...) is named once, since every part words the same rule the same way.
 */
export function launcherProblems(env: Env): string[] {
  const problems: string[] = [];
  for (const [, load] of LOADERS) {
    try {
      load(env);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      problems.push(...err.problems);
    }
  }
  const specs = partnerSpecsProblem();
  if (specs) problems.push(specs);
  return [...new Set(problems)];
}

function subgraphPort(name: SubgraphName, env: Env): { port: number; host: string } {
  switch (name) {
    case 'identity': {
      const c = loadIdentityConfig(env);
      return { port: c.IDENTITY_PORT, host: c.HOST };
    }
    case 'accounts': {
      const c = loadAccountsConfig(env);
      return { port: c.ACCOUNTS_PORT, host: c.HOST };
    }
    case 'payments': {
      const c = loadPaymentsConfig(env);
      return { port: c.PAYMENTS_PORT, host: c.HOST };
    }
    case 'consents': {
      const c = loadConsentsConfig(env);
      return { port: c.CONSENTS_PORT, host: c.HOST };
    }
  }
}

/**
 * The ports `startPlatform({ ports: 'default' })` listens on, each with the variables that move it
 * (call once launcherProblems is empty). Keep in step with what scripts/platform.ts opens.
 */
export function launcherPortClaims(env: Env): PortClaim[] {
  const gateway = loadGatewayConfig(env);
  const sb = loadSandboxesConfig(env);
  const sandboxPorts: Record<SandboxName, number> = {
    auth: sb.AUTH_PORT,
    northwind: sb.NORTHWIND_PORT,
    rheinbank: sb.RHEINBANK_PORT,
    onfido: sb.ONFIDO_PORT,
  };
  const metrics = loadMetricsConfig('gateway', env);
  return [
    { variable: 'GATEWAY_PORT', port: gateway.GATEWAY_PORT, host: gateway.HOST, hostVariable: 'HOST' },
    ...SUBGRAPHS.map((name) => ({
      variable: `${name.toUpperCase()}_PORT`,
      ...subgraphPort(name, env),
      hostVariable: 'HOST',
    })),
    ...(Object.keys(sandboxPorts) as SandboxName[]).map((name) => ({
      variable: SANDBOX_PORT_VARIABLES[name],
      port: sandboxPorts[name],
      host: sb.SANDBOX_HOST,
      hostVariable: 'SANDBOX_HOST',
    })),
    { variable: 'METRICS_PORT', port: metrics.METRICS_PORT, host: metrics.METRICS_HOST, hostVariable: 'METRICS_HOST' },
  ];
}

const PORT_ROLES: Record<string, string> = {
  GATEWAY_PORT: 'gateway (GraphQL at /graphql)',
  IDENTITY_PORT: 'identity subgraph',
  ACCOUNTS_PORT: 'accounts subgraph',
  PAYMENTS_PORT: 'payments subgraph',
  CONSENTS_PORT: 'consents subgraph',
  AUTH_PORT: 'sandbox OAuth authorization server (npm run token talks to it)',
  NORTHWIND_PORT: 'sandbox bank Northwind (Open Banking UK 4.0)',
  RHEINBANK_PORT: 'sandbox bank Rheinbank (Berlin Group NextGenPSD2 1.3.12)',
  ONFIDO_PORT: 'sandbox KYC provider (Onfido v3.6)',
  METRICS_PORT: 'operator metrics listener (/metrics), not public',
};

/** `npm start -- --help`. The ports and their defaults come from the parts' own configuration schemas. */
export function startHelp(): string {
  const defaults = launcherPortClaims({});
  const width = Math.max(...defaults.map((c) => c.variable.length));
  return [
    'Usage: npm start [-- --help]',
    '',
    'Starts the whole platform in one process on embedded defaults: the partner sandboxes, the four',
    'subgraphs (embedded PGlite in .data/pglite unless DATABASE_URL or PGLITE_DIR says otherwise) and',
    'the gateway, then prints the gateway URL and an example query. Ctrl-C (or SIGTERM) stops it.',
    '',
    'It reads the same environment variables as each part run on its own (README.md, Configuration).',
    'Ports (0: any free port):',
    ...defaults.map(
      (c) => `  ${c.variable.padEnd(width)}  ${String(c.port).padStart(5)}  ${PORT_ROLES[c.variable] ?? ''}`,
    ),
    'Interfaces: HOST (gateway and subgraphs), SANDBOX_HOST (sandboxes), METRICS_HOST (metrics); default 127.0.0.1.',
    'Also: LOG_LEVEL, PROFILE, DATABASE_URL, PGLITE_DIR, REDIS_URL, PARTNER_SPECS_DIR, NORTHWIND_URL and the',
    'other partner URLs (set: used instead of the sandbox), and every other variable in README.md.',
    '',
    'A bad value, or a port another program holds, stops the start at once with exit status 2 and one',
    'line per problem naming the variable.',
    '',
    'Example: GATEWAY_PORT=5000 AUTH_PORT=5100 npm start',
  ].join('\n');
}
