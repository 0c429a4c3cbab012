import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { scaled } from '../support/time.ts';

/**
 * The sandboxes are stand-ins for partners, reached over HTTP: the product (gateway/, subgraphs/,
 * lib/) must build and run with sandboxes/ deleted (issue 9). Seed data reaches the subgraphs as
 * a file (SEED_FILE) and partner credentials as configuration, never through an import.
 */
const root = process.cwd();
const ENTRIES = [
  'gateway/main.ts',
  'subgraphs/identity/main.ts',
  'subgraphs/accounts/main.ts',
  'subgraphs/payments/main.ts',
  'subgraphs/consents/main.ts',
];

/** Relative module specifiers of a file, static and dynamic (`import('./server.ts')`), type-only ones included. */
function relativeImports(file: string): string[] {
  const text = readFileSync(file, 'utf8')
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
  const found = [...text.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)['"](\.{1,2}\/[^'"]+)['"]/g)].map((m) => m[1]!);
  return found.map((spec) => resolve(dirname(file), spec));
}

/** Every file an entry reaches through relative imports. */
function importGraph(entry: string): Set<string> {
  const seen = new Set<string>();
  const queue = [resolve(root, entry)];
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (seen.has(file) || !file.endsWith('.ts')) continue;
    seen.add(file);
    queue.push(...relativeImports(file));
  }
  return seen;
}

describe('the product without the sandboxes', () => {
  it.each(ENTRIES)('%s never reaches sandboxes/ through its imports', (entry) => {
    const graph = [...importGraph(entry)].map((f) => relative(root, f));
    expect(graph.some((f) => f.endsWith('/server.ts'))).toBe(true);
    expect(graph.filter((f) => f.startsWith('sandboxes/'))).toEqual([]);
  });

  const copy = mkdtempSync(join(tmpdir(), 'no-sandboxes-'));
  let partner: Server | undefined;
  afterAll(async () => {
    await new Promise<void>((done) => (partner ? partner.close(() => done()) : done()));
    rmSync(copy, { recursive: true, force: true });
  });

  it(
    'starts a subgraph from a copy without sandboxes/, against a configured partner URL and token',
    async () => {
      for (const dir of ['gateway', 'lib', 'subgraphs', 'schema'])
        cpSync(join(root, dir), join(copy, dir), { recursive: true });
      cpSync(join(root, 'package.json'), join(copy, 'package.json'));
      symlinkSync(join(root, 'node_modules'), join(copy, 'node_modules'), 'dir');
      // A partner stand-in that is not the sandbox: the subgraph only needs a URL to reach.
      partner = createServer((_req, res) => res.writeHead(404).end());
      await new Promise<void>((done) => partner!.listen(0, '127.0.0.1', done));
      const address = partner.address() as { port: number };
      const child = spawn(process.execPath, [join(copy, 'subgraphs/identity/main.ts')], {
        cwd: copy,
        env: {
          PATH: process.env.PATH ?? '',
          IDENTITY_PORT: '0',
          METRICS_PORT: '0',
          PGLITE_DIR: 'memory://',
          ONFIDO_URL: `http://127.0.0.1:${address.port}`,
          ONFIDO_API_TOKEN: 'configured-onfido-token-0123456789abcdef',
          LOG_LEVEL: 'info',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
      const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
      const deadline = Date.now() + scaled(60_000);
      while (!out.includes('identity subgraph listening') && child.exitCode === null && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 100));
      expect(out, out).toContain('identity subgraph listening');
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    },
    scaled(90_000),
  );
});
