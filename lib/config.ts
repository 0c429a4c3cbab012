import { z } from 'zod';

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

export function loadConfig<S extends z.ZodObject>(schema: S, env: Record<string, string | undefined> = process.env): z.infer<S> {
  const result = schema.safeParse(env);
  if (!result.success) {
    throw new ConfigError(result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`));
  }
  return result.data;
}

/** Reusable variable types. */
export const env = {
  port: (def: number) => z.coerce.number().int().min(0).max(65535).default(def),
  url: () => z.url({ protocol: /^https?$/ }),
  optionalUrl: () => z.url().optional(),
  milliseconds: (def: number) => z.coerce.number().int().positive().max(600_000).default(def),
  secret: (def: string) => z.string().min(32, 'must be at least 32 characters').default(def),
  logLevel: () => z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  profile: () => z.enum(['sandbox', 'production']).default('sandbox'),
};

/**
 * Local-development shared secret for gateway-to-subgraph request signing. It is public (it is
 * in the repository), so the production profile refuses to start with it; see internal-auth.ts.
 */
export const DEV_INTERNAL_SECRET = 'dev-only-internal-signing-secret-change-me-0001';

/** Local-development key for derived partner-object ids (lib/ids.ts). Public, so refused in production. */
export const DEV_ID_HASH_SECRET = 'dev-only-id-derivation-secret-change-me-000001';

/** Standard variables every service reads. */
export const commonConfig = z.object({
  LOG_LEVEL: env.logLevel(),
  PROFILE: env.profile(),
});

/**
 * Variables every subgraph reads. The production profile refuses the public development
 * secret, so a deployment cannot accidentally run with it.
 */
export const subgraphCommonConfig = commonConfig
  .extend({
    HOST: z.string().default('127.0.0.1'),
    INTERNAL_AUTH_SECRET: env.secret(DEV_INTERNAL_SECRET),
    INTERNAL_AUTH_PREVIOUS_SECRET: z.string().min(32).optional(),
    DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL').optional(),
    PGLITE_DIR: z.string().default('memory://'),
  })
  .refine((c) => c.PROFILE !== 'production' || c.INTERNAL_AUTH_SECRET !== DEV_INTERNAL_SECRET, {
    message: 'INTERNAL_AUTH_SECRET must be set to a private value in the production profile',
    path: ['INTERNAL_AUTH_SECRET'],
  });
