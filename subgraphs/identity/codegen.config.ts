import type { SubgraphCodegenConfig } from '../../lib/codegen-config.ts';

/** Codegen settings of the identity subgraph: its context type and the domain objects its resolvers return. */
const config: SubgraphCodegenConfig = {
  contextType: '../context.ts#IdentityContext',
  mappers: {
    Customer: '../domain/model.ts#CustomerModel',
    KycVerification: '../domain/model.ts#KycVerificationModel',
    KycCheck: '../domain/model.ts#KycCheckModel',
  },
};

export default config;
