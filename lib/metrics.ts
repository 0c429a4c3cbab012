import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import { trace } from '@opentelemetry/api';
import { AggregatorRegistry, Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Prometheus metrics, one registry per service. Under `npm start` the gateway and the four
 * subgraphs share one process, and an operator must still tell the gateway's figures from a
 * subgraph's: so each service records into its own registry, whose every series carries a
 * `service` label, and the operator listener (lib/metrics-server.ts) serves each registry on a
 * path of its own as well as all of them together. Every outbound call (partner or subgraph) is
 * measured under a deliberate `target` name.
 *
 * Which service a piece of code works for: gateway code names 'gateway' itself; shared code
 * (lib/http-client.ts, lib/http-server.ts) takes the service whose start creates it
 * (lib/request-context.ts runAsService), so that a partner client made by the accounts subgraph
 * records into the accounts registry even though four subgraphs share the process.
 */
export interface ServiceMetrics {
  readonly service: string;
  readonly registry: Registry;
  /** Every request to the service's public port, by method, route (a fixed set) and status. */
  readonly httpRequests: Histogram<'method' | 'route' | 'status'>;
  /** Requests being served right now: what a graceful stop waits for. */
  readonly httpRequestsInFlight: Gauge;
  readonly graphqlRequests: Histogram<'outcome'>;
  readonly outboundDuration: Histogram<'target' | 'operation' | 'outcome'>;
  readonly breakerTransitions: Counter<'target' | 'state'>;
  readonly sharedSubgraphRequests: Counter<'target'>;
  readonly securityEvents: Counter<'kind'>;
  /**
   * Gateway: executed operations that select a deprecated field or pass a deprecated argument, by schema coordinate and
   * client id (gateway/deprecations.ts).
   */
  readonly deprecatedFieldRequests: Counter<'field' | 'client_id'>;
}

/** The registry of code that runs outside any service (a test calling a client directly). No listener serves it. */
export const UNATTRIBUTED = 'unattributed';

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

function createServiceMetrics(service: string): ServiceMetrics {
  const registry = new Registry();
  // The label every series of this registry carries, also when registries are served together.
  registry.setDefaultLabels({ service });
  const registers = [registry];
  return {
    service,
    registry,
    httpRequests: new Histogram({
      name: 'http_request_duration_seconds',
      help: 'Requests to the service port, by method, route (/graphql, /healthz, /readyz or other) and status.',
      labelNames: ['method', 'route', 'status'] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    httpRequestsInFlight: new Gauge({
      name: 'http_requests_in_flight',
      help: 'Requests to the service port being served now.',
      registers,
    }),
    graphqlRequests: new Histogram({
      name: 'graphql_request_duration_seconds',
      help: 'GraphQL request latency, by outcome (error when the answer carries errors).',
      labelNames: ['outcome'] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    outboundDuration: new Histogram({
      name: 'outbound_request_duration_seconds',
      help: 'Latency of calls to partners and subgraphs, by target and outcome.',
      labelNames: ['target', 'operation', 'outcome'] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    breakerTransitions: new Counter({
      name: 'circuit_breaker_transitions_total',
      help: 'Circuit breaker state changes, by target and new state.',
      labelNames: ['target', 'state'] as const,
      registers,
    }),
    sharedSubgraphRequests: new Counter({
      name: 'subgraph_requests_shared_total',
      help: 'Subgraph queries answered by an identical in-flight request of the same principal (same subgraph, same signed principal, same body) instead of a call of their own.',
      labelNames: ['target'] as const,
      registers,
    }),
    securityEvents: new Counter({
      name: 'security_events_total',
      help: 'Refusals that should never happen in a correct system (e.g. an object owned by another customer reached the gateway), by kind. Any increase deserves an incident.',
      labelNames: ['kind'] as const,
      registers,
    }),
    deprecatedFieldRequests: new Counter({
      name: 'graphql_deprecated_field_requests_total',
      help: 'Executed operations that select a deprecated field (or pass a deprecated argument), by schema coordinate and client id: who still depends on it before it is removed.',
      labelNames: ['field', 'client_id'] as const,
      registers,
    }),
  };
}

const byService = new Map<string, ServiceMetrics>();

/**
 * The metrics of one service in this process. One registry per service name: two gateways started
 * in one process (benchmarks, tests) record into the same one, as two replicas behind one scrape
 * job would be summed.
 */
export function metricsOf(service: string): ServiceMetrics {
  let metrics = byService.get(service);
  if (!metrics) byService.set(service, (metrics = createServiceMetrics(service)));
  return metrics;
}

const withProcessMetrics = new WeakSet<Registry>();

/**
 * Adds Node's process metrics (CPU, memory, event loop, GC) to a registry, once. They describe the
 * process, not a service: a service process puts them in its own registry; the all-in-one launcher
 * in a 'platform' registry of its own, so that they appear once.
 */
export function collectProcessMetrics(registry: Registry): void {
  if (withProcessMetrics.has(registry)) return;
  withProcessMetrics.add(registry);
  collectDefaultMetrics({ register: registry });
}

/**
 * Several registries as one Prometheus exposition: one HELP/TYPE per metric name (a second one
 * would make the exposition invalid), the series of every registry below it. prom-client's
 * aggregation groups series by their full label set, and the `service` label of each registry keeps
 * them apart; with the 'first' aggregator for every metric nothing is summed or dropped (the default
 * aggregators would omit process_start_time_seconds).
 */
export async function combinedExposition(registries: Registry[]): Promise<string> {
  if (registries.length === 1) return registries[0]!.metrics();
  const all = await Promise.all(registries.map((r) => r.getMetricsAsJSON()));
  const combined = AggregatorRegistry.aggregate(
    all.map((metrics) => metrics.map((m) => ({ ...m, aggregator: 'first' as const }))),
  );
  return combined.metrics();
}

/**
 * Records every GraphQL request of an Apollo Server in `metrics.graphqlRequests` (error when the
 * answer carries errors), and names the operation on the request's span when tracing is on.
 */
export function graphqlRequestMetrics<C extends BaseContext>(metrics: ServiceMetrics): ApolloServerPlugin<C> {
  return {
    async requestDidStart() {
      const started = performance.now();
      return {
        async didResolveOperation({ operationName, operation }) {
          const span = trace.getActiveSpan();
          if (!span || !operation) return;
          span.setAttribute('graphql.operation.type', operation.operation);
          if (operationName) span.setAttribute('graphql.operation.name', operationName);
        },
        async willSendResponse({ response }) {
          const failed = response.body.kind === 'single' && (response.body.singleResult.errors?.length ?? 0) > 0;
          metrics.graphqlRequests.labels(failed ? 'error' : 'ok').observe((performance.now() - started) / 1000);
        },
      };
    },
  };
}
