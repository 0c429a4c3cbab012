import { z } from 'zod';
import { readSeedFile } from './seed.ts';

/**
 * Configuration comes from environment variables with safe local defaults. Each service
 * declares the variables it reads as a zod object; `loadConfig` validates them once at start
 * and throws a ConfigError naming every bad variable, so a typo stops the process with a
 * message instead of surfacing as a strange failure hours later.
 */
export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/**
 * How every process of the product reports a configuration problem (README.md, Configuration):
 * one line per problem on stderr, naming the variable, what is allowed and the value it had
 * (never a secret's), prefixed with the process; then exit status 2. No stack trace: the person
 * reading it needs the variable, not our call stack. (Here, in a module that loads in
 * milliseconds, so that a process can say it before it loads anything heavy.)
 */
export function exitWithConfigProblems(processName: string, problems: readonly string[]): never {
  process.stderr.write(problems.map((p) => `${processName}: ${p.replace(/\s*\n\s*/g, ' ')}\n`).join(''));
  process.exit(2);
}

export function loadConfig<S extends z.ZodObject>(
  schema: S,
  env: Record<string, string | undefined> = process.env,
): z.infer<S> {
  const result = schema.safeParse(env);
  const problems = result.success ? [] : result.error.issues.map((issue) => describeIssue(schema, env, issue));
  // The production rules run even when other variables are bad, so one start names every problem.
  if (env.PROFILE === 'production') problems.push(...productionProblems(schema, env));
  if (problems.length > 0 || !result.success) throw new ConfigError(problems);
  return result.data;
}

/**
 * Secrets shorter than this many UTF-8 bytes are refused in every profile: HS256 wants a key at
 * least as long as its 256-bit output (RFC 7518 §3.2), and what reaches the HMAC is bytes, not
 * characters ('é' is two bytes, an emoji four).
 */
export const MIN_SECRET_BYTES = 32;

/**
 * Local-development shared secret for gateway-to-subgraph request signing. It is public (it is
 * in the repository), so the production profile refuses it, in INTERNAL_AUTH_PREVIOUS_SECRET too.
 */
export const DEV_INTERNAL_SECRET = 'dev-only-internal-signing-secret-change-me-0001';

/** Local-development key for derived partner-object ids (lib/ids.ts). Public, so refused in production. */
export const DEV_ID_HASH_SECRET = 'dev-only-id-derivation-secret-change-me-000001';

/**
 * The operator token docker-compose.yml falls back to when METRICS_TOKEN is not exported. Public, so refused in
 * production.
 */
export const DEV_METRICS_TOKEN = 'dev-only-metrics-token-change-me-00000001';

/**
 * Every value that anyone who reads this repository knows: the development defaults of the
 * secrets and the sandboxes' partner credentials. The production profile refuses each of them in
 * every secret variable, not only in the one it is the default of (a development secret pasted
 * into another variable is just as public). env.secret adds its default here; a module that knows
 * other public values (identity's sandbox credentials) adds them with registerPublicValues.
 */
const publicValues = new Set<string>([DEV_INTERNAL_SECRET, DEV_ID_HASH_SECRET, DEV_METRICS_TOKEN]);

export function registerPublicValues(...values: string[]): void {
  for (const value of values) publicValues.add(value);
}

/**
 * Prefixes that mark a value as public by a partner's own convention (Onfido's sandbox tokens
 * start with "api_sandbox."): known without importing any sandbox, and refused like public values.
 */
const publicPrefixes = new Set<string>();

export function registerPublicPrefixes(...prefixes: string[]): void {
  for (const prefix of prefixes) publicPrefixes.add(prefix);
}

function isPublicValue(value: string): boolean {
  return publicValues.has(value) || [...publicPrefixes].some((prefix) => value.startsWith(prefix));
}

/** Fields declared with env.secret / env.optionalSecret, and their public default if any. */
const secretFields = new WeakMap<z.ZodType, { publicDefault: string | undefined }>();
/** Fields whose default only makes sense locally (env.requiredInProduction), with why production needs them set. */
const productionRequired = new WeakMap<z.ZodType, string>();
/** Fields that only make sense outside production (env.sandboxOnly), with why production must leave them unset. */
const sandboxOnly = new WeakMap<z.ZodType, string>();

function isUnset(value: string | undefined): boolean {
  return value === undefined || value === '';
}

/**
 * The one production check every config loader runs (through loadConfig), driven by how each
 * variable was declared, so a new secret or sandbox-facing setting cannot be added without it.
 * Messages name the variable and what is allowed, never the value.
 */
function productionProblems(schema: z.ZodObject, env: Record<string, string | undefined>): string[] {
  const problems: string[] = [];
  for (const [name, field] of Object.entries(schema.shape as Record<string, z.ZodType>)) {
    const raw = env[name];
    const secret = secretFields.get(field);
    if (secret) {
      if (isUnset(raw) && secret.publicDefault !== undefined) {
        problems.push(
          `${name}: must be set in the production profile to a private value of at least ${MIN_SECRET_BYTES} bytes (the default is the public development value)`,
        );
      } else if (!isUnset(raw) && isPublicValue(raw!.trim())) {
        problems.push(
          `${name}: is a publicly known development or sandbox value; the production profile needs a private value of at least ${MIN_SECRET_BYTES} bytes`,
        );
      }
    }
    const why = productionRequired.get(field);
    if (why !== undefined && isUnset(raw)) problems.push(`${name}: must be set in the production profile (${why})`);
    const sandboxWhy = sandboxOnly.get(field);
    if (sandboxWhy !== undefined && !isUnset(raw))
      problems.push(`${name}: must not be set in the production profile (${sandboxWhy})`);
  }
  return problems;
}

