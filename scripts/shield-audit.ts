/**
 * npm run shield:audit [-- --json | --write]
 *
 * Prints the permission matrix of the LIVE rule set (gateway/authorization: the graphql-shield
 * rule tree generated from policy.ts) for every type and field of the public schema: rule,
 * scopes, consent permission, PII, decided before execution or per object. Markdown by default,
 * JSON with --json; --write also writes the Markdown to docs/permissions.md (a test fails when
 * that file is stale). Exits 1 when any field lacks an explicit rule, a rule names a field that
 * does not exist, or a PII field is not behind pii:read.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { auditRules, renderMarkdown } from '../gateway/authorization/audit.ts';

export const PERMISSIONS_DOC = fileURLToPath(new URL('../docs/permissions.md', import.meta.url));

const args = new Set(process.argv.slice(2));
const unknown = [...args].filter((a) => !['--json', '--write', '--help'].includes(a));
if (args.has('--help') || unknown.length) {
  process.stderr.write('usage: npm run shield:audit [-- --json | --write]\n');
  process.exit(unknown.length ? 2 : 0);
}
const report = auditRules();
const markdown = `${renderMarkdown(report)}\n`;
if (args.has('--json')) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
else process.stdout.write(markdown);
if (args.has('--write')) {
  writeFileSync(PERMISSIONS_DOC, markdown);
  process.stderr.write(`wrote ${PERMISSIONS_DOC}\n`);
}
process.stderr.write(`shield:audit: ${report.summary}\n`);
for (const p of report.problems) process.stderr.write(`  problem: ${p}\n`);
process.exit(report.problems.length ? 1 : 0);
