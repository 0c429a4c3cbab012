import { z } from 'zod';
import { ConfigError, commonConfig, DEV_INTERNAL_SECRET, env, loadConfig } from '../lib/config.ts';
import { SUPERGRAPH_PATH } from '../lib/schema-files.ts';

/**
 * The gateway's environment. Subgraph URLs are not a fixed list: the gateway serves whatever
 * supergraph SUPERGRAPH points at, and any of its subgraphs (join__Graph) can be redirected
 * with `<NAME>_SUBGRAPH_URL` (NAME = the subgraph's name upper-cased, e.g. ACCOUNTS_SUBGRAPH_URL);
 * otherwise the URL recorded in the supergraph is used.
 */
const SUBGRAPH_URL_VARIABLE = /^([A-Z0-9_]+)_SUBGRAPH_URL$/;

const gatewaySchema = commonConfig
  .extend({
    GATEWAY_PORT: env.port(4000),
    HOST: z.string().default('127.0.0.1'),
    /** File path (relative to the working directory) or http(s) URL of the supergraph SDL. */
    SUPERGRAPH: z.string().min(1).default(SUPERGRAPH_PATH),
    SUBGRAPH_TIMEOUT_MS: env.milliseconds(10_000),
    AUTH_ISSUER: env.url().default('http://127.0.0.1:4100'),
    AUTH_AUDIENCE: z.string().min(1).default('https://api.financial-graph.local'),
    AUTH_JWKS_URL: env.url().optional(),
    INTERNAL_AUTH_SECRET: env.secret(DEV_INTERNAL_SECRET),
  })
  .refine((c) => c.PROFILE !== 'production' || c.INTERNAL_AUTH_SECRET !== DEV_INTERNAL_SECRET, {
    message: 'INTERNAL_AUTH_SECRET must be set to a private value in the production profile',
    path: ['INTERNAL_AUTH_SECRET'],
  });

export interface GatewayConfig {
  GATEWAY_PORT: number;
  HOST: string;
  PROFILE: 'sandbox' | 'production';
  LOG_LEVEL: z.infer<typeof gatewaySchema>['LOG_LEVEL'];
  SUPERGRAPH: string;
  SUBGRAPH_TIMEOUT_MS: number;
  AUTH_ISSUER: string;
  AUTH_AUDIENCE: string;
  /** Defaults to `${AUTH_ISSUER}/jwks.json`. */
  AUTH_JWKS_URL: string;
  INTERNAL_AUTH_SECRET: string;
  /** `<NAME>_SUBGRAPH_URL` overrides, keyed by NAME (upper case, e.g. "ACCOUNTS"). */
  subgraphUrls: Record<string, string>;
}

export function loadGatewayConfig(environment: Record<string, string | undefined> = process.env): GatewayConfig {
  const problems: string[] = [];
  let base: z.infer<typeof gatewaySchema> | undefined;
  try {
    base = loadConfig(gatewaySchema, environment);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    problems.push(...err.problems);
  }

  const subgraphUrls: Record<string, string> = {};
  const url = env.url();
  for (const [key, value] of Object.entries(environment)) {
    const match = SUBGRAPH_URL_VARIABLE.exec(key);
    if (!match || value === undefined || value === '') continue;
    const parsed = url.safeParse(value);
    if (parsed.success) subgraphUrls[match[1]!] = parsed.data;
    else problems.push(`${key}: must be an http(s) URL, got ${JSON.stringify(value)}`);
  }

  if (environment.PROFILE === 'production' && !environment.AUTH_ISSUER) {
    problems.push('AUTH_ISSUER: must be set explicitly in the production profile (the default is the local sandbox authorization server)');
  }
  if (problems.length > 0 || !base) throw new ConfigError(problems);

  return {
    ...base,
    AUTH_JWKS_URL: base.AUTH_JWKS_URL ?? `${base.AUTH_ISSUER.replace(/\/$/, '')}/jwks.json`,
    subgraphUrls,
  };
}

/** The override variable for a subgraph name: "accounts" → "ACCOUNTS", "my-graph" → "MY_GRAPH". */
export function subgraphUrlKey(name: string): string {
  return name.toUpperCase().replace(/[^A-Z0-9]/g, '_');
}
