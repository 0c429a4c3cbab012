import { composeServices } from '@theguild/federation-composition';
import {
  Kind,
  parse,
  print,
  visit,
  type ConstDirectiveNode,
  type ConstValueNode,
  type DocumentNode,
  type FieldDefinitionNode,
  type StringValueNode,
} from 'graphql';
import {
  CALLER_KINDS,
  POLICY,
  type CallerKind,
  type FieldPolicy,
  type ObjectCheck,
  type TypePolicy,
} from './policy.ts';
import { isAccountPermission, type ConsentPermission } from '../../lib/consent.ts';
import { SUBGRAPH_NAMES, subgraphTypeDefs, type SubgraphName } from '../../lib/schema-files.ts';

/** Default subgraph URLs recorded in the checked-in supergraph; the gateway's configuration overrides them. */
export const DEFAULT_SUBGRAPH_PORTS: Record<SubgraphName, number> = {
  identity: 4001,
  accounts: 4002,
  payments: 4003,
  consents: 4004,
};

export interface ComposedSchema {
  /** Supergraph SDL with join__ metadata and the authorization directives, served by the gateway. */
  supergraphSdl: string;
  /** The client-facing schema: what frontends and partner developers see (requirements in the field descriptions). */
  publicSdl: string;
}

/**
 * Composes the four domain SDLs with @theguild/federation-composition; throws listing every
 * composition error.
 *
 * What every field requires is part of the published contract, so composition writes it into
 * the schema from THE policy (gateway/authorization/policy.ts), never by hand:
 * - as Apollo Router's authorization directives (@authenticated, @requiresScopes, @policy; see
 *   fieldRequirement below), added to each subgraph's field definitions before composing, so the
 *   composition validates and merges them like any subgraph's and links their specs in the
 *   supergraph (for: SECURITY). Another federation tool reading schema/supergraph.graphql then
 *   sees the same requirements the gateway enforces. The domain SDLs (what the subgraphs serve)
 *   stay as written: the subgraphs decide nothing from these directives;
 * - as a last paragraph "Requires: …" of the field's description, in the supergraph and in the
 *   public schema, for introspection clients (GraphiQL's docs, codegen) that never see applied
 *   directives. This is done on the composed output, because composition keeps the first
 *   description it meets among the subgraphs that define a field.
 * It lives here, beside the policy it publishes, because lib/ is the ground every service stands
 * on and imports nothing of the gateway (.dependency-cruiser.mjs, lib-is-the-ground).
 * Composition runs at build time (scripts/compose.ts, the schema tests); the derivation itself
 * (fieldRequirement, requirementLine) is also what the gateway's explorer serves
 * (gateway/explorer/requirements.ts), so the docs and the schema cannot say different things. A
 * field of the schema without a policy entry stops composition: the gateway would deny it to
 * everyone, and the published schema must not promise it.
 */
export function composeSupergraph(policy: Record<string, TypePolicy> = POLICY): ComposedSchema {
  const requirements = new Map<string, FieldRequirement>();
  const problems: string[] = [];
  const requirementFor = (coordinate: string): FieldRequirement | undefined => {
    if (!requirements.has(coordinate)) {
      const [typeName, fieldName] = coordinate.split('.') as [string, string];
      const entry = policy[typeName]?.[fieldName];
      if (!entry) {
        problems.push(`${coordinate} has no entry in gateway/authorization/policy.ts (every public field needs one)`);
        return undefined;
      }
      try {
        requirements.set(coordinate, fieldRequirement(coordinate, entry));
      } catch (err) {
        problems.push((err as Error).message);
        return undefined;
      }
    }
    return requirements.get(coordinate);
  };
  const annotated = SUBGRAPH_NAMES.map((name) => ({
    name,
    typeDefs: withAuthorizationDirectives(subgraphTypeDefs(name), requirementFor),
    url: `http://localhost:${DEFAULT_SUBGRAPH_PORTS[name]}/graphql`,
  }));
  if (problems.length)
    throw new Error(`Composition failed:\n${[...new Set(problems)].map((p) => `  - ${p}`).join('\n')}`);
  const result = composeServices(annotated);
  if (result.errors) {
    throw new Error(`Composition failed:\n${result.errors.map((e) => `  - ${e.message}`).join('\n')}`);
  }
  return {
    supergraphSdl: withRequirementDescriptions(result.supergraphSdl, requirements),
    publicSdl: withRequirementDescriptions(result.publicSdl, requirements),
  };
}

