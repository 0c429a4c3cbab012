import type { SubgraphCodegenConfig } from '../../lib/codegen-config.ts';

/** Codegen settings of the consents subgraph: its context type and the domain objects its resolvers return. */
const config: SubgraphCodegenConfig = {
  contextType: '../context.ts#ConsentsContext',
  mappers: {
    Consent: '../domain/model.ts#ConsentModel',
    ConsentEvent: '../domain/model.ts#ConsentEventModel',
    ClientApp: '../domain/model.ts#PublicClientAppModel',
    Customer: '../domain/model.ts#CustomerRef',
    Account: '../domain/model.ts#AccountRef',
  },
};

export default config;
