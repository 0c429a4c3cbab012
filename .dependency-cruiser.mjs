/**
 * The rules of the house, checked by `npm run lint` (and so by `npm test` and CI) instead of by
 * memory. docs/architecture.md explains the layers and the rooms of a subgraph; this file is
 * what keeps them. Every rule is an error: CI fails on any finding.
 * test/platform/lint-rules.test.ts runs these rules on a small fixture tree and proves each one
 * reports the import it forbids.
 */

/** Product code: what runs in production. Sandboxes, scripts, benchmarks and tests are not. */
const SUBGRAPH = '^subgraphs/([^/]+)/';

/** @type {import('dependency-cruiser').IConfiguration} */
export default {
  forbidden: [
    {
      name: 'domain-uses-ports-only',
      comment:
        "A subgraph's domain (business logic) talks to partners and storage through the ports it declares " +
        '(domain/ports.ts); it never imports a partner client or a storage implementation.',
      severity: 'error',
      from: { path: `${SUBGRAPH}domain/` },
      to: { path: '^subgraphs/$1/(partners|storage)/' },
    },
    {
      name: 'subgraph-imports-no-other-subgraph',
      comment: 'A subgraph is deployed on its own: it shares code through lib/, never with another subgraph.',
      severity: 'error',
      from: { path: SUBGRAPH },
      to: { path: '^subgraphs/', pathNot: '^subgraphs/$1/' },
    },
    {
      name: 'subgraph-imports-no-gateway',
      comment: 'A subgraph knows the gateway only through the protocol (signed internal requests, federation).',
      severity: 'error',
      from: { path: '^subgraphs/' },
      to: { path: '^gateway/' },
    },
    {
      name: 'product-imports-no-sandbox',
      comment:
        'A sandbox stands in for a partner: the product (gateway, subgraphs, lib) must build and run with ' +
        'sandboxes/ deleted. Seed data and partner credentials reach it as data and configuration.',
      severity: 'error',
      from: { path: '^(subgraphs|gateway|lib)/' },
      to: { path: '^sandboxes/' },
    },
    {
      name: 'gateway-imports-no-subgraph',
      comment: 'The gateway reaches the subgraphs over HTTP (the supergraph), never by importing their code.',
      severity: 'error',
      from: { path: '^gateway/' },
      to: { path: '^subgraphs/' },
    },
    {
      name: 'lib-is-the-ground',
      comment:
        'lib/ holds the building blocks every service shares; it imports nothing above it (subgraphs, ' +
        'gateway, sandboxes, scripts, benchmarks).',
      severity: 'error',
      from: { path: '^lib/' },
      to: { path: '^(subgraphs|gateway|sandboxes|scripts|bench)/' },
    },
    {
      name: 'nothing-imports-tests',
      comment:
        "Tests import the product, never the other way round. vitest.config.ts is the test runner's own " +
        'configuration and may read test/support.',
      severity: 'error',
      from: { pathNot: ['^test/', '^vitest\\.config\\.ts$'] },
      to: { path: '^test/' },
    },
    {
      name: 'no-circular',
      comment:
        'No module depends on itself through others, type-only imports included (tsPreCompilationDeps): ' +
        'a circle means two modules are one concern, or a shared piece belongs in a module of its own.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'not-to-unresolvable',
      comment: 'An import that resolves to nothing fails at run time (Node runs the .ts files directly).',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    // Type-only imports count: a type-only circle still ties two modules together.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: 'node_modules' },
    exclude: { path: ['^node_modules/', '^\\.data/', '^test-artifacts/'] },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
    skipAnalysisNotInRules: true,
  },
};
