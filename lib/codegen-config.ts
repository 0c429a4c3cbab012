/**
 * What a subgraph tells `npm run codegen` (codegen.ts) about itself, in its codegen.config.ts.
 * A type of its own, so that codegen.ts imports the four subgraph configs and they import only
 * this: when it lived in codegen.ts, each config and codegen.ts imported each other (a type-only
 * circle, which .dependency-cruiser.mjs forbids).
 */
export interface SubgraphCodegenConfig {
  /** e.g. "../context.ts#AccountsContext", relative to the generated file. */
  contextType: string;
  /** GraphQL type name -> "path#Type" of the object a resolver returns for it, relative to the generated file. */
  mappers: Record<string, string>;
}
