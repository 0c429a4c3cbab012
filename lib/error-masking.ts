import { ApolloServerErrorCode, unwrapResolverError } from '@apollo/server/errors';
import type { GraphQLFormattedError } from 'graphql';
import { ErrorCode, PartnerError } from './errors.ts';
import type { Logger } from './logger.ts';

/**
 * What a client is told when something fails, for every service (the subgraphs' formatError, and
 * the gateway's after its own codes): an error a client can act on keeps its code and message;
 * anything else becomes a bare INTERNAL_SERVER_ERROR and the original goes to the log under the
 * request id. The list is explicit so that a code only reaches a client when someone decided it
 * should: a code missing here turns a client's own mistake into an "Internal server error"
 * (that is how an unknown persisted-query hash and an ambiguous operation used to answer).
 */

/**
 * Apollo Server's codes for mistakes in the request itself (ApolloServerErrorCode minus
 * INTERNAL_SERVER_ERROR). Spelled out rather than derived from the enum, so that a code a future
 * Apollo version adds is masked until someone decides it is a client error.
 */
export const APOLLO_CLIENT_CODES: readonly string[] = [
  ApolloServerErrorCode.GRAPHQL_PARSE_FAILED,
  ApolloServerErrorCode.GRAPHQL_VALIDATION_FAILED,
  ApolloServerErrorCode.PERSISTED_QUERY_NOT_FOUND,
  ApolloServerErrorCode.PERSISTED_QUERY_NOT_SUPPORTED,
  ApolloServerErrorCode.BAD_USER_INPUT,
  ApolloServerErrorCode.OPERATION_RESOLUTION_FAILURE,
  ApolloServerErrorCode.BAD_REQUEST,
];

/**
 * Every code a client may see: Apollo's request codes above and the platform's own (lib/errors.ts
 * ErrorCode, which lists only codes a client can act on, plus INTERNAL_SERVER_ERROR itself).
 */
export const CLIENT_CODES: ReadonlySet<string> = new Set<string>([
  ...APOLLO_CLIENT_CODES,
  ...Object.values(ErrorCode).filter((c) => c !== ErrorCode.INTERNAL_SERVER_ERROR),
]);

/**
 * Apollo refuses two request mistakes without a code, only with HTTP 400 (so the formatted error
 * arrives as INTERNAL_SERVER_ERROR): a persisted-query hash that does not match the document sent
 * with it, and an unknown persisted-query version. An error that carries a 4xx status and no code
 * was raised as the client's mistake: it answers BAD_REQUEST with its message. (The status is read
 * on the original error: Apollo removes `http` from the formatted one.)
 */
function isCodelessClientError(error: unknown): boolean {
  const extensions = (error as { extensions?: { code?: unknown; http?: { status?: unknown } } } | null | undefined)
    ?.extensions;
  const status = extensions?.http?.status;
  return extensions?.code === undefined && typeof status === 'number' && status >= 400 && status < 500;
}

/**
 * An Apollo formatError: keeps errors with a client code (minus any stack trace), logs and replaces everything else.
 */
export function maskError(logger: Logger) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const original = unwrapResolverError(error);
    if (original instanceof PartnerError) {
      logger.error({ err: original, partner: original.partner, path: formatted.path }, 'partner error');
      const gql = original.toGraphQLError();
      return { message: gql.message, path: formatted.path, extensions: gql.extensions };
    }
    const code = formatted.extensions?.code;
    if (typeof code === 'string' && CLIENT_CODES.has(code)) {
      const { stacktrace: _drop, ...extensions } = formatted.extensions ?? {};
      return { ...formatted, extensions };
    }
    if (isCodelessClientError(error)) {
      return {
        message: formatted.message,
        ...(formatted.locations ? { locations: formatted.locations } : {}),
        extensions: { code: ApolloServerErrorCode.BAD_REQUEST },
      };
    }
    logger.error({ err: original, path: formatted.path }, 'unexpected error in resolver');
    return {
      message: 'Internal server error',
      path: formatted.path,
      extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR },
    };
  };
}
