import type { SubgraphCodegenConfig } from '../../codegen.ts';

/** Codegen settings of the payments subgraph: its context type and the domain objects its resolvers return. */
const config: SubgraphCodegenConfig = {
  contextType: '../context.ts#PaymentsContext',
  mappers: {},
};

export default config;
