import { defineConfig } from 'vitest/config';

// Tests start real HTTP servers on free ports and (when DATABASE_URL is set) talk to a real
// PostgreSQL; each file runs in its own process so servers and pools never leak across files.
export default defineConfig({
  // graphql 16 ships CommonJS (index.js) and ESM (index.mjs). Node, and so every dependency
  // vitest leaves external (graphql-shield, @graphql-tools, Apollo), loads index.js; vite
  // would resolve our own imports to index.mjs. Two copies break graphql's instanceof checks
  // ("from another module or realm"), so our code is pointed at the same file Node uses.
  resolve: { alias: [{ find: /^graphql$/, replacement: 'graphql/index.js' }] },
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: ['default'],
    env: { LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent' },
  },
});
