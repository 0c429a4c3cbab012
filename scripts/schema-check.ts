/**
 * npm run schema:check [-- --write-changelog]
 * npm run schema:release -- --version <x.y.z> [--date <YYYY-MM-DD>]
 *
 * Schema evolution of the public schema (schema/public.graphql, what partner apps build against):
 * - schema:check compares it with the last released one (schema/released/public.graphql, whose
 *   version, date and sha256 are in schema/released/release.json) with @graphql-inspector/core,
 *   plus one comparison of our own: a field whose published requirement ("Requires:" paragraph,
 *   written by `npm run compose` from the authorization policy) gets stricter (a scope or consent
 *   added, a caller kind removed) breaks the apps that read it just as a removed field does.
 *   It exits 1 when:
 *   - a breaking change is not listed, with a reason, in schema/released/accepted-changes.json
 *     (or an entry there matches no change any more);
 *   - a deprecation lacks a reason or a removal date ("removal: YYYY-MM-DD" in its reason);
 *   - schema/CHANGELOG.md does not show the current changes under "Unreleased" (--write-changelog
 *     rewrites that section);
 *   - the released schema does not match release.json (it changes only through schema:release).
 *   `npm test` runs it before vitest; test/schema/schema-check.test.ts tests the logic.
 * - schema:release makes the current public schema the released one: the check must pass, the
 *   "Unreleased" changes become the section of the new version (accepted breaking changes keep
 *   their reason there), and the accepted list starts empty again.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CriticalityLevel, diff } from '@graphql-inspector/core';
import { buildSchema, isEnumType, isInputObjectType, isInterfaceType, isObjectType, type GraphQLSchema } from 'graphql';
import {
  parseRequirementLine,
  withoutRequirementLine,
  type PublishedRequirement,
} from '../gateway/authorization/composition.ts';
import { PUBLIC_SCHEMA_PATH } from '../lib/schema-files.ts';

const path = (relative: string) => fileURLToPath(new URL(`../schema/${relative}`, import.meta.url));
export const RELEASED_SCHEMA_PATH = path('released/public.graphql');
export const RELEASE_PATH = path('released/release.json');
export const ACCEPTED_CHANGES_PATH = path('released/accepted-changes.json');
export const CHANGELOG_PATH = path('CHANGELOG.md');

export interface Release {
  version: string;
  /** YYYY-MM-DD */
  date: string;
  /** sha256 (hex) of schema/released/public.graphql as released. */
  sha256: string;
}

/**
 * An intended breaking change: the change's type and path exactly as schema:check prints them, and why it is
 * acceptable.
 */
export interface AcceptedChange {
  type: string;
  path: string;
  reason: string;
}

export type ChangeLevel = 'BREAKING' | 'DANGEROUS' | 'NON_BREAKING';

export interface SchemaChange {
  /** @graphql-inspector/core's ChangeType, or FIELD_REQUIREMENT_CHANGED (ours). */
  type: string;
  /** Schema coordinate, e.g. "Account.name" or "Query.account.id". */
  path: string;
  message: string;
  level: ChangeLevel;
  /** For a breaking change listed in accepted-changes.json: its reason. */
  acceptedBecause?: string;
}

export interface CheckInput {
  released: { sdl: string; release: Release };
  /** The current public schema SDL. */
  current: string;
  accepted: readonly AcceptedChange[];
  /** YYYY-MM-DD, for deprecations past their removal date (a warning). */
  today: string;
}

export interface CheckResult {
  changes: SchemaChange[];
  /** Each one fails the check. */
  problems: string[];
  warnings: string[];
}

export const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const LEVEL_ORDER: Record<ChangeLevel, number> = { BREAKING: 0, DANGEROUS: 1, NON_BREAKING: 2 };
const DESCRIPTION_CHANGE = /_DESCRIPTION_(CHANGED|ADDED|REMOVED)$/;
const REMOVAL = /\bremoval: (\d{4}-\d{2}-\d{2})\b/;
const isDate = (value: string) =>
  /^\d{4}-\d{2}-\d{2}$/.test(value) && new Date(`${value}T00:00:00Z`).toISOString().startsWith(value);

