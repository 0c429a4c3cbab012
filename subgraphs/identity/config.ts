import { z } from 'zod';
import { ConfigError, env, loadConfig, registerPublicPrefixes, subgraphCommonConfig } from '../../lib/config.ts';
import {
  dependencyConfigShape,
  fallbackCacheConfigShape,
  PARTNER_DEFAULTS,
  resilienceConfigProblems,
} from '../../lib/resilience-config.ts';

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
  /**
   * Onfido's protections (lib/resilience-config.ts): ONFIDO_TIMEOUT_MS, ONFIDO_RETRIES (GETs only: the
   * platform only reads from Onfido), ONFIDO_CONCURRENCY, ONFIDO_QUEUE and ONFIDO_BREAKER_*.
   */
  ...dependencyConfigShape('ONFIDO', PARTNER_DEFAULTS),
  /**
   * Sent as `Authorization: Token token=<ONFIDO_API_TOKEN>`. Unset (sandbox profile only): calls go
   * without credentials and Onfido refuses them, so the KYC fields fail with PARTNER_UNAVAILABLE.
   */
  ONFIDO_API_TOKEN: env.requiredInProduction(env.optionalSecret(), "the platform's Onfido API token"),
  /**
   * Onfido's check and report webhooks at POST /webhooks/onfido: on (default) serves the route when
   * ONFIDO_WEBHOOK_TOKEN is set (production requires the token); off never serves it, and KYC is
   * then read from Onfido only.
   */
  ONFIDO_WEBHOOKS: z.enum(['on', 'off']).default('on'),
  /** The webhook token Onfido signs events with (X-SHA2-Signature), and the previous one while it rotates. */
  ONFIDO_WEBHOOK_TOKEN: env.optionalSecret(),
  ONFIDO_WEBHOOK_PREVIOUS_TOKEN: env.optionalSecret(),
  /**
   * The KYC provider's last known values (partners/last-known-values.ts): FALLBACK_CACHE, FALLBACK_CACHE_KEY
   * and FALLBACK_CACHE_TTL_SECONDS as at the gateway (lib/resilience-config.ts), kept encrypted (they are
   * personal data) in memory, or in Redis with REDIS_URL so that every replica can serve what another read.
   */
  ...fallbackCacheConfigShape,
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL')
    .optional(),
});

export type IdentityConfig = z.infer<typeof identityConfigSchema>;

export function loadIdentityConfig(envVars: Record<string, string | undefined> = process.env): IdentityConfig {
  // A rule across variables (the route is on, so its token is needed in production), named with the other problems.
  const problems: string[] = [];
  if (envVars.PROFILE === 'production' && envVars.ONFIDO_WEBHOOKS !== 'off' && !envVars.ONFIDO_WEBHOOK_TOKEN)
    problems.push(
      'ONFIDO_WEBHOOK_TOKEN is required in production while ONFIDO_WEBHOOKS is on (set the token Onfido signs ' +
        'webhooks with, or ONFIDO_WEBHOOKS=off)',
    );
  let config: IdentityConfig;
  try {
    config = loadConfig(identityConfigSchema, envVars);
  } catch (err) {
    if (err instanceof ConfigError && problems.length > 0) throw new ConfigError([...err.problems, ...problems]);
    throw err;
  }
  problems.push(...resilienceConfigProblems(config));
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}
