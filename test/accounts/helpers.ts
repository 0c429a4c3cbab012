import { randomUUID } from 'node:crypto';
import { DEV_INTERNAL_SECRET } from '../../lib/config.ts';
import { signInternalContext } from '../../lib/internal-auth.ts';
import type { Principal } from '../../lib/principal.ts';
import { SANDBOX_CUSTOMERS } from '../../sandboxes/manifest.ts';

export const ALICE = SANDBOX_CUSTOMERS.find((c) => c.displayName === 'Alice')!;
export const BEN = SANDBOX_CUSTOMERS.find((c) => c.displayName === 'Ben')!;

export const principalOf = (customerId: string | null): Principal => ({ customerId, clientId: 'web-app', scopes: ['accounts:read', 'balances:read', 'transactions:read'] });

export interface GraphQLResponse<T = Record<string, unknown>> {
  data?: T | null;
  errors?: { message: string; path?: (string | number)[]; extensions?: Record<string, unknown> }[];
}

/** Sends a query to a subgraph as the gateway would: signed internal context for the principal. */
export async function gql<T = any>(url: string, principal: Principal | null, query: string, variables: Record<string, unknown> = {}): Promise<GraphQLResponse<T>> {
  const requestId = randomUUID();
  const token = await signInternalContext(DEV_INTERNAL_SECRET, 'accounts', principal, requestId);
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-internal-auth': token, 'x-request-id': requestId },
    body: JSON.stringify({ query, variables }),
  });
  return (await res.json()) as GraphQLResponse<T>;
}

export const CUSTOMER_ACCOUNTS = /* GraphQL */ `
  query CustomerAccounts($id: ID!, $first: Int = 20, $after: String, $filter: TransactionFilter) {
    _entities(representations: [{ __typename: "Customer", id: $id }]) {
      ... on Customer {
        accounts {
          id
          name
          type
          status
          currency
          maskedIdentifier
          identification { scheme value }
          holder { id }
          institution { id name standard }
          balances { type direction asOf includesCreditLine amount { amount currency } }
          currentBalance { type direction amount { amount currency } }
          transactions(first: $first, after: $after, filter: $filter) {
            edges {
              cursor
              node {
                id status kind direction occurredAt bookedAt valueDate description counterpartyName
                amount { amount currency }
                reverses { id }
                reversedBy { id }
              }
            }
            pageInfo { hasNextPage endCursor }
          }
        }
        unavailableInstitutions { id name standard }
      }
    }
  }
`;
