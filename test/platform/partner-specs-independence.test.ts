import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The partners' specs are optional (README.md, "Partner specifications"): the product's own code
 * must never need them. The adapters validate partner payloads with their own schemas
 * (subgraphs/<name>/partners/<partner>/schemas.ts), so no product file may load the spec
 * validator or the spec folder; only the sandboxes and the tests do.
 */
const root = process.cwd();

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (name === 'node_modules' || name === 'generated') return [];
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return name.endsWith('.ts') ? [path] : [];
  });
}

/** The file without its comments, so that a comment citing a spec is not a dependency. */
function code(file: string): string {
  return readFileSync(file, 'utf8')
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
}

const productFiles = ['gateway', 'subgraphs', 'lib'].flatMap((dir) => sourceFiles(join(root, dir)));

describe('product code and the partner specs', () => {
  it('covers the product folders', () => {
    expect(productFiles.some((f) => f.includes('/partners/northwind/schemas.ts'))).toBe(true);
    expect(productFiles.length).toBeGreaterThan(50);
  });

  it('never loads the spec validator nor reads the spec folder', () => {
    const offenders = productFiles
      .map((file) => ({ file: relative(root, file), text: code(file) }))
      .filter(
        ({ text }) =>
          /sandboxes\/lib\/(openapi|partner-specs)\.ts/.test(text) || /PARTNER_SPECS_DIR|partner-specs/.test(text),
      )
      .map(({ file }) => file);
    expect(offenders).toEqual([]);
  });
});
