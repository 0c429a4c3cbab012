import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPlatform, type RunningPlatform } from '../../scripts/platform.ts';
import { gql, logger } from './helpers.ts';
import { scaled } from '../support/time.ts';

/**
 * Smoke test of the launcher and the token script on free ports with in-memory PGlite:
 * sandboxes → subgraphs → gateway, a token minted by `npm run token`, a query crossing
 * subgraphs, and a clean stop. (The full end-to-end suite lives with the lead.)
 */
const exec = promisify(execFile);
const TOKEN_SCRIPT = fileURLToPath(new URL('../../scripts/token.ts', import.meta.url));
const ALICE = 'cus_u57fz5zj7ojayz6np3d6x6kon4';

let platform: RunningPlatform;

beforeAll(async () => {
  platform = await startPlatform({ ports: 'free', env: { PGLITE_DIR: 'memory://', DATABASE_URL: undefined }, logger });
}, scaled(120_000));

afterAll(async () => {
  await platform?.close();
});

function token(args: string[]) {
  return exec(process.execPath, [TOKEN_SCRIPT, ...args], { env: { ...process.env, AUTH_ISSUER: platform.urls.auth } });
}

describe('platform launcher', () => {
  it('serves a cross-subgraph query through the gateway with a token from npm run token', async () => {
    const { stdout } = await token(['--customer', ALICE]);
    const accessToken = stdout.trim();
    expect(accessToken.split('.')).toHaveLength(3);
    const res = await gql(platform.gatewayUrl, '{ me { id displayName consents { status client { id } } } }', {
      token: accessToken,
    });
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data).toMatchObject({ me: { id: ALICE, displayName: 'Alice' } });
    const ready = await fetch(platform.gatewayUrl.replace(/graphql$/, 'readyz'));
    const report = (await ready.json()) as {
      checks: Record<string, boolean>;
      dependencies: Record<string, { reachable: boolean; breaker: string }>;
    };
    expect(report.checks).toMatchObject({ jwks: true });
    for (const subgraph of ['identity', 'accounts', 'payments', 'consents'])
      expect(report.dependencies[`subgraph:${subgraph}`]).toMatchObject({ reachable: true, breaker: 'closed' });
  });

  it('npm run token explains what is wrong', async () => {
    const unknown = await token(['--customer', 'cus_aaaaaaaaaaaaaaaaaaaaaaaaaa']).catch(
      (e: { stderr: string; code: number }) => e,
    );
    expect(unknown).toMatchObject({ code: 2 }); // a wrong argument, like a wrong setting (README.md, Configuration)
    expect((unknown as { stderr: string }).stderr).toMatch(/unknown customer/);
    const scope = await token(['--customer', ALICE, '--client', 'budgetly', '--scopes', 'payments:write']).catch(
      (e: { stderr: string }) => e,
    );
    expect((scope as { stderr: string }).stderr).toMatch(/budgetly may not be granted payments:write/);
    const down = await exec(process.execPath, [TOKEN_SCRIPT, '--customer', ALICE], {
      env: { ...process.env, AUTH_ISSUER: 'http://127.0.0.1:9' },
    }).catch((e: { stderr: string }) => e);
    expect((down as { stderr: string }).stderr).toMatch(/start the platform with npm start first/);
  });
});
