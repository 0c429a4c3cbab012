import type { BaseSubgraphContext } from '../../lib/subgraph-server.ts';
import type { IdentityService } from './domain/identity-service.ts';

/** Per-request context of the identity subgraph: the principal-bound identity service (with its DataLoaders). */
export interface IdentityContext extends BaseSubgraphContext {
  identity: IdentityService;
}
