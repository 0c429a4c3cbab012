import { z } from 'zod';
import { ConfigError, commonConfig, DEV_INTERNAL_SECRET, env, loadConfig } from '../lib/config.ts';
import { SUPERGRAPH_PATH } from '../lib/schema-files.ts';
import { DEFAULT_QUERY_LIMITS, type QueryLimits } from './limits.ts';
import { idempotencyConfigShape, type IdempotencyConfig } from './idempotency/config.ts';
import {
  dependencyEnvKey,
  resilienceConfigProblems,
  resilienceConfigShape,
  subgraphSettingOverrides,
  type DependencySettingValues,
  type ResilienceConfig,
} from '../lib/resilience-config.ts';

/**
 * The gateway's environment. Subgraph URLs are not a fixed list: the gateway serves whatever
 * supergraph SUPERGRAPH points at, and any of its subgraphs (join__Graph) can be redirected
 * with `<NAME>_SUBGRAPH_URL` (NAME = the subgraph's name upper-cased, e.g. ACCOUNTS_SUBGRAPH_URL);
 * otherwise the URL recorded in the supergraph is used.
 */
const SUBGRAPH_URL_VARIABLE = /^([A-Z0-9_]+)_SUBGRAPH_URL$/;

/** A query limit: a positive integer. */
const queryLimit = (def: number) => z.coerce.number().int().positive().max(10_000_000).default(def);

