import { HeaderMap, type ApolloServerPlugin } from '@apollo/server';
import { GraphQLError, Kind, type DocumentNode, type GraphQLSchema, type OperationDefinitionNode, type SelectionSetNode } from 'graphql';
import { ErrorCode } from '../lib/errors.ts';
import type { GatewayContext } from './executor.ts';

/**
 * Where access decisions live at the gateway.
 *
 * 1. requireAuthentication (now): an operation that selects anything other than __typename or
 *    introspection needs a valid access token. Without one the operation is refused with
 *    UNAUTHENTICATED (HTTP 401, WWW-Authenticate: Bearer) before execution starts, so no
 *    subgraph is called.
 * 2. authorizeSchema (next issue): the graphql-shield rule set (deny by default, one rule per
 *    public field) wraps the executable schema's resolvers here, e.g.
 *    `applyMiddleware(schema, shield(rules, { fallbackRule: deny }))`.
 */
export function authorizeSchema(schema: GraphQLSchema): GraphQLSchema {
  // graphql-shield permissions go here (next issue).
  return schema;
}

const PUBLIC_ROOT_FIELDS = new Set(['__typename', '__schema', '__type']);

export function requireAuthentication(): ApolloServerPlugin<GatewayContext> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ contextValue, operation, document }) {
          if (contextValue.principal) return;
          if (operation && selectsOnlyPublicFields(operation, document)) return;
          throw unauthenticated(contextValue.authentication === 'invalid');
        },
      };
    },
  };
}

function unauthenticated(invalidToken: boolean): GraphQLError {
  const headers = new HeaderMap();
  headers.set('www-authenticate', invalidToken ? 'Bearer error="invalid_token", error_description="the access token is invalid or expired"' : 'Bearer');
  return new GraphQLError(invalidToken ? 'The access token is invalid or expired' : 'Authentication required: send an OAuth access token as Authorization: Bearer <token>', {
    extensions: { code: ErrorCode.UNAUTHENTICATED, http: { status: 401, headers } },
  });
}

/** True when the operation's root selects only __typename and introspection fields (fragments included). */
export function selectsOnlyPublicFields(operation: OperationDefinitionNode, document: DocumentNode): boolean {
  const fragments = new Map(document.definitions.flatMap((d) => (d.kind === Kind.FRAGMENT_DEFINITION ? [[d.name.value, d] as const] : [])));
  const seen = new Set<string>();
  const check = (set: SelectionSetNode): boolean =>
    set.selections.every((sel) => {
      if (sel.kind === Kind.FIELD) return PUBLIC_ROOT_FIELDS.has(sel.name.value);
      if (sel.kind === Kind.INLINE_FRAGMENT) return check(sel.selectionSet);
      const name = sel.name.value;
      if (seen.has(name)) return true;
      seen.add(name);
      const fragment = fragments.get(name);
      return fragment ? check(fragment.selectionSet) : false;
    });
  return check(operation.selectionSet);
}
