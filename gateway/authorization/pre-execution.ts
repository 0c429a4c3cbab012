import type { ApolloServerPlugin } from '@apollo/server';
import {
  type GraphQLError,
  type DocumentNode,
  type SelectionSetNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLSchema,
  type InlineFragmentNode,
  type OperationDefinitionNode,
  type FragmentSpreadNode,
} from 'graphql';
import { ErrorCode } from '../../lib/errors.ts';
import { graphqlRuntime } from './graphql-runtime.ts';
import type { GatewayContext } from '../executor.ts';
import { authzState, callerDenial, scopeDenial, type AuthzDeps, type Denial } from './engine.ts';
import { consentedAccountsOf } from '../../lib/consent.ts';
import { policyOf } from './policy.ts';

/**
 * The pre-execution pass: once per operation, before any resolver runs (Apollo's
 * didResolveOperation), it lists every field the operation selects (walking fragments and inline
 * fragments with TypeInfo, honouring @skip/@include with the request's variables) and evaluates
 * each field's caller-level rule from the policy. If any field is denied, the whole operation is
 * refused with FORBIDDEN, listing every denied field with the missing scope, caller kind or
 * consent permission, and no data subgraph is called (Apollo Router's @requiresScopes behaviour,
 * but rejecting rather than pruning).
 *
 * Order of checks (cheapest first, no network unless needed): rules and scopes come from the
 * token alone, so scope denials are reported without any lookup. Only when every scope is present
 * does the pass ask the client registry for the caller's kind (cached) and, for a third party,
 * its active consents (once per request, shared cache).
 */
const { getDirectiveValues, GraphQLIncludeDirective, GraphQLSkipDirective, Kind, TypeInfo } = graphqlRuntime;

export interface SelectedField {
  typeName: string;
  fieldName: string;
  path: string;
}

/** Every (parent type, field) an operation selects, with a response path, fragments expanded. */
export function selectedFields(schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode, variables: Record<string, unknown> = {}): SelectedField[] {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  const out: SelectedField[] = [];
  const typeInfo = new TypeInfo(schema);
  // A field is left out only when @skip/@include certainly exclude it; when the directive's value
  // cannot be computed here (e.g. a variable whose default Apollo has not applied yet), the field
  // counts as selected: checking too much is safe, checking too little is not.
  const included = (node: FieldNode | InlineFragmentNode | FragmentSpreadNode): boolean => {
    try {
      return getDirectiveValues(GraphQLSkipDirective, node, variables)?.if !== true && getDirectiveValues(GraphQLIncludeDirective, node, variables)?.if !== false;
    } catch {
      return true;
    }
  };

  const walk = (set: SelectionSetNode, prefix: string, active: Set<string>): void => {
    typeInfo.enter(set);
    for (const sel of set.selections) {
      if (!included(sel)) continue;
      if (sel.kind === Kind.FIELD) {
        // __typename, and introspection (__schema, __type) with everything under it, are public.
        if (sel.name.value.startsWith('__')) continue;
        typeInfo.enter(sel);
        const parent = typeInfo.getParentType();
        const path = prefix ? `${prefix}.${sel.alias?.value ?? sel.name.value}` : (sel.alias?.value ?? sel.name.value);
        out.push({ typeName: parent?.name ?? '?', fieldName: sel.name.value, path });
        if (sel.selectionSet) walk(sel.selectionSet, path, active);
        typeInfo.leave(sel);
      } else if (sel.kind === Kind.INLINE_FRAGMENT) {
        typeInfo.enter(sel);
        walk(sel.selectionSet, prefix, active);
        typeInfo.leave(sel);
      } else {
        const fragment = fragments.get(sel.name.value);
        if (!fragment || active.has(fragment.name.value)) continue; // validation rejects unknown and cyclic fragments
        typeInfo.enter(fragment);
        walk(fragment.selectionSet, prefix, new Set([...active, fragment.name.value]));
        typeInfo.leave(fragment);
      }
    }
    typeInfo.leave(set);
  };
  typeInfo.enter(operation);
  walk(operation.selectionSet, '', new Set());
  typeInfo.leave(operation);
  return out;
}

export function forbiddenOperation(denied: Denial[]): GraphQLError {
  const fields = [...new Set(denied.map((d) => d.field))];
  return new graphqlRuntime.GraphQLError(`Not authorized: ${denied.map((d) => d.message).filter((m, i, all) => all.indexOf(m) === i).join('; ')}`, {
    extensions: {
      code: ErrorCode.FORBIDDEN,
      fields,
      denied: denied.map((d) => ({ field: d.field, path: d.path, reason: d.reason, ...(d.missingScopes ? { missingScopes: d.missingScopes } : {}), ...(d.missingConsent ? { missingConsent: d.missingConsent } : {}) })),
      http: { status: 403 },
    },
  });
}

/** Evaluates every selected field's caller-level rule; resolves to the denials (empty = allowed). */
export async function preExecutionDenials(fields: SelectedField[], context: GatewayContext, deps: AuthzDeps): Promise<Denial[]> {
  if (fields.length === 0) return [];
  const state = authzState(context, context.principal, context.requestId, deps);
  const scopeDenials = fields.flatMap((f) => {
    const d = scopeDenial(`${f.typeName}.${f.fieldName}`, policyOf(f.typeName, f.fieldName), context.principal);
    return d ? [{ ...d, path: f.path }] : [];
  });
  if (scopeDenials.length > 0) return scopeDenials;
  const denials = await Promise.all(
    fields.map(async (f) => {
      const d = await callerDenial(`${f.typeName}.${f.fieldName}`, policyOf(f.typeName, f.fieldName)!, state);
      return d ? [{ ...d, path: f.path }] : [];
    }),
  );
  return denials.flat();
}

export function authorizeOperation(deps: AuthzDeps): ApolloServerPlugin<GatewayContext> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ contextValue, operation, document, schema, request }) {
          // No principal: requireAuthentication refuses the operation (UNAUTHENTICATED) unless it
          // selects only public fields; the shield rules deny anything else without state.
          if (!operation || !contextValue.principal) return;
          const fields = selectedFields(schema, document, operation, request.variables ?? {});
          // Also creates the per-request state the graphql-shield rules read during execution.
          const denied = await preExecutionDenials(fields, contextValue, deps);
          if (denied.length > 0) {
            contextValue.logger.info({ requestId: contextValue.requestId, denied: denied.map((d) => `${d.field}:${d.reason}`) }, 'operation refused by authorization');
            throw forbiddenOperation(denied);
          }
          // A third party's consented accounts travel to the subgraphs inside the signed principal,
          // so they filter at the source (exact pagination) as well as the per-object rules here.
          const state = authzState(contextValue, contextValue.principal, contextValue.requestId, deps);
          if ((await state.kind()) === 'thirdParty') {
            contextValue.principal = { ...contextValue.principal, consentedAccounts: consentedAccountsOf(await state.consents.active()) };
          }
        },
      };
    },
  };
}
