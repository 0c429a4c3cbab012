import { HeaderMap, type ApolloServerPlugin } from '@apollo/server';
import {
  GraphQLError,
  Kind,
  type DocumentNode,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import { ErrorCode } from '../lib/errors.ts';
import type { GatewayContext } from './executor.ts';
import { authorizeWithShield } from './authorization/rules.ts';

/**
 * Where access decisions live at the gateway.
 *
 * 1. requireAuthentication: an operation that selects anything other than __typename or
 *    introspection needs a valid access token. Without one the operation is refused with
 *    UNAUTHENTICATED (HTTP 401, WWW-Authenticate: Bearer) before execution starts, so no
 *    subgraph is called.
 * 2. The policy (authorization/policy.ts), one explicit entry per public field, enforced twice
 *    from the same decisions (authorization/engine.ts):
 *    - authorizeOperation (authorization/pre-execution.ts), a plugin that decides every
 *      caller-level rule of the operation before execution and refuses it with FORBIDDEN;
 *    - authorizeSchema: the graphql-shield rule tree (authorization/rules.ts, deny by default),
 *      kept only on fields whose rule needs the object.
 *    The reviewer's view of both: `npm run shield:audit` (scripts/shield-audit.ts).
 */
export { authorizeOperation } from './authorization/pre-execution.ts';
export { createCallerDirectory } from './authorization/caller.ts';

export type AuthorizationMode = 'enforce' | 'disabled';

/**
 * Wraps the executable schema with the rules. 'disabled' (benchmark only; no environment
 * variable reaches it) returns the schema unchanged. With 'enforce' the caller MUST also install
 * authorizeOperation: the schema relies on it for caller-level rules.
 */
export function authorizeSchema(schema: GraphQLSchema, mode: AuthorizationMode = 'enforce'): GraphQLSchema {
  if (mode === 'disabled') return schema;
  return authorizeWithShield(schema).schema;
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
  headers.set(
    'www-authenticate',
    invalidToken
      ? 'Bearer error="invalid_token", error_description="the access token is invalid or expired"'
      : 'Bearer',
  );
  return new GraphQLError(
    invalidToken
      ? 'The access token is invalid or expired'
      : 'Authentication required: send an OAuth access token as Authorization: Bearer <token>',
    {
      extensions: { code: ErrorCode.UNAUTHENTICATED, http: { status: 401, headers } },
    },
  );
}

/** True when the operation's root selects only __typename and introspection fields (fragments included). */
export function selectsOnlyPublicFields(operation: OperationDefinitionNode, document: DocumentNode): boolean {
  const fragments = new Map(
    document.definitions.flatMap((d) => (d.kind === Kind.FRAGMENT_DEFINITION ? [[d.name.value, d] as const] : [])),
  );
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
