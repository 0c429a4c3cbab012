import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { cruise, type IConfiguration, type ICruiseResult } from 'dependency-cruiser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The rules of the house (.dependency-cruiser.mjs, run by `npm run lint`) must bite: this runs
// them, as configured, on a small tree with one import each rule forbids beside imports the
// rules allow, and expects exactly the forbidden ones to be reported.

/** path -> source. Every import is relative with its .ts extension, as in the repository. */
const FIXTURE: Record<string, string> = {
  'lib/base.ts': `export const base = 1;\n`,
  // lib-is-the-ground
  'lib/uses-script.ts': `import { tool } from '../scripts/tool.ts';\nexport const x = tool;\n`,
  // no-circular, through type-only imports on both sides
  'lib/a.ts': `import type { B } from './b.ts';\nexport interface A { b?: B }\n`,
  'lib/b.ts': `import type { A } from './a.ts';\nexport interface B { a?: A }\n`,
  // not-to-unresolvable
  'lib/broken.ts': `import { gone } from './missing.ts';\nexport const y = gone;\n`,
  'subgraphs/alpha/domain/ports.ts': `export interface Bank { fetch(): Promise<string> }\n`,
  // domain-uses-ports-only: the port is fine, a partner client is not
  'subgraphs/alpha/domain/service.ts':
    `import type { Bank } from './ports.ts';\n` +
    `import { client } from '../partners/bank/client.ts';\n` +
    `import { base } from '../../../lib/base.ts';\n` +
    `export const service = (bank: Bank) => [bank, client, base];\n`,
  // domain-uses-ports-only, type-only: the storage implementation's type is still storage
  'subgraphs/alpha/domain/model.ts': `import type { Row } from '../storage/repository.ts';\nexport type Model = Row;\n`,
  'subgraphs/alpha/partners/bank/client.ts': `export const client = {};\n`,
  'subgraphs/alpha/storage/repository.ts': `import type { Bank } from '../domain/ports.ts';\nexport type Row = Bank;\n`,
  // subgraph-imports-no-other-subgraph, subgraph-imports-no-gateway, product-imports-no-sandbox
  'subgraphs/alpha/server.ts':
    `import { service } from './domain/service.ts';\n` +
    `import { resolvers } from '../beta/resolvers.ts';\n` +
    `import { gateway } from '../../gateway/server.ts';\n` +
    `import { world } from '../../sandboxes/manifest.ts';\n` +
    `export const server = [service, resolvers, gateway, world];\n`,
  'subgraphs/beta/resolvers.ts': `export const resolvers = {};\n`,
  // gateway-imports-no-subgraph
  'gateway/server.ts':
    `import { base } from '../lib/base.ts';\n` +
    `import { resolvers } from '../subgraphs/beta/resolvers.ts';\n` +
    `export const gateway = [base, resolvers];\n`,
  'sandboxes/manifest.ts': `export const world = {};\n`,
  // nothing-imports-tests; a script may use the sandboxes (the launcher starts them)
  'scripts/tool.ts':
    `import { helper } from '../test/support/helper.ts';\n` +
    `import { world } from '../sandboxes/manifest.ts';\n` +
    `export const tool = [helper, world];\n`,
  'test/support/helper.ts': `export const helper = {};\n`,
  // tests may import their own support and the product
  'test/thing.test.ts':
    `import { helper } from './support/helper.ts';\n` +
    `import { server } from '../subgraphs/alpha/server.ts';\n` +
    `export const t = [helper, server];\n`,
};

let dir: string;
let config: IConfiguration;
let result: ICruiseResult;

/** Cruises the fixture with the repository's rules and options (minus its tsconfig: the fixture has none). */
async function cruiseFixture(overrides: IConfiguration['options'] = {}): Promise<ICruiseResult> {
  const { tsConfig: _tsConfig, ...options } = config.options ?? {};
  const output = await cruise(['lib', 'subgraphs', 'gateway', 'sandboxes', 'scripts', 'test'], {
    ...options,
    ...overrides,
    baseDir: dir,
    validate: true,
    ruleSet: { forbidden: config.forbidden ?? [] },
  });
  return output.output as ICruiseResult;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lint-rules-'));
  for (const [path, source] of Object.entries(FIXTURE)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), source);
  }
  const configUrl = pathToFileURL(join(process.cwd(), '.dependency-cruiser.mjs')).href;
  config = ((await import(configUrl)) as { default: IConfiguration }).default;
  result = await cruiseFixture();
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the rules of the house (.dependency-cruiser.mjs)', () => {
  it('report exactly the forbidden imports of the fixture, one rule each', () => {
    const found = result.summary.violations.map((v) => `${v.rule.name}: ${v.from} -> ${v.to}`).sort();
    expect(found).toEqual(
      [
        'domain-uses-ports-only: subgraphs/alpha/domain/model.ts -> subgraphs/alpha/storage/repository.ts',
        'domain-uses-ports-only: subgraphs/alpha/domain/service.ts -> subgraphs/alpha/partners/bank/client.ts',
        'gateway-imports-no-subgraph: gateway/server.ts -> subgraphs/beta/resolvers.ts',
        'lib-is-the-ground: lib/uses-script.ts -> scripts/tool.ts',
        'no-circular: lib/a.ts -> lib/b.ts',
        'not-to-unresolvable: lib/broken.ts -> ./missing.ts',
        'nothing-imports-tests: scripts/tool.ts -> test/support/helper.ts',
        'product-imports-no-sandbox: subgraphs/alpha/server.ts -> sandboxes/manifest.ts',
        'subgraph-imports-no-gateway: subgraphs/alpha/server.ts -> gateway/server.ts',
        'subgraph-imports-no-other-subgraph: subgraphs/alpha/server.ts -> subgraphs/beta/resolvers.ts',
      ].sort(),
    );
    expect(result.summary.error).toBe(found.length);
  });

  it('cover every rule the configuration declares', () => {
    const named = new Set(result.summary.violations.map((v) => v.rule.name));
    expect([...named].sort()).toEqual((config.forbidden ?? []).map((r) => r.name).sort());
  });

  it('count type-only imports: without tsPreCompilationDeps the type-only circle goes unseen', async () => {
    const runtimeOnly = await cruiseFixture({ tsPreCompilationDeps: false });
    expect(runtimeOnly.summary.violations.filter((v) => v.rule.name === 'no-circular')).toEqual([]);
    expect(result.summary.violations.filter((v) => v.rule.name === 'no-circular')).toHaveLength(1);
  });
});
