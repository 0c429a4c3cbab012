import { describe, it } from 'vitest';
import {
  loadPartnerSpec,
  partnerSpecsNotice,
  partnerSpecsProblem,
  partnerSpecsStatus,
  PARTNER_SPEC_FILES,
  type LoadedSpec,
  type PartnerSpecName,
} from '../../sandboxes/lib/openapi.ts';

/**
 * Tests that need the partners' published OpenAPI specs (PARTNER_SPECS_DIR, README.md "Partner
 * specifications"). A bare clone has none of them: such tests are then reported as skipped with
 * the reason, never run against nothing and counted as passed. An explicit PARTNER_SPECS_DIR that
 * lacks a spec fails the file at once (CI sets it, so CI cannot quietly skip the contract tests).
 */
export const partnerSpecs = partnerSpecsStatus();

const problem = partnerSpecsProblem(partnerSpecs);
if (problem) throw new Error(problem);

/** Why a test needing these specs cannot run, or undefined when they are all present. */
export function specsSkipReason(names: readonly PartnerSpecName[]): string | undefined {
  const missing = names.filter((name) => partnerSpecs.missing.includes(name));
  if (missing.length === 0) return undefined;
  return `needs ${missing.map((name) => PARTNER_SPEC_FILES[name]).join(', ')}: ${partnerSpecsNotice({ ...partnerSpecs, missing })}`;
}

/**
 * `describe` for suites that need the given specs. When one is absent the suite is still
 * collected, so every one of its tests is listed as skipped, but nothing in it runs (no hook
 * either: a suite whose tests are all skipped does not run its beforeAll), and one more skipped
 * entry, titled with the reason, says what is missing and how to enable it. Suite bodies must
 * therefore load specs lazily (in hooks or tests), never at collection.
 */
export function describeWithSpecs(names: readonly PartnerSpecName[]): (title: string, body: () => void) => void {
  const reason = specsSkipReason(names);
  if (!reason) return (title, body) => describe(title, body);
  let noted = false;
  return (title, body) => {
    if (!noted) {
      it.skip(`skipped: ${reason}`);
      noted = true;
    }
    describe.skip(title, body);
  };
}

/** `it` for one test that needs the given specs inside a suite that does not. */
export function itWithSpecs(
  names: readonly PartnerSpecName[],
): (title: string, body: () => Promise<void> | void, timeout?: number) => void {
  const reason = specsSkipReason(names);
  return (title, body, timeout) => (reason ? it.skip(`${title} (skipped: ${reason})`, body) : it(title, body, timeout));
}

/**
 * The partner's spec, loaded on first use: lets a test file keep `const spec = ...` at the top
 * while its suites are skipped (and never touch it) when the spec is absent.
 */
export function lazyPartnerSpec(name: PartnerSpecName): LoadedSpec {
  let loaded: LoadedSpec | undefined;
  const real = () => (loaded ??= loadPartnerSpec(name));
  return new Proxy({} as LoadedSpec, {
    get(_target, property) {
      const value = Reflect.get(real(), property) as unknown;
      return typeof value === 'function' ? value.bind(real()) : value;
    },
  });
}

/**
 * For files whose tests stand without the spec but also check their fixtures or requests against
 * it: the spec when present; when absent, undefined (callers then skip only those checks) and one
 * skipped entry in the report naming the checks (`what`) that did not run and why.
 */
export function specIfPresent(name: PartnerSpecName, what: string): LoadedSpec | undefined {
  const reason = specsSkipReason([name]);
  if (!reason) return lazyPartnerSpec(name);
  it.skip(`${what} (skipped: ${reason})`);
  return undefined;
}