// ---------------------------------------------------------------------------------------------
// What a field requires, derived from its policy entry and the decisions of
// gateway/authorization/engine.ts (callerDenial, scopeDenial, OBJECT_CHECKS).

/** A consent permission a third-party caller needs; perAccount: checked for the very account the object belongs to. */
export interface ConsentRequirement {
  permission: ConsentPermission;
  perAccount: boolean;
}

export interface FieldRequirement {
  /** Type.field */
  coordinate: string;
  /** Every caller kind needs a verified access token (the engine denies a request without a principal). */
  authenticated: true;
  /** All required (engine: scopeDenial). */
  scopes: string[];
  /** The kinds of caller that may read it, in CALLER_KINDS order (engine: callerDenial). */
  callers: CallerKind[];
  /**
   * What a thirdParty caller needs besides its scopes, all of it (empty when thirdParty is not a caller or needs no
   * consent).
   */
  consents: ConsentRequirement[];
  pii: boolean;
}

/**
 * What each per-object check of engine.ts (OBJECT_CHECKS) lets through: which caller kinds can
 * pass it at all, and which consent permission it checks for the object's own account (for a
 * thirdParty). Typed against ObjectCheck, so a new check is a type error here until it is
 * described; test/schema/requirements.test.ts runs OBJECT_CHECKS to prove this table right.
 */
export const OBJECT_CHECK_REQUIREMENTS = {
  /** Needs a customer in the token: staff and machine clients never pass. */
  ownCustomer: { callers: ['customer', 'thirdParty'], perAccount: () => null },
  /** A thirdParty needs a consent granting the field's own permission for this account. */
  accountAccess: { callers: ['customer', 'thirdParty'], perAccount: (policy) => policy.consent },
  /** A thirdParty needs TRANSACTIONS for the transaction's account. */
  transactionAccess: { callers: ['customer', 'thirdParty'], perAccount: () => 'TRANSACTIONS' },
  /** A thirdParty needs PAYMENTS_INITIATION for the payment's debtor account. */
  paymentAccess: { callers: ['customer', 'thirdParty'], perAccount: () => 'PAYMENTS_INITIATION' },
  /** Only checks that the arguments name the customer's own accounts. */
  ownAccountIds: { callers: CALLER_KINDS, perAccount: () => null },
} as const satisfies Record<
  ObjectCheck,
  { callers: readonly CallerKind[]; perAccount: (policy: FieldPolicy) => ConsentPermission | null }
>;

/**
 * The requirement of one field. Throws when the policy entry promises a caller kind that its
 * per-object check never lets through (the published requirement would then be a lie).
 */
export function fieldRequirement(coordinate: string, policy: FieldPolicy): FieldRequirement {
  const callers = CALLER_KINDS.filter((k) => policy.callers.includes(k));
  const object = policy.object ? OBJECT_CHECK_REQUIREMENTS[policy.object] : null;
  if (object) {
    const unreachable = callers.filter((k) => !(object.callers as readonly CallerKind[]).includes(k));
    if (unreachable.length)
      throw new Error(
        `${coordinate}: the policy lets ${unreachable.join(', ')} read it, but its per-object check ${policy.object} never does`,
      );
  }
  const consents: ConsentRequirement[] = [];
  if (callers.includes('thirdParty')) {
    const perAccount = object?.perAccount(policy) ?? null;
    if (policy.object === 'accountAccess' && !perAccount)
      throw new Error(
        `${coordinate}: accountAccess lets a thirdParty through only with a consent permission, and the policy names none`,
      );
    if (policy.consent) consents.push({ permission: policy.consent, perAccount: policy.consent === perAccount });
    if (perAccount && perAccount !== policy.consent) consents.push({ permission: perAccount, perAccount: true });
    for (const c of consents)
      if (c.perAccount && !isAccountPermission(c.permission))
        throw new Error(`${coordinate}: ${c.permission} is not granted per account`);
  }
  return { coordinate, authenticated: true, scopes: [...policy.scopes], callers, consents, pii: policy.pii };
}

