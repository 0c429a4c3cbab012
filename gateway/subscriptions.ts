import type { ApolloServerPlugin } from '@apollo/server';
import { GraphQLError } from 'graphql';

/**
 * The gateway does not serve subscriptions (no WebSocket or multipart transport, and the engine
 * would resolve the subscription root to a silent null). A subscription operation is refused
 * before execution with this code and HTTP 400, so a client knows to use another transport,
 * instead of an INTERNAL_SERVER_ERROR.
 */
export const SUBSCRIPTIONS_NOT_SUPPORTED = 'SUBSCRIPTIONS_NOT_SUPPORTED';

export function refuseSubscriptions<TContext extends object>(): ApolloServerPlugin<TContext> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ operation }) {
          if (operation?.operation !== 'subscription') return;
          throw new GraphQLError('Subscriptions are not supported by this gateway', {
            extensions: { code: SUBSCRIPTIONS_NOT_SUPPORTED, http: { status: 400 } },
          });
        },
      };
    },
  };
}
