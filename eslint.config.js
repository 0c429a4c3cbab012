// ESLint (flat config), run by `npm run lint` beside dependency-cruiser (.dependency-cruiser.mjs)
// and `prettier --check .`. Prettier owns the layout; ESLint owns what Prettier cannot see:
// mistakes (typescript-eslint's recommended rules) and lines Prettier cannot wrap (comments,
// strings), which max-len keeps to the same 120 columns.
// The rules are syntactic only (no type information), so the whole tree lints in seconds;
// `tsc --noEmit` (part of `npm test`) does the type checking.
import js from '@eslint/js';
import stylistic from '@stylistic/eslint-plugin';
import tseslint from 'typescript-eslint';

/** Globals of the explorer's browser scripts (gateway/explorer/public), which run in the page, not in Node. */
const BROWSER_GLOBALS = Object.fromEntries(
  [
    'window',
    'document',
    'localStorage',
    'sessionStorage',
    'fetch',
    'console',
    'location',
    'history',
    'URL',
    'URLSearchParams',
    'Headers',
    'setTimeout',
    'clearTimeout',
    'setInterval',
    'clearInterval',
    'atob',
    'btoa',
    'TextDecoder',
    'TextEncoder',
    'HTMLElement',
    'Event',
    'CustomEvent',
    'MutationObserver',
    'navigator',
    'globalThis',
    'AbortController',
    'React',
    'ReactDOM',
    'GraphiQL',
  ].map((name) => [name, 'readonly']),
);

export default tseslint.config(
  {
    // Written by tools and checked for staleness by tests: their style is the generator's.
    ignores: ['**/generated/**', 'node_modules/**', '.data/**', 'test-artifacts/**', 'coverage/**'],
  },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    plugins: { '@stylistic': stylistic },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // Prettier wraps code at 120; this catches what it cannot wrap. URLs and long literals are
      // exempt: splitting them would make them harder to find and to copy.
      '@stylistic/max-len': [
        'error',
        {
          code: 120,
          ignoreUrls: true,
          ignoreStrings: true,
          ignoreTemplateLiterals: true,
          ignoreRegExpLiterals: true,
        },
      ],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true },
      ],
    },
  },
  {
    // Tests read untyped JSON answers (GraphQL responses, partner payloads) and poke at them; the
    // typed operations in test/generated/operations.ts are there where a test wants the types.
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    files: ['gateway/explorer/public/**/*.js'],
    languageOptions: { sourceType: 'module', globals: BROWSER_GLOBALS },
  },
  {
    files: ['**/*.mjs', '*.js'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
);
