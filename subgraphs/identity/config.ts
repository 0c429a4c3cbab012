import { z } from 'zod';
import { DEV_ID_HASH_SECRET, env, loadConfig, subgraphCommonConfig } from '../../lib/config.ts';
import { PLATFORM_PARTNER_CREDENTIALS } from '../../sandboxes/manifest.ts';

/**
 * Environment of the identity subgraph. Defaults run everything locally against the sandboxes;
 * the production profile refuses the public sandbox/development secrets.
 */
export const identityConfigSchema = subgraphCommonConfig
  .extend({
    IDENTITY_PORT: env.port(4001),
    /** Onfido server root; the adapter appends the spec's base path /v3.6. */
    ONFIDO_URL: env.url().default('http://127.0.0.1:4103'),
    ONFIDO_TIMEOUT_MS: env.milliseconds(3000),
    /** Sent as `Authorization: Token token=<ONFIDO_API_TOKEN>`. */
    ONFIDO_API_TOKEN: z.string().min(1).default(PLATFORM_PARTNER_CREDENTIALS.onfidoApiToken),
    /** Key of derived ids (kyc_ check ids). */
    ID_HASH_SECRET: env.secret(DEV_ID_HASH_SECRET),
  })
  .refine((c) => c.PROFILE !== 'production' || c.ONFIDO_API_TOKEN !== PLATFORM_PARTNER_CREDENTIALS.onfidoApiToken, {
    message: 'ONFIDO_API_TOKEN must be set to a real token in the production profile',
    path: ['ONFIDO_API_TOKEN'],
  })
  .refine((c) => c.PROFILE !== 'production' || c.ID_HASH_SECRET !== DEV_ID_HASH_SECRET, {
    message: 'ID_HASH_SECRET must be set to a private value in the production profile',
    path: ['ID_HASH_SECRET'],
  });

export type IdentityConfig = z.infer<typeof identityConfigSchema>;

export function loadIdentityConfig(envVars: Record<string, string | undefined> = process.env): IdentityConfig {
  return loadConfig(identityConfigSchema, envVars);
}
