import { createRequire } from 'node:module';

/**
 * The graphql-js instance the rest of the process uses at runtime. graphql 16 ships CommonJS
 * (index.js) and ESM (index.mjs) side by side without an "exports" map: Node resolves every
 * `import 'graphql'` of the dependencies (Apollo Server, @graphql-tools, graphql-middleware,
 * graphql-shield) to the CommonJS build, while a bundler-style resolver (vitest for source files)
 * may pick index.mjs, and graphql-js refuses schema objects from "another module or realm". The
 * authorization code inspects the gateway's schema (isObjectType, TypeInfo) and throws errors
 * Apollo must recognise as GraphQLError, so it takes graphql from the same place the
 * dependencies do. Types still come from `import type ... from 'graphql'`.
 */
const require = createRequire(import.meta.url);
export const graphqlRuntime = require('graphql') as typeof import('graphql');

/** graphql-middleware and graphql-shield, CommonJS builds (see rules.ts for why). */
export const middlewareRuntime = require('graphql-middleware') as typeof import('graphql-middleware');
export const shieldRuntime = require('graphql-shield') as typeof import('graphql-shield');
