import { z } from 'zod';
import { ConfigError, env, loadConfig, subgraphCommonConfig } from '../../lib/config.ts';
import {
  dependencyConfigShape,
  fallbackCacheConfigShape,
  PARTNER_DEFAULTS,
  resilienceConfigProblems,
} from '../../lib/resilience-config.ts';

/**
 * Environment of the accounts subgraph. Defaults run everything locally against the partner
 * sandboxes; the production profile refuses the public development secrets and the sandbox
 * bank URLs (lib/config.ts loadConfig).
 */
export const accountsConfigSchema = subgraphCommonConfig.extend({
  ACCOUNTS_PORT: env.port(4002),
  /** Server roots of the banks; the adapters append the spec's base path. */
  NORTHWIND_URL: env.requiredInProduction(
    env.url().default('http://127.0.0.1:4101'),
    'the default is the local Northwind sandbox',
  ),
  RHEINBANK_URL: env.requiredInProduction(
    env.url().default('http://127.0.0.1:4102'),
    'the default is the local Rheinbank sandbox',
  ),
  /**
   * Each bank's protections (lib/resilience-config.ts): NORTHWIND_TIMEOUT_MS, NORTHWIND_RETRIES,
   * NORTHWIND_CONCURRENCY, NORTHWIND_QUEUE, NORTHWIND_BREAKER_* and the same for RHEINBANK_*.
   */
  ...dependencyConfigShape('NORTHWIND', PARTNER_DEFAULTS),
  ...dependencyConfigShape('RHEINBANK', PARTNER_DEFAULTS),
  /**
   * The banks' last known values (partners/last-known-values.ts): FALLBACK_CACHE, FALLBACK_CACHE_KEY
   * and FALLBACK_CACHE_TTL_SECONDS as at the gateway (lib/resilience-config.ts), kept in memory, or in
   * Redis with REDIS_URL so that every replica can serve what another read.
   */
  ...fallbackCacheConfigShape,
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL')
    .optional(),
});

export type AccountsConfig = z.infer<typeof accountsConfigSchema>;

export function loadAccountsConfig(environment: Record<string, string | undefined> = process.env): AccountsConfig {
  const config = loadConfig(accountsConfigSchema, environment);
  const problems = resilienceConfigProblems(config);
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}
