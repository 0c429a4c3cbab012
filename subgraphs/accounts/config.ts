import { z } from 'zod';
import { DEV_ID_HASH_SECRET, env, loadConfig, subgraphCommonConfig } from '../../lib/config.ts';

/**
 * Environment of the accounts subgraph. Defaults run everything locally against the partner
 * sandboxes; the production profile refuses the public development secrets.
 */
export const accountsConfigSchema = subgraphCommonConfig
  .safeExtend({
    ACCOUNTS_PORT: env.port(4002),
    /** Key of the derived account and transaction ids (lib/ids.ts). */
    ID_HASH_SECRET: env.secret(DEV_ID_HASH_SECRET),
    /** Server roots of the banks; the adapters append the spec's base path. */
    NORTHWIND_URL: env.url().default('http://127.0.0.1:4101'),
    RHEINBANK_URL: env.url().default('http://127.0.0.1:4102'),
    NORTHWIND_TIMEOUT_MS: env.milliseconds(3000),
    RHEINBANK_TIMEOUT_MS: env.milliseconds(3000),
  })
  .refine((c) => c.PROFILE !== 'production' || c.ID_HASH_SECRET !== DEV_ID_HASH_SECRET, {
    message: 'ID_HASH_SECRET must be set to a private value in the production profile',
    path: ['ID_HASH_SECRET'],
  });

export type AccountsConfig = z.infer<typeof accountsConfigSchema>;

export function loadAccountsConfig(environment: Record<string, string | undefined> = process.env): AccountsConfig {
  return loadConfig(accountsConfigSchema, environment);
}
