import { partnerSpecsNotice, partnerSpecsProblem, partnerSpecsStatus } from '../../sandboxes/lib/partner-specs.ts';
import { timeFactor } from './time.ts';

/**
 * Runs once before the suite (vitest globalSetup). Without the partners' specs the contract tests
 * are reported as skipped, which the default reporter only counts: this line says why, and how to
 * run them. An explicit PARTNER_SPECS_DIR that lacks a spec stops the run at once (CI sets it).
 */
export default function setup(): void {
  timeFactor(); // a bad TEST_TIME_FACTOR stops the run here with its message, not in every file
  const status = partnerSpecsStatus();
  const problem = partnerSpecsProblem(status);
  if (problem) throw new Error(problem);
  const notice = partnerSpecsNotice(status);
  // Each vitest project runs the global setup (npm test has two): say it once per run.
  const shown = Symbol.for('financial-data-graph:partner-specs-notice');
  const flags = globalThis as { [shown]?: boolean };
  if (notice && !flags[shown]) process.stderr.write(`\n${notice}\n\n`);
  flags[shown] = true;
}
