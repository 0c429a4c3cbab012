import { existsSync, readFileSync } from 'node:fs';
import { join, posix, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadGatewayConfig, subgraphUrlKey } from '../../gateway/config.ts';
import {
  DEV_METRICS_TOKEN,
  isLoopbackHost,
  loadMetricsConfig,
  loadShutdownConfig,
  type ServiceName,
} from '../../lib/config.ts';
import { SUBGRAPH_NAMES } from '../../lib/schema-files.ts';
import { loadSandboxesConfig } from '../../sandboxes/config.ts';
import { partnerSpecsDir } from '../../sandboxes/lib/partner-specs.ts';
import { loadAccountsConfig } from '../../subgraphs/accounts/config.ts';
import { loadConsentsConfig } from '../../subgraphs/consents/config.ts';
import { loadIdentityConfig } from '../../subgraphs/identity/config.ts';
import { loadPaymentsConfig } from '../../subgraphs/payments/config.ts';

/**
 * Docker cannot run on the development machines, so docker-compose.yml is checked against the code
 * statically: each service runs an entry point that exists, sets only variables that process reads
 * (as its own configuration loaders read them: the zod schemas decide, no list is kept here), with
 * values those loaders accept, and every port, published or named in a URL, is one the service
 * listens on. A typo or a stale port would otherwise only show when someone runs it.
 */
type Env = Record<string, string | undefined>;
type Loader = (env: Env) => object;

interface ComposeService {
  image?: string;
  command?: string[];
  working_dir?: string;
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
}

