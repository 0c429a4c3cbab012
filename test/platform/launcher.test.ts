import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launcherPortClaims, launcherProblems } from '../../scripts/start-config.ts';
import { scaled } from '../support/time.ts';

/**
 * Configuration a person can trust (README.md, Configuration), checked on real processes: what
 * `npm start` and each service's own entry point print and exit with when a setting is wrong or a
 * port is taken, and that `npm start` listens where the port variables say.
 */
const root = process.cwd();
const scratch = mkdtempSync(join(tmpdir(), 'launcher-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `node <script>` with exactly `env` on top of a clean environment (no inherited ports or LOG_LEVEL). */
function run(script: string, env: Record<string, string>, args: string[] = []): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(root, script), ...args], {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', PARTNER_SPECS_DIR: process.env.PARTNER_SPECS_DIR ?? '', ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), scaled(60_000));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * What every configuration refusal looks like: status 2, only `<process>: <VARIABLE>: ...` lines, no stack trace or
 * JSON log.
 */
function expectRefusal(result: Run, processName: string): string[] {
  expect(result.code, result.stderr).toBe(2);
  const lines = result.stderr.trimEnd().split('\n');
  for (const line of lines) expect(line).toMatch(new RegExp(`^${processName}: [A-Z][A-Z0-9_]+: \\S`));
  expect(result.stderr).not.toMatch(/^\s+at /m);
  expect(result.stderr).not.toContain('{"level"');
  return lines;
}

let holder: Server;
let takenPort: number;

/** Ports the test can hand out: bound by the OS, then released. */
async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<Server>((resolve) => {
          const s = createServer();
          s.listen(0, '127.0.0.1', () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

beforeAll(async () => {
  // A port held by "another program" for the whole file.
  holder = createServer();
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
  takenPort = (holder.address() as { port: number }).port;
});
afterAll(() => new Promise<void>((resolve) => holder.close(() => resolve())));

/** Every port of the launcher moved to 0 (any free port), so only the one a test sets can collide. */
const anyPorts = {
  GATEWAY_PORT: '0',
  IDENTITY_PORT: '0',
  ACCOUNTS_PORT: '0',
  PAYMENTS_PORT: '0',
  CONSENTS_PORT: '0',
  AUTH_PORT: '0',
  NORTHWIND_PORT: '0',
  RHEINBANK_PORT: '0',
  ONFIDO_PORT: '0',
  METRICS_PORT: '0',
};

describe('npm start', () => {
  it('prints its help for --help and exits 0, listing every port variable with its default', async () => {
    const result = await run('scripts/start.ts', {}, ['--help']);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    expect(result.stdout).toMatch(/^Usage: npm start/);
    for (const claim of launcherPortClaims({}))
      expect(result.stdout).toMatch(new RegExp(`\\b${claim.variable}\\s+${claim.port}\\b`));
  });

  it('refuses an unknown argument with status 2 and one line', async () => {
    const result = await run('scripts/start.ts', {}, ['--gateway-port=5000']);
    expect(result.code).toBe(2);
    expect(result.stderr.trimEnd().split('\n')).toEqual([expect.stringMatching(/^platform: .*gateway-port.*--help/)]);
  });

  it('names every bad variable once, with the value and what is allowed, and never a secret', async () => {
    const pgliteDir = join(scratch, 'bad-config');
    const result = await run('scripts/start.ts', {
      LOG_LEVEL: 'verbose',
      GATEWAY_PORT: 'http',
      CONSENTS_MAX_PENDING_PER_CLIENT: '0',
      INTERNAL_AUTH_SECRET: 'too-short-to-sign',
      PGLITE_DIR: pgliteDir,
    });
    const lines = expectRefusal(result, 'platform');
    expect(lines).toEqual(
      expect.arrayContaining([
        'platform: LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent, got "verbose"',
        'platform: GATEWAY_PORT: must be a whole number from 0 to 65535, got "http"',
        'platform: CONSENTS_MAX_PENDING_PER_CLIENT: must be a whole number from 1 to 100, got "0"',
        'platform: INTERNAL_AUTH_SECRET: must be at least 32 bytes (UTF-8)',
      ]),
    );
    expect(lines.filter((l) => l.includes('LOG_LEVEL'))).toHaveLength(1);
    expect(result.stderr).not.toContain('too-short-to-sign');
    expect(result.stdout).toBe('');
    expect(existsSync(pgliteDir)).toBe(false);
  });

  it('reports a port another program holds before starting anything, naming the port and its variable', async () => {
    const pgliteDir = join(scratch, 'port-taken');
    const result = await run('scripts/start.ts', {
      ...anyPorts,
      ONFIDO_PORT: String(takenPort),
      PGLITE_DIR: pgliteDir,
      LOG_LEVEL: 'info',
    });
    const lines = expectRefusal(result, 'platform');
    expect(lines).toEqual([
      expect.stringMatching(
        new RegExp(
          `^platform: ONFIDO_PORT: port ${takenPort} on 127\\.0\\.0\\.1 is already in use .*set ONFIDO_PORT to a free port`,
        ),
      ),
    ]);
    // Nothing was started: no log line, no banner, no database.
    expect(result.stdout).toBe('');
    expect(existsSync(pgliteDir)).toBe(false);
  });

  it('reports two parts asked to share one port', async () => {
    const [port] = await freePorts(1);
    const result = await run('scripts/start.ts', { ...anyPorts, GATEWAY_PORT: String(port), AUTH_PORT: String(port) });
    expect(expectRefusal(result, 'platform')).toEqual([
      `platform: AUTH_PORT: port ${port} is also GATEWAY_PORT; give each its own port`,
    ]);
  });

  it('checks a PARTNER_SPECS_DIR that lacks the specs as a setting', async () => {
    const result = await run('scripts/start.ts', { ...anyPorts, PARTNER_SPECS_DIR: join(scratch, 'no-specs-here') });
    expect(expectRefusal(result, 'platform')).toEqual([
      expect.stringMatching(/^platform: PARTNER_SPECS_DIR: ".*no-specs-here" lacks obie-account-info-4\.0\.json/),
    ]);
  });

  it(
    'listens where the port variables say, every part of it',
    async () => {
      const ports = await freePorts(10);
      const env = Object.fromEntries(Object.keys(anyPorts).map((key, i) => [key, String(ports[i])]));
      const child = spawn(process.execPath, [join(root, 'scripts/start.ts')], {
        cwd: root,
        env: {
          PATH: process.env.PATH ?? '',
          PARTNER_SPECS_DIR: process.env.PARTNER_SPECS_DIR ?? '',
          ...env,
          PGLITE_DIR: 'memory://',
          LOG_LEVEL: 'warn',
        },
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
      try {
        await new Promise<void>((resolve, reject) => {
          child.stdout.on('data', () => stdout.includes('Ctrl-C') && resolve());
          void exited.then((code) => reject(new Error(`npm start exited with ${code} before it was ready: ${stderr}`)));
        });
        expect(stdout).toContain(`http://localhost:${env.GATEWAY_PORT}/graphql`);
        // The token command is pointed at the authorization server where AUTH_PORT moved it.
        expect(stdout).toContain(`AUTH_ISSUER=http://127.0.0.1:${env.AUTH_PORT} npm run -s token`);
        for (const variable of [
          'GATEWAY_PORT',
          'IDENTITY_PORT',
          'ACCOUNTS_PORT',
          'PAYMENTS_PORT',
          'CONSENTS_PORT',
          'AUTH_PORT',
          'NORTHWIND_PORT',
          'RHEINBANK_PORT',
          'ONFIDO_PORT',
        ]) {
          const res = await fetch(`http://127.0.0.1:${env[variable]}/healthz`);
          expect(res.status, variable).toBe(200);
        }
        expect((await fetch(`http://127.0.0.1:${env.METRICS_PORT}/metrics`)).status).toBe(200);
      } finally {
        child.kill('SIGTERM');
        await exited;
      }
    },
    scaled(120_000),
  );
});

describe('each part run on its own', () => {
  it.each([
    ['gateway', 'gateway/main.ts'],
    ['identity', 'subgraphs/identity/main.ts'],
    ['accounts', 'subgraphs/accounts/main.ts'],
    ['payments', 'subgraphs/payments/main.ts'],
    ['consents', 'subgraphs/consents/main.ts'],
    ['sandboxes', 'sandboxes/main.ts'],
  ])('%s: a bad setting exits with status 2 and one line naming it', async (name, script) => {
    const result = await run(script, { LOG_LEVEL: 'verbose' });
    expect(expectRefusal(result, name)).toEqual([
      `${name}: LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent, got "verbose"`,
    ]);
  });

  it.each([
    ['gateway', 'gateway/main.ts', 'GATEWAY_PORT'],
    ['accounts', 'subgraphs/accounts/main.ts', 'ACCOUNTS_PORT'],
    ['consents', 'subgraphs/consents/main.ts', 'METRICS_PORT'],
    ['sandboxes', 'sandboxes/main.ts', 'RHEINBANK_PORT'],
  ])(
    '%s (%s): a port in use is reported before the service starts, naming its variable',
    async (name, script, variable) => {
      const result = await run(script, {
        ...anyPorts,
        [variable]: String(takenPort),
        PGLITE_DIR: 'memory://',
        LOG_LEVEL: 'info',
      });
      expect(expectRefusal(result, name)).toEqual([
        expect.stringMatching(
          new RegExp(`^${name}: ${variable}: port ${takenPort} on 127\\.0\\.0\\.1 is already in use`),
        ),
      ]);
      expect(result.stdout).toBe('');
    },
  );

  it('gateway: a SUPERGRAPH that is not there is a setting to fix, not a crash', async () => {
    const result = await run('gateway/main.ts', {
      ...anyPorts,
      SUPERGRAPH: join(scratch, 'missing.graphql'),
      LOG_LEVEL: 'silent',
    });
    expect(expectRefusal(result, 'gateway')).toEqual([
      expect.stringMatching(/^gateway: SUPERGRAPH: could not read the supergraph from SUPERGRAPH=.*missing\.graphql/),
    ]);
  });

  it('npm run token: a bad AUTH_PORT or argument exits with status 2 and one line; a server that is not there with 1', async () => {
    const badPort = await run('scripts/token.ts', { AUTH_PORT: 'eighty' }, [
      '--customer',
      'cus_u57fz5zj7ojayz6np3d6x6kon4',
    ]);
    expect(expectRefusal(badPort, 'token')).toEqual([
      'token: AUTH_PORT: must be a whole number from 0 to 65535, got "eighty"',
    ]);
    const badArg = await run('scripts/token.ts', {}, ['--custmer', 'x']);
    expect(badArg.code).toBe(2);
    expect(badArg.stderr.trimEnd().split('\n')).toHaveLength(1);
    const [nobody] = await freePorts(1);
    const down = await run('scripts/token.ts', { AUTH_PORT: String(nobody) }, [
      '--customer',
      'cus_u57fz5zj7ojayz6np3d6x6kon4',
    ]);
    expect(down.code).toBe(1);
    expect(down.stderr).toContain(`http://127.0.0.1:${nobody} is not running`);
  });
});

describe('the launcher configuration (scripts/start-config.ts)', () => {
  it('takes every port from the same variable as the part run alone', () => {
    const env = {
      GATEWAY_PORT: '5000',
      IDENTITY_PORT: '5001',
      AUTH_PORT: '5100',
      METRICS_PORT: '5900',
      HOST: '0.0.0.0',
      SANDBOX_HOST: '127.0.0.2',
    };
    expect(launcherProblems(env)).toEqual([]);
    const claims = Object.fromEntries(launcherPortClaims(env).map((c) => [c.variable, c]));
    expect(claims.GATEWAY_PORT).toEqual({
      variable: 'GATEWAY_PORT',
      port: 5000,
      host: '0.0.0.0',
      hostVariable: 'HOST',
    });
    expect(claims.IDENTITY_PORT).toMatchObject({ port: 5001, host: '0.0.0.0' });
    expect(claims.ACCOUNTS_PORT).toMatchObject({ port: 4002 });
    expect(claims.AUTH_PORT).toEqual({
      variable: 'AUTH_PORT',
      port: 5100,
      host: '127.0.0.2',
      hostVariable: 'SANDBOX_HOST',
    });
    expect(claims.METRICS_PORT).toMatchObject({ port: 5900, host: '127.0.0.1', hostVariable: 'METRICS_HOST' });
  });
});
