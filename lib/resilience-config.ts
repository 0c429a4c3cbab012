import { z } from 'zod';
import { parseVariable } from './config.ts';

/**
 * The protections of one dependency (a partner API, or one subgraph seen from the gateway), in the
 * shape lib/http-client.ts createHttpClient takes them, so a client is made with `...settings`.
 */
export interface DependencySettings {
  /** Longest one attempt may take (the request deadline may cut it shorter). */
  timeoutMs: number;
  /** Extra attempts of a call that is safe to repeat (never a mutation). */
  retries: number;
  /** Calls at once, and calls waiting for a slot; beyond both a call is refused at once. */
  bulkhead: { limit: number; queue: number };
  /** Opens above errorThresholdPercentage failures of the last windowSize calls (once volumeThreshold were made). */
  breaker: { errorThresholdPercentage: number; volumeThreshold: number; windowSize: number; resetTimeoutMs: number };
}

/** Everything but the timeout: what a partner adapter takes besides the `timeoutMs` it always had. */
export type DependencyProtections = Omit<DependencySettings, 'timeoutMs'>;

/**
 * The variables of one dependency: `<PREFIX>_<SETTING>`, PREFIX being the dependency's name as
 * /metrics shows it, upper-cased (northwind → NORTHWIND, northwind-pis → NORTHWIND_PIS; for the
 * gateway's subgraphs SUBGRAPH for all of them and SUBGRAPH_<NAME> for one). README.md
 * (Configuration) lists them with their defaults.
 */
export const DEPENDENCY_SETTINGS = [
  'TIMEOUT_MS',
  'RETRIES',
  'CONCURRENCY',
  'QUEUE',
  'BREAKER_THRESHOLD_PERCENT',
  'BREAKER_WINDOW',
  'BREAKER_MIN_CALLS',
  'BREAKER_HALF_OPEN_AFTER_MS',
] as const;
export type DependencySetting = (typeof DEPENDENCY_SETTINGS)[number];

/**
 * What each setting accepts (the same for every dependency). The bounds refuse what cannot work
 * (no concurrency, a 0 % breaker, a probe every few milliseconds) and what is surely a typo (a
 * ten-minute timeout, more than 5 retries), not what is merely unusual.
 */
export const DEPENDENCY_SETTING_FIELDS = {
  TIMEOUT_MS: () => z.coerce.number().int().min(1).max(600_000),
  RETRIES: () => z.coerce.number().int().min(0).max(5),
  CONCURRENCY: () => z.coerce.number().int().min(1).max(10_000),
  QUEUE: () => z.coerce.number().int().min(0).max(100_000),
  BREAKER_THRESHOLD_PERCENT: () => z.coerce.number().int().min(1).max(100),
  BREAKER_WINDOW: () => z.coerce.number().int().min(1).max(100_000),
  BREAKER_MIN_CALLS: () => z.coerce.number().int().min(1).max(10_000),
  BREAKER_HALF_OPEN_AFTER_MS: () => z.coerce.number().int().min(100).max(600_000),
} satisfies Record<DependencySetting, () => z.ZodType<number>>;

/** A dependency's settings as flat values, keyed by setting (what the variables hold). */
export type DependencySettingValues = Record<DependencySetting, number>;

export function settingValuesOf(s: DependencySettings): DependencySettingValues {
  return {
    TIMEOUT_MS: s.timeoutMs,
    RETRIES: s.retries,
    CONCURRENCY: s.bulkhead.limit,
    QUEUE: s.bulkhead.queue,
    BREAKER_THRESHOLD_PERCENT: s.breaker.errorThresholdPercentage,
    BREAKER_WINDOW: s.breaker.windowSize,
    BREAKER_MIN_CALLS: s.breaker.volumeThreshold,
    BREAKER_HALF_OPEN_AFTER_MS: s.breaker.resetTimeoutMs,
  };
}

export function settingsFromValues(v: DependencySettingValues): DependencySettings {
  return {
    timeoutMs: v.TIMEOUT_MS,
    retries: v.RETRIES,
    bulkhead: { limit: v.CONCURRENCY, queue: v.QUEUE },
    breaker: {
      errorThresholdPercentage: v.BREAKER_THRESHOLD_PERCENT,
      windowSize: v.BREAKER_WINDOW,
      volumeThreshold: v.BREAKER_MIN_CALLS,
      resetTimeoutMs: v.BREAKER_HALF_OPEN_AFTER_MS,
    },
  };
}

