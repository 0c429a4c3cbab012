import { defineConfig } from 'vitest/config';

// Tests start real HTTP servers on free ports and (when DATABASE_URL is set) talk to a real
// PostgreSQL; each file runs in its own process so servers and pools never leak across files.
export default defineConfig({
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
