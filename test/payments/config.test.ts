import { describe, expect, it } from 'vitest';
import { ConfigError, DEV_ID_HASH_SECRET, DEV_INTERNAL_SECRET } from '../../lib/config.ts';
import { loadPaymentsConfig } from '../../subgraphs/payments/config.ts';

describe('payments configuration', () => {
  it('runs locally with no variables set', () => {
    expect(loadPaymentsConfig({})).toMatchObject({
      PAYMENTS_PORT: 4003,
      HOST: '127.0.0.1',
      PROFILE: 'sandbox',
      ID_HASH_SECRET: DEV_ID_HASH_SECRET,
    });
  });

  it('names bad variables and refuses the development id secret in production', () => {
    expect(() => loadPaymentsConfig({ PAYMENTS_PORT: '70000' })).toThrow(/PAYMENTS_PORT/);
    expect(() => loadPaymentsConfig({ DATABASE_URL: 'mysql://x' })).toThrow(/DATABASE_URL/);
    let error: unknown;
    try {
      loadPaymentsConfig({
        PROFILE: 'production',
        INTERNAL_AUTH_SECRET: 'a-real-internal-secret-of-32-chars-or-more!',
      });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems.join('\n')).toMatch(/ID_HASH_SECRET/);
    const prod = {
      PROFILE: 'production',
      INTERNAL_AUTH_SECRET: 'a-real-internal-secret-of-32-chars-or-more!',
      ID_HASH_SECRET: 'a-real-id-hash-secret-of-32-chars-or-more!!',
      NORTHWIND_URL: 'https://api.northwind.example',
      NORTHWIND_PIS_TOKEN: 'a-real-bank-token-of-32-characters-or-more',
      NORTHWIND_PIS_SIGNING_KEY: '-----BEGIN PRIVATE KEY-----real-key-material-----END PRIVATE KEY-----',
    };
    expect(loadPaymentsConfig(prod).PROFILE).toBe('production');
    // Payment initiation needs the bank's URL, the platform's token and its signing key in production.
    for (const missing of ['NORTHWIND_URL', 'NORTHWIND_PIS_TOKEN', 'NORTHWIND_PIS_SIGNING_KEY'] as const) {
      const { [missing]: _drop, ...rest } = prod;
      expect(() => loadPaymentsConfig(rest), missing).toThrow(new RegExp(missing));
    }
    expect(() => loadPaymentsConfig({ NORTHWIND_AUTHORISATION_URL: 'https://bank.example/sca' })).toThrow(
      /NORTHWIND_AUTHORISATION_URL/,
    );
    expect(() => loadPaymentsConfig({ ...prod, INTERNAL_AUTH_PREVIOUS_SECRET: DEV_INTERNAL_SECRET })).toThrow(
      /INTERNAL_AUTH_PREVIOUS_SECRET/,
    );
  });
});