/**
 * Defaults of a partner API (the banks, the KYC provider): what every partner client had before
 * they were configurable (lib/http-client.ts's defaults, 3 s per attempt). 3 s is several times a
 * healthy open-banking call and leaves room for an attempt plus a retry inside the gateway's 10 s
 * per subgraph attempt; 2 retries only for safe calls; 32 + 32 calls keep one slow bank from
 * holding every socket of a subgraph; the breaker needs 10 calls and half of the last 50 failing
 * before it opens (a single customer's bad connection does not open it for everyone) and probes
 * after 10 s (a bank outage lasts minutes, not milliseconds).
 */
export const PARTNER_DEFAULTS: DependencySettings = {
  timeoutMs: 3_000,
  retries: 2,
  bulkhead: { limit: 32, queue: 32 },
  breaker: { errorThresholdPercentage: 50, volumeThreshold: 10, windowSize: 50, resetTimeoutMs: 10_000 },
};

/**
 * Defaults of every subgraph the gateway calls (SUBGRAPH_*): 10 s per attempt inside the 15 s
 * request deadline (a subgraph waits on its partners' 3 s attempts and their retries); 1 retry of a
 * query (a subgraph already retried its partners); 64 + 64 calls (a dashboard fans out to every
 * subgraph, and the gateway serves many requests at once); the same breaker shape as partners, but a
 * probe after 5 s, since a restarted subgraph is back in seconds.
 */
export const SUBGRAPH_DEFAULTS: DependencySettings = {
  timeoutMs: 10_000,
  retries: 1,
  bulkhead: { limit: 64, queue: 64 },
  breaker: { errorThresholdPercentage: 50, volumeThreshold: 10, windowSize: 50, resetTimeoutMs: 5_000 },
};

type SettingKey<P extends string> = `${P}_${DependencySetting}`;
type NumberField = ReturnType<(typeof DEPENDENCY_SETTING_FIELDS)[DependencySetting]>;

/** The zod fields of a dependency's variables, to spread into a service's configuration schema. */
export type DependencyConfigShape<P extends string> = { [K in SettingKey<P>]: z.ZodDefault<NumberField> };
/** A parsed configuration holding a dependency's variables. */
export type DependencyConfig<P extends string> = { [K in SettingKey<P>]: number };

/**
 * The variables `<prefix>_TIMEOUT_MS` ... `<prefix>_BREAKER_HALF_OPEN_AFTER_MS` with their
 * defaults, validated with the rest of the service's variables (lib/config.ts loadConfig: a bad
 * value stops the start with one line naming it, what it accepts and what it was).
 */
export function dependencyConfigShape<P extends string>(
  prefix: P,
  defaults: DependencySettings,
): DependencyConfigShape<P> {
  const values = settingValuesOf(defaults);
  return Object.fromEntries(
    DEPENDENCY_SETTINGS.map((s) => [`${prefix}_${s}`, DEPENDENCY_SETTING_FIELDS[s]().default(values[s])]),
  ) as DependencyConfigShape<P>;
}

/** A dependency's settings read back from its variables (after dependencyConfigShape validated them). */
export function dependencySettingsOf<P extends string>(config: DependencyConfig<P>, prefix: P): DependencySettings {
  const get = (s: DependencySetting) => (config as Record<string, number>)[`${prefix}_${s}`]!;
  return settingsFromValues(Object.fromEntries(DEPENDENCY_SETTINGS.map((s) => [s, get(s)])) as DependencySettingValues);
}

/** A dependency's name as its variables spell it: "accounts" → "ACCOUNTS", "northwind-pis" → "NORTHWIND_PIS". */
export function dependencyEnvKey(name: string): string {
  return name.toUpperCase().replace(/[^A-Z0-9]/g, '_');
}

