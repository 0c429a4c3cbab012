import { describe, expect, it } from 'vitest';
import { ConfigError, DEV_ID_HASH_SECRET } from '../../lib/config.ts';
import { PLATFORM_PARTNER_CREDENTIALS } from '../../sandboxes/manifest.ts';
import { loadIdentityConfig } from '../../subgraphs/identity/config.ts';

function problems(env: Record<string, string>): string[] {
  try {
    loadIdentityConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  return [];
}

describe('identity configuration', () => {
  it('runs locally against the sandboxes with no variables set', () => {
    expect(loadIdentityConfig({})).toMatchObject({
      IDENTITY_PORT: 4001,
      HOST: '127.0.0.1',
      PROFILE: 'sandbox',
      ONFIDO_URL: 'http://127.0.0.1:4103',
      ONFIDO_TIMEOUT_MS: 3000,
      ONFIDO_API_TOKEN: PLATFORM_PARTNER_CREDENTIALS.onfidoApiToken,
      ID_HASH_SECRET: DEV_ID_HASH_SECRET,
      PGLITE_DIR: 'memory://',
    });
  });

  it('names every bad variable', () => {
    const p = problems({ IDENTITY_PORT: 'abc', ONFIDO_URL: 'ftp://x', ONFIDO_TIMEOUT_MS: '0', ID_HASH_SECRET: 'short' });
    for (const name of ['IDENTITY_PORT', 'ONFIDO_URL', 'ONFIDO_TIMEOUT_MS', 'ID_HASH_SECRET']) expect(p.join('\n')).toContain(name);
  });

  it('refuses the public sandbox token and development secrets in production', () => {
    const p = problems({ PROFILE: 'production', INTERNAL_AUTH_SECRET: 'a-real-internal-secret-of-32-chars-or-more!' });
    expect(p.join('\n')).toMatch(/ONFIDO_API_TOKEN/);
    expect(p.join('\n')).toMatch(/ID_HASH_SECRET/);
    expect(
      loadIdentityConfig({
        PROFILE: 'production',
        INTERNAL_AUTH_SECRET: 'a-real-internal-secret-of-32-chars-or-more!',
        ONFIDO_API_TOKEN: 'api_live.real-token',
        ID_HASH_SECRET: 'a-real-id-hash-secret-of-32-chars-or-more!!',
      }).PROFILE,
    ).toBe('production');
  });
});
