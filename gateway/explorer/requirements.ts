import type { GraphQLSchema } from 'graphql';
import { fieldRequirement, requirementLine } from '../authorization/composition.ts';
import { permissionScope, type ConsentPermission } from '../../lib/consent.ts';
import { auditRules, type AuditRow } from '../authorization/audit.ts';
import { graphqlRuntime } from '../authorization/graphql-runtime.ts';
import { policyOf, STAFF_SCOPES, type CallerKind, type ObjectCheck } from '../authorization/policy.ts';

/**
 * What every field of the served schema requires, as the explorer shows it (served as
 * /explorer/requirements.json). Nothing here restates the policy or the engine:
 * - what a field requires (token, scopes, caller kinds, consents and whether each is checked per
 *   account, PII) is `fieldRequirement` of gateway/authorization/composition.ts, the very
 *   derivation composition writes into the schema as Apollo Router's directives and as the
 *   "Requires:" paragraph of each description (`line` below is that paragraph);
 * - how it is enforced (before execution or per object, the check, the graphql-shield rule, the
 *   reviewer's note) is the field's row of `auditRules()` (gateway/authorization/audit.ts), what
 *   `npm run shield:audit` prints from POLICY and the live rule tree.
 * A field the policy does not cover is listed as denied to everyone, as the fallback rule does.
 * (This makes gateway/authorization/composition.ts, otherwise used at build time, a module the
 * gateway loads once at start: one derivation of a field's requirement for the schema and the
 * explorer, not two.)
 */
export interface ConsentRequirement {
  permission: ConsentPermission;
  /** 'account': granted per account (the customer picks accounts); 'customer': about the customer. */
  grantedPer: 'account' | 'customer';
  /** Checked for the object's own account (a per-object check); otherwise "some authorised consent grants it". */
  perAccount: boolean;
  /**
   * Also decided before execution, from the caller alone (engine.ts callerDenial: some authorised
   * consent grants it): what the explorer can tell before a request is sent.
   */
  beforeExecution: boolean;
}

export interface FieldRequirement {
  /** Type.field */
  coordinate: string;
  /** False only for a field without a rule: the fallback denies it to every caller. */
  hasRule: boolean;
  /** Every field needs a verified access token (requireAuthentication); introspection and __typename do not. */
  authenticated: true;
  /** All required. */
  scopes: string[];
  /** The kinds of caller that may read it. */
  callers: CallerKind[];
  /**
   * What a thirdParty caller needs in its authorised consents, all of it ([] for no consent, or when thirdParty is not
   * a caller).
   */
  consents: ConsentRequirement[];
  pii: boolean;
  decided: AuditRow['decided'];
  objectCheck: ObjectCheck | null;
  /** The graphql-shield rule applied to the field. */
  rule: string;
  note: string;
  /** The "Requires: …" paragraph of the field's description in the composed schema. */
  line: string;
}

export interface RequirementsDocument {
  /** Where the entries come from, for the reader of the JSON. */
  source: string;
  callerKinds: Record<CallerKind, string>;
  fields: Record<string, FieldRequirement>;
  /**
   * What `npm run shield:audit` reports as wrong with the rule set, and fields whose requirement cannot be stated
   * (empty when all is well).
   */
  problems: string[];
}

export const CALLER_KIND_LABELS: Record<CallerKind, string> = {
  customer: 'a customer through a first-party app',
  thirdParty: 'a third-party app acting for a customer under consent',
  staff: `staff (no customer in the token, ${STAFF_SCOPES.join(' or ')})`,
  machine: 'a machine client (no customer in the token)',
};

/** The requirements of every field of every object type of `schema` (the one the gateway serves). */
export function buildRequirements(schema: GraphQLSchema): RequirementsDocument {
  const report = auditRules(schema);
  const rows = new Map(report.rows.map((r) => [`${r.type}.${r.field}`, r]));
  const problems = [...report.problems];
  const fields: Record<string, FieldRequirement> = {};
  for (const type of Object.values(schema.getTypeMap())) {
    if (!graphqlRuntime.isObjectType(type) || type.name.startsWith('__')) continue;
    for (const field of Object.keys(type.getFields())) {
      const coordinate = `${type.name}.${field}`;
      const row = rows.get(coordinate);
      const policy = policyOf(type.name, field);
      let requirement;
      try {
        requirement = row && policy ? fieldRequirement(coordinate, policy) : undefined;
      } catch (err) {
        problems.push((err as Error).message);
      }
      fields[coordinate] =
        row && policy && requirement
          ? {
              coordinate,
              hasRule: true,
              authenticated: true,
              scopes: requirement.scopes,
              callers: requirement.callers,
              consents: requirement.consents.map((c) => ({
                permission: c.permission,
                grantedPer: permissionScope(c.permission),
                perAccount: c.perAccount,
                beforeExecution: c.permission === policy.consent,
              })),
              pii: requirement.pii,
              decided: row.decided,
              objectCheck: policy.object,
              rule: row.rule,
              note: row.note,
              line: requirementLine(requirement),
            }
          : unruled(coordinate);
    }
  }
  return {
    source:
      'gateway/authorization/policy.ts: gateway/authorization/composition.ts fieldRequirement and the live rule tree (npm run shield:audit)',
    callerKinds: CALLER_KIND_LABELS,
    fields,
    problems,
  };
}

/** A field without a rule: the fallback denies it to every caller. */
function unruled(coordinate: string): FieldRequirement {
  return {
    coordinate,
    hasRule: false,
    authenticated: true,
    scopes: [],
    callers: [],
    consents: [],
    pii: false,
    decided: 'before execution',
    objectCheck: null,
    rule: 'fallback:deny',
    note: 'no rule in the policy: denied to every caller',
    line: 'Requires: nothing any caller has (no rule: denied by default)',
  };
}