/**
 * One line per problem, for a person reading a terminal: the variable, what is allowed, and the
 * value it had (never the value of a secret; a URL's password is masked). Zod's own wording
 * ("Too big: expected number to be <=65535") says neither what was given nor the whole range.
 */
function describeIssue(schema: z.ZodObject, env: Record<string, string | undefined>, issue: z.core.$ZodIssue): string {
  const name = issue.path.length > 0 ? String(issue.path[0]) : '(root)';
  const field = (schema.shape as Record<string, z.ZodType>)[name];
  const allowed = field ? allowedValues(field) : undefined;
  const message = allowed ? `must be ${allowed}` : issue.message;
  const raw = env[name];
  if (raw === undefined || !field || secretFields.has(field)) return `${name}: ${message}`;
  return `${name}: ${message}, got ${displayValue(raw)}`;
}

/**
 * A variable whose name is not fixed in advance (SUBGRAPH_<NAME>_TIMEOUT_MS: the supergraph names the
 * subgraphs), checked against `field`: its value, or the one line loadConfig would have written about it.
 * Not for secrets (the value is shown).
 */
export function parseVariable<T>(name: string, field: z.ZodType<T>, raw: string): { value: T } | { problem: string } {
  const result = field.safeParse(raw);
  if (result.success) return { value: result.data };
  const allowed = allowedValues(field);
  const message = allowed ? `must be ${allowed}` : (result.error.issues[0]?.message ?? 'is not valid');
  return { problem: `${name}: ${message}, got ${displayValue(raw)}` };
}

/** What an enum or a number accepts, from the schema itself (so the message cannot drift from the rule). */
function allowedValues(field: z.ZodType): string | undefined {
  let inner = field as z.ZodType & { _zod: { def: { innerType?: z.ZodType } } };
  while (inner._zod.def.innerType) inner = inner._zod.def.innerType as typeof inner;
  if (inner instanceof z.ZodEnum) return `one of ${inner.options.join(', ')}`;
  if (!(inner instanceof z.ZodNumber)) return undefined;
  let whole = false;
  let lower: { value: number; inclusive: boolean } | undefined;
  let upper: { value: number; inclusive: boolean } | undefined;
  for (const check of inner._zod.def.checks ?? []) {
    const def = check._zod.def as { check: string; format?: string; value?: number; inclusive?: boolean };
    if (def.check === 'number_format' && (def.format === 'safeint' || def.format === 'int32')) whole = true;
    if (def.check === 'greater_than') lower = { value: def.value!, inclusive: def.inclusive ?? true };
    if (def.check === 'less_than') upper = { value: def.value!, inclusive: def.inclusive ?? true };
  }
  const kind = whole ? 'a whole number' : 'a number';
  if (lower?.inclusive && upper?.inclusive) return `${kind} from ${lower.value} to ${upper.value}`;
  const bounds = [
    lower ? `${lower.inclusive ? 'at least' : 'greater than'} ${lower.value}` : undefined,
    upper ? `${upper.inclusive ? 'at most' : 'less than'} ${upper.value}` : undefined,
  ].filter(Boolean);
  return bounds.length > 0 ? `${kind} ${bounds.join(' and ')}` : kind;
}

/** A value as it may be shown in a message: quoted, on one line, shortened, with a URL's password masked. */
export function displayValue(raw: string): string {
  let shown = raw;
  try {
    const url = new URL(raw);
    if (url.password) {
      url.password = '***';
      shown = url.toString();
    }
  } catch {
    // not a URL: shown as given
  }
  if (shown.length > 80) shown = `${shown.slice(0, 77)}...`;
  return JSON.stringify(shown);
}

const secretString = () =>
  z.string().refine((value) => Buffer.byteLength(value, 'utf8') >= MIN_SECRET_BYTES, {
    message: `must be at least ${MIN_SECRET_BYTES} bytes (UTF-8)`,
  });

