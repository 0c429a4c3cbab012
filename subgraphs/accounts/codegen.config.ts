import type { SubgraphCodegenConfig } from '../../lib/codegen-config.ts';

/** Codegen settings of the accounts subgraph: its context type and the domain objects its resolvers return. */
const config: SubgraphCodegenConfig = {
  contextType: '../context.ts#AccountsContext',
  mappers: {
    Customer: '../domain/model.ts#CustomerRef',
    Account: '../domain/model.ts#AccountModel',
    Balance: '../domain/model.ts#BalanceModel',
    Institution: '../domain/model.ts#InstitutionModel',
    Transaction: '../domain/model.ts#TransactionModel',
  },
};

export default config;
