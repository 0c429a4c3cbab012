import type { z } from 'zod';
import { DEV_ID_HASH_SECRET, env, loadConfig, subgraphCommonConfig } from '../../lib/config.ts';

/**
 * Environment of the payments subgraph. Payment initiation (a later issue) adds NORTHWIND_URL,
 * NORTHWIND_TIMEOUT_MS and NORTHWIND_PIS_TOKEN here (partner credentials come from configuration:
 * declare the token with env.requiredInProduction(env.optionalSecret(), ...); the launcher and
 * docker-compose.yml set the sandbox's); today the subgraph reads only its ledger.
 */
export const paymentsConfigSchema = subgraphCommonConfig.extend({
  PAYMENTS_PORT: env.port(4003),
  /** Key of derived ids: the sandbox seed records debtor accounts by bankAccountId(ID_HASH_SECRET, ...). */
  ID_HASH_SECRET: env.secret(DEV_ID_HASH_SECRET),
});

export type PaymentsConfig = z.infer<typeof paymentsConfigSchema>;

export function loadPaymentsConfig(envVars: Record<string, string | undefined> = process.env): PaymentsConfig {
  return loadConfig(paymentsConfigSchema, envVars);
}
