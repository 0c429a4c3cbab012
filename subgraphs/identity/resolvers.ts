import {
  getDirectiveValues,
  GraphQLIncludeDirective,
  GraphQLSkipDirective,
  isAbstractType,
  Kind,
  type FieldNode,
  type GraphQLObjectType,
  type GraphQLResolveInfo,
  type SelectionNode,
} from 'graphql';
import { markedAnswer, oldestLastKnown } from '../../lib/resilience.ts';
import type { ProfileParts } from './domain/service.ts';
import type { Resolvers } from './generated/resolvers-types.ts';
import { PARTNER as KYC_PROVIDER } from './partners/onfido/mapping.ts';

/**
 * Thin resolvers: each delegates to the request's identity service (context.service), which
 * owns the ownership rules and talks to storage and Onfido through loaders. Profile fields come
 * from identity's own table; legalName, dateOfBirth, address and kyc come from Onfido and fail
 * on their own (PARTNER_UNAVAILABLE naming onfido) without taking the customer down, unless
 * Onfido's last known value for the caller is served, marked (partners/last-known-values.ts).
 */
export const resolvers: Resolvers = {
  Query: {
    me: (_parent, _args, ctx) => ctx.service.me(),
    customer: (_parent, { id }, ctx) => ctx.service.customer(id),
    kycWebhookEvents: (_parent, args, ctx) => ctx.service.kycWebhookEvents(args),
  },
  Mutation: {
    replayKycWebhookEvents: (_parent, { input }, ctx) => ctx.service.replayKycWebhookEvents(input),
  },
  Customer: {
    __resolveReference: (ref, ctx) => ctx.service.customerReference(ref.id),
    legalName: async (customer, _args, ctx, info) =>
      (await markedAnswer(ctx.service.verifiedIdentity(customer), info, KYC_PROVIDER))?.legalName ?? null,
    dateOfBirth: async (customer, _args, ctx, info) =>
      (await markedAnswer(ctx.service.verifiedIdentity(customer), info, KYC_PROVIDER))?.dateOfBirth ?? null,
    address: async (customer, _args, ctx, info) =>
      (await markedAnswer(ctx.service.verifiedIdentity(customer), info, KYC_PROVIDER))?.address ?? null,
    kyc: (customer, _args, ctx, info) => markedAnswer(ctx.service.kyc(customer), info, KYC_PROVIDER),
    // Read during this request, or, when a provider part answered beside it is a last known value, the
    // oldest time such a part was read; a last good answer served by the gateway (identity down) keeps
    // the time it was read too.
    profileAsOf: async (customer, _args, ctx, info) =>
      (await ctx.service.profileLastKnownAt(customer, profilePartsAnswered(info))) ?? ctx.readAt,
  },
  KycCheck: {
    reports: (check, _args, ctx, info) => markedAnswer(ctx.service.reports(check), info, KYC_PROVIDER, oldestLastKnown),
  },
};

const VERIFIED_IDENTITY_FIELDS = new Set(['legalName', 'dateOfBirth', 'address']);

/**
 * Which provider-backed parts of the customer the response answers next to profileAsOf: the fields
 * selected on the same object (this subgraph's part of the client's query; the gateway sends a
 * customer's identity fields in one request). profileAsOf covers what is answered, no more: a query
 * of the display name alone is live whatever Onfido's state, and asking for profileAsOf never makes
 * the subgraph call Onfido for a part nobody asked for.
 */
function profilePartsAnswered(info: GraphQLResolveInfo): ProfileParts {
  const siblings = siblingFields(info);
  const kyc = siblings.filter((f) => f.name.value === 'kyc');
  const checks = childFields(kyc, info).filter((f) => f.name.value === 'checks');
  return {
    verifiedIdentity: siblings.some((f) => VERIFIED_IDENTITY_FIELDS.has(f.name.value)),
    kyc: kyc.length > 0,
    kycReports: childFields(checks, info).some((f) => f.name.value === 'reports'),
  };
}

/**
 * The fields selected beside this resolver's field on its parent object: the operation walked along
 * the response path (list indices skipped), fragments expanded where their type condition can hold,
 * @skip/@include honoured.
 */
function siblingFields(info: GraphQLResolveInfo): FieldNode[] {
  const keys: string[] = [];
  for (let p = info.path.prev; p; p = p.prev) if (typeof p.key === 'string') keys.unshift(p.key);
  let selections: readonly SelectionNode[] = info.operation.selectionSet.selections;
  for (const key of keys)
    selections = fieldsIn(selections, info)
      .filter((f) => (f.alias ?? f.name).value === key)
      .flatMap((f) => f.selectionSet?.selections ?? []);
  return fieldsIn(selections, info, info.parentType);
}

/** The fields selected under `fields` (one level down). */
function childFields(fields: FieldNode[], info: GraphQLResolveInfo): FieldNode[] {
  return fieldsIn(
    fields.flatMap((f) => f.selectionSet?.selections ?? []),
    info,
  );
}

/** The fields of a selection set, fragments expanded (those that can apply to `on`, when given). */
function fieldsIn(selections: readonly SelectionNode[], info: GraphQLResolveInfo, on?: GraphQLObjectType): FieldNode[] {
  const fields: FieldNode[] = [];
  for (const selection of selections) {
    if (!included(selection, info)) continue;
    if (selection.kind === Kind.FIELD) fields.push(selection);
    else {
      const fragment = selection.kind === Kind.INLINE_FRAGMENT ? selection : info.fragments[selection.name.value];
      if (fragment && applies(fragment.typeCondition?.name.value, on, info))
        fields.push(...fieldsIn(fragment.selectionSet.selections, info, on));
    }
  }
  return fields;
}

function applies(condition: string | undefined, on: GraphQLObjectType | undefined, info: GraphQLResolveInfo): boolean {
  if (!condition || !on || condition === on.name) return true;
  const type = info.schema.getType(condition);
  return Boolean(type && isAbstractType(type) && info.schema.isSubType(type, on));
}

function included(node: SelectionNode, info: GraphQLResolveInfo): boolean {
  if (getDirectiveValues(GraphQLSkipDirective, node, info.variableValues)?.if === true) return false;
  return getDirectiveValues(GraphQLIncludeDirective, node, info.variableValues)?.if !== false;
}
