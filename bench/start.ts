/**
 * Start-up time and memory (issue 8, "fast and lean"): `npm run bench:start`.
 *
 * Two ways the product is run, each started three times on the same, initially empty, PGlite
 * data directory: start 1 is a first start (the database is created), starts 2 and 3 are cold
 * starts with existing data (a fresh process, the data directory already on disk). Before start 1
 * the machine's snapshot of a fresh PGlite database (lib/database.ts, node_modules/.cache) is
 * removed, so that start 1 is what a fresh clone does: run initdb (and write the snapshot again).
 *
 * - `platform`: `npm start` exactly as a user types it (npm, its shell and the all-in-one launcher
 *   scripts/start.ts), on the default ports, with PGLITE_DIR pointing at the bench's directory.
 *   Every service runs in one process, so memory is reported per process of the tree and in total.
 * - `services`: one process per service, as docker-compose runs them (node sandboxes/main.ts,
 *   node subgraphs/<name>/main.ts, node gateway/main.ts), each subgraph with its own PGlite
 *   directory: memory per service and in total.
 *
 * Ready means what an operator waits for: the gateway's /readyz answers 200, which it does only
 * when every subgraph's /readyz does and the authorization server's JWKS answers. The time of the
 * gateway's first answer of any kind (/healthz) and of each subgraph's /readyz are reported too.
 * RSS (resident set size, from /proc, summed over the process tree) is read at ready, at its
 * highest while starting, and once more after BENCH_SETTLE_MS. Each start is then stopped the way
 * a person does (SIGINT to the whole process group, like Ctrl-C); the stop time and exit status
 * are reported.
 *
 * Linux only (/proc). Prints Markdown tables; no pass/fail on the numbers.
 *
 * Options (environment): BENCH_MODES (platform,services), BENCH_STARTS (3), BENCH_SETTLE_MS (2000),
 * BENCH_READY_TIMEOUT_MS (180000), BENCH_PGLITE_DIR (a fresh temporary directory, removed at the end).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { snapshotFile } from '../lib/database.ts';
import { intFromEnv } from './load.ts';

const root = fileURLToPath(new URL('../', import.meta.url));

type Mode = 'platform' | 'services';
const SUBGRAPHS = ['identity', 'accounts', 'payments', 'consents'] as const;
type Subgraph = (typeof SUBGRAPHS)[number];
const PORTS = {
  gateway: 4000,
  identity: 4001,
  accounts: 4002,
  payments: 4003,
  consents: 4004,
  auth: 4100,
  northwind: 4101,
  rheinbank: 4102,
  onfido: 4103,
} as const;
const METRICS_PORTS = [9400, 9401, 9402, 9403, 9404];
const POLL_MS = 100;

interface ProcessMemory {
  pid: number;
  command: string;
  rssMb: number;
}

/** One start: when each milestone was reached (ms since spawn) and the memory of each process tree. */
export interface StartResult {
  mode: Mode;
  index: number;
  data: 'first start' | 'existing data';
  gatewayAnswersMs: number;
  readyMs: number;
  subgraphReadyMs: Record<Subgraph, number>;
  /** Per service (services mode) or per process of the `npm start` tree (platform mode). */
  parts: { name: string; readyMs?: number; rssAtReadyMb: number; rssSettledMb: number; peakMb: number }[];
  totalAtReadyMb: number;
  totalSettledMb: number;
  totalPeakMb: number;
  stopMs: number;
  exitCodes: string;
}

/** Linux x86-64 and arm64 page size, the unit of /proc/<pid>/statm. */
const PAGE_BYTES = 4096;

/** Every descendant of pid (and pid itself), from the ppid field of /proc/<pid>/stat. */
function processTree(pid: number): number[] {
  const parent = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // The command may contain spaces and parentheses: the fields after the last ')' are fixed.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ppid = Number(fields[1]);
      parent.set(ppid, [...(parent.get(ppid) ?? []), Number(entry)]);
    } catch {
      // The process ended while the table was read.
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    out.push(p);
    for (const c of parent.get(p) ?? []) walk(c);
  };
  walk(pid);
  return out;
}