/**
 * The policy names of @policy (Apollo's policy/v0.1; the outer list is "any of", each inner list
 * "all of"): one alternative per caller kind, `caller:<kind>`, and for a thirdParty also the
 * consents it needs, `consent:<PERMISSION>` (some authorised consent grants it) or
 * `consent:<PERMISSION>:per-account` (a consent grants it for the object's own account). A policy
 * evaluator that knows these names decides exactly what gateway/authorization/engine.ts decides;
 * scopes are separate, in @requiresScopes.
 */
export function policyAlternatives(requirement: FieldRequirement): string[][] {
  return requirement.callers.map((kind) => [
    `caller:${kind}`,
    ...(kind === 'thirdParty' ? requirement.consents.map(consentPolicyName) : []),
  ]);
}

function consentPolicyName(consent: ConsentRequirement): string {
  return `consent:${consent.permission}${consent.perAccount ? ':per-account' : ''}`;
}

/**
 * The description paragraph, e.g. "Requires: authentication; scopes accounts:read; callers customer, thirdParty;
 * thirdParty consent ACCOUNTS per account; PII".
 */
export function requirementLine(requirement: FieldRequirement): string {
  const parts = ['authentication'];
  if (requirement.scopes.length) parts.push(`scopes ${requirement.scopes.join(', ')}`);
  parts.push(`callers ${requirement.callers.join(', ')}`);
  if (requirement.consents.length) {
    parts.push(
      `thirdParty consent ${requirement.consents.map((c) => `${c.permission}${c.perAccount ? ' per account' : ''}`).join(' and ')}`,
    );
  }
  if (requirement.pii) parts.push('PII');
  return `Requires: ${parts.join('; ')}`;
}

/** What a "Requires:" paragraph (requirementLine) states; null when `text` has none. */
export interface PublishedRequirement {
  scopes: string[];
  callers: string[];
  consents: ConsentRequirement[];
  pii: boolean;
}

/**
 * Reads back the requirement paragraph of a description (the last paragraph starting "Requires: "), as requirementLine
 * writes it.
 */
export function parseRequirementLine(description: string | null | undefined): PublishedRequirement | null {
  const line = description?.split('\n\n').at(-1)?.trim();
  if (!line?.startsWith('Requires: ')) return null;
  const out: PublishedRequirement = { scopes: [], callers: [], consents: [], pii: false };
  for (const part of line.slice('Requires: '.length).split('; ')) {
    if (part === 'PII') out.pii = true;
    else if (part.startsWith('scopes ')) out.scopes = part.slice('scopes '.length).split(', ');
    else if (part.startsWith('callers ')) out.callers = part.slice('callers '.length).split(', ');
    else if (part.startsWith('thirdParty consent ')) {
      out.consents = part
        .slice('thirdParty consent '.length)
        .split(' and ')
        .map((c) => ({
          permission: c.replace(/ per account$/, '') as ConsentPermission,
          perAccount: c.endsWith(' per account'),
        }));
    }
  }
  return out;
}

/** The description without its requirement paragraph. */
export function withoutRequirementLine(description: string | null | undefined): string {
  const paragraphs = (description ?? '').split('\n\n');
  return (parseRequirementLine(description) ? paragraphs.slice(0, -1) : paragraphs).join('\n\n').trim();
}

// ---------------------------------------------------------------------------------------------
// Writing them into the SDL.

