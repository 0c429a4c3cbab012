import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import {
  checkRepository,
  checkSchema,
  renderUnreleased,
  sha256,
  unreleasedSectionOf,
  withUnreleased,
  type AcceptedChange,
  type CheckResult,
} from '../../scripts/schema-check.ts';

/**
 * npm run schema:check against modified SDL in memory: a safe change passes, a breaking one fails
 * until it is listed with a reason, a stricter field requirement is breaking, deprecations need a
 * reason and a removal date, and the changelog shows what the check found.
 */
const exec = promisify(execFile);
const SCRIPT = fileURLToPath(new URL('../../scripts/schema-check.ts', import.meta.url));

const REQUIRES_ACCOUNT =
  'Requires: authentication; scopes accounts:read; callers customer, thirdParty; thirdParty consent ACCOUNTS per account';
const REQUIRES_VALUE = 'Requires: authentication; callers customer, thirdParty';

function sdl({ accountRequires = REQUIRES_ACCOUNT, nameField = true, extra = '', nameDirective = '' } = {}): string {
  return `
"""The root."""
type Query {
  """
  One account.

  ${accountRequires}
  """
  account(
    """The id."""
    id: ID!
  ): Account
}

"""An account."""
type Account {
  """
  The id.

  ${REQUIRES_VALUE}
  """
  id: ID!
${
  nameField
    ? `  """
  The name.

  ${REQUIRES_VALUE}
  """
  name: String${nameDirective}`
    : ''
}
${extra}
}
`;
}

const RELEASED = sdl();
const release = { version: '1.4.0', date: '2026-11-01', sha256: sha256(RELEASED) };

function check(current: string, accepted: AcceptedChange[] = [], released = RELEASED): Promise<CheckResult> {
  return checkSchema({ released: { sdl: released, release }, current, accepted, today: '2026-12-03' });
}

const summary = (r: CheckResult) => r.changes.map((c) => `${c.level} ${c.type} ${c.path}`);

