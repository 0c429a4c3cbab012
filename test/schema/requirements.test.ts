import { readFileSync } from 'node:fs';
import { Kind, parse, valueFromASTUntyped, type GraphQLResolveInfo } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditRules, type AuditRow } from '../../gateway/authorization/audit.ts';
import { callerDenial, OBJECT_CHECKS, scopeDenial, type AuthzState } from '../../gateway/authorization/engine.ts';
import { CALLER_KINDS, policyOf, type CallerKind } from '../../gateway/authorization/policy.ts';
import { loadGatewayConfig } from '../../gateway/config.ts';
import { startGateway, type RunningGateway } from '../../gateway/server.ts';
import type { ConsentPermission } from '../../lib/consent.ts';
import { PUBLIC_SCHEMA_PATH, SUPERGRAPH_PATH } from '../../lib/schema-files.ts';
import { gql, logger, startLocalJwks, stubGatewayEnv, type LocalJwks } from '../gateway/helpers.ts';

/**
 * What the schema says each field requires (Apollo Router's directives in the supergraph, the
 * "Requires:" paragraph of every description) agrees, for EVERY field, with the reviewer's view
 * (auditRules(), what `npm run shield:audit` prints) and with the decisions the gateway enforces
 * (engine.ts: scopeDenial, callerDenial, OBJECT_CHECKS), and the live gateway's introspection
 * shows it. The files read are the checked-in ones (composition.test.ts proves them fresh).
 */

interface Published {
  authenticated: boolean;
  scopes: string[][] | undefined;
  policies: string[][] | undefined;
  description: string;
}

function publishedRequirements(path: string): Map<string, Published> {
  const out = new Map<string, Published>();
  for (const def of parse(readFileSync(path, 'utf8')).definitions) {
    if (def.kind !== Kind.OBJECT_TYPE_DEFINITION) continue;
    for (const field of def.fields ?? []) {
      const arg = (directiveName: string, argName: string) => {
        const d = field.directives?.find((x) => x.name.value === directiveName);
        const value = d?.arguments?.find((a) => a.name.value === argName)?.value;
        return value ? (valueFromASTUntyped(value) as string[][]) : undefined;
      };
      out.set(`${def.name.value}.${field.name.value}`, {
        authenticated: field.directives?.some((d) => d.name.value === 'authenticated') ?? false,
        scopes: arg('requiresScopes', 'scopes'),
        policies: arg('policy', 'policies'),
        description: field.description?.value ?? '',
      });
    }
  }
  return out;
}

const report = auditRules();
const supergraph = publishedRequirements(SUPERGRAPH_PATH);
const publicSchema = publishedRequirements(PUBLIC_SCHEMA_PATH);
const coordinate = (r: AuditRow) => `${r.type}.${r.field}`;

/** Callers and the thirdParty's consent policy names, read from @policy. */
function policyParts(policies: string[][]): {
  callers: string[];
  consents: { permission: string; perAccount: boolean }[];
  others: string[][];
} {
  const callers = policies.map((alternative) => alternative[0]!.replace(/^caller:/, ''));
  const thirdParty = policies.find((a) => a[0] === 'caller:thirdParty') ?? [];
  const consents = thirdParty.slice(1).map((name) => {
    const match = /^consent:([A-Z_]+)(:per-account)?$/.exec(name);
    if (!match) throw new Error(`unexpected policy name ${name}`);
    return { permission: match[1]!, perAccount: match[2] !== undefined };
  });
  return { callers, consents, others: policies.filter((a) => a[0] !== 'caller:thirdParty') };
}

/** The requirement paragraph the docs show, rebuilt from the audit row and the consents of @policy. */
function expectedLine(row: AuditRow, consents: { permission: string; perAccount: boolean }[]): string {
  const parts = ['authentication'];
  if (row.scopes.length) parts.push(`scopes ${row.scopes.join(', ')}`);
  parts.push(`callers ${CALLER_KINDS.filter((k) => row.callers.includes(k)).join(', ')}`);
  if (consents.length)
    parts.push(
      `thirdParty consent ${consents.map((c) => `${c.permission}${c.perAccount ? ' per account' : ''}`).join(' and ')}`,
    );
  if (row.pii) parts.push('PII');
  return `Requires: ${parts.join('; ')}`;
}

