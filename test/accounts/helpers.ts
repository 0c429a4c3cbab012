import type { Principal } from '../../lib/principal.ts';
import { principalOf as principal, SANDBOX } from '../support/customers.ts';
import { callSubgraph, type SubgraphResult } from '../support/subgraph-client.ts';

export const ALICE = SANDBOX.alice;
export const BEN = SANDBOX.ben;

export const principalOf = (customerId: string | null): Principal =>
  principal(customerId, ['accounts:read', 'balances:read', 'transactions:read']);

/** The GraphQL body only (no HTTP status), so tests can compare whole answers. */
export type GraphQLResponse<T = Record<string, unknown>> = Omit<SubgraphResult<T>, 'status'>;

/** Sends a query to the accounts subgraph as the gateway would: signed internal context for the principal. */
export async function gql<T = any>(
  url: string,
  principal: Principal | null,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<GraphQLResponse<T>> {
  const { status: _status, ...body } = await callSubgraph<T>(url, 'accounts', query, { principal, variables });
  return body;
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
          identification {
            scheme
            value
          }
          holder {
            id
          }
          institution {
            id
            name
            standard
          }
          balances {
            type
            direction
            asOf
            includesCreditLine
            amount {
              amount
              currency
            }
          }
          currentBalance {
            type
            direction
            amount {
              amount
              currency
            }
          }
          transactions(first: $first, after: $after, filter: $filter) {
            edges {
              cursor
              node {
                id
                status
                kind
                direction
                occurredAt
                bookedAt
                valueDate
                description
                counterpartyName
                amount {
                  amount
                  currency
                }
                reverses {
                  id
                }
                reversedBy {
                  id
                }
              }
            }
            pageInfo {
              hasNextPage
              endCursor
            }
          }
        }
        unavailableInstitutions {
          id
          name
          standard
        }
      }
    }
  }
`;