/**
 * The gateway's resilience settings: the request deadline, the protections of every subgraph call
 * (lib/http-client.ts) and the cached fallbacks (lib/fallback-cache.ts). Spread into the gateway's
 * configuration schema (gateway/config.ts) so they are validated with every other variable at start;
 * README.md (Configuration) documents the defaults and why they are what they are.
 *
 * - GATEWAY_REQUEST_DEADLINE_MS: the whole request's budget. Every subgraph call is cut when it
 *   runs out (the per-call SUBGRAPH_TIMEOUT_MS is the most one attempt may take within it), no
 *   retry starts that could not end in time, and the subgraphs receive what is left, so their
 *   partner calls stop in time too and the answer comes back with what is available.
 * - SUBGRAPH_TIMEOUT_MS: the most one attempt of a subgraph call may take (within the deadline).
 * - SUBGRAPH_RETRIES: extra attempts for a subgraph QUERY (never a mutation) after a network error,
 *   timeout, 5xx or 429, with exponential backoff and jitter, a 429's Retry-After honoured when it
 *   fits in the deadline.
 * - SUBGRAPH_CONCURRENCY / SUBGRAPH_QUEUE: the bulkhead of each subgraph, so one slow subgraph holds
 *   at most that many of the gateway's calls (and waiting ones) and the others keep their capacity.
 * - SUBGRAPH_BREAKER_*: the circuit breaker of each subgraph: it opens when more than THRESHOLD % of
 *   the last WINDOW calls failed (once at least MIN_CALLS were made), fails fast while open, and
 *   lets one probe through after HALF_OPEN_AFTER_MS; the probe's success closes it.
 * - SUBGRAPH_<NAME>_<SETTING>: any of the SUBGRAPH_* settings above for one subgraph only (NAME: the
 *   subgraph's name upper-cased, e.g. SUBGRAPH_ACCOUNTS_TIMEOUT_MS); the rest keep SUBGRAPH_*. Read
 *   by subgraphSettingOverrides (they are not a fixed list: the supergraph names the subgraphs).
 * - FALLBACK_CACHE: on to keep the last good answer of every subgraph query per principal and serve
 *   it, marked stale, when the subgraph fails. Default on, except in production without a key.
 * - FALLBACK_CACHE_KEY: 32 bytes (base64 or hex) encrypting every entry with AES-256-GCM (the
 *   answers carry personal data). Required in production when FALLBACK_CACHE=on; unset elsewhere a
 *   random key per process is used (replicas then do not share fallbacks).
 * - FALLBACK_CACHE_TTL_SECONDS: how long a last good value may be served after it was read.
 */
export const resilienceConfigShape = {
  GATEWAY_REQUEST_DEADLINE_MS: z.coerce.number().int().min(100).max(300_000).default(15_000),
  ...dependencyConfigShape('SUBGRAPH', SUBGRAPH_DEFAULTS),
  FALLBACK_CACHE: z.enum(['on', 'off']).optional(),
  FALLBACK_CACHE_KEY: z
    .string()
    .optional()
    .refine((v) => v === undefined || v === '' || decodeKey(v) !== null, {
      message: 'must be 32 bytes, as 64 hex digits or base64 (openssl rand -base64 32)',
    }),
  FALLBACK_CACHE_TTL_SECONDS: z.coerce
    .number()
    .int()
    .min(1)
    .max(7 * 86_400)
    .default(86_400),
};

export interface ResilienceConfig extends DependencyConfig<'SUBGRAPH'> {
  GATEWAY_REQUEST_DEADLINE_MS: number;
  /** SUBGRAPH_<NAME>_<SETTING> overrides, keyed by NAME (upper case, e.g. "ACCOUNTS"); absent: none. */
  subgraphSettings?: Record<string, Partial<DependencySettingValues>>;
  FALLBACK_CACHE?: 'on' | 'off' | undefined;
  FALLBACK_CACHE_KEY?: string | undefined;
  FALLBACK_CACHE_TTL_SECONDS: number;
}

