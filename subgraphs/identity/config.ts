import { z } from 'zod';
import { env, loadConfig, registerPublicPrefixes, subgraphCommonConfig } from '../../lib/config.ts';

// Onfido's sandbox tokens start with "api_sandbox." (live ones with "api_live."): production refuses them in every
// secret.
registerPublicPrefixes('api_sandbox.');

/**
 * Environment of the identity subgraph. Defaults run everything locally against the sandboxes;
 * partner credentials come from configuration only (npm start and docker-compose.yml set the
 * sandbox's). The production profile requires the token and the URL and refuses public
 * development and sandbox values (lib/config.ts loadConfig).
 */
export const identityConfigSchema = subgraphCommonConfig.extend({
  IDENTITY_PORT: env.port(4001),
  /** Onfido server root; the adapter appends the spec's base path /v3.6. */
  ONFIDO_URL: env.requiredInProduction(
    env.url().default('http://127.0.0.1:4103'),
    'the default is the local Onfido sandbox',
  ),
  ONFIDO_TIMEOUT_MS: env.milliseconds(3000),
  /**
   * Sent as `Authorization: Token token=<ONFIDO_API_TOKEN>`. Unset (sandbox profile only): calls go
   * without credentials and Onfido refuses them, so the KYC fields fail with PARTNER_UNAVAILABLE.
   */
  ONFIDO_API_TOKEN: env.requiredInProduction(env.optionalSecret(), "the platform's Onfido API token"),
});

export type IdentityConfig = z.infer<typeof identityConfigSchema>;

export function loadIdentityConfig(envVars: Record<string, string | undefined> = process.env): IdentityConfig {
  return loadConfig(identityConfigSchema, envVars);
}