/** Compares the current public schema with the released one; pure (the CLI below reads and writes the files). */
export async function checkSchema(input: CheckInput): Promise<CheckResult> {
  const problems: string[] = [];
  const warnings: string[] = [];
  const { release } = input.released;
  if (sha256(input.released.sdl) !== release.sha256) {
    problems.push(
      'schema/released/public.graphql differs from the one release.json records (sha256): the released schema changes only through `npm run schema:release`',
    );
  }
  const before = buildSchema(input.released.sdl);
  const after = buildSchema(input.current);

  const requirementChanges = requirementChangesBetween(before, after);
  const found = (await diff(before, after)).map((c) => ({
    type: c.type as string,
    path: c.path ?? '',
    message: oneLine(c.message),
    level: c.criticality.level as ChangeLevel,
  }));
  const added = new Set(
    found
      .filter(
        (c) => c.type.endsWith('_ADDED') && !c.type.includes('DESCRIPTION') && !c.type.startsWith('DIRECTIVE_USAGE_'),
      )
      .map((c) => c.path),
  );
  const changes: SchemaChange[] = [
    ...found
      // Said once: a description whose only change is its requirement paragraph is the requirement
      // change below; the description of something added comes with it; the @deprecated directive
      // usage is the deprecation itself (*_DEPRECATION_ADDED / _REASON_CHANGED).
      .filter((c) => !(c.type === 'FIELD_DESCRIPTION_CHANGED' && requirementChanges.onlyRequirement.has(c.path)))
      .filter((c) => !(c.type.endsWith('_DESCRIPTION_ADDED') && added.has(c.path)))
      .filter(
        (c) => !(c.type.startsWith('DIRECTIVE_USAGE_') && c.level === 'NON_BREAKING' && /\.@deprecated\b/.test(c.path)),
      )
      .map((c) => (DESCRIPTION_CHANGE.test(c.type) ? { ...c, message: `Description of '${c.path}' changed` } : c)),
    ...requirementChanges.changes,
  ].sort(
    (a, b) =>
      LEVEL_ORDER[a.level] - LEVEL_ORDER[b.level] || a.path.localeCompare(b.path) || a.type.localeCompare(b.type),
  );

  // Breaking changes need a listed reason; every listed one must still match a change.
  const used = new Set<AcceptedChange>();
  for (const entry of input.accepted) {
    if (
      typeof entry.type !== 'string' ||
      typeof entry.path !== 'string' ||
      typeof entry.reason !== 'string' ||
      entry.reason.trim() === ''
    ) {
      problems.push(`accepted-changes.json: every entry needs a type, a path and a reason (${JSON.stringify(entry)})`);
    }
  }
  for (const change of changes) {
    if (change.level !== CriticalityLevel.Breaking) continue;
    const entry = input.accepted.find((a) => a.type === change.type && a.path === change.path && a.reason?.trim());
    if (entry) {
      change.acceptedBecause = entry.reason.trim();
      used.add(entry);
    } else {
      problems.push(
        `breaking change ${change.type} at ${change.path}: ${change.message} (if it is intended, list it with a reason in schema/released/accepted-changes.json)`,
      );
    }
  }
  for (const entry of input.accepted) {
    if (!used.has(entry) && entry.reason?.trim())
      problems.push(
        `accepted-changes.json lists ${entry.type} at ${entry.path}, which is no breaking change of the current schema: remove the entry`,
      );
  }

  for (const d of deprecationsOf(after)) {
    const removal = REMOVAL.exec(d.reason ?? '')?.[1];
    const why = (d.reason ?? '')
      .replace(REMOVAL, '')
      .replace(/[\s.;,]+$/, '')
      .trim();
    if (!removal || !isDate(removal))
      problems.push(`${d.coordinate} is deprecated without a removal date: write "removal: YYYY-MM-DD" in its reason`);
    if (!why || why === 'No longer supported')
      problems.push(`${d.coordinate} is deprecated without a reason: say what to use instead`);
    if (removal && isDate(removal) && removal <= input.today) {
      warnings.push(
        `${d.coordinate} is past its removal date ${removal}: check graphql_deprecated_field_requests_total in /metrics before removing it`,
      );
    }
  }
  return { changes, problems, warnings };
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

interface Deprecation {
  coordinate: string;
  reason: string | null | undefined;
}

function deprecationsOf(schema: GraphQLSchema): Deprecation[] {
  const out: Deprecation[] = [];
  for (const type of Object.values(schema.getTypeMap())) {
    if (type.name.startsWith('__')) continue;
    if (isObjectType(type) || isInterfaceType(type)) {
      for (const field of Object.values(type.getFields())) {
        if (field.deprecationReason != null)
          out.push({ coordinate: `${type.name}.${field.name}`, reason: field.deprecationReason });
        for (const arg of field.args)
          if (arg.deprecationReason != null)
            out.push({ coordinate: `${type.name}.${field.name}(${arg.name}:)`, reason: arg.deprecationReason });
      }
    }
    if (isInputObjectType(type)) {
      for (const field of Object.values(type.getFields()))
        if (field.deprecationReason != null)
          out.push({ coordinate: `${type.name}.${field.name}`, reason: field.deprecationReason });
    }
    if (isEnumType(type)) {
      for (const value of type.getValues())
        if (value.deprecationReason != null)
          out.push({ coordinate: `${type.name}.${value.name}`, reason: value.deprecationReason });
    }
  }
  return out;
}

/**
 * Fields present before and after whose published requirement differs. Stricter (breaking): a
 * scope or a consent permission added, a consent now checked per account, a caller kind removed;
 * anything else only loosens it.
 */
function requirementChangesBetween(
  before: GraphQLSchema,
  after: GraphQLSchema,
): { changes: SchemaChange[]; onlyRequirement: Set<string> } {
  const changes: SchemaChange[] = [];
  const onlyRequirement = new Set<string>();
  for (const type of Object.values(after.getTypeMap())) {
    const old = before.getType(type.name);
    if (!(isObjectType(type) || isInterfaceType(type)) || !(isObjectType(old) || isInterfaceType(old))) continue;
    const oldFields = old.getFields();
    for (const field of Object.values(type.getFields())) {
      const previous = oldFields[field.name];
      if (!previous) continue;
      const was = parseRequirementLine(previous.description);
      const now = parseRequirementLine(field.description);
      if (!was || !now || JSON.stringify(was) === JSON.stringify(now)) continue;
      const coordinate = `${type.name}.${field.name}`;
      if (withoutRequirementLine(previous.description) === withoutRequirementLine(field.description))
        onlyRequirement.add(coordinate);
      const line = (d: string | null | undefined) => d!.split('\n\n').at(-1)!.trim();
      changes.push({
        type: 'FIELD_REQUIREMENT_CHANGED',
        path: coordinate,
        message: `Requirement of '${coordinate}' changed from "${line(previous.description)}" to "${line(field.description)}"`,
        level: stricter(was, now) ? 'BREAKING' : 'NON_BREAKING',
      });
    }
  }
  return { changes, onlyRequirement };
}

function stricter(was: PublishedRequirement, now: PublishedRequirement): boolean {
  if (now.scopes.some((s) => !was.scopes.includes(s))) return true;
  if (was.callers.some((c) => !now.callers.includes(c))) return true;
  return now.consents.some((c) => {
    const before = was.consents.find((b) => b.permission === c.permission);
    return !before || (c.perAccount && !before.perAccount);
  });
}

// ---------------------------------------------------------------------------------------------
// schema/CHANGELOG.md: a header, the "Unreleased" section (regenerated by every --write-changelog)
// and one section per release (written once, by schema:release, and kept).

const CHANGELOG_HEADER = [
  '# Changelog of the public schema',
  '',
  '<!-- Generated by `npm run schema:check -- --write-changelog` and `npm run schema:release`. Do not edit: `npm run schema:check` fails when the Unreleased section is stale. -->',
  '',
  'What changed in the schema partner apps build against (`schema/public.graphql`), release by release, as found by `npm run schema:check`',
  '(GraphQL Inspector, plus the requirement of each field). A breaking change ships only with the reason it was accepted for; a deprecated',
  'field says what to use instead and when it will be removed.',
  '',
].join('\n');

const LEVEL_TITLE: Record<ChangeLevel, string> = { BREAKING: 'Breaking', DANGEROUS: 'Dangerous', NON_BREAKING: 'Safe' };

function changesBody(changes: readonly SchemaChange[]): string {
  if (changes.length === 0) return 'No changes.\n';
  const out: string[] = [];
  for (const level of Object.keys(LEVEL_TITLE) as ChangeLevel[]) {
    const ofLevel = changes.filter((c) => c.level === level);
    if (!ofLevel.length) continue;
    out.push(`### ${LEVEL_TITLE[level]}`, '');
    for (const c of ofLevel)
      out.push(
        `- \`${c.path}\` (${c.type}): ${c.message}${c.acceptedBecause ? `. Accepted: ${oneLine(c.acceptedBecause)}` : ''}`,
      );
    out.push('');
  }
  return out.join('\n');
}

export function renderUnreleased(changes: readonly SchemaChange[], release: Release): string {
  return `## Unreleased (since ${release.version})\n\n${changesBody(changes)}`;
}

/** The sections of a changelog after its header: [heading line + body]. */
function sectionsOf(changelog: string): string[] {
  const at = changelog.search(/^## /m);
  return at < 0 ? [] : changelog.slice(at).split(/^(?=## )/m);
}

export function unreleasedSectionOf(changelog: string): string | null {
  return sectionsOf(changelog).find((s) => s.startsWith('## Unreleased')) ?? null;
}

function releasedSectionsOf(changelog: string | null): string[] {
  return sectionsOf(changelog ?? '').filter((s) => !s.startsWith('## Unreleased'));
}

const assemble = (sections: readonly string[]) =>
  [CHANGELOG_HEADER, ...sections].map((s) => `${s.trimEnd()}\n`).join('\n');

/** The changelog with `unreleased` as its Unreleased section, the released sections kept as they are. */
export function withUnreleased(changelog: string | null, unreleased: string): string {
  return assemble([unreleased, ...releasedSectionsOf(changelog)]);
}

// ---------------------------------------------------------------------------------------------
// Files and command line.

interface RepositoryState {
  current: string;
  released: { sdl: string; release: Release } | null;
  accepted: AcceptedChange[];
  changelog: string | null;
}

function readState(): RepositoryState {
  const read = (p: string) => (existsSync(p) ? readFileSync(p, 'utf8') : null);
  const releasedSdl = read(RELEASED_SCHEMA_PATH);
  const release = read(RELEASE_PATH);
  const accepted = read(ACCEPTED_CHANGES_PATH);
  return {
    current: readFileSync(PUBLIC_SCHEMA_PATH, 'utf8'),
    released:
      releasedSdl !== null && release !== null ? { sdl: releasedSdl, release: JSON.parse(release) as Release } : null,
    accepted: accepted ? ((JSON.parse(accepted) as { accepted?: AcceptedChange[] }).accepted ?? []) : [],
    changelog: read(CHANGELOG_PATH),
  };
}

const today = () => new Date().toISOString().slice(0, 10);

export interface RepositoryCheck extends CheckResult {
  release: Release;
}

/**
 * schema:check on the repository's files; `writeChangelog` rewrites the Unreleased section instead of failing on it.
 */
export async function checkRepository({ writeChangelog = false } = {}): Promise<RepositoryCheck> {
  const state = readState();
  if (!state.released)
    throw new Error('no released schema in schema/released/: run `npm run schema:release -- --version <x.y.z>` once');
  const result = await checkSchema({
    released: state.released,
    current: state.current,
    accepted: state.accepted,
    today: today(),
  });
  const unreleased = renderUnreleased(result.changes, state.released.release);
  if (writeChangelog) writeFileSync(CHANGELOG_PATH, withUnreleased(state.changelog, unreleased));
  else if (unreleasedSectionOf(state.changelog ?? '')?.trimEnd() !== unreleased.trimEnd()) {
    result.problems.push(
      'schema/CHANGELOG.md does not list the current changes: run `npm run schema:check -- --write-changelog`',
    );
  }
  return { ...result, release: state.released.release };
}

const semver = (v: string) => /^(\d+)\.(\d+)\.(\d+)$/.exec(v)?.slice(1).map(Number) ?? null;

/** schema:release: the current public schema becomes the released one. Throws (changing nothing) when it cannot. */
export async function releaseSchema(version: string, date: string): Promise<string> {
  const next = semver(version);
  if (!next) throw new Error(`--version must be x.y.z, got ${JSON.stringify(version)}`);
  if (!isDate(date)) throw new Error(`--date must be YYYY-MM-DD, got ${JSON.stringify(date)}`);
  const state = readState();
  let body = 'First release of the public schema.\n';
  if (state.released) {
    const previous = semver(state.released.release.version)!;
    const newer = next[0]! - previous[0]! || next[1]! - previous[1]! || next[2]! - previous[2]!;
    if (newer <= 0) throw new Error(`--version ${version} is not after the released ${state.released.release.version}`);
    const result = await checkSchema({
      released: state.released,
      current: state.current,
      accepted: state.accepted,
      today: date,
    });
    if (result.problems.length)
      throw new Error(`the schema cannot be released:\n${result.problems.map((p) => `  - ${p}`).join('\n')}`);
    body = changesBody(result.changes);
  }
  const release: Release = { version, date, sha256: sha256(state.current) };
  writeFileSync(
    CHANGELOG_PATH,
    assemble([
      renderUnreleased([], release),
      `## ${version} (${date})\n\n${body}`,
      ...releasedSectionsOf(state.changelog),
    ]),
  );
  writeFileSync(RELEASED_SCHEMA_PATH, state.current);
  writeFileSync(RELEASE_PATH, `${JSON.stringify(release, null, 2)}\n`);
  writeFileSync(ACCEPTED_CHANGES_PATH, `${JSON.stringify({ accepted: [] }, null, 2)}\n`);
  return `released the public schema as ${version} (${date}): schema/released/, schema/CHANGELOG.md`;
}

function option(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  try {
    if (args.includes('--release')) {
      const version = option(args, '--version');
      if (!version) throw new Error('usage: npm run schema:release -- --version <x.y.z> [--date <YYYY-MM-DD>]');
      console.log(await releaseSchema(version, option(args, '--date') ?? today()));
    } else {
      const unknown = args.filter((a) => a !== '--write-changelog');
      if (unknown.length) throw new Error('usage: npm run schema:check [-- --write-changelog]');
      const result = await checkRepository({ writeChangelog: args.includes('--write-changelog') });
      const count = (level: ChangeLevel) => result.changes.filter((c) => c.level === level).length;
      for (const c of result.changes)
        console.log(
          `  ${c.level.padEnd(12)} ${c.path} (${c.type}): ${c.message}${c.acceptedBecause ? ` [accepted: ${c.acceptedBecause}]` : ''}`,
        );
      for (const w of result.warnings) console.log(`  warning: ${w}`);
      for (const p of result.problems) console.error(`  problem: ${p}`);
      console.log(
        `schema:check: schema/public.graphql against release ${result.release.version} (${result.release.date}): ${result.changes.length} change(s), ` +
          `${count('BREAKING')} breaking (${result.changes.filter((c) => c.acceptedBecause).length} accepted), ${count('DANGEROUS')} dangerous, ${count('NON_BREAKING')} safe; ` +
          `${result.problems.length} problem(s)`,
      );
      process.exitCode = result.problems.length ? 1 : 0;
    }
  } catch (err) {
    console.error((err as Error).message);
    process.exitCode = 2;
  }
}
