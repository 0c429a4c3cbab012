import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PARTNER_SPEC_FILES } from '../../sandboxes/lib/partner-specs.ts';

// .ci/run runs before `npm ci`, so it cannot import the list of spec files: it spells it out,
// and this keeps the two in step.
const root = process.cwd();
const script = readFileSync(join(root, '.ci/run'), 'utf8');

describe('.ci/run', () => {
  it('checks exactly the partner specs the sandboxes and contract tests use', () => {
    const listed = /for spec in ([^;]+);/.exec(script)?.[1]?.trim().split(/\s+/) ?? [];
    expect(listed.sort()).toEqual(Object.values(PARTNER_SPEC_FILES).sort());
  });

  it('fails before installing anything when the specs are missing, naming the folder and the files', () => {
    const run = spawnSync('bash', [join(root, '.ci/run')], {
      env: { ...process.env, PARTNER_SPECS_DIR: '/nonexistent/partner-specs' },
      encoding: 'utf8',
    });
    expect(run.status).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toContain('PARTNER_SPECS_DIR=/nonexistent/partner-specs');
    for (const file of Object.values(PARTNER_SPEC_FILES)) expect(run.stderr).toContain(file);
  });
});
