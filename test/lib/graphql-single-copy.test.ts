import { createRequire } from 'node:module';
import { GraphQLObjectType } from 'graphql';
import { expect, it } from 'vitest';

// graphql-shield, Apollo and @graphql-tools require graphql as CommonJS; our code must get the
// very same module, or every instanceof check inside graphql fails "from another realm".
it('our code and our dependencies share one copy of graphql', () => {
  const required = createRequire(import.meta.url)('graphql') as { GraphQLObjectType: unknown };
  expect(required.GraphQLObjectType).toBe(GraphQLObjectType);
});
