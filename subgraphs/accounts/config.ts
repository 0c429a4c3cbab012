import { z } from 'zod';
import { env, loadConfig, subgraphCommonConfig } from '../../lib/config.ts';

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
  NORTHWIND_TIMEOUT_MS: env.milliseconds(3000),
  RHEINBANK_TIMEOUT_MS: env.milliseconds(3000),
});

export type AccountsConfig = z.infer<typeof accountsConfigSchema>;

export function loadAccountsConfig(environment: Record<string, string | undefined> = process.env): AccountsConfig {
  return loadConfig(accountsConfigSchema, environment);
}
