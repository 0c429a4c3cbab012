import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { auditRules, loadPublicSchema, renderMarkdown } from '../../gateway/authorization/audit.ts';
import { POLICY, type FieldPolicy } from '../../gateway/authorization/policy.ts';

const exec = promisify(execFile);
const SCRIPT = fileURLToPath(new URL('../../scripts/shield-audit.ts', import.meta.url));
const DOC = fileURLToPath(new URL('../../docs/permissions.md', import.meta.url));

/** Undo every mutation of the live POLICY a test makes. */
const restore: (() => void)[] = [];
afterEach(() => {
  while (restore.length) restore.pop()!();
});
function patch(typeName: string, fieldName: string, value: FieldPolicy | undefined): void {
  const fields = (POLICY[typeName] ??= {});
  const had = Object.prototype.hasOwnProperty.call(fields, fieldName);
  const before = fields[fieldName];
  if (value === undefined) delete fields[fieldName];
  else fields[fieldName] = value;
  restore.push(() => {
    if (had) fields[fieldName] = before!;
    else delete fields[fieldName];
    if (Object.keys(fields).length === 0) delete POLICY[typeName];
  });
}

describe('shield:audit', () => {
  it('covers every field of every object type of the public schema with an explicit rule and no problems', () => {
    const report = auditRules();
    expect(report.problems).toEqual([]);
    const schema = loadPublicSchema();
    const expected = Object.values(schema.getTypeMap())
      .filter((t) => t.astNode?.kind === 'ObjectTypeDefinition')
      .flatMap((t) =>
        Object.keys((t as unknown as { getFields(): Record<string, unknown> }).getFields()).map(
          (f) => `${t.name}.${f}`,
        ),
      );
    expect(report.rows.map((r) => `${r.type}.${r.field}`).sort()).toEqual(expected.sort());
    // Every PII field needs pii:read, and the fields the schema calls personal data are PII.
    for (const r of report.rows.filter((r) => r.pii)) expect(r.scopes).toContain('pii:read');
    expect(report.rows.filter((r) => r.pii).map((r) => `${r.type}.${r.field}`)).toEqual(
      expect.arrayContaining([
        'Customer.legalName',
        'Customer.dateOfBirth',
        'Customer.email',
        'Customer.phone',
        'Customer.address',
        'Account.identification',
        'PaymentCreditor.identification',
      ]),
    );
  });

  it('fails on a field without a rule, a rule for a field that does not exist, and a PII field without pii:read', () => {
    patch('Customer', 'email', undefined);
    patch('Customer', 'favouriteColour', { ...POLICY.Customer!.displayName! });
    patch('Customer', 'phone', { ...POLICY.Customer!.phone!, scopes: ['identity:read'] });
    const report = auditRules();
    expect(report.problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^Customer\.email: no explicit rule/),
        expect.stringMatching(/^Customer\.favouriteColour: the policy names a field that does not exist/),
        expect.stringMatching(/^Customer\.phone: PII field not behind pii:read/),
      ]),
    );
  });

  it('reports a field the schema calls personal data that the policy forgot to mark as PII', () => {
    patch('Customer', 'dateOfBirth', { ...POLICY.Customer!.dateOfBirth!, pii: false, scopes: ['identity:read'] });
    expect(auditRules().problems).toEqual(
      expect.arrayContaining([expect.stringMatching(/^Customer\.dateOfBirth: described as personal data/)]),
    );
  });

  it('docs/permissions.md is up to date (regenerate with `npm run shield:audit -- --write`)', () => {
    expect(readFileSync(DOC, 'utf8')).toBe(`${renderMarkdown(auditRules())}\n`);
  });

  it('the command prints Markdown, or JSON with --json, and exits 0 on the live rule set', async () => {
    const md = await exec(process.execPath, [SCRIPT]);
    expect(md.stdout).toContain('| `email` |');
    expect(md.stderr).toMatch(
      /shield:audit: \d+ types, \d+ fields with explicit rules, \d+ PII fields behind pii:read, .*; 0 problems/,
    );
    const json = await exec(process.execPath, [SCRIPT, '--json']);
    const parsed = JSON.parse(json.stdout) as {
      rows: { type: string; field: string; decided: string }[];
      problems: string[];
    };
    expect(parsed.problems).toEqual([]);
    expect(parsed.rows.find((r) => r.type === 'Account' && r.field === 'balances')?.decided).toBe('per object');
  });
});