/** Reusable variable types. */
export const env = {
  port: (def: number) => z.coerce.number().int().min(0).max(65535).default(def),
  url: () => z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }),
  optionalUrl: () => z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
  milliseconds: (def: number) => z.coerce.number().int().positive().max(600_000).default(def),
  /**
   * A secret whose default is a public development (or sandbox) value: at least 32 bytes in every
   * profile; the production profile refuses the default and every other public value.
   */
  secret: (publicDefault: string) => {
    registerPublicValues(publicDefault);
    const field = secretString().default(publicDefault);
    secretFields.set(field, { publicDefault });
    return field;
  },
  /** A secret without a default (e.g. INTERNAL_AUTH_PREVIOUS_SECRET): the same rules when it is set. */
  optionalSecret: () => {
    const field = secretString().optional();
    secretFields.set(field, { publicDefault: undefined });
    return field;
  },
  /** A variable whose default (or absence) only suits local development: production must set it explicitly. */
  requiredInProduction: <T extends z.ZodType>(field: T, why: string): T => {
    productionRequired.set(field, why);
    return field;
  },
  /** A variable only the sandbox profile may set (the sandbox seed): production refuses it when set. */
  sandboxOnly: <T extends z.ZodType>(field: T, why: string): T => {
    sandboxOnly.set(field, why);
    return field;
  },
  /** A seed file (lib/seed.ts): readable and valid when set, so a bad one stops the start with one line. */
  seedFile: () =>
    z
      .string()
      .min(1)
      .superRefine((path, ctx) => {
        try {
          readSeedFile(path);
        } catch (err) {
          ctx.addIssue({ code: 'custom', message: (err as Error).message });
        }
      })
      .optional(),
  logLevel: () => z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  profile: () => z.enum(['sandbox', 'production']).default('sandbox'),
};

/** Standard variables every service reads. */
export const commonConfig = z.object({
  LOG_LEVEL: env.logLevel(),
  PROFILE: env.profile(),
});

/**
 * Variables every subgraph reads, declared once so that every subgraph checks them the same way
 * and says the same line about them. The previous secret is accepted only during a rotation
 * window, and production refuses public values in it exactly as in the current one.
 */
export const subgraphCommonConfig = commonConfig.extend({
  HOST: z.string().default('127.0.0.1'),
  INTERNAL_AUTH_SECRET: env.secret(DEV_INTERNAL_SECRET),
  INTERNAL_AUTH_PREVIOUS_SECRET: env.optionalSecret(),
  /**
   * Key of the ids derived from partner references (lib/ids.ts): accounts and transactions
   * (accounts), kyc_ checks (identity), and the canonical account ids the sandbox seed's
   * connections, consents and debtor accounts are recorded under (consents, payments). One key
   * for the whole platform: the same bank account has the same id in every subgraph.
   */
  ID_HASH_SECRET: env.secret(DEV_ID_HASH_SECRET),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')
    .optional(),
  PGLITE_DIR: z.string().default('memory://'),
  /**
   * The sandbox seed (lib/seed.ts) the subgraph writes its own records from at start, idempotently;
   * unset: nothing is seeded. The launcher and docker-compose.yml set it to sandboxes/seed.json.
   */
  SEED_FILE: env.sandboxOnly(env.seedFile(), 'production data never comes from the sandbox seed'),
});

/**
 * The operator listener of lib/metrics-server.ts: one per process, read by lib/service-main.ts
 * and the all-in-one launcher. Default ports mirror the service ports (4000-4004 → 9400-9404), so
 * services started side by side on one host do not collide.
 */
export const METRICS_DEFAULT_PORTS = {
  gateway: 9400,
  identity: 9401,
  accounts: 9402,
  payments: 9403,
  consents: 9404,
} as const;
export type ServiceName = keyof typeof METRICS_DEFAULT_PORTS;

const metricsSchema = (defaultPort: number) =>
  commonConfig.extend({
    /** Interface of the operator listener; loopback by default, so only the host itself can scrape. */
    METRICS_HOST: z.string().min(1).default('127.0.0.1'),
    METRICS_PORT: env.port(defaultPort),
    /** When set, /metrics answers only `Authorization: Bearer <METRICS_TOKEN>`. */
    METRICS_TOKEN: env.optionalSecret(),
  });

export type MetricsConfig = z.infer<ReturnType<typeof metricsSchema>>;

/** Loopback interfaces: reachable only from the host (or container) itself. */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

export function loadMetricsConfig(
  service: ServiceName,
  environment: Record<string, string | undefined> = process.env,
): MetricsConfig {
  const problems: string[] = [];
  let config: MetricsConfig | undefined;
  try {
    config = loadConfig(metricsSchema(METRICS_DEFAULT_PORTS[service]), environment);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    problems.push(...err.problems);
  }
  // Metrics name partners, subgraphs and error rates: beyond the host itself only an operator with the token may read
  // them.
  const host = environment.METRICS_HOST || '127.0.0.1';
  if (environment.PROFILE === 'production' && !isLoopbackHost(host) && isUnset(environment.METRICS_TOKEN)) {
    problems.push('METRICS_TOKEN: must be set in the production profile when METRICS_HOST is not a loopback address');
  }
  if (problems.length > 0 || !config) throw new ConfigError(problems);
  return config;
}

/** Graceful stop of every process (lib/service-main.ts stopOnSignals, scripts/start.ts). */
const shutdownSchema = z.object({
  /** How long a stopping process lets requests in flight finish before it cuts them. */
  SHUTDOWN_DRAIN_MS: z.coerce.number().int().min(0).max(600_000).default(10_000),
});

export type ShutdownConfig = z.infer<typeof shutdownSchema>;

export function loadShutdownConfig(env: Record<string, string | undefined> = process.env): ShutdownConfig {
  return loadConfig(shutdownSchema, env);
}
