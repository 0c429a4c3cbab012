import { readFileSync } from 'node:fs';
import { generate } from '@graphql-codegen/cli';
import { describe, expect, it } from 'vitest';
import config from '../../codegen.ts';
import { scaled } from '../support/time.ts';

// Regenerates every codegen output in memory and compares it with the checked-in files, so a
// schema change without `npm run codegen` fails here instead of drifting silently.
describe('generated code', () => {
  it(
    'is up to date with the schema and test operations (run `npm run codegen` when this fails)',
    async () => {
      const outputs = await generate({ ...config, silent: true, cwd: process.cwd() }, false);
      expect(outputs.length).toBeGreaterThanOrEqual(5);
      for (const output of outputs) {
        expect(readFileSync(output.filename, 'utf8'), output.filename).toBe(output.content);
      }
    },
    scaled(120_000),
  );
});
