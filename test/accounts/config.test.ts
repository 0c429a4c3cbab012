import { describe, expect, it } from 'vitest';
import { ConfigError, DEV_ID_HASH_SECRET, DEV_INTERNAL_SECRET } from '../../lib/config.ts';
import { loadAccountsConfig } from '../../subgraphs/accounts/config.ts';

describe('accounts configuration', () => {
  it('runs locally against the sandboxes with no variables set', () => {
    expect(loadAccountsConfig({})).toMatchObject({
      PROFILE: 'sandbox',
      HOST: '127.0.0.1',
      ACCOUNTS_PORT: 4002,
      NORTHWIND_URL: 'http://127.0.0.1:4101',
      RHEINBANK_URL: 'http://127.0.0.1:4102',
      NORTHWIND_TIMEOUT_MS: 3000,
      RHEINBANK_TIMEOUT_MS: 3000,
      ID_HASH_SECRET: DEV_ID_HASH_SECRET,
      PGLITE_DIR: 'memory://',
    });
  });

  it('stops with a message naming every bad variable', () => {
    try {
      loadAccountsConfig({ ACCOUNTS_PORT: 'eighty', NORTHWIND_URL: 'ftp://bank', RHEINBANK_TIMEOUT_MS: '-1' });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const names = (err as ConfigError).problems.map((p) => p.split(':')[0]);
      expect(names).toEqual(expect.arrayContaining(['ACCOUNTS_PORT', 'NORTHWIND_URL', 'RHEINBANK_TIMEOUT_MS']));
    }
  });

  it('refuses the public development secrets and the sandbox banks in the production profile', () => {
    const banks = { NORTHWIND_URL: 'https://northwind.example.com', RHEINBANK_URL: 'https://rheinbank.example.com' };
    const prod = { PROFILE: 'production', INTERNAL_AUTH_SECRET: 'p'.repeat(40), ...banks };
    expect(() => loadAccountsConfig(prod)).toThrow(/ID_HASH_SECRET/);
    expect(() => loadAccountsConfig({ PROFILE: 'production', ID_HASH_SECRET: 'i'.repeat(40), ...banks })).toThrow(
      /INTERNAL_AUTH_SECRET/,
    );
    expect(() =>
      loadAccountsConfig({
        ...prod,
        ID_HASH_SECRET: 'i'.repeat(40),
        INTERNAL_AUTH_PREVIOUS_SECRET: DEV_INTERNAL_SECRET,
      }),
    ).toThrow(/INTERNAL_AUTH_PREVIOUS_SECRET/);
    expect(() => loadAccountsConfig({ ...prod, ID_HASH_SECRET: 'i'.repeat(40), NORTHWIND_URL: undefined })).toThrow(
      /NORTHWIND_URL/,
    );
    expect(
      loadAccountsConfig({ ...prod, ID_HASH_SECRET: 'i'.repeat(40), INTERNAL_AUTH_PREVIOUS_SECRET: 'q'.repeat(40) })
        .PROFILE,
    ).toBe('production');
  });
});