function memoryOf(pid: number): ProcessMemory | undefined {
  try {
    const statm = readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ');
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    const command = cmdline
      .map((arg, i) => (i === 0 ? arg.split('/').pop()! : arg.startsWith(root) ? arg.slice(root.length) : arg))
      .join(' ')
      .slice(0, 60);
    return { pid, command, rssMb: (Number(statm[1]) * PAGE_BYTES) / 1024 / 1024 };
  } catch {
    return undefined;
  }
}

function treeMemory(pid: number): ProcessMemory[] {
  return processTree(pid)
    .map(memoryOf)
    .filter((m): m is ProcessMemory => m !== undefined);
}

async function status(url: string): Promise<number | undefined> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(1_000) });
    await res.body?.cancel();
    return res.status;
  } catch {
    return undefined;
  }
}

function portTaken(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function checkPortsFree(): Promise<void> {
  const ports = [...Object.values(PORTS), ...METRICS_PORTS];
  const taken = (await Promise.all(ports.map(async (p) => ((await portTaken(p)) ? p : undefined)))).filter(
    (p) => p !== undefined,
  );
  if (taken.length > 0) {
    console.error(
      `bench:start needs the default ports; in use: ${taken.join(', ')} (is the platform already running?)`,
    );
    process.exit(1);
  }
}

interface Launched {
  name: string;
  child: ChildProcess;
  output: string[];
}

function launch(name: string, command: string, args: string[], env: Record<string, string>): Launched {
  const child = spawn(command, args, {
    cwd: root,
    env: { ...process.env, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    // A process group of its own, so that SIGINT reaches every process of the tree, as Ctrl-C does.
    detached: true,
  });
  const output: string[] = [];
  const keep = (chunk: Buffer) => {
    output.push(chunk.toString());
    if (output.length > 200) output.shift();
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  return { name, child, output };
}

function exited(l: Launched): Promise<number | string> {
  if (l.child.exitCode !== null) return Promise.resolve(l.child.exitCode);
  if (l.child.signalCode !== null) return Promise.resolve(l.child.signalCode);
  return new Promise((resolve) => l.child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')));
}

async function runOnce(
  mode: Mode,
  index: number,
  dataDir: string,
  readyTimeoutMs: number,
  settleMs: number,
): Promise<StartResult> {
  await checkPortsFree();
  const spawnedAt = performance.now();
  const since = () => Math.round(performance.now() - spawnedAt);
  const launched: Launched[] = [];
  if (mode === 'platform') {
    // Info-level logs, so that the launcher's own "platform stopped" line tells how it ended (npm
    // itself, given the same SIGINT as its child, reports the signal rather than the child's status).
    launched.push(launch('npm start', 'npm', ['start', '--silent'], { PGLITE_DIR: dataDir, LOG_LEVEL: 'info' }));
  } else {
    launched.push(launch('sandboxes', process.execPath, ['sandboxes/main.ts'], {}));
    for (const name of SUBGRAPHS)
      launched.push(launch(name, process.execPath, [`subgraphs/${name}/main.ts`], { PGLITE_DIR: join(dataDir, name) }));
    launched.push(launch('gateway', process.execPath, ['gateway/main.ts'], {}));
  }
  const failure = Promise.race(
    launched.map(async (l) => {
      const code = await exited(l);
      throw new Error(`${l.name} exited (${code}) before the platform was ready:\n${l.output.join('').slice(-2000)}`);
    }),
  );
  failure.catch(() => {});

  const memory = () => new Map(launched.map((l) => [l.name, treeMemory(l.child.pid!)]));
  const peaks = new Map<string, number>();
  const samplePeaks = () => {
    for (const [name, procs] of memory()) {
      if (mode === 'platform')
        for (const p of procs) peaks.set(`${p.pid}`, Math.max(peaks.get(`${p.pid}`) ?? 0, p.rssMb));
      else
        peaks.set(
          name,
          Math.max(
            peaks.get(name) ?? 0,
            procs.reduce((s, p) => s + p.rssMb, 0),
          ),
        );
    }
  };

  let gatewayAnswersMs: number | undefined;
  const subgraphReadyMs: Partial<Record<Subgraph, number>> = {};
  const sandboxesReadyMs: { value?: number } = {};
  let readyMs: number | undefined;
  const deadline = performance.now() + readyTimeoutMs;
  const poll = (async () => {
    while (readyMs === undefined) {
      if (performance.now() > deadline) throw new Error(`not ready within ${readyTimeoutMs} ms`);
      samplePeaks();
      const [health, ready, jwks, ...subgraphs] = await Promise.all([
        gatewayAnswersMs === undefined ? status(`http://127.0.0.1:${PORTS.gateway}/healthz`) : Promise.resolve(200),
        status(`http://127.0.0.1:${PORTS.gateway}/readyz`),
        sandboxesReadyMs.value === undefined
          ? status(`http://127.0.0.1:${PORTS.auth}/jwks.json`)
          : Promise.resolve(200),
        ...SUBGRAPHS.map((s) =>
          subgraphReadyMs[s] === undefined ? status(`http://127.0.0.1:${PORTS[s]}/readyz`) : Promise.resolve(200),
        ),
      ]);
      const at = since();
      if (health !== undefined) gatewayAnswersMs ??= at;
      if (jwks === 200) sandboxesReadyMs.value ??= at;
      SUBGRAPHS.forEach((s, i) => {
        if (subgraphs[i] === 200) subgraphReadyMs[s] ??= at;
      });
      if (ready === 200) readyMs = at;
      else await new Promise((r) => setTimeout(r, POLL_MS));
    }
  })();
  try {
    await Promise.race([poll, failure]);
  } catch (err) {
    for (const l of launched) if (l.child.exitCode === null) process.kill(-l.child.pid!, 'SIGKILL');
    throw err;
  }

  const atReady = memory();
  samplePeaks();
  await new Promise((r) => setTimeout(r, settleMs));
  samplePeaks();
  const settled = memory();

  const parts: StartResult['parts'] = [];
  if (mode === 'platform') {
    const procs = atReady.get('npm start') ?? [];
    const later = new Map((settled.get('npm start') ?? []).map((p) => [p.pid, p]));
    for (const p of procs)
      parts.push({
        name: p.command,
        rssAtReadyMb: p.rssMb,
        rssSettledMb: later.get(p.pid)?.rssMb ?? 0,
        peakMb: peaks.get(`${p.pid}`) ?? p.rssMb,
      });
  } else {
    const sum = (procs: ProcessMemory[] | undefined) => (procs ?? []).reduce((s, p) => s + p.rssMb, 0);
    for (const l of launched) {
      const readyAt =
        l.name === 'gateway'
          ? readyMs
          : l.name === 'sandboxes'
            ? sandboxesReadyMs.value
            : subgraphReadyMs[l.name as Subgraph];
      parts.push({
        name: l.name,
        ...(readyAt !== undefined ? { readyMs: readyAt } : {}),
        rssAtReadyMb: sum(atReady.get(l.name)),
        rssSettledMb: sum(settled.get(l.name)),
        peakMb: peaks.get(l.name) ?? 0,
      });
    }
  }

  // Stop as a person does: SIGINT to each process group (Ctrl-C), then wait for every exit.
  const stopAt = performance.now();
  for (const l of launched) process.kill(-l.child.pid!, 'SIGINT');
  const codes = await Promise.all(launched.map(exited));
  const stopMs = Math.round(performance.now() - stopAt);
  if (mode === 'platform') {
    const output = launched[0]!.output.join('');
    codes.push(
      output.includes('"msg":"platform stopped"') ? 'launcher stopped cleanly' : 'launcher did not log a clean stop',
    );
  }

  const total = (key: 'rssAtReadyMb' | 'rssSettledMb' | 'peakMb') => parts.reduce((s, p) => s + p[key], 0);
  return {
    mode,
    index,
    data: index === 1 ? 'first start' : 'existing data',
    gatewayAnswersMs: gatewayAnswersMs ?? readyMs!,
    readyMs: readyMs!,
    subgraphReadyMs: subgraphReadyMs as Record<Subgraph, number>,
    parts,
    totalAtReadyMb: total('rssAtReadyMb'),
    totalSettledMb: total('rssSettledMb'),
    totalPeakMb: total('peakMb'),
    stopMs,
    exitCodes: [...new Set(codes.map(String))].join(','),
  };
}

const s = (ms: number | undefined) => (ms === undefined ? '–' : (ms / 1000).toFixed(1));
const mb = (v: number) => v.toFixed(0);

export function formatStartResults(results: StartResult[]): string {
  const lines: string[] = [];
  for (const mode of ['platform', 'services'] as const) {
    const rows = results.filter((r) => r.mode === mode);
    if (rows.length === 0) continue;
    lines.push(
      '',
      mode === 'platform'
        ? '### npm start (every service in one process)'
        : '### one process per service (as docker-compose runs them)',
      '',
    );
    lines.push(
      '| start | data | gateway answers (s) | ready (s) | identity / accounts / payments / consents ready (s) | RSS at ready (MB) | RSS after settling (MB) | peak RSS (MB) | stop (s) | exit |',
    );
    lines.push('|---|---|---|---|---|---|---|---|---|---|');
    for (const r of rows) {
      const subgraphs = SUBGRAPHS.map((n) => s(r.subgraphReadyMs[n])).join(' / ');
      lines.push(
        `| ${r.index} | ${r.data} | ${s(r.gatewayAnswersMs)} | ${s(r.readyMs)} | ${subgraphs} | ${mb(r.totalAtReadyMb)} | ${mb(r.totalSettledMb)} | ${mb(r.totalPeakMb)} | ${s(r.stopMs)} | ${r.exitCodes} |`,
      );
    }
    lines.push(
      '',
      mode === 'platform'
        ? 'RSS per process of the `npm start` tree (MB: at ready / after settling / peak):'
        : 'Per service (ready s; RSS MB at ready / after settling / peak):',
      '',
    );
    lines.push(
      `| ${mode === 'platform' ? 'process' : 'service'} | ${rows.map((r) => `start ${r.index}`).join(' | ')} |`,
    );
    lines.push(`|---|${rows.map(() => '---').join('|')}|`);
    const names = [...new Set(rows.flatMap((r) => r.parts.map((p) => p.name)))];
    for (const name of names) {
      const cells = rows.map((r) => {
        const p = r.parts.find((x) => x.name === name);
        if (!p) return '–';
        return `${p.readyMs !== undefined ? `${s(p.readyMs)} s; ` : ''}${mb(p.rssAtReadyMb)} / ${mb(p.rssSettledMb)} / ${mb(p.peakMb)}`;
      });
      lines.push(`| ${name} | ${cells.join(' | ')} |`);
    }
    lines.push(
      `| total | ${rows.map((r) => `${mb(r.totalAtReadyMb)} / ${mb(r.totalSettledMb)} / ${mb(r.totalPeakMb)}`).join(' | ')} |`,
    );
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const modes = (process.env.BENCH_MODES ?? 'platform,services').split(',').map((m) => m.trim());
  for (const m of modes) {
    if (m !== 'platform' && m !== 'services') {
      console.error(`BENCH_MODES: unknown mode ${JSON.stringify(m)}; allowed: platform, services`);
      process.exit(2);
    }
  }
  const starts = intFromEnv('BENCH_STARTS', 3);
  const settleMs = intFromEnv('BENCH_SETTLE_MS', 2_000);
  const readyTimeoutMs = intFromEnv('BENCH_READY_TIMEOUT_MS', 180_000);
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  console.log(
    `bench:start on Node ${process.version}, ${(await import('node:os')).availableParallelism()} CPUs, load average ${load}`,
  );
  const results: StartResult[] = [];
  for (const mode of modes as Mode[]) {
    const dataDir = process.env.BENCH_PGLITE_DIR ?? mkdtempSync(join(tmpdir(), `bench-start-${mode}-`));
    try {
      for (let i = 1; i <= starts; i++) {
        // A cache, rebuilt by the start itself: removing it makes start 1 a fresh clone's first start.
        const snapshot = snapshotFile();
        if (i === 1 && snapshot) rmSync(snapshot, { force: true });
        const r = await runOnce(mode, i, dataDir, readyTimeoutMs, settleMs);
        console.log(
          `${mode} start ${i} (${r.data}): ready in ${s(r.readyMs)} s, ${mb(r.totalSettledMb)} MB after settling, stopped in ${s(r.stopMs)} s with ${r.exitCodes}`,
        );
        results.push(r);
      }
    } finally {
      if (!process.env.BENCH_PGLITE_DIR) rmSync(dataDir, { recursive: true, force: true });
    }
  }
  console.log(formatStartResults(results));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await main();
}
