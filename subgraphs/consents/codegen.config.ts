import type { SubgraphCodegenConfig } from '../../codegen.ts';

/** Codegen settings of the consents subgraph: its context type and the domain objects its resolvers return. */
const config: SubgraphCodegenConfig = {
  contextType: '../context.ts#ConsentsContext',
  mappers: {},
};

export default config;
