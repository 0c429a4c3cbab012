import { z } from 'zod';
import { DEV_ID_HASH_SECRET, env, loadConfig, subgraphCommonConfig } from '../../lib/config.ts';
import {
  DEPENDENCY_SETTING_FIELDS,
  dependencyConfigShape,
  PARTNER_DEFAULTS,
  type DependencySettings,
} from '../../lib/resilience-config.ts';

/**
 * Defaults of Northwind's payment initiation API (`northwind-pis`): a partner's, with the 3 retries
 * its client always had. Retries apply to its reads and to the keyed consent POST; the payment POST is
 * sent once whatever they say (partners/northwind/client.ts).
 */
export const NORTHWIND_PIS_DEFAULTS: DependencySettings = { ...PARTNER_DEFAULTS, retries: 3 };

/**
 * Environment of the payments subgraph: the ledger (common subgraph variables) and payment
 * initiation at Northwind (OBIE PIS 4.0). Partner credentials come from configuration: the
 * launcher and docker-compose.yml set the sandbox's token; without NORTHWIND_PIS_TOKEN the
 * subgraph still serves the ledger and answers initiation with PARTNER_UNAVAILABLE.
 */
export const paymentsConfigSchema = subgraphCommonConfig.extend({
  PAYMENTS_PORT: env.port(4003),
  /** Key of derived ids: the sandbox seed records debtor accounts by bankAccountId(ID_HASH_SECRET, ...). */
  ID_HASH_SECRET: env.secret(DEV_ID_HASH_SECRET),
  /** Northwind's server root; the adapter appends the PIS base path /open-banking/v4.0/pisp. */
  NORTHWIND_URL: env.requiredInProduction(
    env.url().default('http://127.0.0.1:4101'),
    'the default is the local Northwind sandbox',
  ),
  /**
   * The protections of the bank's payment initiation API (lib/resilience-config.ts), named after its
   * client `northwind-pis` (the accounts subgraph's NORTHWIND_* are its account-information API, a
   * separate client with its own figures; under `npm start` both read one environment):
   * NORTHWIND_PIS_TIMEOUT_MS, _RETRIES, _CONCURRENCY, _QUEUE, _BREAKER_*.
   */
  ...dependencyConfigShape('NORTHWIND_PIS', NORTHWIND_PIS_DEFAULTS),
  /** Without a default: unset, the earlier name NORTHWIND_TIMEOUT_MS applies (loadPaymentsConfig). */
  NORTHWIND_PIS_TIMEOUT_MS: DEPENDENCY_SETTING_FIELDS.TIMEOUT_MS().optional(),
  /** The earlier name of NORTHWIND_PIS_TIMEOUT_MS, still honoured when that one is unset. */
  NORTHWIND_TIMEOUT_MS: DEPENDENCY_SETTING_FIELDS.TIMEOUT_MS().optional(),
  /** The platform's client-credentials token at Northwind's payment initiation API. */
  NORTHWIND_PIS_TOKEN: env.requiredInProduction(env.optionalSecret(), 'payments cannot be initiated without it'),
  /** PKCS#8 PEM of the ES256 key that signs requests (x-jws-signature); unset: a key made at start (sandbox). */
  NORTHWIND_PIS_SIGNING_KEY: env.requiredInProduction(env.optionalSecret(), 'the bank verifies request signatures'),
  /** Key id (kid) of the signing key, as registered with the bank. */
  NORTHWIND_PIS_SIGNING_KEY_ID: z.string().min(1).max(128).default('platform-sandbox-signing-key'),
  /** The bank's SCA page for a consent, `{ConsentId}` replaced: what Payment.authorisationUrl shows. */
  NORTHWIND_AUTHORISATION_URL: z
    .string()
    .regex(/^https?:\/\/.*\{ConsentId\}/, 'must be an http(s) URL containing {ConsentId}')
    .optional(),
  /**
   * Standard Webhooks secret (whsec_...) of Northwind's payment events, and the previous one while
   * it rotates. Unset: no webhook route (/webhooks/northwind); payments are followed by polling only.
   */
  NORTHWIND_WEBHOOK_SECRET: env.optionalSecret(),
  NORTHWIND_WEBHOOK_PREVIOUS_SECRET: env.optionalSecret(),
  /** How often the subgraph asks the bank about payments whose webhook is late. */
  PAYMENTS_POLL_INTERVAL_MS: z.coerce.number().int().min(100).max(3_600_000).default(15_000),
  /** How long after its last change a payment in progress waits for a webhook before it is polled. */
  PAYMENTS_WEBHOOK_GRACE_MS: z.coerce.number().int().min(0).max(3_600_000).default(30_000),
});

export type PaymentsConfig = Omit<z.infer<typeof paymentsConfigSchema>, 'NORTHWIND_PIS_TIMEOUT_MS'> & {
  /** NORTHWIND_PIS_TIMEOUT_MS, else NORTHWIND_TIMEOUT_MS, else the default. */
  NORTHWIND_PIS_TIMEOUT_MS: number;
};

export function loadPaymentsConfig(envVars: Record<string, string | undefined> = process.env): PaymentsConfig {
  const config = loadConfig(paymentsConfigSchema, envVars);
  return {
    ...config,
    NORTHWIND_PIS_TIMEOUT_MS:
      config.NORTHWIND_PIS_TIMEOUT_MS ?? config.NORTHWIND_TIMEOUT_MS ?? NORTHWIND_PIS_DEFAULTS.timeoutMs,
  };
}
