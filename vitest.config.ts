import { defineConfig } from 'vitest/config';
import { scaled } from './test/support/time.ts';

// Tests start real HTTP servers on free ports and (when DATABASE_URL is set) talk to a real
// PostgreSQL; each file runs in its own process so servers and pools never leak across files.
// Deadlines are budgets for a machine that may be busy, stretched by TEST_TIME_FACTOR
// (test/support/time.ts); no test measures how fast something was.
export default defineConfig({
  // graphql 16 ships CommonJS (index.js) and ESM (index.mjs). Node, and so every dependency
  // vitest leaves external (graphql-shield, @graphql-tools, Apollo), loads index.js; vite
  // would resolve our own imports to index.mjs. Two copies break graphql's instanceof checks
  // ("from another module or realm"), so our code is pointed at the same file Node uses.
  resolve: { alias: [{ find: /^graphql$/, replacement: 'graphql/index.js' }] },
  test: {
    include: ['test/**/*.test.ts'],
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
