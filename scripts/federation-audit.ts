/**
 * npm run audit:federation -- <path-to-federation-gateway-audit> [--test <id>] [--min <passed>]
 *
 * Runs the public federation-gateway-audit (github.com/graphql-hive/federation-gateway-audit, The
 * Guild, MIT) against this gateway in directive mode (GATEWAY_AUTHORIZATION=directives), with the
 * audit's own runner: its CLI serves every test case's subgraphs and supergraph, starts the gateway
 * once per case through a run script, waits for it, sends the case's queries and compares the
 * answers. The audit's code stays in its own checkout (given on the command line); nothing of it
 * is copied here.
 *
 * Preparing a checkout (once):
 *   git clone https://github.com/graphql-hive/federation-gateway-audit <dir>
 *   cd <dir> && npm ci --omit=dev --ignore-scripts
 * Only its runtime dependencies are needed (its devDependencies pin packages no longer on the
 * registry): its TypeScript runs on this repository's Node 24 through a module hook that compiles
 * it with this repository's TypeScript (transpileModule, what tsx does for it), maps its `./x.js`
 * imports to `./x.ts`, and, when the checkout has no graphql of its own (a peer dependency that
 * `--omit=dev` leaves out), resolves graphql to this repository's copy.
 *
 * Prints the audit's per-case result lines, the total, and every failing case with its test
 * numbers (the audit's logs in the work folder hold the diffs). Exits 1 when fewer than --min
 * tests passed (default: all), 2 on a usage problem.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const REPO = fileURLToPath(new URL('..', import.meta.url));

function usage(problem?: string): never {
  if (problem) process.stderr.write(`audit:federation: ${problem}\n`);
  process.stderr.write(
    'usage: npm run audit:federation -- <path-to-federation-gateway-audit> [--test <id>] [--min <n>]\n',
  );
  process.exit(problem ? 2 : 0);
}

const args = process.argv.slice(2);
if (args.includes('--help')) usage();
let auditDir: string | undefined;
let only: string | undefined;
let min: number | undefined;
for (let i = 0; i < args.length; i++) {
  const a = args[i]!;
  if (a === '--test') only = args[++i] ?? usage('--test needs a test case id');
  else if (a === '--min') {
    min = Number(args[++i]);
    if (!Number.isInteger(min) || min < 0) usage('--min needs a whole number of tests');
  } else if (a.startsWith('--')) usage(`unknown option ${a}`);
  else if (auditDir) usage(`one audit folder, got ${auditDir} and ${a}`);
  else auditDir = resolve(a);
}
if (!auditDir) usage('give the folder of a federation-gateway-audit checkout');
if (!existsSync(join(auditDir, 'src/cli.ts')))
  usage(`${auditDir} is not a federation-gateway-audit checkout (no src/cli.ts)`);
if (!existsSync(join(auditDir, 'node_modules/fets')))
  usage(`${auditDir} has no dependencies installed: run \`npm ci --omit=dev --ignore-scripts\` in it`);

async function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => ok(port));
    });
  });
}

const work = mkdtempSync(join(tmpdir(), 'federation-audit-'));
const [gatewayPort, auditPort] = [await freePort(), await freePort()];

// The module hook the audit's TypeScript runs with (see the header). Node's type stripping alone
// is not enough: the audit imports types without \`import type\`, which only a compiler can elide.
const hook = join(work, 'hook.mjs');
writeFileSync(
  hook,
  `import { readFileSync } from 'node:fs';
import { createRequire, registerHooks } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
const fromRepo = createRequire(${JSON.stringify(pathToFileURL(join(REPO, 'package.json')).href)});
const ts = fromRepo('typescript');
const audit = ${JSON.stringify(pathToFileURL(auditDir).href + '/src/')};
registerHooks({
  resolve(specifier, context, next) {
    try {
      return next(specifier, context);
    } catch (err) {
      if (specifier.startsWith('.') && specifier.endsWith('.js') && context.parentURL?.startsWith(audit))
        return next(specifier.slice(0, -3) + '.ts', context);
      if (specifier === 'graphql' || specifier.startsWith('graphql/'))
        return { url: pathToFileURL(fromRepo.resolve(specifier)).href, shortCircuit: true };
      throw err;
    }
  },
  load(url, context, next) {
    if (!url.startsWith(audit) || !url.endsWith('.ts')) return next(url, context);
    const { outputText } = ts.transpileModule(readFileSync(fileURLToPath(url), 'utf8'), {
      fileName: fileURLToPath(url),
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, sourceMap: false },
    });
    return { format: 'module', source: outputText, shortCircuit: true };
  },
});
`,
);

// The audit starts the gateway with `sh run.sh <test id>` for every case; exec so that its
// SIGTERM at the end of a case reaches the gateway itself.
const runScript = join(work, 'run.sh');
writeFileSync(
  runScript,
  `#!/bin/sh
exec env PROFILE=sandbox LOG_LEVEL=\${AUDIT_GATEWAY_LOG_LEVEL:-warn} HOST=127.0.0.1 GATEWAY_PORT=${gatewayPort} METRICS_PORT=0 \\
  GATEWAY_AUTHORIZATION=directives GATEWAY_EXPLORER=off SUPERGRAPH_POLL_INTERVAL_MS=0 \\
  SUPERGRAPH="http://localhost:${auditPort}/$1/supergraph" \\
  ${JSON.stringify(process.execPath)} ${JSON.stringify(join(REPO, 'gateway/main.ts'))}
`,
);

const command = only ? ['test-suite', '--test', only] : ['test', '--write', 'results.txt'];
const child = spawn(
  process.execPath,
  [
    '--import',
    pathToFileURL(hook).href,
    join(auditDir, 'src/cli.ts'),
    ...command,
    '--cwd',
    work,
    '--run-script',
    runScript,
    '--graphql',
    `http://127.0.0.1:${gatewayPort}/graphql`,
    '--healthcheck',
    `http://127.0.0.1:${gatewayPort}/healthz`,
    '--port',
    String(auditPort),
    '--reporter',
    'dot',
  ],
  {
    cwd: auditDir,
    stdio: 'inherit',
    // How long the audit waits for each gateway start (its default, 5 s, is short for a loaded machine).
    env: { ...process.env, GATEWAY_TIMEOUT: process.env.GATEWAY_TIMEOUT ?? '60000', NODE_NO_WARNINGS: '1' },
  },
);
const status = await new Promise<number>((ok) => child.once('exit', (code, signal) => ok(code ?? (signal ? 1 : 0))));

if (only) {
  process.stdout.write(`\nlogs: ${join(work, 'logs')}\n`);
  process.exit(status);
}
const resultsFile = join(work, 'results.txt');
if (!existsSync(resultsFile)) {
  process.stderr.write(
    `audit:federation: the audit wrote no results (exit ${status}); logs in ${join(work, 'logs')}\n`,
  );
  process.exit(1);
}
// results.txt: pairs of lines, the case id then one character per test ('.' passed, 'X' failed).
const lines = readFileSync(resultsFile, 'utf8').split('\n');
let passed = 0;
let total = 0;
const failing: string[] = [];
for (let i = 0; i + 1 < lines.length && lines[i] !== ''; i += 2) {
  const id = lines[i]!;
  const marks = lines[i + 1]!;
  total += marks.length;
  passed += [...marks].filter((m) => m === '.').length;
  const failed = [...marks].flatMap((m, n) => (m === 'X' ? [n] : []));
  if (failed.length) failing.push(`${id}: test${failed.length > 1 ? 's' : ''} ${failed.join(', ')} of ${marks.length}`);
}
process.stdout.write(`\nfederation-gateway-audit, directive mode: ${passed} of ${total} passed\n`);
for (const f of failing) process.stdout.write(`  failing ${f}\n`);
process.stdout.write(`logs (per case, with the diff of each failure): ${join(work, 'logs')}\n`);
process.exit(passed >= (min ?? total) ? 0 : 1);