const gatewaySchema = commonConfig.extend({
  GATEWAY_PORT: env.port(4000),
  HOST: z.string().default('127.0.0.1'),
  /** File path (relative to the working directory) or http(s) URL of the supergraph SDL. */
  SUPERGRAPH: z.string().min(1).default(SUPERGRAPH_PATH),
  AUTH_ISSUER: env.requiredInProduction(
    env.url().default('http://127.0.0.1:4100'),
    'the default is the local sandbox authorization server',
  ),
  AUTH_AUDIENCE: env.requiredInProduction(
    z.string().min(1).default('https://api.financial-graph.local'),
    'the default is the sandbox audience',
  ),
  AUTH_JWKS_URL: env.url().optional(),
  /** Seconds of clock skew tolerated on access-token exp/nbf/iat and DPoP proof iat. */
  AUTH_CLOCK_TOLERANCE_SECONDS: z.coerce.number().int().min(0).max(300).default(5),
  /** Least time between two JWKS re-fetches caused by an unknown kid (0: every unknown kid re-fetches). */
  AUTH_JWKS_COOLDOWN_MS: z.coerce.number().int().min(0).max(600_000).default(30_000),
  /** Accepted distance between a DPoP proof's iat and now, in seconds (RFC 9449 §11.1). */
  DPOP_IAT_WINDOW_SECONDS: z.coerce.number().int().min(1).max(600).default(60),
  /** The gateway's public base URL as clients call it (DPoP htu); default: the listening URL. */
  GATEWAY_PUBLIC_URL: env.url().optional(),
  /**
   * Web-app origins allowed to call /graphql from a browser (CORS), separated by commas or spaces:
   * serialized origins, or scheme://host:* for any port; `none` for no origin. Unset: none in
   * production; in the sandbox the loopback hosts on any port and GATEWAY_PUBLIC_URL's origin.
   */
  CORS_ALLOWED_ORIGINS: z
    .string()
    .optional()
    .superRefine((value, ctx) => {
      for (const entry of corsEntries(value ?? '')) {
        const problem = corsEntryProblem(entry);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      }
    }),
  /** How long browsers may cache a preflight answer; browsers cap it themselves (Chromium at 7200). */
  CORS_MAX_AGE_SECONDS: z.coerce.number().int().min(0).max(86_400).default(600),
  /**
   * Shared cache (DPoP replay tracking, consent cache); unset: in memory, per process, which only a single local
   * gateway can afford.
   */
  REDIS_URL: env.requiredInProduction(
    z
      .string()
      .regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL')
      .optional(),
    'the replicas share the DPoP replay cache and the consent cache through it; in memory, a proof replays once per replica',
  ),
  INTERNAL_AUTH_SECRET: env.secret(DEV_INTERNAL_SECRET),
  /**
   * principal: identical in-flight subgraph queries of the same principal share one call (gateway/subgraph-fetch.ts);
   * off: none shared.
   */
  SUBGRAPH_REQUEST_SHARING: z.enum(['principal', 'off']).default('principal'),
  /**
   * How long a client's active consents are cached (shared cache); at most 1000 so a revocation bites within 1 s on
   * every replica.
   */
  CONSENT_CACHE_TTL_MS: z.coerce.number().int().min(1).max(1000).default(500),
  // Query limits (gateway/limits.ts; defaults there are justified against the dashboard query).
  QUERY_MAX_DEPTH: queryLimit(DEFAULT_QUERY_LIMITS.maxDepth),
  QUERY_MAX_ALIASES: queryLimit(DEFAULT_QUERY_LIMITS.maxAliases),
  QUERY_MAX_ROOT_FIELDS: queryLimit(DEFAULT_QUERY_LIMITS.maxRootFields),
  QUERY_MAX_TOKENS: queryLimit(DEFAULT_QUERY_LIMITS.maxTokens),
  QUERY_MAX_COST: queryLimit(DEFAULT_QUERY_LIMITS.maxCost),
  QUERY_MAX_PAGE_SIZE: queryLimit(DEFAULT_QUERY_LIMITS.maxPageSize),
  QUERY_MAX_BATCH: queryLimit(DEFAULT_QUERY_LIMITS.maxBatch),
  QUERY_LIST_COST_MULTIPLIER: queryLimit(DEFAULT_QUERY_LIMITS.listMultiplier),
  QUERY_MAX_SELECTIONS: queryLimit(DEFAULT_QUERY_LIMITS.maxSelections),
  QUERY_MAX_DIRECTIVES: queryLimit(DEFAULT_QUERY_LIMITS.maxDirectives),
  QUERY_MAX_LITERAL_LENGTH: queryLimit(DEFAULT_QUERY_LIMITS.maxLiteralLength),
  /** The offline explorer at `/` (gateway/explorer/); unset: on in the sandbox profile, off in production. */
  GATEWAY_EXPLORER: z.enum(['on', 'off']).optional(),
  /**
   * policy: this product's rules (gateway/authorization/); directives: the supergraph's own
   * @authenticated/@requiresScopes/@policy with Router's semantics (gateway/directive-authorization.ts).
   */
  GATEWAY_AUTHORIZATION: z.enum(['policy', 'directives']).default('policy'),
  /**
   * The production profile runs directive mode only with this confirmation (it drops consent, caller-kind and ownership
   * checks).
   */
  GATEWAY_AUTHORIZATION_PRODUCTION_CONFIRM: z.enum(['directives']).optional(),
  /** Custom @override labels that are on (comma or space separated); percent(N) labels need nothing. */
  GATEWAY_OVERRIDE_LABELS: z.string().default(''),
  /** Re-fetch a SUPERGRAPH URL this often (ETag / If-None-Match); 0: never. A file is watched instead. */
  SUPERGRAPH_POLL_INTERVAL_MS: z.coerce.number().int().min(0).max(86_400_000).default(10_000),
  /** Watch a SUPERGRAPH file and serve it again when it changes. */
  SUPERGRAPH_WATCH: z.enum(['on', 'off']).default('on'),
  // Idempotent money-moving mutations (gateway/idempotency/config.ts): DATABASE_URL, PGLITE_DIR, IDEMPOTENCY_*.
  ...idempotencyConfigShape,
  // Deadline, per-subgraph protections and cached fallbacks (lib/resilience-config.ts).
  ...resilienceConfigShape,
});

