import type { BaseSubgraphContext } from '../../lib/subgraph-server.ts';
import type { ConsentRepository } from './domain/ports.ts';
import { consentsServiceFor, type ConsentService, type ConsentsService } from './domain/service.ts';
import { createConsentLoaders, type ConsentLoaders } from './loaders.ts';

/**
 * Per-request context of the consents subgraph, the same shape in every subgraph: the base
 * (principal, request id, logger), the request's DataLoaders and the domain service bound to the
 * request's caller and instant. Resolvers call only `service`.
 */
export interface ConsentsContext extends BaseSubgraphContext {
  loaders: ConsentLoaders;
  service: ConsentsService;
}

/** What the context is made from: the long-lived ports and the lifecycle (server.ts builds them once). */
export interface ConsentsPorts {
  repository: ConsentRepository;
  lifecycle: ConsentService;
  /** Clock; the whole request is evaluated at one instant (statuses, expiry, transitions agree on it). */
  now: () => Date;
}

export function createConsentsContext(base: BaseSubgraphContext, ports: ConsentsPorts): ConsentsContext {
  const loaders = createConsentLoaders(ports.repository);
  const caller = { principal: base.principal, requestId: base.requestId, now: ports.now() };
  return { ...base, loaders, service: consentsServiceFor(ports.lifecycle, loaders, caller) };
}
