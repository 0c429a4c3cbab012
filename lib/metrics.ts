import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Prometheus metrics, one registry per process. Every outbound call (partner or subgraph) is
 * measured under a deliberate `target` name. The registry is served to operators only, by the
 * listener of lib/metrics-server.ts (one per process), never on a service's public port.
 */
export const registry = new Registry();
collectDefaultMetrics({ register: registry });

export const outboundDuration = new Histogram({
  name: 'outbound_request_duration_seconds',
  help: 'Latency of calls to partners and subgraphs, by target and outcome.',
  labelNames: ['target', 'operation', 'outcome'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [registry],
});

export const breakerTransitions = new Counter({
  name: 'circuit_breaker_transitions_total',
  help: 'Circuit breaker state changes, by target and new state.',
  labelNames: ['target', 'state'] as const,
  registers: [registry],
});

export const graphqlRequests = new Histogram({
  name: 'graphql_request_duration_seconds',
  help: 'GraphQL request latency, by service and outcome.',
  labelNames: ['service', 'outcome'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [registry],
});

export const sharedSubgraphRequests = new Counter({
  name: 'subgraph_requests_shared_total',
  help: 'Subgraph queries answered by an identical in-flight request of the same principal (same subgraph, same signed principal, same body) instead of a call of their own.',
  labelNames: ['target'] as const,
  registers: [registry],
});

export const securityEvents = new Counter({
  name: 'security_events_total',
  help: 'Refusals that should never happen in a correct system (e.g. an object owned by another customer reached the gateway), by kind. Any increase deserves an incident.',
  labelNames: ['kind'] as const,
  registers: [registry],
});
