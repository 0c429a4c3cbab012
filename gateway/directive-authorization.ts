import {
  defaultFieldResolver,
  TypeInfo,
  visit,
  visitWithTypeInfo,
  type SelectionSetNode,
  getNamedType,
  GraphQLError,
  isInterfaceType,
  isObjectType,
  Kind,
  type ConstDirectiveNode,
  type DocumentNode,
  type GraphQLFieldResolver,
  type GraphQLSchema,
  type ValueNode,
} from 'graphql';
import type { Principal } from '../lib/principal.ts';

/**
 * GATEWAY_AUTHORIZATION=directives: authorization taken from the supergraph's own directives, with
 * Apollo Router's semantics, for serving a supergraph that is not this product's (the product's
 * own graph is served with its policy, gateway/authorization/, which also checks consents,
 * caller kinds and ownership; none of that exists here).
 *
 * - `@authenticated`: the caller must present a valid access token.
 * - `@requiresScopes(scopes: [["a", "b"], ["c"]])`: an OR of ANDs over the token's `scope` claim
 *   ((a AND b) OR c).
 * - `@policy(policies: [["p", "q"], ["r"]])`: an OR of ANDs over policies. Router asks a
 *   coprocessor which policies a request satisfies; here a policy `p` is satisfied when the token's
 *   `scope` claim lists `policy:p` (POLICY_SCOPE_PREFIX), so the authorization server that issues
 *   the token decides, and nothing else needs to run.
 *
 * Where they apply (as Router composes them): on a field; on an object type, to every field of that
 * type and to every field that returns it; on a scalar or enum, to every field that returns it.
 * Federation refuses them on interfaces and interface fields: a field selected through an
 * interface is decided by the implementation the object turns out to be (item by item in a list).
 * (Written on an interface in a hand-made supergraph, they apply to every implementation.) All
 * requirements that apply to a field must hold.
 *
 * An unauthorized field does not fail the request: it resolves to null with an error
 * `UNAUTHORIZED_FIELD_OR_TYPE` at its path (Router's "filter" mode), and the rest of the answer is
 * served (GraphQL's null propagation applies to a non-null field). Requests without a token are
 * allowed: every field that needs anything is then null (Router's semantics).
 *
 * Data minimisation, as Router's query planning does it: a refused root field is never delegated,
 * and every request to a subgraph is stripped of the fields the caller may not read
 * (withoutRefusedFields), so a subgraph is not asked for them. Fields the plan itself needs (a
 * @key, or a @requires input, of any type) are left in the subgraph request: removing them would
 * break the entity hops the caller's other fields depend on; their values are still refused at
 * the gateway and never reach the client.
 */

export const UNAUTHORIZED_FIELD_OR_TYPE = 'UNAUTHORIZED_FIELD_OR_TYPE';

/** A scope that grants the @policy of this name: `policy:<name>`. */
export const POLICY_SCOPE_PREFIX = 'policy:';

/** One requirement; a field's requirements all have to hold. */
export type Requirement =
  { kind: 'authenticated' } | { kind: 'scopes'; anyOf: string[][] } | { kind: 'policies'; anyOf: string[][] };

interface DirectiveNames {
  authenticated: string;
  requiresScopes: string;
  policy: string;
}

const SPEC_NAMES = { authenticated: 'authenticated', requiresScopes: 'requiresScopes', policy: 'policy' } as const;

/**
 * The names the supergraph gives the three directives: `@link(url: ".../authenticated/v0.1", as: "x")`
 * renames one; without a link (or without `as`) the spec's own name is used.
 */
function directiveNames(document: DocumentNode): DirectiveNames {
  const names: DirectiveNames = { ...SPEC_NAMES };
  for (const def of document.definitions) {
    if (def.kind !== Kind.SCHEMA_DEFINITION && def.kind !== Kind.SCHEMA_EXTENSION) continue;
    for (const link of def.directives ?? []) {
      if (link.name.value !== 'link') continue;
      const url = stringArg(link, 'url');
      const as = stringArg(link, 'as');
      if (!url || !as) continue;
      for (const key of Object.keys(SPEC_NAMES) as (keyof DirectiveNames)[]) {
        if (new RegExp(`/${key}/v[\\d.]+$`).test(url)) names[key] = as;
      }
    }
  }
  return names;
}

function stringArg(directive: ConstDirectiveNode, name: string): string | undefined {
  const arg = directive.arguments?.find((a) => a.name.value === name);
  return arg?.value.kind === Kind.STRING ? arg.value.value : undefined;
}

