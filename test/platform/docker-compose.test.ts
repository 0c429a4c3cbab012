import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { subgraphUrlKey } from '../../gateway/config.ts';
import { SUBGRAPH_NAMES } from '../../lib/schema-files.ts';

// Docker cannot run on the development machines, so the compose file is checked statically:
// every service's command must point at a file in the repository, and every variable it sets
// must be one the code actually reads (a typo would otherwise be silently ignored).
const root = process.cwd();
const compose = parse(readFileSync(join(root, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<string, { image?: string; command?: string[]; environment?: Record<string, string> }>;
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
});
