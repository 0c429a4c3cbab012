import { z } from 'zod';
import { env, loadConfig, subgraphCommonConfig } from '../../lib/config.ts';

/**
 * Environment of the consents subgraph. Consents are platform-owned data, so there are no
 * partner URLs; ID_HASH_SECRET (declared for every subgraph in lib/config.ts) is used only to
 * derive the canonical account ids of the sandbox seed (lib/ids.ts bankAccountId).
 */
export const consentsConfigSchema = subgraphCommonConfig.extend({
  CONSENTS_PORT: env.port(4004),
  /**
   * How often AUTHORISED / AWAITING_AUTHORISATION consents past expiry are recorded as EXPIRED (reads are exact
   * regardless).
   */
  CONSENTS_EXPIRY_SWEEP_MS: env.milliseconds(60_000),
  /**
   * How many consent requests one client may have AWAITING_AUTHORISATION for one customer; the next requestConsent is
   * refused with CONSENT_REQUEST_LIMIT_EXCEEDED.
   */
  CONSENTS_MAX_PENDING_PER_CLIENT: z.coerce.number().int().min(1).max(100).default(5),
});

export type ConsentsConfig = z.infer<typeof consentsConfigSchema>;

export function loadConsentsConfig(environment: Record<string, string | undefined> = process.env): ConsentsConfig {
  return loadConfig(consentsConfigSchema, environment);
}
