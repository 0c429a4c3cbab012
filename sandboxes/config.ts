import { z } from 'zod';
import { commonConfig, env, loadConfig } from '../lib/config.ts';
import { SANDBOX_SEED } from './manifest.ts';

export type SandboxName = 'auth' | 'northwind' | 'rheinbank' | 'onfido';

// Here rather than in index.ts, so that reading the configuration (npm start checks it before it
// starts anything) does not load every sandbox, the OpenAPI validator and the generated ledgers.
export const DEFAULT_SANDBOX_PORTS: Readonly<Record<SandboxName, number>> = {
  auth: 4100,
  northwind: 4101,
  rheinbank: 4102,
  onfido: 4103,
};

/**
 * The audience the sandbox authorization server puts in its tokens unless told otherwise (the gateway's default too).
 */
export const DEFAULT_AUDIENCE = 'https://api.financial-graph.local';

/**
 * The partner sandboxes' environment, read by `node sandboxes/main.ts` (docker-compose's
 * `sandboxes` service) and by `npm start`, which runs them in its own process: SANDBOX_HOST
 * (default 127.0.0.1; 0.0.0.0 in containers), AUTH_PORT, NORTHWIND_PORT, RHEINBANK_PORT,
 * ONFIDO_PORT (4100-4103), AUTH_ISSUER (token iss and metadata base; default the auth server's
 * URL), AUTH_AUDIENCE, TOKEN_TTL_SECONDS, SANDBOX_SEED, LOG_LEVEL, PROFILE (the /__sandbox admin
 * routes exist only with PROFILE=sandbox), PARTNER_SPECS_DIR (sandboxes/lib/openapi.ts).
 */
export const sandboxesConfigSchema = commonConfig.extend({
  SANDBOX_HOST: z.string().min(1).default('127.0.0.1'),
  AUTH_PORT: env.port(DEFAULT_SANDBOX_PORTS.auth),
  NORTHWIND_PORT: env.port(DEFAULT_SANDBOX_PORTS.northwind),
  RHEINBANK_PORT: env.port(DEFAULT_SANDBOX_PORTS.rheinbank),
  ONFIDO_PORT: env.port(DEFAULT_SANDBOX_PORTS.onfido),
  AUTH_ISSUER: env.optionalUrl(),
  AUTH_AUDIENCE: z.string().min(1).default(DEFAULT_AUDIENCE),
  TOKEN_TTL_SECONDS: z.coerce.number().int().min(1).max(86_400).default(900),
  SANDBOX_SEED: z.coerce.number().int().default(SANDBOX_SEED),
  /** Where Northwind posts payment and consent events (Standard Webhooks); unset: no events. */
  SANDBOX_NORTHWIND_WEBHOOK_URL: env.optionalUrl(),
  /**
   * Its signing secret (whsec_ + base64, 24-64 bytes) and, during a rotation, the previous one: deliveries carry both
   * signatures.
   */
  SANDBOX_NORTHWIND_WEBHOOK_SECRET: z
    .string()
    .regex(/^whsec_[A-Za-z0-9+/]{32,88}={0,2}$/, 'must be whsec_ followed by base64 of 24-64 bytes')
    .optional(),
  SANDBOX_NORTHWIND_WEBHOOK_PREVIOUS_SECRET: z
    .string()
    .regex(/^whsec_[A-Za-z0-9+/]{32,88}={0,2}$/, 'must be whsec_ followed by base64 of 24-64 bytes')
    .optional(),
  /** Where Onfido posts check and report events (X-SHA2-Signature); unset: no events. */
  SANDBOX_ONFIDO_WEBHOOK_URL: env.optionalUrl(),
  /** The webhook token Onfido signs them with (hex HMAC-SHA256 of the body); required with the URL. */
  SANDBOX_ONFIDO_WEBHOOK_TOKEN: z.string().min(32, 'must be at least 32 characters').max(256).optional(),
  /** Delivery attempts per event before the sandbox gives up (backoff 5 s, 20 s, 80 s... on the sandbox clock). */
  SANDBOX_WEBHOOK_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(20).default(6),
  /** Checked file by file when the sandboxes start (partnerSpecsStatus); listed here so it is a documented setting. */
  PARTNER_SPECS_DIR: z.string().optional(),
});

export type SandboxesConfig = z.infer<typeof sandboxesConfigSchema>;

export function loadSandboxesConfig(environment: Record<string, string | undefined> = process.env): SandboxesConfig {
  return loadConfig(sandboxesConfigSchema, environment);
}

/** The variable that moves each sandbox's port. */
export const SANDBOX_PORT_VARIABLES = {
  auth: 'AUTH_PORT',
  northwind: 'NORTHWIND_PORT',
  rheinbank: 'RHEINBANK_PORT',
  onfido: 'ONFIDO_PORT',
} as const;
