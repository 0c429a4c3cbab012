import { readFileSync } from 'node:fs';
import type { GraphQLSchema } from 'graphql';
import { graphqlRuntime } from '../authorization/graphql-runtime.ts';
import type { Logger } from '../../lib/logger.ts';

/**
 * The example operations the explorer offers, one file each in ./examples (the comment at the
 * top of a file is what the developer reads in the editor). The dashboard is the same document as
 * test/operations/dashboard.graphql, which the end-to-end test runs; test/explorer/examples.test.ts
 * keeps the two identical and every example valid against the public schema.
 *
 * An example is offered only when it validates against the schema the gateway serves: an
 * operation for a field the schema does not have (yet, or under another SUPERGRAPH) is left out
 * with a warning rather than shown broken.
 */
export interface Example {
  id: string;
  title: string;
  /** Which token runs it, in the words of the token panel. */
  runAs: string;
  query: string;
  /** JSON text for the variables editor. */
  variables: string;
}

interface ExampleSource {
  id: string;
  title: string;
  runAs: string;
  variables: Record<string, unknown>;
}

export const EXAMPLE_SOURCES: readonly ExampleSource[] = [
  {
    id: 'dashboard',
    title: "A customer's dashboard",
    runAs: 'a customer through web-app or mobile-app',
    variables: { transactions: 20 },
  },
  {
    id: 'transactions-page',
    title: "Paging an account's transactions",
    runAs: 'a customer through web-app (or a third party whose consent covers the account)',
    variables: { accountId: 'acc_… (an id from the dashboard)', first: 25, after: null },
  },
  {
    id: 'request-consent',
    title: 'Requesting a consent (third party)',
    runAs: 'a third-party client such as budgetly, for a customer',
    variables: { permissions: ['ACCOUNTS', 'BALANCES', 'TRANSACTIONS'] },
  },
  {
    id: 'pending-consents',
    title: 'Consents awaiting the customer',
    runAs: 'the customer through web-app',
    variables: {},
  },
  {
    id: 'authorise-consent',
    title: 'Authorising a consent (customer)',
    runAs: 'the customer through web-app',
    variables: { consentId: 'cns_… (from PendingConsents)', accountIds: ['acc_… (from PendingConsents)'] },
  },
  {
    id: 'initiate-payment',
    title: 'Initiating a payment (customer)',
    runAs: 'the customer through web-app',
    variables: {
      input: {
        idempotencyKey: 'a new key per payment, the same on every retry',
        debtorAccountId: 'acc_… (a Northwind GBP account from the dashboard)',
        creditor: { name: 'Sam Ellis', sortCode: '77-11-00', accountNumber: '22334455' },
        amount: { amount: '12.50', currency: 'GBP' },
        reference: 'PIZZA',
      },
    },
  },
  {
    id: 'consented-accounts',
    title: 'What a third party sees under consent',
    runAs: 'the third-party client the consent was granted to',
    variables: {},
  },
];

export function exampleFile(id: string): URL {
  return new URL(`./examples/${id}.graphql`, import.meta.url);
}

/** The examples valid against `schema`, in the order above. */
export function loadExamples(schema: GraphQLSchema, logger: Logger): Example[] {
  const { parse, validate } = graphqlRuntime;
  const examples: Example[] = [];
  for (const source of EXAMPLE_SOURCES) {
    const query = readFileSync(exampleFile(source.id), 'utf8');
    const document = parse(query);
    // graphql-js validation lets a mutation through against a schema without a Mutation type (execution refuses it).
    const roots = document.definitions.flatMap((d) =>
      d.kind === graphqlRuntime.Kind.OPERATION_DEFINITION && !schema.getRootType(d.operation)
        ? [`the schema has no ${d.operation} type`]
        : [],
    );
    const errors = [...roots, ...validate(schema, document).map((e) => e.message)];
    if (errors.length > 0) {
      logger.warn({ example: source.id, errors }, 'explorer example does not fit the served schema; left out');
      continue;
    }
    examples.push({
      id: source.id,
      title: source.title,
      runAs: source.runAs,
      query,
      variables: JSON.stringify(source.variables, null, 2),
    });
  }
  return examples;
}