const root = process.cwd();
const compose = parse(readFileSync(join(root, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<string, ComposeService>;
};

/**
 * What each process of the product runs at start (its main.ts): its entry point and every configuration loader it
 * calls.
 */
const subgraph = (name: ServiceName, load: Loader) => ({
  entry: `subgraphs/${name}/main.ts`,
  loaders: [load, (env: Env) => loadMetricsConfig(name, env), loadShutdownConfig],
  patterns: [] as RegExp[],
});
const PROCESSES: Record<string, { entry: string; loaders: Loader[]; patterns: RegExp[] }> = {
  gateway: {
    entry: 'gateway/main.ts',
    loaders: [loadGatewayConfig, (env) => loadMetricsConfig('gateway', env), loadShutdownConfig],
    // The gateway also reads <NAME>_SUBGRAPH_URL for every subgraph of the supergraph it serves.
    patterns: SUBGRAPH_NAMES.map((name) => new RegExp(`^${subgraphUrlKey(name)}_SUBGRAPH_URL$`)),
  },
  identity: subgraph('identity', loadIdentityConfig),
  accounts: subgraph('accounts', loadAccountsConfig),
  payments: subgraph('payments', loadPaymentsConfig),
  consents: subgraph('consents', loadConsentsConfig),
  sandboxes: { entry: 'sandboxes/main.ts', loaders: [loadSandboxesConfig], patterns: [] },
};

/** The ports the images of the infrastructure services listen on (their documented defaults). */
const IMAGE_PORTS: Record<string, number[]> = { postgres: [5432], redis: [6379] };

/** Every variable a loader reads, recorded by handing it an environment that notes each lookup. */
function variablesReadBy(load: Loader): Set<string> {
  const read = new Set<string>();
  const env = new Proxy({} as Env, {
    get(_target, key) {
      if (typeof key === 'string') read.add(key);
      return undefined;
    },
  });
  load(env);
  return read;
}

/** `${VAR:-default}` as Compose resolves it with VAR unset (the file must work with nothing exported). */
function interpolate(value: string): string {
  return value.replace(/\$\{([A-Z0-9_]+)(?::?-([^}]*))?\}/g, (whole, _name: string, fallback: string | undefined) => {
    if (fallback === undefined) throw new Error(`${whole} has no default: docker compose up would need it exported`);
    return fallback;
  });
}

function environmentOf(service: ComposeService): Env {
  return Object.fromEntries(
    Object.entries(service.environment ?? {}).map(([key, value]) => [key, interpolate(String(value))]),
  );
}

/** The ports a process listens on with its compose environment: every *_PORT its loaders settle on. */
function listeningPorts(name: string): number[] {
  if (IMAGE_PORTS[name]) return IMAGE_PORTS[name];
  const env = environmentOf(compose.services[name]!);
  const ports = new Set<number>();
  for (const load of PROCESSES[name]!.loaders) {
    for (const [key, value] of Object.entries(load(env)))
      if (key.endsWith('_PORT') && typeof value === 'number') ports.add(value);
  }
  return [...ports];
}

const appServices = Object.entries(compose.services).filter(([name]) => name in PROCESSES);
/** The services of lib/service-main.ts (the sandboxes stand in for partners and have no metrics listener). */
const graphServices = appServices.filter(([name]) => name !== 'sandboxes');

describe('docker-compose.yml', () => {
  it('runs PostgreSQL, Redis, the sandboxes, each subgraph and the gateway as services', () => {
    expect(Object.keys(compose.services).sort()).toEqual([
      'accounts',
      'consents',
      'gateway',
      'identity',
      'payments',
      'postgres',
      'redis',
      'sandboxes',
    ]);
    expect(appServices.map(([name]) => name).sort()).toEqual(Object.keys(PROCESSES).sort());
  });

  it.each(appServices)(
    "%s runs the process's entry point, which exists, on Node 24 with the repository read-only",
    (name, service) => {
      expect(service.image).toBe('node:24-slim');
      expect(service.command).toEqual(['node', PROCESSES[name]!.entry]);
      expect(existsSync(join(root, PROCESSES[name]!.entry))).toBe(true);
      expect(service.volumes).toContain('./:/app:ro');
      expect(service.working_dir).toBe('/app');
    },
  );

  it.each(appServices)('%s sets only variables its process reads', (name, service) => {
    const read = new Set(PROCESSES[name]!.loaders.flatMap((load) => [...variablesReadBy(load)]));
    const unknown = Object.keys(service.environment ?? {}).filter(
      (v) => !read.has(v) && !PROCESSES[name]!.patterns.some((p) => p.test(v)),
    );
    expect(unknown).toEqual([]);
  });

  it.each(appServices)('%s sets values its process accepts', (name, service) => {
    const env = environmentOf(service);
    for (const load of PROCESSES[name]!.loaders) expect(() => load(env)).not.toThrow();
  });

  it.each(Object.entries(compose.services).filter(([, s]) => s.ports))(
    '%s publishes a port it listens on',
    (name, service) => {
      for (const mapping of service.ports!) {
        const container = Number(mapping.split(':').at(-1));
        expect(listeningPorts(name), mapping).toContain(container);
      }
    },
  );

  it.each(appServices)('%s reaches the other services on ports they listen on', (_name, service) => {
    for (const [key, value] of Object.entries(environmentOf(service))) {
      const url = /^[a-z]+:\/\/(?:[^@/]*@)?([a-z0-9-]+):(\d+)/.exec(value ?? '');
      if (!url || !(url[1]! in compose.services)) continue;
      expect(listeningPorts(url[1]!), `${key}=${value}`).toContain(Number(url[2]));
    }
  });

  it.each(graphServices)(
    '%s serves metrics to operators only: its own port, not published, behind the token',
    (_name, service) => {
      const env = service.environment ?? {};
      expect(env.METRICS_PORT).toMatch(/^\d+$/);
      expect((service.ports ?? []).some((p) => p.split(':').includes(env.METRICS_PORT!))).toBe(false);
      if (!isLoopbackHost(env.METRICS_HOST ?? '127.0.0.1')) {
        // The fallback is the public development token, which the production profile refuses.
        expect(env.METRICS_TOKEN).toBe(`\${METRICS_TOKEN:-${DEV_METRICS_TOKEN}}`);
      }
    },
  );

  it('gives every service a metrics port of its own', () => {
    const ports = graphServices.map(([, s]) => s.environment?.METRICS_PORT);
    expect(new Set(ports).size).toBe(graphServices.length);
  });

  it("mounts the partners' specs read-only where the sandboxes look by default, so their absence is a notice, not a failure", () => {
    const sandboxes = compose.services.sandboxes!;
    // Inside the container the repository is /app, so the default folder is /app/../shared/partner-specs.
    const inContainer = posix.resolve(sandboxes.working_dir!, '..', 'shared', 'partner-specs');
    expect(posix.relative(sandboxes.working_dir!, inContainer)).toBe(relative(root, partnerSpecsDir({})));
    const mount = (sandboxes.volumes ?? []).find((v) => v.includes(`:${inContainer}:`));
    expect(mount).toBe(`\${PARTNER_SPECS_DIR:-../shared/partner-specs}:${inContainer}:ro`);
    // PARTNER_SPECS_DIR set in the container would turn an empty mount into a configuration error.
    expect(sandboxes.environment?.PARTNER_SPECS_DIR).toBeUndefined();
  });
});
