import { describe, expect, it } from 'vitest';
import { ConfigError, DEV_ID_HASH_SECRET } from '../../lib/config.ts';
import { PLATFORM_PARTNER_CREDENTIALS } from '../../sandboxes/manifest.ts';
import { loadIdentityConfig } from '../../subgraphs/identity/config.ts';

function problems(env: Record<string, string | undefined>): string[] {
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
      ID_HASH_SECRET: DEV_ID_HASH_SECRET,
      PGLITE_DIR: 'memory://',
    });
  });

  it('takes the Onfido token from configuration only: none by default, the sandbox token when the launcher sets it', () => {
    expect(loadIdentityConfig({}).ONFIDO_API_TOKEN).toBeUndefined();
    expect(loadIdentityConfig({ ONFIDO_API_TOKEN: PLATFORM_PARTNER_CREDENTIALS.onfidoApiToken }).ONFIDO_API_TOKEN).toBe(
      PLATFORM_PARTNER_CREDENTIALS.onfidoApiToken,
    );
  });

  it('names every bad variable', () => {
    const p = problems({
      IDENTITY_PORT: 'abc',
      ONFIDO_URL: 'ftp://x',
      ONFIDO_TIMEOUT_MS: '0',
      ID_HASH_SECRET: 'short',
    });
    for (const name of ['IDENTITY_PORT', 'ONFIDO_URL', 'ONFIDO_TIMEOUT_MS', 'ID_HASH_SECRET'])
      expect(p.join('\n')).toContain(name);
  });

  it('refuses the public sandbox token, the sandbox URL and development secrets in production', () => {
    const p = problems({ PROFILE: 'production', INTERNAL_AUTH_SECRET: 'a-real-internal-secret-of-32-chars-or-more!' });
    expect(p.join('\n')).toMatch(/ONFIDO_API_TOKEN/);
    expect(p.join('\n')).toMatch(/ONFIDO_URL/);
    expect(p.join('\n')).toMatch(/ID_HASH_SECRET/);
    const real = {
      PROFILE: 'production',
      INTERNAL_AUTH_SECRET: 'a-real-internal-secret-of-32-chars-or-more!',
      ONFIDO_URL: 'https://api.eu.onfido.com',
      ONFIDO_API_TOKEN: 'api_live.a-real-onfido-token-0123456789abcdef',
      ID_HASH_SECRET: 'a-real-id-hash-secret-of-32-chars-or-more!!',
      ONFIDO_WEBHOOK_TOKEN: 'a-real-onfido-webhook-token-0123456789abcdef',
    };
    expect(loadIdentityConfig(real).PROFILE).toBe('production');
    // The webhook route is on by default: production needs the token it verifies with, unless it is switched off.
    const { ONFIDO_WEBHOOK_TOKEN: _token, ...withoutToken } = real;
    expect(problems(withoutToken)).toEqual([expect.stringMatching(/^ONFIDO_WEBHOOK_TOKEN is required in production/)]);
    expect(loadIdentityConfig({ ...withoutToken, ONFIDO_WEBHOOKS: 'off' }).ONFIDO_WEBHOOKS).toBe('off');
    expect(problems({ ...real, ONFIDO_WEBHOOK_TOKEN: 'short' })).toEqual([
      'ONFIDO_WEBHOOK_TOKEN: must be at least 32 bytes (UTF-8)',
    ]);
    // A real token is long: the 32-byte floor of every secret applies to partner credentials too.
    expect(problems({ ...real, ONFIDO_API_TOKEN: 'api_live.short' })).toEqual([
      'ONFIDO_API_TOKEN: must be at least 32 bytes (UTF-8)',
    ]);
    expect(problems({ ...real, INTERNAL_AUTH_PREVIOUS_SECRET: PLATFORM_PARTNER_CREDENTIALS.onfidoApiToken })).toEqual([
      expect.stringMatching(/^INTERNAL_AUTH_PREVIOUS_SECRET: is a publicly known/),
    ]);
  });
});
