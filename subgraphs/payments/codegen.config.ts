import type { SubgraphCodegenConfig } from '../../lib/codegen-config.ts';

/** Codegen settings of the payments subgraph: its context type and the domain objects its resolvers return. */
const config: SubgraphCodegenConfig = {
  contextType: '../context.ts#PaymentsContext',
  mappers: {
    Customer: '../domain/model.ts#CustomerRef',
    Account: '../domain/model.ts#AccountRef',
    Payment: '../domain/model.ts#PaymentModel',
    PaymentCreditor: '../domain/model.ts#CreditorModel',
    PaymentStatusChange: '../domain/model.ts#PaymentStatusChangeModel',
  },
};

export default config;