/** 32 bytes from 64 hex digits or base64; null for anything else. */
export function decodeKey(value: string): Buffer | null {
  const v = value.trim();
  if (/^[0-9a-fA-F]{64}$/.test(v)) return Buffer.from(v, 'hex');
  if (/^[A-Za-z0-9+/_-]{42,44}={0,2}$/.test(v)) {
    const bytes = Buffer.from(v.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    if (bytes.length === 32) return bytes;
  }
  return null;
}

/**
 * The settings of the cached fallbacks alone: the accounts subgraph keeps its banks' last known values
 * with them too.
 */
export type FallbackCacheConfig = Pick<
  ResilienceConfig,
  'FALLBACK_CACHE' | 'FALLBACK_CACHE_KEY' | 'FALLBACK_CACHE_TTL_SECONDS'
> & { PROFILE: string };

/** The variables of FallbackCacheConfig, for a service's configuration schema. */
export const fallbackCacheConfigShape = {
  FALLBACK_CACHE: resilienceConfigShape.FALLBACK_CACHE,
  FALLBACK_CACHE_KEY: resilienceConfigShape.FALLBACK_CACHE_KEY,
  FALLBACK_CACHE_TTL_SECONDS: resilienceConfigShape.FALLBACK_CACHE_TTL_SECONDS,
};

/** Whether fallbacks are on: FALLBACK_CACHE, else on unless production has no key. */
export function fallbackEnabled(config: FallbackCacheConfig): boolean {
  if (config.FALLBACK_CACHE) return config.FALLBACK_CACHE === 'on';
  return config.PROFILE !== 'production' || Boolean(config.FALLBACK_CACHE_KEY);
}

/** Problems across variables, one line each (lib/config.ts reports them and exits 2). */
export function resilienceConfigProblems(config: FallbackCacheConfig): string[] {
  const problems: string[] = [];
  if (config.PROFILE === 'production' && config.FALLBACK_CACHE === 'on' && !config.FALLBACK_CACHE_KEY)
    problems.push(
      'FALLBACK_CACHE_KEY: required in production when FALLBACK_CACHE=on (cached answers carry personal data and are stored encrypted)',
    );
  return problems;
}

/** SUBGRAPH_<NAME>_<SETTING>: NAME is everything between, so a subgraph named like a setting still parses. */
const SUBGRAPH_OVERRIDE = new RegExp(`^SUBGRAPH_([A-Z0-9_]+?)_(${DEPENDENCY_SETTINGS.join('|')})$`);

/**
 * The per-subgraph overrides in `environment` (SUBGRAPH_<NAME>_<SETTING>, empty values ignored like
 * unset ones), keyed by NAME; a bad value adds one line to `problems`, worded like every other
 * variable's (lib/config.ts). Whether NAME is a subgraph of the supergraph is only known once it is
 * loaded: unknownSubgraphOverrides says which are not.
 */
export function subgraphSettingOverrides(
  environment: Record<string, string | undefined>,
  problems: string[],
): Record<string, Partial<DependencySettingValues>> {
  const overrides: Record<string, Partial<DependencySettingValues>> = {};
  for (const [variable, raw] of Object.entries(environment)) {
    const match = SUBGRAPH_OVERRIDE.exec(variable);
    if (!match || raw === undefined || raw === '') continue;
    const [, name, setting] = match as unknown as [string, string, DependencySetting];
    const parsed = parseVariable(variable, DEPENDENCY_SETTING_FIELDS[setting](), raw);
    if ('problem' in parsed) problems.push(parsed.problem);
    else (overrides[name] ??= {})[setting] = parsed.value;
  }
  return overrides;
}

/** The settings of the subgraph `name`: its SUBGRAPH_<NAME>_* overrides over the SUBGRAPH_* values. */
export function subgraphSettingsOf(config: ResilienceConfig, name: string): DependencySettings {
  const own = config.subgraphSettings?.[dependencyEnvKey(name)] ?? {};
  return settingsFromValues({ ...settingValuesOf(dependencySettingsOf(config, 'SUBGRAPH')), ...own });
}

/** The variables of overrides naming none of `subgraphs` (the supergraph's): they would silently do nothing. */
export function unknownSubgraphOverrides(
  config: Pick<ResilienceConfig, 'subgraphSettings'>,
  subgraphs: readonly string[],
): string[] {
  const known = new Set(subgraphs.map(dependencyEnvKey));
  return Object.entries(config.subgraphSettings ?? {})
    .filter(([name]) => !known.has(name))
    .flatMap(([name, values]) => Object.keys(values).map((setting) => `SUBGRAPH_${name}_${setting}`))
    .sort();
}
