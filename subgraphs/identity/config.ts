import { z } from 'zod';
import { DEV_ID_HASH_SECRET, env, loadConfig, registerPublicValues, subgraphCommonConfig } from '../../lib/config.ts';
import { PLATFORM_PARTNER_CREDENTIALS } from '../../sandboxes/manifest.ts';

// The sandboxes' partner credentials are in the repository: production refuses them in every secret.
registerPublicValues(...Object.values(PLATFORM_PARTNER_CREDENTIALS));

/**
 * Environment of the identity subgraph. Defaults run everything locally against the sandboxes;
 * the production profile refuses the public sandbox/development secrets and the sandbox URL
 * (lib/config.ts loadConfig).
 */
export const identityConfigSchema = subgraphCommonConfig.extend({
  IDENTITY_PORT: env.port(4001),
  /** Onfido server root; the adapter appends the spec's base path /v3.6. */
  ONFIDO_URL: env.requiredInProduction(
    env.url().default('http://127.0.0.1:4103'),
    'the default is the local Onfido sandbox',
  ),
  ONFIDO_TIMEOUT_MS: env.milliseconds(3000),
  /** Sent as `Authorization: Token token=<ONFIDO_API_TOKEN>`; the default is the sandbox's public token. */
  ONFIDO_API_TOKEN: env.secret(PLATFORM_PARTNER_CREDENTIALS.onfidoApiToken),
  /** Key of derived ids (kyc_ check ids). */
  ID_HASH_SECRET: env.secret(DEV_ID_HASH_SECRET),
});

export type IdentityConfig = z.infer<typeof identityConfigSchema>;

export function loadIdentityConfig(envVars: Record<string, string | undefined> = process.env): IdentityConfig {
  return loadConfig(identityConfigSchema, envVars);
}
