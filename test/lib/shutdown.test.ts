import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, createServer as createTcpServer } from 'node:net';
import { join } from 'node:path';
import { ApolloServer } from '@apollo/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGraphQLHttpServer, drainServer, listen, markNotReady } from '../../lib/http-server.ts';
import { createLogger } from '../../lib/logger.ts';
import { startSandboxes, type RunningSandboxes } from '../../sandboxes/index.ts';
import { PLATFORM_PARTNER_CREDENTIALS } from '../../sandboxes/manifest.ts';
import { ALICE, principalOf } from '../support/customers.ts';
import { SANDBOX_SEED_FILE } from '../support/seed.ts';
import { callSubgraph } from '../support/subgraph-client.ts';
import { scaled } from '../support/time.ts';

/**
 * Graceful stop (issue 8): on SIGINT/SIGTERM a process turns not ready, stops accepting, lets
 * what is in flight finish within SHUTDOWN_DRAIN_MS, closes its connections and exits 0; a second
 * signal exits at once. Requests are held in flight by a gate the test opens (a partner behind a
 * holding proxy), so nothing here depends on how fast the machine is.
 */
const logger = createLogger('test', 'silent');
const root = process.cwd();

/** What a new connection to the port meets: 'ECONNREFUSED' once nothing listens there any more. */
function connectOutcome(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve('accepted');
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

/** A gate: requests wait at it until it is opened. `arrived` resolves when the first one is waiting. */
function gate() {
  let open!: () => void;
  let arrive!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  const arrived = new Promise<void>((resolve) => (arrive = resolve));
  return { opened, arrived, open, arrive };
}

/** A reverse proxy to `target` that holds every request at a gate (a partner taking its time), then forwards it. */
async function holdingProxy(
  target: string,
): Promise<{ url: string; gate: ReturnType<typeof gate>; close(): Promise<void> }> {
  const g = gate();
  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    g.arrive();
    await g.opened;
    const headers = Object.fromEntries(
      Object.entries(req.headers).filter(([k, v]) => typeof v === 'string' && k !== 'host' && k !== 'connection'),
    ) as Record<string, string>;
    try {
      const upstream = await fetch(new URL(req.url ?? '/', target), {
        method: req.method,
        headers,
        ...(chunks.length ? { body: Buffer.concat(chunks) } : {}),
      });
      res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' });
      res.end(Buffer.from(await upstream.arrayBuffer()));
    } catch {
      // The partner is gone (the test is tearing down): so is the answer.
      res.destroy();
    }
  });
  const { url } = await listen(server, 0);
  return {
    url,
    gate: g,
    close: () =>
      new Promise<void>((resolve) => {
        g.open();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Ports bound by the OS, then released, for a process that must be told its ports in advance. */
async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<ReturnType<typeof createTcpServer>>((resolve) => {
          const s = createTcpServer();
          s.listen(0, '127.0.0.1', () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

interface Child {
  process: ChildProcess;
  /** Resolves with the first JSON log line whose msg matches. */
  logged(pattern: RegExp): Promise<Record<string, unknown>>;
  lines: Record<string, unknown>[];
  stdout(): string;
  exit: Promise<number | null>;
}

function start(script: string, env: Record<string, string>): Child {
  const child = spawn(process.execPath, [join(root, script)], {
    cwd: root,
    env: {
      PATH: process.env.PATH ?? '',
      PARTNER_SPECS_DIR: process.env.PARTNER_SPECS_DIR ?? '',
      LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let pending = '';
  let err = '';
  const lines: Record<string, unknown>[] = [];
  const waiters: { pattern: RegExp; resolve: (line: Record<string, unknown>) => void }[] = [];
  child.stdout!.on('data', (chunk: Buffer) => {
    out += chunk.toString();
    const parts = (pending + chunk.toString()).split('\n');
    pending = parts.pop() ?? '';
    for (const text of parts) {
      // Log lines are JSON; the launcher's banner is not.
      if (!text.startsWith('{')) continue;
      const line = JSON.parse(text) as Record<string, unknown>;
      lines.push(line);
      for (const w of waiters.filter((w) => w.pattern.test(String(line.msg)))) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  });
  child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const exit = new Promise<number | null>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? (signal ? -1 : null))),
  );
  return {
    process: child,
    lines,
    stdout: () => out,
    exit,
    logged(pattern) {
      const seen = lines.find((line) => pattern.test(String(line.msg)));
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        waiters.push({ pattern, resolve });
        void exit.then((code) =>
          reject(new Error(`${script} exited (${code}) before logging ${pattern}: ${err}${out.slice(-2000)}`)),
        );
      });
    },
  };
}

describe('drainServer (lib/http-server.ts)', () => {
  let apollo: ApolloServer;
  let release: () => void;
  let held: Promise<void>;
  /** Resolves when the slow request is being executed: it is in flight, whatever the machine's speed. */
  let executing: Promise<void>;
  let started: () => void;

  beforeAll(async () => {
    apollo = new ApolloServer({
      typeDefs: 'type Query { slow: String, fast: String }',
      resolvers: {
        Query: {
          slow: async () => {
            started();
            await held;
            return 'finished';
          },
          fast: () => 'fast',
        },
      },
    });
    await apollo.start();
  });
  afterAll(() => apollo.stop());

  async function serve(): Promise<{ server: Server; port: number; url: string }> {
    held = new Promise((resolve) => (release = resolve));
    executing = new Promise((resolve) => (started = resolve));
    const server = createGraphQLHttpServer({
      apollo,
      logger,
      service: 'drain-test',
      context: async () => ({}),
      readiness: async () => ({ database: true }),
    });
    const { port, url } = await listen(server, 0);
    return { server, port, url };
  }
  const post = (url: string, query: string) =>
    fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query }),
    });

  it('turns not ready first, then refuses new connections, lets the request in flight finish, and closes', async () => {
    const { server, port, url } = await serve();
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    const inFlight = post(url, '{ slow }');
    await executing;

    markNotReady(server);
    const ready = await fetch(`${url}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ status: 'stopping' });
    // Not ready is not stopped: requests are still served until the drain starts.
    expect(await (await post(url, '{ fast }')).json()).toEqual({ data: { fast: 'fast' } });

    const drained = drainServer(server, scaled(30_000));
    expect(await connectOutcome(port)).toBe('ECONNREFUSED');
    release();
    const answer = await inFlight;
    expect(answer.status).toBe(200);
    expect(await answer.json()).toEqual({ data: { slow: 'finished' } });
    expect(await drained).toEqual({ cut: 0 });
  });

  it('cuts what is still in flight at the deadline, and says how many', async () => {
    const { server, port, url } = await serve();
    const inFlight = post(url, '{ slow }').then(
      () => 'answered',
      () => 'cut',
    );
    await executing;
    expect(await drainServer(server, 50)).toEqual({ cut: 1 });
    expect(await inFlight).toBe('cut');
    expect(await connectOutcome(port)).toBe('ECONNREFUSED');
    release();
  });
});

describe('a service process (lib/service-main.ts) on SIGTERM', () => {
  let sandboxes: RunningSandboxes;
  const children: Child[] = [];

  beforeAll(async () => {
    sandboxes = await startSandboxes({ ports: 0, logger });
  });
  afterAll(async () => {
    for (const child of children) if (child.process.exitCode === null) child.process.kill('SIGKILL');
    await sandboxes?.close();
  });

  /** The identity subgraph as its own process, its KYC provider behind a holding proxy. */
  async function identity(env: Record<string, string> = {}) {
    const onfido = await holdingProxy(sandboxes.urls.onfido);
    const child = start('subgraphs/identity/main.ts', {
      IDENTITY_PORT: '0',
      METRICS_PORT: '0',
      PGLITE_DIR: 'memory://',
      ONFIDO_URL: onfido.url,
      ONFIDO_TIMEOUT_MS: '120000',
      // What the launcher passes a subgraph: the sandbox seed and the platform's token at the sandbox.
      SEED_FILE: SANDBOX_SEED_FILE,
      ONFIDO_API_TOKEN: PLATFORM_PARTNER_CREDENTIALS.onfidoApiToken,
      ...env,
    });
    children.push(child);
    const listening = await child.logged(/^identity subgraph listening$/);
    const url = String(listening.url);
    // A request whose KYC lookup waits at the gate: in flight until the test opens it.
    const inFlight = callSubgraph<{ me: { kyc: { status: string } | null } }>(
      url,
      'identity',
      '{ me { displayName kyc { status } } }',
      {
        principal: principalOf(ALICE, ['identity:read', 'pii:read']),
      },
    ).then(
      (result) => ({ ok: true as const, result }),
      (err: unknown) => ({ ok: false as const, err }),
    );
    await onfido.gate.arrived;
    return { child, url, port: Number(new URL(url).port), onfido, inFlight };
  }

  it(
    'finishes the request in flight, refuses new connections meanwhile, then exits 0',
    async () => {
      const { child, port, onfido, inFlight } = await identity();
      child.process.kill('SIGTERM');
      await child.logged(/^identity stopping/);
      expect(await connectOutcome(port)).toBe('ECONNREFUSED');
      expect(child.process.exitCode).toBeNull();

      onfido.gate.open();
      const answer = await inFlight;
      expect(answer.ok).toBe(true);
      if (answer.ok) {
        expect(answer.result.status).toBe(200);
        expect(answer.result.errors).toBeUndefined();
        expect(answer.result.data?.me.kyc?.status).toBe('APPROVED');
      }
      expect(await child.exit).toBe(0);
      expect(child.lines.some((line) => line.msg === 'identity stopped')).toBe(true);
      expect(child.lines.some((line) => Number(line.cut) > 0)).toBe(false);
      await onfido.close();
    },
    scaled(90_000),
  );

  it(
    'exits at once, with 128 + the signal number, on a second signal',
    async () => {
      const { child, onfido, inFlight } = await identity();
      child.process.kill('SIGTERM');
      await child.logged(/^identity stopping/);
      child.process.kill('SIGTERM');
      expect(await child.exit).toBe(143);
      // The request in flight was not waited for.
      expect((await inFlight).ok).toBe(false);
      await onfido.close();
    },
    scaled(90_000),
  );

  it(
    'cuts what is still in flight at SHUTDOWN_DRAIN_MS, says so, and still stops cleanly',
    async () => {
      const { child, onfido, inFlight } = await identity({ SHUTDOWN_DRAIN_MS: '200' });
      child.process.kill('SIGINT');
      expect(await child.exit).toBe(0);
      expect((await inFlight).ok).toBe(false);
      expect(child.lines.find((line) => String(line.msg).includes('were cut'))).toMatchObject({ cut: 1, drainMs: 200 });
      await onfido.close();
    },
    scaled(90_000),
  );
});

describe('npm start (scripts/start.ts) on Ctrl-C', () => {
  it(
    'drains the gateway while the subgraphs still answer it, then stops every part and exits 0',
    async () => {
      const names = [
        'GATEWAY_PORT',
        'IDENTITY_PORT',
        'ACCOUNTS_PORT',
        'PAYMENTS_PORT',
        'CONSENTS_PORT',
        'AUTH_PORT',
        'NORTHWIND_PORT',
        'RHEINBANK_PORT',
        'ONFIDO_PORT',
        'METRICS_PORT',
      ];
      const ports = Object.fromEntries((await freePorts(names.length)).map((port, i) => [names[i]!, port]));
      // The launcher's own KYC sandbox, reached through a proxy that holds the request.
      const onfido = await holdingProxy(`http://127.0.0.1:${ports.ONFIDO_PORT}`);
      const child = start('scripts/start.ts', {
        ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])),
        ONFIDO_URL: onfido.url,
        ONFIDO_TIMEOUT_MS: '120000',
        PGLITE_DIR: 'memory://',
      });
      try {
        await child.logged(/^gateway listening$/);
        const tokenAnswer = await fetch(`http://127.0.0.1:${ports.AUTH_PORT}/sandbox/tokens`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ customerId: ALICE, clientId: 'web-app', scopes: ['identity:read', 'pii:read'] }),
        });
        const { access_token: token } = (await tokenAnswer.json()) as { access_token: string };
        const inFlight = fetch(`http://127.0.0.1:${ports.GATEWAY_PORT}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          body: JSON.stringify({ query: '{ me { displayName kyc { status } } }' }),
        });
        await onfido.gate.arrived;

        child.process.kill('SIGINT');
        await child.logged(/^platform stopping/);
        // The gateway takes no new connection; the subgraph it is waiting for still does, but is out of rotation.
        expect(await connectOutcome(ports.GATEWAY_PORT!)).toBe('ECONNREFUSED');
        const identityReady = await fetch(`http://127.0.0.1:${ports.IDENTITY_PORT}/readyz`);
        expect(identityReady.status).toBe(503);

        onfido.gate.open();
        const answer = await inFlight;
        expect(answer.status).toBe(200);
        expect(await answer.json()).toEqual({ data: { me: { displayName: 'Alice', kyc: { status: 'APPROVED' } } } });
        expect(await child.exit).toBe(0);
        for (const name of names) expect(await connectOutcome(ports[name]!), name).toBe('ECONNREFUSED');
      } finally {
        if (child.process.exitCode === null) child.process.kill('SIGKILL');
        await onfido.close();
      }
    },
    scaled(120_000),
  );
});
