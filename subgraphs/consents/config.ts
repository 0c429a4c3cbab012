import { z } from 'zod';
import { DEV_ID_HASH_SECRET, env, loadConfig, subgraphCommonConfig } from '../../lib/config.ts';

/**
 * Environment of the consents subgraph. Consents are platform-owned data, so there are no
 * partner URLs; ID_HASH_SECRET is read only to derive the canonical account ids of the sandbox
 * seed (lib/ids.ts bankAccountId), and like every public development secret it is refused in
 * the production profile (lib/config.ts loadConfig).
 */
export const consentsConfigSchema = subgraphCommonConfig.extend({
  CONSENTS_PORT: env.port(4004),
  ID_HASH_SECRET: env.secret(DEV_ID_HASH_SECRET),
  /** How often AUTHORISED / AWAITING_AUTHORISATION consents past expiry are recorded as EXPIRED (reads are exact regardless). */
  CONSENTS_EXPIRY_SWEEP_MS: env.milliseconds(60_000),
});

export type ConsentsConfig = z.infer<typeof consentsConfigSchema>;

export function loadConsentsConfig(environment: Record<string, string | undefined> = process.env): ConsentsConfig {
  return loadConfig(consentsConfigSchema, environment);
}