/** [[String]] argument value as string[][] (a bare list or string is coerced as GraphQL input coercion would). */
function nestedStrings(value: ValueNode | undefined): string[][] {
  if (!value) return [];
  const list = (v: ValueNode): ValueNode[] => (v.kind === Kind.LIST ? [...v.values] : [v]);
  return list(value).map((inner) => list(inner).flatMap((s) => (s.kind === Kind.STRING ? [s.value] : [])));
}

function requirementsOf(directives: readonly ConstDirectiveNode[] | undefined, names: DirectiveNames): Requirement[] {
  const out: Requirement[] = [];
  for (const d of directives ?? []) {
    const name = d.name.value;
    if (name === names.authenticated) out.push({ kind: 'authenticated' });
    else if (name === names.requiresScopes)
      out.push({ kind: 'scopes', anyOf: nestedStrings(d.arguments?.find((a) => a.name.value === 'scopes')?.value) });
    else if (name === names.policy)
      out.push({
        kind: 'policies',
        anyOf: nestedStrings(d.arguments?.find((a) => a.name.value === 'policies')?.value),
      });
  }
  return out;
}

/** The directives written in the supergraph: per type name, and per `Type.field`. */
export interface DirectiveRequirements {
  types: Map<string, Requirement[]>;
  fields: Map<string, Requirement[]>;
}

export function readDirectiveRequirements(document: DocumentNode): DirectiveRequirements {
  const names = directiveNames(document);
  const types = new Map<string, Requirement[]>();
  const fields = new Map<string, Requirement[]>();
  const add = (map: Map<string, Requirement[]>, key: string, reqs: Requirement[]) => {
    if (reqs.length > 0) map.set(key, [...(map.get(key) ?? []), ...reqs]);
  };
  for (const def of document.definitions) {
    switch (def.kind) {
      case Kind.OBJECT_TYPE_DEFINITION:
      case Kind.OBJECT_TYPE_EXTENSION:
      case Kind.INTERFACE_TYPE_DEFINITION:
      case Kind.INTERFACE_TYPE_EXTENSION:
        add(types, def.name.value, requirementsOf(def.directives, names));
        for (const field of def.fields ?? [])
          add(fields, `${def.name.value}.${field.name.value}`, requirementsOf(field.directives, names));
        break;
      case Kind.SCALAR_TYPE_DEFINITION:
      case Kind.SCALAR_TYPE_EXTENSION:
      case Kind.ENUM_TYPE_DEFINITION:
      case Kind.ENUM_TYPE_EXTENSION:
      case Kind.UNION_TYPE_DEFINITION:
      case Kind.UNION_TYPE_EXTENSION:
        add(types, def.name.value, requirementsOf(def.directives, names));
        break;
      default:
        break;
    }
  }
  return { types, fields };
}

/** True when the caller meets the requirement. */
export function satisfies(requirement: Requirement, principal: Principal | null): boolean {
  if (!principal) return false;
  if (requirement.kind === 'authenticated') return true;
  const granted =
    requirement.kind === 'scopes'
      ? new Set(principal.scopes)
      : new Set(
          principal.scopes
            .filter((s) => s.startsWith(POLICY_SCOPE_PREFIX))
            .map((s) => s.slice(POLICY_SCOPE_PREFIX.length)),
        );
  // An empty OR (scopes: []) cannot be met, as in Router; an empty AND ([[]]) needs nothing beyond a token.
  return requirement.anyOf.some((all) => all.every((s) => granted.has(s)));
}

/**
 * The requirements of every field of the served schema that has any, keyed `Type.field` (object
 * types only: that is where GraphQL resolves a field, whatever interface it was selected through).
 */
export function fieldRequirements(schema: GraphQLSchema, declared: DirectiveRequirements): Map<string, Requirement[]> {
  const result = new Map<string, Requirement[]>();
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || type.name.startsWith('__')) continue;
    const interfaces = type.getInterfaces();
    for (const field of Object.values(type.getFields())) {
      const reqs = [
        ...(declared.fields.get(`${type.name}.${field.name}`) ?? []),
        ...(declared.types.get(type.name) ?? []),
        ...(declared.types.get(getNamedType(field.type).name) ?? []),
        ...interfaces.flatMap((i) => [
          ...(declared.fields.get(`${i.name}.${field.name}`) ?? []),
          ...(declared.types.get(i.name) ?? []),
        ]),
      ];
      if (reqs.length > 0) result.set(`${type.name}.${field.name}`, dedupe(reqs));
    }
  }
  return result;
}