describe('requirements in the schema', () => {
  it('covers every field the audit lists, with no audit problem', () => {
    expect(report.problems).toEqual([]);
    expect(report.rows.length).toBeGreaterThan(100);
    expect(report.rows.map(coordinate).filter((c) => !supergraph.has(c))).toEqual([]);
  });

  it('links the authorization specs in the supergraph for SECURITY', () => {
    const sdl = readFileSync(SUPERGRAPH_PATH, 'utf8');
    for (const spec of ['authenticated/v0.1', 'requiresScopes/v0.1', 'policy/v0.1']) {
      expect(sdl).toContain(`@link(url: "https://specs.apollo.dev/${spec}", for: SECURITY)`);
    }
  });

  it('states in @authenticated, @requiresScopes and @policy what the audit says, for every field', () => {
    const mismatches: string[] = [];
    for (const row of report.rows) {
      const c = coordinate(row);
      const published = supergraph.get(c)!;
      const { callers, consents, others } = policyParts(published.policies ?? []);
      const actual = {
        authenticated: published.authenticated,
        scopes: published.scopes,
        callers: [...callers].sort(),
        consent: consents[0]?.permission ?? null,
        othersNeedOnlyTheirKind: others.every((a) => a.length === 1),
      };
      const wanted = {
        authenticated: true,
        scopes: row.scopes.length ? [row.scopes] : undefined,
        callers: [...row.callers].sort(),
        consent: row.callers.includes('thirdParty') ? row.consent : null,
        othersNeedOnlyTheirKind: true,
      };
      if (JSON.stringify(actual) !== JSON.stringify(wanted))
        mismatches.push(`${c}: schema ${JSON.stringify(actual)} vs audit ${JSON.stringify(wanted)}`);
      // A per-account consent is only ever checked by a per-object rule.
      if (consents.some((x) => x.perAccount) && row.decided !== 'per object')
        mismatches.push(`${c}: per-account consent on a field decided before execution`);
    }
    expect(mismatches).toEqual([]);
  });

  it('ends every field description with the same requirement paragraph, in the supergraph and in the public schema', () => {
    const mismatches: string[] = [];
    for (const row of report.rows) {
      const c = coordinate(row);
      const line = expectedLine(row, policyParts(supergraph.get(c)!.policies ?? []).consents);
      for (const [where, published] of [
        ['supergraph', supergraph.get(c)],
        ['public', publicSchema.get(c)],
      ] as const) {
        const last = published?.description.split('\n\n').at(-1);
        if (last !== line)
          mismatches.push(`${c} (${where}): ${JSON.stringify(last)} instead of ${JSON.stringify(line)}`);
      }
      // The original description is still there, before the requirement.
      if ((publicSchema.get(c)?.description.split('\n\n').length ?? 0) < 2)
        mismatches.push(`${c}: nothing but the requirement in its description`);
    }
    expect(mismatches).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// The published requirement against the enforced decisions (engine.ts), field by field.

const OWN = { customer: 'cus_1', account: 'acc_1', other: 'acc_2' };
const ID_BY_TYPE: Record<string, string> = {
  Customer: OWN.customer,
  Account: OWN.account,
  Transaction: 'txn_1',
  Payment: 'pay_1',
};

/**
 * An authorization state for one kind of caller whose consents grant what `grants` says (accountId undefined: the
 * caller-level question).
 */
function stateFor(
  kind: CallerKind,
  scopes: string[],
  grants: (permission: ConsentPermission, accountId: string | undefined) => boolean,
): AuthzState {
  const principal = {
    customerId: kind === 'customer' || kind === 'thirdParty' ? OWN.customer : null,
    clientId: `${kind}-app`,
    scopes,
  };
  return {
    principal,
    requestId: 'req-requirements',
    kind: async () => kind,
    consents: {
      active: async () => [],
      grants: async (...args: [ConsentPermission, string?]) =>
        kind === 'thirdParty' ? grants(args[0], args.length > 1 ? (args[1] ?? '') : undefined) : false,
    },
    ownedAccountIds: async () => new Set([OWN.account]),
    transactionAccountId: async () => OWN.account,
    paymentDebtorAccountId: async () => OWN.account,
    consentChanged: async () => undefined,
  };
}

/** Runs the field's per-object check on the caller's own object (its account is OWN.account). */
async function objectCheckAllows(row: AuditRow, state: AuthzState): Promise<boolean> {
  const policy = policyOf(row.type, row.field)!;
  if (!policy.object) return true;
  const argId =
    row.type === 'Query'
      ? { me: undefined, customer: OWN.customer, account: OWN.account, transaction: 'txn_1', payment: 'pay_1' }[
          row.field
        ]
      : undefined;
  const args = { id: argId, input: { accountIds: [OWN.account] } };
  const parent = { id: ID_BY_TYPE[row.type] };
  const info = { parentType: { name: row.type }, fieldName: row.field } as unknown as GraphQLResolveInfo;
  try {
    return await OBJECT_CHECKS[policy.object](parent, args, state, info, policy);
  } catch {
    return false;
  }
}

describe('the published requirements are what the gateway enforces', () => {
  it('for every field: exactly the scopes of @requiresScopes, the caller kinds and consents of @policy, per account where it says so', async () => {
    const mismatches: string[] = [];
    for (const row of report.rows) {
      const c = coordinate(row);
      const policy = policyOf(row.type, row.field)!;
      const published = supergraph.get(c)!;
      const scopes = published.scopes?.[0] ?? [];
      const { callers, consents } = policyParts(published.policies ?? []);
      const all = () => true;

      // Scopes: all of them pass, any one missing is refused naming it.
      if (scopeDenial(c, policy, { customerId: OWN.customer, clientId: 'app', scopes }) !== null)
        mismatches.push(`${c}: refused with the scopes the schema lists`);
      for (const missing of scopes) {
        const denial = scopeDenial(c, policy, {
          customerId: OWN.customer,
          clientId: 'app',
          scopes: scopes.filter((s) => s !== missing),
        });
        if (JSON.stringify(denial?.missingScopes) !== JSON.stringify([missing]))
          mismatches.push(`${c}: not refused without ${missing}`);
      }

      for (const kind of CALLER_KINDS) {
        const listed = callers.includes(kind);
        // Caller level, everything granted: allowed exactly for the kinds @policy lists.
        const allowed = (await callerDenial(c, policy, stateFor(kind, scopes, all))) === null;
        if (allowed !== listed)
          mismatches.push(
            `${c}: ${kind} ${allowed ? 'allowed' : 'refused'} before execution, schema says ${listed ? 'allowed' : 'refused'}`,
          );
        // A listed kind can also get through the per-object check on its own object.
        if (listed && !(await objectCheckAllows(row, stateFor(kind, scopes, all))))
          mismatches.push(`${c}: ${kind} refused by the per-object check on its own object`);
      }

      if (!callers.includes('thirdParty')) continue;
      for (const consent of consents) {
        const permission = consent.permission as ConsentPermission;
        // Without this permission (every other one granted everywhere): refused, before execution or on the object.
        const without = stateFor('thirdParty', scopes, (p) => p !== permission);
        const refused = (await callerDenial(c, policy, without)) !== null || !(await objectCheckAllows(row, without));
        if (!refused) mismatches.push(`${c}: a thirdParty without ${permission} is let through`);
        // Granted for another account only: refused exactly when the schema says "per account".
        const elsewhere = stateFor(
          'thirdParty',
          scopes,
          (p, account) => p !== permission || account === undefined || account === OWN.other,
        );
        const refusedElsewhere =
          (await callerDenial(c, policy, elsewhere)) !== null || !(await objectCheckAllows(row, elsewhere));
        if (refusedElsewhere !== consent.perAccount)
          mismatches.push(
            `${c}: ${permission} on another account ${refusedElsewhere ? 'is refused' : 'is enough'}, schema says ${consent.perAccount ? 'per account' : 'not per account'}`,
          );
      }
      // No consent the schema leaves out is needed: granting only the listed ones, on this account, is enough.
      const listedOnly = stateFor(
        'thirdParty',
        scopes,
        (p, account) => consents.some((x) => x.permission === p) && (account === undefined || account === OWN.account),
      );
      if ((await callerDenial(c, policy, listedOnly)) !== null || !(await objectCheckAllows(row, listedOnly)))
        mismatches.push(`${c}: the consents the schema lists are not enough`);
    }
    expect(mismatches).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// What a partner developer's introspection client sees (sandbox profile).

describe('introspection of the live gateway (sandbox profile)', () => {
  let jwks: LocalJwks;
  let gateway: RunningGateway;
  beforeAll(async () => {
    jwks = await startLocalJwks();
    // No subgraph is called by introspection: an address nothing listens on is enough.
    gateway = await startGateway(loadGatewayConfig(stubGatewayEnv(jwks.url, 'http://127.0.0.1:9/graphql')), { logger });
  });
  afterAll(async () => {
    await gateway?.close();
    await jwks?.close();
  });

  it('shows the authorization directives and every field description with its requirement paragraph', async () => {
    const { status, body } = await gql(
      gateway.url,
      '{ __schema { directives { name } types { name fields { name description } } } }',
    );
    expect(status).toBe(200);
    const schema = body.data!.__schema as {
      directives: { name: string }[];
      types: { name: string; fields: { name: string; description: string | null }[] | null }[];
    };
    expect(schema.directives.map((d) => d.name)).toEqual(
      expect.arrayContaining(['authenticated', 'requiresScopes', 'policy']),
    );
    const described = new Map<string, string>(
      schema.types.flatMap((t) =>
        (t.fields ?? []).map((f) => [`${t.name}.${f.name}`, f.description ?? ''] as [string, string]),
      ),
    );
    const mismatches = report.rows
      .map(coordinate)
      .filter((c) => described.get(c) !== publicSchema.get(c)!.description)
      .map((c) => `${c}: ${JSON.stringify(described.get(c))}`);
    expect(mismatches).toEqual([]);
  });
});