describe('schema:check', () => {
  it('passes an unchanged schema', async () => {
    expect(await check(RELEASED)).toEqual({ changes: [], problems: [], warnings: [] });
  });

  it('passes a safe change and lists it', async () => {
    const result = await check(sdl({ extra: '  """A nickname.\n\n  ' + REQUIRES_VALUE + '"""\n  nickname: String' }));
    expect(result.problems).toEqual([]);
    expect(summary(result)).toEqual(['NON_BREAKING FIELD_ADDED Account.nickname']);
  });

  it('fails a breaking change until it is listed with a reason', async () => {
    const removed = sdl({ nameField: false });
    const refused = await check(removed);
    expect(summary(refused)).toEqual(['BREAKING FIELD_REMOVED Account.name']);
    expect(refused.problems).toEqual([
      expect.stringMatching(/^breaking change FIELD_REMOVED at Account\.name: .*accepted-changes\.json/),
    ]);

    const reason =
      'deprecated since 1.2.0 with removal: 2026-11-30; no client in graphql_deprecated_field_requests_total for 60 days';
    const accepted = await check(removed, [{ type: 'FIELD_REMOVED', path: 'Account.name', reason }]);
    expect(accepted.problems).toEqual([]);
    expect(accepted.changes[0]!.acceptedBecause).toBe(reason);

    const noReason = await check(removed, [{ type: 'FIELD_REMOVED', path: 'Account.name', reason: ' ' }]);
    expect(noReason.problems).toEqual([
      expect.stringMatching(/every entry needs a type, a path and a reason/),
      expect.stringMatching(/^breaking change FIELD_REMOVED at Account\.name/),
    ]);
  });

  it('fails on an accepted change that no longer happens', async () => {
    const result = await check(RELEASED, [
      { type: 'FIELD_REMOVED', path: 'Account.name', reason: 'was to be removed' },
    ]);
    expect(result.problems).toEqual([
      expect.stringMatching(/lists FIELD_REMOVED at Account\.name, which is no breaking change of the current schema/),
    ]);
  });

  it('treats a stricter field requirement as breaking and a looser one as safe, instead of a mere description change', async () => {
    const moreScopes = await check(
      sdl({ accountRequires: REQUIRES_ACCOUNT.replace('scopes accounts:read', 'scopes accounts:read, balances:read') }),
    );
    expect(summary(moreScopes)).toEqual(['BREAKING FIELD_REQUIREMENT_CHANGED Query.account']);
    expect(moreScopes.problems).toHaveLength(1);
    const fewerCallers = await check(
      sdl({
        accountRequires: REQUIRES_ACCOUNT.replace('callers customer, thirdParty', 'callers customer').replace(
          /; thirdParty consent .*$/,
          '',
        ),
      }),
    );
    expect(summary(fewerCallers)).toEqual(['BREAKING FIELD_REQUIREMENT_CHANGED Query.account']);
    const newConsent = await check(sdl({ accountRequires: `${REQUIRES_ACCOUNT} and BALANCES` }));
    expect(summary(newConsent)).toEqual(['BREAKING FIELD_REQUIREMENT_CHANGED Query.account']);

    const looser = await check(
      sdl({ accountRequires: REQUIRES_ACCOUNT.replace('scopes accounts:read; ', '').replace(' per account', '') }),
    );
    expect(summary(looser)).toEqual(['NON_BREAKING FIELD_REQUIREMENT_CHANGED Query.account']);
    expect(looser.problems).toEqual([]);
    expect(looser.changes[0]!.message).toContain(
      'to "Requires: authentication; callers customer, thirdParty; thirdParty consent ACCOUNTS"',
    );
  });

  it('requires every deprecation to carry a reason and a removal date, and warns once that date has passed', async () => {
    const problemsOf = async (directive: string) => (await check(sdl({ nameDirective: directive }))).problems;
    expect(await problemsOf(' @deprecated(reason: "Use `displayName`.")')).toEqual([
      expect.stringMatching(/^Account\.name is deprecated without a removal date/),
    ]);
    expect(await problemsOf(' @deprecated')).toEqual([
      expect.stringMatching(/without a removal date/),
      expect.stringMatching(/^Account\.name is deprecated without a reason/),
    ]);
    expect(await problemsOf(' @deprecated(reason: "removal: 2027-06-30")')).toEqual([
      expect.stringMatching(/without a reason/),
    ]);
    expect(await problemsOf(' @deprecated(reason: "Use `displayName`. removal: 2027-02-30")')).toEqual([
      expect.stringMatching(/without a removal date/),
    ]);
    const ok = await check(sdl({ nameDirective: ' @deprecated(reason: "Use `displayName`. removal: 2027-06-30")' }));
    expect(ok.problems).toEqual([]);
    expect(summary(ok)).toEqual(['NON_BREAKING FIELD_DEPRECATION_ADDED Account.name.@deprecated']);
    const due = await check(sdl({ nameDirective: ' @deprecated(reason: "Use `displayName`. removal: 2026-12-01")' }));
    expect(due.problems).toEqual([]);
    expect(due.warnings).toEqual([
      expect.stringMatching(
        /^Account\.name is past its removal date 2026-12-01: check graphql_deprecated_field_requests_total/,
      ),
    ]);
  });

  it('notices a released schema edited by hand', async () => {
    const edited = sdl({ nameField: false });
    const result = await check(edited, [], edited);
    expect(result.changes).toEqual([]);
    expect(result.problems).toEqual([expect.stringMatching(/differs from the one release\.json records/)]);
  });
});

describe('the schema changelog', () => {
  it('lists the changes by criticality, with the reason of each accepted breaking change, and keeps the released sections', async () => {
    const reason = 'nobody used it';
    const result = await check(
      sdl({ nameField: false, extra: '  """A nickname.\n\n  ' + REQUIRES_VALUE + '"""\n  nickname: String' }),
      [{ type: 'FIELD_REMOVED', path: 'Account.name', reason }],
    );
    const unreleased = renderUnreleased(result.changes, release);
    expect(unreleased).toMatch(
      /^## Unreleased \(since 1\.4\.0\)\n\n### Breaking\n\n- `Account\.name` \(FIELD_REMOVED\): .*\. Accepted: nobody used it\n\n### Safe\n\n- `Account\.nickname` \(FIELD_ADDED\)/,
    );
    const old =
      withUnreleased(null, '## Unreleased (since 1.3.0)\n\nNo changes.\n') +
      '\n## 1.4.0 (2026-11-01)\n\nFirst release of the public schema.\n';
    const updated = withUnreleased(old, unreleased);
    expect(unreleasedSectionOf(updated)!.trimEnd()).toBe(unreleased.trimEnd());
    expect(updated).toContain('## 1.4.0 (2026-11-01)\n\nFirst release of the public schema.');
    expect(updated).not.toContain('since 1.3.0');
    expect(renderUnreleased([], release)).toBe('## Unreleased (since 1.4.0)\n\nNo changes.\n');
  });
});

describe('the repository', () => {
  it('has a public schema that passes against the released one, and a changelog that says so', async () => {
    const result = await checkRepository();
    expect(result.problems).toEqual([]);
  });

  it('runs as npm run schema:check and exits 0', async () => {
    const { stdout } = await exec(process.execPath, [SCRIPT]);
    expect(stdout).toMatch(/schema:check: schema\/public\.graphql against release \d+\.\d+\.\d+ .*0 problem\(s\)/);
  });
});
