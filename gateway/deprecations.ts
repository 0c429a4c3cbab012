import type { ApolloServerPlugin } from '@apollo/server';
import {
  getNamedType,
  isInterfaceType,
  isObjectType,
  Kind,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLNamedType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import type { Counter } from 'prom-client';
import type { Principal } from '../lib/principal.ts';

/**
 * Who still uses what the schema deprecates. Before a deprecated field is removed (on its
 * "removal: YYYY-MM-DD", which `npm run schema:check` makes every deprecation carry), operators
 * look up graphql_deprecated_field_requests_total in /metrics: one series per schema coordinate and
 * client id, counting the operations that selected the field (or passed the deprecated argument).
 *
 * Counted once per executed operation, whatever the number of objects it resolves on: what matters
 * is which clients send it, not how many rows they read. Only operations that reach execution count
 * (after the query limits and authorization let them through). Labels stay bounded: coordinates
 * come from the schema's deprecated fields, client ids from verified tokens, so only clients the
 * authorization server registered ever appear.
 */
export function deprecatedFieldUsage<C extends { principal: Principal | null }>(
  counter: Counter<'field' | 'client_id'>,
): ApolloServerPlugin<C> {
  return {
    async requestDidStart() {
      return {
        async executionDidStart({ schema, document, operation, contextValue }) {
          // No operation: the document names none to run (Apollo answers OPERATION_RESOLUTION_FAILURE after this hook).
          if (!operation) return;
          const used = deprecatedUses(schema, document, operation);
          if (used.size === 0) return;
          const client = contextValue.principal?.clientId ?? 'anonymous';
          for (const coordinate of used) counter.labels(coordinate, client).inc();
        },
      };
    },
  };
}

/**
 * The deprecated fields ("Type.field") and arguments ("Type.field(arg:)") an operation selects,
 * following its fragments (each once). The type is the one that declares the field: an interface
 * field counts under the interface.
 */
export function deprecatedUses(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
): Set<string> {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const def of document.definitions) if (def.kind === Kind.FRAGMENT_DEFINITION) fragments.set(def.name.value, def);
  const used = new Set<string>();
  const expanded = new Set<string>();

  const walk = (selectionSet: SelectionSetNode, parent: GraphQLNamedType | undefined | null): void => {
    if (!parent) return;
    for (const selection of selectionSet.selections) {
      if (selection.kind === Kind.FIELD) {
        if (!isObjectType(parent) && !isInterfaceType(parent)) continue;
        const field = parent.getFields()[selection.name.value];
        if (!field) continue; // __typename, or introspection
        const coordinate = `${parent.name}.${field.name}`;
        if (field.deprecationReason != null) used.add(coordinate);
        for (const arg of selection.arguments ?? []) {
          if (field.args.find((a) => a.name === arg.name.value)?.deprecationReason != null)
            used.add(`${coordinate}(${arg.name.value}:)`);
        }
        if (selection.selectionSet) walk(selection.selectionSet, getNamedType(field.type));
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        walk(
          selection.selectionSet,
          selection.typeCondition ? schema.getType(selection.typeCondition.name.value) : parent,
        );
      } else {
        const name = selection.name.value;
        const fragment = fragments.get(name);
        if (expanded.has(name) || !fragment) continue;
        expanded.add(name);
        walk(fragment.selectionSet, schema.getType(fragment.typeCondition.name.value));
      }
    }
  };
  const root =
    operation.operation === 'query'
      ? schema.getQueryType()
      : operation.operation === 'mutation'
        ? schema.getMutationType()
        : schema.getSubscriptionType();
  walk(operation.selectionSet, root);
  return used;
}
