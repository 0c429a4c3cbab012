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
import { limitExceeded } from '../limits.ts';

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

export interface WalkOptions {
  /**
   * Hard cap on the selections the walk visits (the gateway passes QUERY_MAX_SELECTIONS). Past it
   * the operation is refused with QUERY_LIMIT_EXCEEDED: a walk that stopped early cannot have
   * seen every field, so it never allows.
   */
  maxSelections?: number;
  /** Filled in with the number of selections visited (tests and benchmarks read it). */
  stats?: { visited: number };
}

/**
 * Every distinct (parent type, field) an operation selects, each with the first response path it
 * appears at, fragments included.
 *
 * Each named fragment is walked once, at its first spread that @skip/@include keep: the fields it
 * selects and their parent types depend only on the fragment itself (its type condition fixes
 * the parent type, and its own @skip/@include read the request's variables, not the spread
 * site), and the caller-level rules judge a (type, field) pair, never a path. A later spread of
 * the same fragment therefore adds nothing, which is what keeps a fragment-doubling document
 * (each fragment spreading the next one twice) linear instead of exponential; it also cuts
 * fragment cycles, which validation refuses anyway. The walk visits each selection of the
 * document at most once, and stops at `maxSelections`.
 */
export function selectedFields(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Record<string, unknown> = {},
  { maxSelections = Number.POSITIVE_INFINITY, stats }: WalkOptions = {},
): SelectedField[] {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  const out: SelectedField[] = [];
  const seen = new Set<string>();
  const walkedFragments = new Set<string>();
  let visited = 0;
  const typeInfo = new TypeInfo(schema);
  // A field is left out only when @skip/@include certainly exclude it; when the directive's value
  // cannot be computed here (e.g. a variable whose default Apollo has not applied yet), the field
  // counts as selected: checking too much is safe, checking too little is not.
  const included = (node: FieldNode | InlineFragmentNode | FragmentSpreadNode): boolean => {
    try {
      return (
        getDirectiveValues(GraphQLSkipDirective, node, variables)?.if !== true &&
        getDirectiveValues(GraphQLIncludeDirective, node, variables)?.if !== false
      );
    } catch {
      return true;
    }
  };

  const walk = (set: SelectionSetNode, prefix: string): void => {
    typeInfo.enter(set);
    for (const sel of set.selections) {
      if (++visited > maxSelections) {
        if (stats) stats.visited = visited;
        throw limitExceeded(
          'selections',
          maxSelections,
          visited,
          `The operation selects more than ${maxSelections} fields and fragments; at most ${maxSelections} are allowed`,
        );
      }
      if (!included(sel)) continue;
      if (sel.kind === Kind.FIELD) {
        // __typename, and introspection (__schema, __type) with everything under it, are public.
        if (sel.name.value.startsWith('__')) continue;
        typeInfo.enter(sel);
        const parent = typeInfo.getParentType();
        const path = prefix ? `${prefix}.${sel.alias?.value ?? sel.name.value}` : (sel.alias?.value ?? sel.name.value);
        const key = `${parent?.name ?? '?'}.${sel.name.value}`;
        if (!seen.has(key)) {
          seen.add(key);
          out.push({ typeName: parent?.name ?? '?', fieldName: sel.name.value, path });
        }
        if (sel.selectionSet) walk(sel.selectionSet, path);
        typeInfo.leave(sel);
      } else if (sel.kind === Kind.INLINE_FRAGMENT) {
        typeInfo.enter(sel);
        walk(sel.selectionSet, prefix);
        typeInfo.leave(sel);
      } else {
        const fragment = fragments.get(sel.name.value);
        // unknown (validation refuses it) or already walked
        if (!fragment || walkedFragments.has(fragment.name.value)) continue;
        walkedFragments.add(fragment.name.value);
        typeInfo.enter(fragment);
        walk(fragment.selectionSet, prefix);
        typeInfo.leave(fragment);
      }
    }
    typeInfo.leave(set);
  };
  typeInfo.enter(operation);
  walk(operation.selectionSet, '');
  typeInfo.leave(operation);
  if (stats) stats.visited = visited;
  return out;
}

export function forbiddenOperation(denied: Denial[]): GraphQLError {
  const fields = [...new Set(denied.map((d) => d.field))];
  return new graphqlRuntime.GraphQLError(
    `Not authorized: ${denied
      .map((d) => d.message)
      .filter((m, i, all) => all.indexOf(m) === i)
      .join('; ')}`,
    {
      extensions: {
        code: ErrorCode.FORBIDDEN,
        fields,
        denied: denied.map((d) => ({
          field: d.field,
          path: d.path,
          reason: d.reason,
          ...(d.missingScopes ? { missingScopes: d.missingScopes } : {}),
          ...(d.missingConsent ? { missingConsent: d.missingConsent } : {}),
        })),
        http: { status: 403 },
      },
    },
  );
}

/** Evaluates every selected field's caller-level rule; resolves to the denials (empty = allowed). */
export async function preExecutionDenials(
  fields: SelectedField[],
  context: GatewayContext,
  deps: AuthzDeps,
): Promise<Denial[]> {
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

/**
 * The caller-level pass as an Apollo plugin. gateway/server.ts runs it after the query limits
 * (not alongside them, as Apollo would), so the walk starts only on a document within the
 * limits; `walk.maxSelections` still stops it at a hard cap should it ever be reached.
 */
export function authorizeOperation(
  deps: AuthzDeps,
  walk: { maxSelections: number },
): ApolloServerPlugin<GatewayContext> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ contextValue, operation, document, schema, request }) {
          // No principal: requireAuthentication refuses the operation (UNAUTHENTICATED) unless it
          // selects only public fields; the shield rules deny anything else without state.
          if (!operation || !contextValue.principal) return;
          const fields = selectedFields(schema, document, operation, request.variables ?? {}, walk);
          // Also creates the per-request state the graphql-shield rules read during execution.
          const denied = await preExecutionDenials(fields, contextValue, deps);
          if (denied.length > 0) {
            contextValue.logger.info(
              { requestId: contextValue.requestId, denied: denied.map((d) => `${d.field}:${d.reason}`) },
              'operation refused by authorization',
            );
            throw forbiddenOperation(denied);
          }
          // A third party's consented accounts travel to the subgraphs inside the signed principal,
          // so they filter at the source (exact pagination) as well as the per-object rules here.
          const state = authzState(contextValue, contextValue.principal, contextValue.requestId, deps);
          if ((await state.kind()) === 'thirdParty') {
            contextValue.principal = {
              ...contextValue.principal,
              consentedAccounts: consentedAccountsOf(await state.consents.active()),
            };
          }
        },
      };
    },
  };
}
