import type { SubgraphCodegenConfig } from '../../codegen.ts';

/** Codegen settings of the accounts subgraph: its context type and the domain objects its resolvers return. */
const config: SubgraphCodegenConfig = {
  contextType: '../context.ts#AccountsContext',
  mappers: {},
};

export default config;