function dedupe(reqs: Requirement[]): Requirement[] {
  const seen = new Set<string>();
  return reqs.filter((r) => {
    const key = JSON.stringify(r);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function unauthorized(): GraphQLError {
  return new GraphQLError('Unauthorized field or type', { extensions: { code: UNAUTHORIZED_FIELD_OR_TYPE } });
}

/**
 * Wraps, in place, the resolver of every field that has requirements: the caller (the request
 * context's principal) must meet all of them, else the field is null with UNAUTHORIZED_FIELD_OR_TYPE.
 * The schema must be one built for this gateway alone (buildGatewaySchema builds a new one each time).
 */
export function authorizeWithDirectives(schema: GraphQLSchema, supergraph: DocumentNode): GraphQLSchema {
  const requirements = fieldRequirements(schema, readDirectiveRequirements(supergraph));
  withoutRefusedFields(schema, requirements, planFieldNames(supergraph));
  for (const [coordinate, reqs] of requirements) {
    const [typeName, fieldName] = coordinate.split('.') as [string, string];
    const type = schema.getType(typeName);
    if (!isObjectType(type) && !isInterfaceType(type)) continue;
    const field = type.getFields()[fieldName]!;
    const resolve: GraphQLFieldResolver<unknown, { principal?: Principal | null }> =
      field.resolve ?? defaultFieldResolver;
    field.resolve = (source, args, context, info) => {
      const principal = context?.principal ?? null;
      for (const r of reqs) if (!satisfies(r, principal)) throw unauthorized();
      return resolve(source, args, context, info);
    };
  }
  return schema;
}

/** The executor of a subgraph, as @graphql-tools/delegate calls it (only what is used here). */
type SubgraphExecutor = (request: { document: DocumentNode; context?: unknown }) => unknown;

interface StitchedSubschema {
  schema: GraphQLSchema;
  executor?: SubgraphExecutor;
}

/**
 * Field names the query plan may need whatever the client asked: every name in a @key or
 * @requires field set of the supergraph (join__type(key:), join__field(requires:)). By name, over
 * all types, because a field set can reach into nested types: conservative on purpose.
 */
export function planFieldNames(supergraph: DocumentNode): Set<string> {
  const names = new Set<string>();
  visit(supergraph, {
    Directive(node) {
      if (node.name.value !== 'join__type' && node.name.value !== 'join__field') return;
      for (const arg of node.arguments ?? []) {
        if ((arg.name.value === 'key' || arg.name.value === 'requires') && arg.value.kind === Kind.STRING)
          for (const name of arg.value.value.match(/[_A-Za-z][_0-9A-Za-z]*/g) ?? []) names.add(name);
      }
    },
  });
  return names;
}

const TYPENAME_ONLY: SelectionSetNode = {
  kind: Kind.SELECTION_SET,
  selections: [{ kind: Kind.FIELD, name: { kind: Kind.NAME, value: '__typename' } }],
};

/**
 * Wraps, in place, the executor of every subgraph of the stitched schema so that the document it
 * sends carries no field the request's caller is refused (see the module comment). A selection
 * left empty keeps `__typename`, so the document stays valid and the object stays an object.
 */
function withoutRefusedFields(
  schema: GraphQLSchema,
  requirements: Map<string, Requirement[]>,
  planFields: Set<string>,
): void {
  const stitching = schema.extensions?.['stitchingInfo'] as
    { subschemaMap?: Map<unknown, StitchedSubschema> } | undefined;
  const strippable = [...requirements].filter(([coordinate]) => !planFields.has(coordinate.split('.')[1]!));
  if (strippable.length === 0) return;
  for (const subschema of new Set(stitching?.subschemaMap?.values() ?? [])) {
    const execute = subschema.executor;
    if (!execute) continue;
    subschema.executor = (request) => {
      const principal = (request.context as { principal?: Principal | null } | undefined)?.principal ?? null;
      const refused = new Set(
        strippable.filter(([, reqs]) => reqs.some((r) => !satisfies(r, principal))).map(([coordinate]) => coordinate),
      );
      if (refused.size === 0) return execute(request);
      const typeInfo = new TypeInfo(subschema.schema);
      const document = visit(
        request.document,
        visitWithTypeInfo(typeInfo, {
          Field(node) {
            const parent = typeInfo.getParentType();
            return parent && refused.has(`${parent.name}.${node.name.value}`) ? null : undefined;
          },
          SelectionSet: {
            leave: (node) => (node.selections.length === 0 ? TYPENAME_ONLY : undefined),
          },
        }),
      );
      return execute({ ...request, document });
    };
  }
}
