import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { subgraphUrlKey } from '../../gateway/config.ts';
import { DEV_METRICS_TOKEN, isLoopbackHost } from '../../lib/config.ts';
import { SUBGRAPH_NAMES } from '../../lib/schema-files.ts';

// Docker cannot run on the development machines, so the compose file is checked statically:
// every service's command must point at a file in the repository, and every variable it sets
// must be one the code actually reads (a typo would otherwise be silently ignored).
const root = process.cwd();
const compose = parse(readFileSync(join(root, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<string, { image?: string; command?: string[]; environment?: Record<string, string>; ports?: string[] }>;
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (['node_modules', 'generated', 'test', '.git', '.data'].includes(name)) return [];
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return name.endsWith('.ts') ? [path] : [];
  });
}

/** Variables read by the code: keys of the zod config schemas and direct process.env reads. */
function variablesReadByCode(): Set<string> {
  const names = new Set<string>();
  for (const file of ['lib', 'gateway', 'subgraphs', 'sandboxes', 'scripts'].flatMap((d) => (existsSync(join(root, d)) ? sourceFiles(join(root, d)) : []))) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/process\.env\.([A-Z][A-Z0-9_]+)/g)) names.add(m[1]!);
    for (const m of text.matchAll(/process\.env\[['"]([A-Z][A-Z0-9_]+)['"]\]/g)) names.add(m[1]!);
    if (/config\.ts$/.test(file) || /main\.ts$/.test(file)) for (const m of text.matchAll(/^\s+([A-Z][A-Z0-9_]{2,}):/gm)) names.add(m[1]!);
  }
  // The gateway reads <NAME>_SUBGRAPH_URL for every subgraph of the supergraph it serves.
  for (const name of SUBGRAPH_NAMES) names.add(`${subgraphUrlKey(name)}_SUBGRAPH_URL`);
  return names;
}

const appServices = Object.entries(compose.services).filter(([, s]) => s.image?.startsWith('node:'));
/** The services of lib/service-main.ts (the sandboxes stand in for partners and have no metrics listener). */
const graphServices = appServices.filter(([name]) => name !== 'sandboxes');

describe('docker-compose.yml', () => {
  it('runs PostgreSQL, Redis, the sandboxes, each subgraph and the gateway as services', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['accounts', 'consents', 'gateway', 'identity', 'payments', 'postgres', 'redis', 'sandboxes']);
  });

  it.each(appServices)('%s runs a command that exists in the repository', (_name, service) => {
    expect(service.command?.[0]).toBe('node');
    const entry = service.command?.[1] ?? '';
    expect(existsSync(join(root, entry)), `${entry} should exist`).toBe(true);
  });

  it.each(appServices)('%s sets only variables the code reads', (_name, service) => {
    const read = variablesReadByCode();
    const unknown = Object.keys(service.environment ?? {}).filter((v) => !read.has(v));
    expect(unknown).toEqual([]);
  });

  it.each(graphServices)('%s serves metrics to operators only: its own port, not published, behind the token', (_name, service) => {
    const env = service.environment ?? {};
    expect(env.METRICS_PORT).toMatch(/^\d+$/);
    expect((service.ports ?? []).some((p) => p.split(':').includes(env.METRICS_PORT!))).toBe(false);
    if (!isLoopbackHost(env.METRICS_HOST ?? '127.0.0.1')) {
      // The fallback is the public development token, which the production profile refuses.
      expect(env.METRICS_TOKEN).toBe(`\${METRICS_TOKEN:-${DEV_METRICS_TOKEN}}`);
    }
  });

  it('gives every service a metrics port of its own', () => {
    const ports = graphServices.map(([, s]) => s.environment?.METRICS_PORT);
    expect(new Set(ports).size).toBe(graphServices.length);
  });
});
