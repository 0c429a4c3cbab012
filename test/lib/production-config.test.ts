import { describe, expect, it } from 'vitest';
import { loadGatewayConfig } from '../../gateway/config.ts';
import {
  commonConfig,
  ConfigError,
  DEV_ID_HASH_SECRET,
  DEV_INTERNAL_SECRET,
  DEV_METRICS_TOKEN,
  env,
  loadConfig,
  loadMetricsConfig,
  METRICS_DEFAULT_PORTS,
  type ServiceName,
} from '../../lib/config.ts';
import { PLATFORM_PARTNER_CREDENTIALS } from '../../sandboxes/manifest.ts';
import { loadAccountsConfig } from '../../subgraphs/accounts/config.ts';
import { loadConsentsConfig } from '../../subgraphs/consents/config.ts';
import { loadIdentityConfig } from '../../subgraphs/identity/config.ts';
import { loadPaymentsConfig } from '../../subgraphs/payments/config.ts';

/**
 * The production profile refuses every development default, through the one check in
 * lib/config.ts loadConfig, for every service's config loader.
 */
type Env = Record<string, string | undefined>;

const PRIVATE = {
  internal: 'prod-internal-secret-3f9a1c7e5b2d4068a1c3e5f7',
  previous: 'prod-previous-secret-8e6c4a2f0d1b3957c7e9a1b3',
  idHash: 'prod-id-hash-secret-5d7f9b1a3c6e8024f6a8c0e2',
  onfido: 'api_live.prod-onfido-token-0123456789abcdef',
  pisToken: 'prod-northwind-pis-token-4b6d8f0a2c4e6081b3d5',
  pisSigningKey: 'prod-pis-signing-key-pem-stand-in-7c9e1a3b5d7f',
};

const subgraphBase: Env = {
  PROFILE: 'production',
  INTERNAL_AUTH_SECRET: PRIVATE.internal,
  ID_HASH_SECRET: PRIVATE.idHash,
  DATABASE_URL: 'postgres://db/platform',
};

interface Service {
  load: (e: Env) => unknown;
  /** A complete production environment: starts. */
  production: Env;
  /** Secret variables of the service. */
  secrets: string[];
  /** Secret variables whose default is a public value (so unset is refused too). */
  defaulted: string[];
}

const services: Record<ServiceName, Service> = {
  gateway: {
    load: loadGatewayConfig,
    production: {
      PROFILE: 'production',
      INTERNAL_AUTH_SECRET: PRIVATE.internal,
      AUTH_ISSUER: 'https://auth.example.com',
      AUTH_AUDIENCE: 'https://api.example.com',
      REDIS_URL: 'rediss://cache.example.com:6380',
    },
    secrets: ['INTERNAL_AUTH_SECRET'],
    defaulted: ['INTERNAL_AUTH_SECRET'],
  },
  accounts: {
    load: loadAccountsConfig,
    production: {
      ...subgraphBase,
      NORTHWIND_URL: 'https://northwind.example.com',
      RHEINBANK_URL: 'https://rheinbank.example.com',
    },
    secrets: ['INTERNAL_AUTH_SECRET', 'INTERNAL_AUTH_PREVIOUS_SECRET', 'ID_HASH_SECRET'],
    defaulted: ['INTERNAL_AUTH_SECRET', 'ID_HASH_SECRET'],
  },
  payments: {
    load: loadPaymentsConfig,
    production: {
      ...subgraphBase,
      NORTHWIND_URL: 'https://northwind.example.com',
      NORTHWIND_PIS_TOKEN: PRIVATE.pisToken,
      NORTHWIND_PIS_SIGNING_KEY: PRIVATE.pisSigningKey,
    },
    secrets: [
      'INTERNAL_AUTH_SECRET',
      'INTERNAL_AUTH_PREVIOUS_SECRET',
      'ID_HASH_SECRET',
      'NORTHWIND_PIS_TOKEN',
      'NORTHWIND_PIS_SIGNING_KEY',
      'NORTHWIND_WEBHOOK_SECRET',
      'NORTHWIND_WEBHOOK_PREVIOUS_SECRET',
    ],
    defaulted: ['INTERNAL_AUTH_SECRET', 'ID_HASH_SECRET', 'NORTHWIND_PIS_TOKEN', 'NORTHWIND_PIS_SIGNING_KEY'],
  },
  identity: {
    load: loadIdentityConfig,
    production: {
      ...subgraphBase,
      ONFIDO_URL: 'https://api.eu.onfido.com',
      ONFIDO_API_TOKEN: PRIVATE.onfido,
      ONFIDO_WEBHOOK_TOKEN: `${PRIVATE.onfido}-webhook`,
    },
    secrets: [
      'INTERNAL_AUTH_SECRET',
      'INTERNAL_AUTH_PREVIOUS_SECRET',
      'ID_HASH_SECRET',
      'ONFIDO_API_TOKEN',
      'ONFIDO_WEBHOOK_TOKEN',
      'ONFIDO_WEBHOOK_PREVIOUS_TOKEN',
    ],
    defaulted: ['INTERNAL_AUTH_SECRET', 'ID_HASH_SECRET', 'ONFIDO_API_TOKEN'],
  },
  consents: {
    load: loadConsentsConfig,
    production: subgraphBase,
    secrets: ['INTERNAL_AUTH_SECRET', 'INTERNAL_AUTH_PREVIOUS_SECRET', 'ID_HASH_SECRET'],
    defaulted: ['INTERNAL_AUTH_SECRET', 'ID_HASH_SECRET'],
  },
};