export interface GatewayConfig extends IdempotencyConfig, ResilienceConfig {
  GATEWAY_PORT: number;
  HOST: string;
  PROFILE: 'sandbox' | 'production';
  LOG_LEVEL: z.infer<typeof gatewaySchema>['LOG_LEVEL'];
  SUPERGRAPH: string;
  AUTH_ISSUER: string;
  AUTH_AUDIENCE: string;
  /** Defaults to `${AUTH_ISSUER}/jwks.json`. */
  AUTH_JWKS_URL: string;
  AUTH_CLOCK_TOLERANCE_SECONDS: number;
  AUTH_JWKS_COOLDOWN_MS: number;
  DPOP_IAT_WINDOW_SECONDS: number;
  /** Public base URL (scheme://host[:port][/prefix]); undefined: the listening URL. */
  GATEWAY_PUBLIC_URL?: string | undefined;
  /**
   * Resolved CORS allowlist (profile default when CORS_ALLOWED_ORIGINS is unset); [] = no cross-origin browser calls.
   */
  CORS_ALLOWED_ORIGINS: readonly string[];
  CORS_MAX_AGE_SECONDS: number;
  REDIS_URL?: string | undefined;
  INTERNAL_AUTH_SECRET: string;
  SUBGRAPH_REQUEST_SHARING: 'principal' | 'off';
  CONSENT_CACHE_TTL_MS: number;
  QUERY_MAX_DEPTH: number;
  QUERY_MAX_ALIASES: number;
  QUERY_MAX_ROOT_FIELDS: number;
  QUERY_MAX_TOKENS: number;
  QUERY_MAX_COST: number;
  QUERY_MAX_PAGE_SIZE: number;
  /** Operations per batched HTTP request (JSON array body). */
  QUERY_MAX_BATCH: number;
  /** Assumed length of a list without `first` in the cost estimate. */
  QUERY_LIST_COST_MULTIPLIER: number;
  /** Selections of a document once its fragment spreads are expanded (what a fragment-doubling document breaks). */
  QUERY_MAX_SELECTIONS: number;
  /** Directives written in a document. */
  QUERY_MAX_DIRECTIVES: number;
  /** Characters of one string or number literal in a document. */
  QUERY_MAX_LITERAL_LENGTH: number;
  /**
   * 'on': `/` serves the explorer (GraphiQL, examples, requirements of every field); 'off': `/` is 404.
   * Default on in the sandbox profile, off in production. The sandbox token panel exists only in the
   * sandbox profile, whatever this says.
   */
  GATEWAY_EXPLORER: 'on' | 'off';
  /** `<NAME>_SUBGRAPH_URL` overrides, keyed by NAME (upper case, e.g. "ACCOUNTS"). */
  subgraphUrls: Record<string, string>;
  /** `SUBGRAPH_<NAME>_<SETTING>` overrides of the SUBGRAPH_* protections, keyed by NAME (lib/resilience-config.ts). */
  subgraphSettings: Record<string, Partial<DependencySettingValues>>;
  /** Where authorization comes from (see GATEWAY_AUTHORIZATION in README.md). */
  GATEWAY_AUTHORIZATION: 'policy' | 'directives';
  /** Custom override labels that are on, from GATEWAY_OVERRIDE_LABELS. */
  GATEWAY_OVERRIDE_LABELS: readonly string[];
  SUPERGRAPH_POLL_INTERVAL_MS: number;
  SUPERGRAPH_WATCH: 'on' | 'off';
}

export function loadGatewayConfig(environment: Record<string, string | undefined> = process.env): GatewayConfig {
  const problems: string[] = [];
  let base: z.infer<typeof gatewaySchema> | undefined;
  try {
    base = loadConfig(gatewaySchema, environment);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    problems.push(...err.problems);
  }

  const subgraphUrls: Record<string, string> = {};
  const url = env.url();
  for (const [key, value] of Object.entries(environment)) {
    const match = SUBGRAPH_URL_VARIABLE.exec(key);
    if (!match || value === undefined || value === '') continue;
    const parsed = url.safeParse(value);
    if (parsed.success) subgraphUrls[match[1]!] = parsed.data;
    else problems.push(`${key}: must be an http(s) URL, got ${JSON.stringify(value)}`);
  }

  // SUBGRAPH_<NAME>_TIMEOUT_MS, ...: one subgraph's protections over the SUBGRAPH_* ones.
  const subgraphSettings = subgraphSettingOverrides(environment, problems);

  const corsAllowedOrigins = base ? corsOrigins(base, problems) : [];
  if (base) problems.push(...resilienceConfigProblems(base));
  if (
    base?.PROFILE === 'production' &&
    base.GATEWAY_AUTHORIZATION === 'directives' &&
    base.GATEWAY_AUTHORIZATION_PRODUCTION_CONFIRM !== 'directives'
  ) {
    problems.push(
      'GATEWAY_AUTHORIZATION: "directives" replaces the product policy (consents, caller kinds, ownership) with the supergraph\'s directives; in the production profile set GATEWAY_AUTHORIZATION_PRODUCTION_CONFIRM=directives as well',
    );
  }
  if (problems.length > 0 || !base) throw new ConfigError(problems);

  return {
    ...base,
    CORS_ALLOWED_ORIGINS: corsAllowedOrigins,
    AUTH_JWKS_URL: base.AUTH_JWKS_URL ?? `${base.AUTH_ISSUER.replace(/\/$/, '')}/jwks.json`,
    GATEWAY_EXPLORER: base.GATEWAY_EXPLORER ?? (base.PROFILE === 'production' ? 'off' : 'on'),
    GATEWAY_OVERRIDE_LABELS: base.GATEWAY_OVERRIDE_LABELS.split(/[\s,]+/).filter(Boolean),
    subgraphUrls,
    subgraphSettings,
  };
}

