import { defineConfig } from 'vitest/config';
import { scaled } from './test/support/time.ts';

// Tests start real HTTP servers on free ports and (when DATABASE_URL is set) talk to a real
// PostgreSQL; each file runs in its own process so servers and pools never leak across files.
// Deadlines are budgets for a machine that may be busy, stretched by TEST_TIME_FACTOR
// (test/support/time.ts); no test measures how fast something was.
/**
 * `npm run test:unit`: the tests that need no service, no database, no network and no child
 * process (pure functions, configuration loaders, mappings, the schema files): seconds, anywhere.
 * `npm test` runs them with everything else (the `integration` project: servers on free ports,
 * PGlite or PostgreSQL, the whole platform in-process, child processes).
 */
const UNIT_TESTS = [
  'test/accounts/config.test.ts',
  'test/accounts/domain.test.ts',
  'test/consents/loaders-config.test.ts',
  'test/consents/rules.test.ts',
  'test/contract/openapi.test.ts',
  'test/contract/sandbox-lib.test.ts',
  'test/gateway/authorization-rules.test.ts',
  'test/identity/config.test.ts',
  'test/identity/domain.test.ts',
  'test/identity/onfido-mapping.test.ts',
  'test/lib/consent.test.ts',
  'test/lib/graphql-single-copy.test.ts',
  'test/lib/ids-pagination-auth.test.ts',
  'test/lib/money-and-scalars.test.ts',
  'test/lib/production-config.test.ts',
  'test/payments/config.test.ts',
  'test/payments/domain.test.ts',
  'test/platform/docker-compose.test.ts',
  'test/platform/lint-rules.test.ts',
  'test/platform/partner-specs-independence.test.ts',
  'test/schema/codegen.test.ts',
  'test/schema/composition.test.ts',
];

export default defineConfig({
  // graphql 16 ships CommonJS (index.js) and ESM (index.mjs). Node, and so every dependency
  // vitest leaves external (graphql-shield, @graphql-tools, Apollo), loads index.js; vite
  // would resolve our own imports to index.mjs. Two copies break graphql's instanceof checks
  // ("from another module or realm"), so our code is pointed at the same file Node uses.
  resolve: { alias: [{ find: /^graphql$/, replacement: 'graphql/index.js' }] },
  test: {
    projects: [
      { extends: true, test: { name: 'unit', include: UNIT_TESTS } },
      { extends: true, test: { name: 'integration', include: ['test/**/*.test.ts'], exclude: UNIT_TESTS } },
    ],
    // Once per run: say which partner specs are absent and so which contract tests are skipped.
    globalSetup: ['test/support/global-setup.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: scaled(30_000),
    hookTimeout: scaled(60_000),
    reporters: ['default'],
    env: { LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent' },
  },
});