/** The values everyone who reads the repository knows. */
const PUBLIC_VALUES: [string, string][] = [
  ['the development signing secret', DEV_INTERNAL_SECRET],
  ['the development id secret', DEV_ID_HASH_SECRET],
  ['the compose metrics token', DEV_METRICS_TOKEN],
];

function problemsOf(load: (e: Env) => unknown, environment: Env): string[] {
  try {
    load(environment);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  return [];
}

const serviceList = Object.entries(services) as [ServiceName, Service][];
const secretCases = serviceList.flatMap(([name, s]) =>
  s.secrets.flatMap((variable) => PUBLIC_VALUES.map(([what, value]) => [name, variable, what, value] as const)),
);

describe('the production profile', () => {
  it.each(serviceList)('%s starts with private values for everything', (_name, service) => {
    expect(problemsOf(service.load, service.production)).toEqual([]);
  });

  it.each(secretCases)('%s refuses %s = %s, naming the variable but not the value', (name, variable, _what, value) => {
    const service = services[name];
    const problems = problemsOf(service.load, { ...service.production, [variable]: value });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(new RegExp(`^${variable}: .*private value of at least 32 bytes`));
    expect(problems.join('\n')).not.toContain(value);
  });

  it.each(serviceList.flatMap(([name, s]) => s.defaulted.map((variable) => [name, variable] as const)))(
    '%s refuses %s left unset (its default is public)',
    (name, variable) => {
      const service = services[name];
      const problems = problemsOf(service.load, { ...service.production, [variable]: undefined });
      expect(problems).toEqual([
        expect.stringMatching(new RegExp(`^${variable}: must be set in the production profile`)),
      ]);
    },
  );

  // Identity knows Onfido's convention (sandbox tokens start with api_sandbox.), not the sandboxes' files: any Onfido
  // sandbox token is refused.
  it('refuses Onfido sandbox tokens in every identity secret, not only ONFIDO_API_TOKEN', () => {
    for (const variable of services.identity.secrets) {
      for (const value of [
        PLATFORM_PARTNER_CREDENTIALS.onfidoApiToken,
        'api_sandbox.another-sandbox-token-0123456789',
      ]) {
        const problems = problemsOf(loadIdentityConfig, { ...services.identity.production, [variable]: value });
        expect(problems.length, `${variable}`).toBeGreaterThan(0);
        expect(problems.every((p) => p.startsWith(`${variable}: `))).toBe(true);
        expect(problems.join('\n')).not.toContain(value);
      }
    }
  });

  it('refuses a public value with surrounding whitespace', () => {
    expect(
      problemsOf(loadAccountsConfig, {
        ...services.accounts.production,
        INTERNAL_AUTH_PREVIOUS_SECRET: ` ${DEV_INTERNAL_SECRET}\n`,
      }),
    ).toEqual([expect.stringMatching(/^INTERNAL_AUTH_PREVIOUS_SECRET: is a publicly known/)]);
  });

  it('refuses a missing REDIS_URL at the gateway, naming it', () => {
    const problems = problemsOf(loadGatewayConfig, { ...services.gateway.production, REDIS_URL: undefined });
    expect(problems).toEqual([
      expect.stringMatching(
        /^REDIS_URL: must be set in the production profile \(.*DPoP replay cache and the consent cache/,
      ),
    ]);
    expect(problemsOf(loadGatewayConfig, { ...services.gateway.production, REDIS_URL: '' })).toEqual(
      expect.arrayContaining([expect.stringMatching(/^REDIS_URL: must be set/)]),
    );
  });

  it.each([
    ['gateway', 'AUTH_ISSUER'],
    ['gateway', 'AUTH_AUDIENCE'],
    ['accounts', 'NORTHWIND_URL'],
    ['accounts', 'RHEINBANK_URL'],
    ['payments', 'NORTHWIND_URL'],
    ['identity', 'ONFIDO_URL'],
  ] as const)('%s refuses the sandbox default of %s', (name, variable) => {
    const service = services[name];
    expect(problemsOf(service.load, { ...service.production, [variable]: undefined })).toEqual([
      expect.stringMatching(
        new RegExp(`^${variable}: must be set in the production profile \\(the default is the .*sandbox`),
      ),
    ]);
  });

  it('names every problem at once, with the other variables still checked', () => {
    const problems = problemsOf(loadGatewayConfig, { PROFILE: 'production', GATEWAY_PORT: 'eighty' });
    expect(problems.map((p) => p.split(':')[0]).sort()).toEqual([
      'AUTH_AUDIENCE',
      'AUTH_ISSUER',
      'GATEWAY_PORT',
      'INTERNAL_AUTH_SECRET',
      'REDIS_URL',
    ]);
  });
});

describe('secret length is counted in UTF-8 bytes', () => {
  const ascii31 = 'a'.repeat(31);
  // 15 two-byte characters and one one-byte character: 31 bytes in 16 characters.
  const multibyte31 = 'é'.repeat(15) + 'a';
  // 16 two-byte characters: 32 bytes but only 16 characters, which a character count would refuse.
  const multibyte32 = 'é'.repeat(16);

  it('has test values of the intended sizes', () => {
    expect([
      Buffer.byteLength(ascii31),
      Buffer.byteLength(multibyte31),
      multibyte31.length,
      Buffer.byteLength(multibyte32),
      multibyte32.length,
    ]).toEqual([31, 31, 16, 32, 16]);
  });

  it.each(serviceList.flatMap(([name, s]) => s.secrets.map((variable) => [name, variable] as const)))(
    '%s refuses a 31-byte %s, ASCII or multi-byte',
    (name, variable) => {
      const service = services[name];
      for (const value of [ascii31, multibyte31]) {
        const problems = problemsOf(service.load, { ...service.production, [variable]: value });
        expect(problems).toEqual([`${variable}: must be at least 32 bytes (UTF-8)`]);
      }
    },
  );

  it('accepts 32 bytes, even in fewer characters', () => {
    expect(problemsOf(loadAccountsConfig, { ...services.accounts.production, ID_HASH_SECRET: multibyte32 })).toEqual(
      [],
    );
    expect(problemsOf(loadAccountsConfig, { ...services.accounts.production, ID_HASH_SECRET: 'b'.repeat(32) })).toEqual(
      [],
    );
  });

  it('refuses short secrets in the sandbox profile too', () => {
    expect(problemsOf(loadPaymentsConfig, { INTERNAL_AUTH_SECRET: multibyte31 })).toEqual([
      'INTERNAL_AUTH_SECRET: must be at least 32 bytes (UTF-8)',
    ]);
  });
});

describe('the sandbox profile', () => {
  it.each(serviceList)('%s starts on the development defaults', (_name, service) => {
    expect(problemsOf(service.load, {})).toEqual([]);
    expect(problemsOf(service.load, { PROFILE: 'sandbox' })).toEqual([]);
  });

  it('accepts the public values (they are what the sandbox runs on)', () => {
    expect(loadAccountsConfig({ INTERNAL_AUTH_PREVIOUS_SECRET: DEV_INTERNAL_SECRET })).toMatchObject({
      INTERNAL_AUTH_SECRET: DEV_INTERNAL_SECRET,
      ID_HASH_SECRET: DEV_ID_HASH_SECRET,
    });
    expect(loadIdentityConfig({ ONFIDO_API_TOKEN: PLATFORM_PARTNER_CREDENTIALS.onfidoApiToken }).ONFIDO_API_TOKEN).toBe(
      PLATFORM_PARTNER_CREDENTIALS.onfidoApiToken,
    );
  });
});

describe('a secret declared with env.secret', () => {
  // A variable a future service adds: the production check comes with the declaration.
  const schema = commonConfig.extend({
    FUTURE_PARTNER_TOKEN: env.secret('future-partner-public-sandbox-token-0001'),
    FUTURE_WEBHOOK_SECRET: env.optionalSecret(),
  });

  it('is checked by loadConfig without any code of its own', () => {
    expect(loadConfig(schema, {})).toMatchObject({ FUTURE_PARTNER_TOKEN: 'future-partner-public-sandbox-token-0001' });
    expect(problemsOf((e) => loadConfig(schema, e), { PROFILE: 'production' })).toEqual([
      expect.stringMatching(/^FUTURE_PARTNER_TOKEN: must be set in the production profile/),
    ]);
    // Its public default is refused in every secret, and the other public values in it.
    expect(
      problemsOf((e) => loadConfig(schema, e), {
        PROFILE: 'production',
        FUTURE_PARTNER_TOKEN: PRIVATE.onfido,
        FUTURE_WEBHOOK_SECRET: 'future-partner-public-sandbox-token-0001',
      }),
    ).toEqual([expect.stringMatching(/^FUTURE_WEBHOOK_SECRET: is a publicly known/)]);
    expect(
      problemsOf((e) => loadConfig(schema, e), { PROFILE: 'production', FUTURE_PARTNER_TOKEN: DEV_ID_HASH_SECRET }),
    ).toEqual([expect.stringMatching(/^FUTURE_PARTNER_TOKEN: is a publicly known/)]);
    expect(
      problemsOf((e) => loadConfig(schema, e), { PROFILE: 'production', FUTURE_PARTNER_TOKEN: PRIVATE.onfido }),
    ).toEqual([]);
  });
});

describe('metrics listener configuration', () => {
  it.each(Object.entries(METRICS_DEFAULT_PORTS))('%s defaults to 127.0.0.1:%i without a token', (name, port) => {
    expect(loadMetricsConfig(name as ServiceName, {})).toEqual({
      LOG_LEVEL: 'info',
      PROFILE: 'sandbox',
      METRICS_HOST: '127.0.0.1',
      METRICS_PORT: port,
    });
  });

  it('production refuses a non-loopback listener without a token, and a public or short token', () => {
    expect(
      problemsOf((e) => loadMetricsConfig('gateway', e), { PROFILE: 'production', METRICS_HOST: '0.0.0.0' }),
    ).toEqual(['METRICS_TOKEN: must be set in the production profile when METRICS_HOST is not a loopback address']);
    expect(
      problemsOf((e) => loadMetricsConfig('gateway', e), {
        PROFILE: 'production',
        METRICS_HOST: '0.0.0.0',
        METRICS_TOKEN: DEV_METRICS_TOKEN,
      }),
    ).toEqual([expect.stringMatching(/^METRICS_TOKEN: is a publicly known/)]);
    expect(problemsOf((e) => loadMetricsConfig('gateway', e), { METRICS_TOKEN: 'short' })).toEqual([
      'METRICS_TOKEN: must be at least 32 bytes (UTF-8)',
    ]);
    expect(
      problemsOf((e) => loadMetricsConfig('gateway', e), {
        PROFILE: 'production',
        METRICS_HOST: '0.0.0.0',
        METRICS_TOKEN: PRIVATE.previous,
      }),
    ).toEqual([]);
    // Loopback needs no token: only the host itself can reach it.
    expect(problemsOf((e) => loadMetricsConfig('accounts', e), { PROFILE: 'production' })).toEqual([]);
    expect(problemsOf((e) => loadMetricsConfig('accounts', e), { METRICS_PORT: '70000' })).toEqual([
      expect.stringMatching(/^METRICS_PORT: /),
    ]);
  });
});
