import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Where the partners' OpenAPI specs are, and which of them are there: file-system checks only, so
 * a process can decide what to tell the operator (and npm start can check PARTNER_SPECS_DIR with
 * the rest of its configuration) without loading the validator (lib/openapi.ts).
 */
export const PARTNER_SPEC_FILES = {
  'obie-ais': 'obie-account-info-4.0.json',
  'obie-pis': 'obie-payment-initiation-4.0.json',
  'berlin-group': 'berlin-group-nextgenpsd2-1.3.12.yaml',
  onfido: 'onfido-3.6.json',
} as const;

export type PartnerSpecName = keyof typeof PARTNER_SPEC_FILES;

/** The repository root: the nearest folder above this file that holds package.json. */
export function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('cannot find the repository root (no package.json above sandboxes/lib)');
    dir = parent;
  }
}

/**
 * The specs are the partners' published documents and stay outside the repository (README.md,
 * "Partner specifications" says where each is published). `PARTNER_SPECS_DIR` names their
 * folder; unset, `<repo>/../shared/partner-specs` is tried (where CI keeps them beside its clone).
 * They are optional: a spec that is absent from the default place switches off what depends on
 * it (the sandboxes' validation of that partner's exchanges, the contract tests) with a notice,
 * while an explicit PARTNER_SPECS_DIR that lacks one is a configuration error: whoever set it
 * asked for validation, and silently running without it would hide the mistake.
 */
export interface PartnerSpecsStatus {
  dir: string;
  /** PARTNER_SPECS_DIR was set. */
  explicit: boolean;
  present: PartnerSpecName[];
  missing: PartnerSpecName[];
}

/** `PARTNER_SPECS_DIR`, else `<repo>/../shared/partner-specs`. The folder may not exist. */
export function partnerSpecsDir(environment: Record<string, string | undefined> = process.env): string {
  const fromEnv = environment.PARTNER_SPECS_DIR?.trim();
  return fromEnv ? path.resolve(fromEnv) : path.resolve(repoRoot(), '..', 'shared', 'partner-specs');
}

export function partnerSpecsStatus(environment: Record<string, string | undefined> = process.env): PartnerSpecsStatus {
  const dir = partnerSpecsDir(environment);
  const names = Object.keys(PARTNER_SPEC_FILES) as PartnerSpecName[];
  const present = names.filter((name) => existsSync(path.join(dir, PARTNER_SPEC_FILES[name])));
  return {
    dir,
    explicit: Boolean(environment.PARTNER_SPECS_DIR?.trim()),
    present,
    missing: names.filter((name) => !present.includes(name)),
  };
}

/**
 * An explicit PARTNER_SPECS_DIR that lacks a spec, as a configuration problem line (README.md, Configuration);
 * undefined when fine.
 */
export function partnerSpecsProblem(status: PartnerSpecsStatus = partnerSpecsStatus()): string | undefined {
  if (!status.explicit || status.missing.length === 0) return undefined;
  const files = status.missing.map((name) => PARTNER_SPEC_FILES[name]).join(', ');
  return `PARTNER_SPECS_DIR: ${JSON.stringify(status.dir)} lacks ${files}; point it at the folder holding the partners' published specs (README.md, "Partner specifications"), or unset it to run without spec validation`;
}

/**
 * The one notice a process gives when specs are absent from the default place: what is skipped
 * and how to switch it on. Undefined when every spec is present.
 */
export function partnerSpecsNotice(status: PartnerSpecsStatus = partnerSpecsStatus()): string | undefined {
  if (status.missing.length === 0) return undefined;
  const files = status.missing.map((name) => PARTNER_SPEC_FILES[name]).join(', ');
  return (
    `partner specs not found in ${status.dir} (${files}): the sandboxes do not validate those partners' requests and responses ` +
    `against their OpenAPI specs, and the contract tests that need them are skipped; to switch both on, set PARTNER_SPECS_DIR ` +
    `to a folder holding the published specs (README.md, "Partner specifications")`
  );
}

export function partnerSpecPath(
  name: PartnerSpecName,
  environment: Record<string, string | undefined> = process.env,
): string {
  return path.join(partnerSpecsDir(environment), PARTNER_SPEC_FILES[name]);
}

/** Thrown by loadPartnerSpec when the spec is not where PARTNER_SPECS_DIR (or its default) says. */
export class PartnerSpecMissingError extends Error {
  constructor(name: PartnerSpecName, file: string) {
    super(
      `the ${name} spec is not available: ${file} does not exist (set PARTNER_SPECS_DIR to the folder holding the partners' published specs; README.md, "Partner specifications")`,
    );
    this.name = 'PartnerSpecMissingError';
  }
}