/**
 * Apollo Router's authorization directives, imported through the federation @link (v2.5 has the first two,
 * v2.6 @policy).
 */
const AUTHORIZATION_IMPORTS = ['@authenticated', '@requiresScopes', '@policy'];

const name = (value: string) => ({ kind: Kind.NAME, value }) as const;
const str = (value: string): ConstValueNode => ({ kind: Kind.STRING, value });
const listOfLists = (lists: string[][]): ConstValueNode => ({
  kind: Kind.LIST,
  values: lists.map((l) => ({ kind: Kind.LIST, values: l.map(str) })),
});
const directive = (directiveName: string, args: Record<string, ConstValueNode> = {}): ConstDirectiveNode => ({
  kind: Kind.DIRECTIVE,
  name: name(directiveName),
  arguments: Object.entries(args).map(([argName, value]) => ({ kind: Kind.ARGUMENT, name: name(argName), value })),
});

export function authorizationDirectives(requirement: FieldRequirement): ConstDirectiveNode[] {
  return [
    directive('authenticated'),
    ...(requirement.scopes.length ? [directive('requiresScopes', { scopes: listOfLists([requirement.scopes]) })] : []),
    directive('policy', { policies: listOfLists(policyAlternatives(requirement)) }),
  ];
}

/** A subgraph's SDL with the authorization directives imported and applied to every field of its object types. */
function withAuthorizationDirectives(
  document: DocumentNode,
  requirementFor: (coordinate: string) => FieldRequirement | undefined,
): DocumentNode {
  let imported = false;
  const annotateFields = (typeName: string, fields: readonly FieldDefinitionNode[] | undefined) =>
    fields?.map((field) => {
      const requirement = requirementFor(`${typeName}.${field.name.value}`);
      return requirement
        ? { ...field, directives: [...(field.directives ?? []), ...authorizationDirectives(requirement)] }
        : field;
    });
  const result = visit(document, {
    Directive(node) {
      const url = node.arguments?.find((a) => a.name.value === 'url')?.value;
      if (
        node.name.value !== 'link' ||
        url?.kind !== Kind.STRING ||
        !url.value.startsWith('https://specs.apollo.dev/federation/v2.')
      )
        return undefined;
      imported = true;
      const args = node.arguments!.map((a) =>
        a.name.value === 'import' && a.value.kind === Kind.LIST
          ? { ...a, value: { ...a.value, values: [...a.value.values, ...AUTHORIZATION_IMPORTS.map(str)] } }
          : a,
      );
      return { ...node, arguments: args };
    },
    ObjectTypeDefinition: (node) => ({ ...node, fields: annotateFields(node.name.value, node.fields) }),
    ObjectTypeExtension: (node) => ({ ...node, fields: annotateFields(node.name.value, node.fields) }),
  });
  if (!imported)
    throw new Error(
      'a domain SDL has no federation v2 @link with an import list to add the authorization directives to',
    );
  return result;
}

/** The composed SDL with each field's description ending in its requirement line. */
function withRequirementDescriptions(sdl: string, requirements: ReadonlyMap<string, FieldRequirement>): string {
  const describe = (typeName: string, fields: readonly FieldDefinitionNode[] | undefined) =>
    fields?.map((field) => {
      const requirement = requirements.get(`${typeName}.${field.name.value}`);
      if (!requirement) return field;
      const text = [field.description?.value.trim(), requirementLine(requirement)].filter(Boolean).join('\n\n');
      const description: StringValueNode = { kind: Kind.STRING, value: text, block: true };
      return { ...field, description };
    });
  const document = visit(parse(sdl), {
    ObjectTypeDefinition: (node) =>
      node.name.value.includes('__') ? undefined : { ...node, fields: describe(node.name.value, node.fields) },
  });
  // print() indents the blank line between the paragraphs; whitespace-only lines mean nothing in SDL.
  return print(document).replace(/^[ \t]+$/gm, '');
}