/** The override variable for a subgraph name: "accounts" → "ACCOUNTS", "my-graph" → "MY_GRAPH". */
export function subgraphUrlKey(name: string): string {
  // The same NAME as the SUBGRAPH_<NAME>_* settings, so both overrides of one subgraph are spelt alike.
  return dependencyEnvKey(name);
}

/** The query limits of gateway/limits.ts from the QUERY_* variables. */
export function queryLimitsOf(config: GatewayConfig): QueryLimits {
  return {
    maxDepth: config.QUERY_MAX_DEPTH,
    maxAliases: config.QUERY_MAX_ALIASES,
    maxRootFields: config.QUERY_MAX_ROOT_FIELDS,
    maxTokens: config.QUERY_MAX_TOKENS,
    maxCost: config.QUERY_MAX_COST,
    maxPageSize: config.QUERY_MAX_PAGE_SIZE,
    maxBatch: config.QUERY_MAX_BATCH,
    listMultiplier: config.QUERY_LIST_COST_MULTIPLIER,
    maxSelections: config.QUERY_MAX_SELECTIONS,
    maxDirectives: config.QUERY_MAX_DIRECTIVES,
    maxLiteralLength: config.QUERY_MAX_LITERAL_LENGTH,
  };
}

// CORS_ALLOWED_ORIGINS (the /graphql CORS of lib/http-server.ts).

/** Loopback web apps on any port: what a developer runs against the sandbox. */
const SANDBOX_CORS_ORIGINS = ['http://localhost:*', 'http://127.0.0.1:*', 'http://[::1]:*'];

function corsEntries(value: string): string[] {
  return value.split(/[\s,]+/).filter(Boolean);
}

/** Why an entry is not a usable origin, or null. */
function corsEntryProblem(entry: string): string | null {
  if (entry === 'none') return null;
  if (entry === '*') return 'list the origins: "*" would let every web page call the API';
  const anyPort = entry.endsWith(':*');
  let url: URL;
  try {
    url = new URL(anyPort ? entry.slice(0, -2) : entry);
  } catch {
    return `${JSON.stringify(entry)} is not an origin (scheme://host[:port])`;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    return `${JSON.stringify(entry)}: only http and https origins`;
  // An origin is exactly what URL serializes: no path, query, credentials or trailing slash, lower-case host, no
  // default port.
  if (url.origin !== (anyPort ? entry.slice(0, -2) : entry) || (anyPort && url.port !== '')) {
    return `${JSON.stringify(entry)} is not a serialized origin; write ${JSON.stringify(anyPort ? `${url.protocol}//${url.hostname}:*` : url.origin)}`;
  }
  return null;
}

/** The allowlist in force: the variable when set, else the profile's default. Production accepts only https origins. */
function corsOrigins(
  base: {
    PROFILE: 'sandbox' | 'production';
    CORS_ALLOWED_ORIGINS?: string | undefined;
    GATEWAY_PUBLIC_URL?: string | undefined;
  },
  problems: string[],
): string[] {
  const configured = corsEntries(base.CORS_ALLOWED_ORIGINS ?? '');
  if (configured.includes('none')) {
    if (configured.length > 1) problems.push('CORS_ALLOWED_ORIGINS: "none" cannot be combined with origins');
    return [];
  }
  if (configured.length === 0) {
    if (base.PROFILE === 'production') return [];
    return [...SANDBOX_CORS_ORIGINS, ...(base.GATEWAY_PUBLIC_URL ? [new URL(base.GATEWAY_PUBLIC_URL).origin] : [])];
  }
  if (base.PROFILE === 'production') {
    const plain = configured.filter((o) => !o.startsWith('https://'));
    if (plain.length)
      problems.push(
        `CORS_ALLOWED_ORIGINS: the production profile allows only https:// origins (${plain.length} other${plain.length === 1 ? '' : 's'} listed)`,
      );
  }
  return [...new Set(configured)];
}
