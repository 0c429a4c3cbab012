import { Counter, Gauge, type Registry } from 'prom-client';
import { metricsOf } from './metrics.ts';

/**
 * The per-dependency figures of the resilient client (lib/http-client.ts) and the cached
 * fallbacks (lib/fallback-cache.ts), in the registry of the service that makes the calls
 * (lib/metrics.ts). Latency stays in `outbound_request_duration_seconds`; these say why calls
 * failed and what the protections did:
 *
 * - `outbound_errors_total{target, code}`: failed attempts by code: the HTTP status (`503`,
 *   `429`, ...), `timeout`, `network`, `deadline` (no time left in the request's deadline),
 *   `circuit_open`, `bulkhead_rejected`, `contract` (a payload that breaks the contract);
 * - `outbound_timeouts_total{target}`: attempts cut by their timeout or the request deadline;
 * - `outbound_retries_total{target}`: attempts made again (safe calls only);
 * - `outbound_rate_limited_total{target}`: 429 answers (with or without Retry-After);
 * - `outbound_breaker_state{target}`: 0 closed, 1 half-open, 2 open (transitions are counted in
 *   `circuit_breaker_transitions_total`);
 * - `outbound_bulkhead_rejections_total{target}`: calls refused because the dependency's
 *   concurrency limit and queue were full;
 * - `outbound_bulkhead_active{target}`: calls running against the dependency now;
 * - `fallback_stale_serves_total{target}`: answers served from the last good value;
 * - `fallback_cache_errors_total{target, op}`: cache reads/writes that failed or timed out
 *   (Redis down): the request went on without the cache.
 */
export interface ResilienceMetrics {
  errors: Counter<'target' | 'code'>;
  timeouts: Counter<'target'>;
  retries: Counter<'target'>;
  rateLimited: Counter<'target'>;
  breakerState: Gauge<'target'>;
  bulkheadRejections: Counter<'target'>;
  bulkheadActive: Gauge<'target'>;
  staleServes: Counter<'target'>;
  cacheErrors: Counter<'target' | 'op'>;
}

const byRegistry = new WeakMap<Registry, ResilienceMetrics>();

export function resilienceMetricsOf(service: string): ResilienceMetrics {
  const { registry } = metricsOf(service);
  let m = byRegistry.get(registry);
  if (m) return m;
  const registers = [registry];
  m = {
    errors: new Counter({
      name: 'outbound_errors_total',
      help: 'Failed outbound attempts by target and code (HTTP status, timeout, network, deadline, circuit_open, bulkhead_rejected, contract).',
      labelNames: ['target', 'code'] as const,
      registers,
    }),
    timeouts: new Counter({
      name: 'outbound_timeouts_total',
      help: 'Outbound attempts cut by their timeout or by the request deadline, by target.',
      labelNames: ['target'] as const,
      registers,
    }),
    retries: new Counter({
      name: 'outbound_retries_total',
      help: 'Outbound attempts made again (only calls that are safe to repeat), by target.',
      labelNames: ['target'] as const,
      registers,
    }),
    rateLimited: new Counter({
      name: 'outbound_rate_limited_total',
      help: 'HTTP 429 answers from a dependency, by target.',
      labelNames: ['target'] as const,
      registers,
    }),
    breakerState: new Gauge({
      name: 'outbound_breaker_state',
      help: 'Circuit breaker state by target: 0 closed, 1 half-open, 2 open.',
      labelNames: ['target'] as const,
      registers,
    }),
    bulkheadRejections: new Counter({
      name: 'outbound_bulkhead_rejections_total',
      help: 'Calls refused because the dependency concurrency limit and its queue were full, by target.',
      labelNames: ['target'] as const,
      registers,
    }),
    bulkheadActive: new Gauge({
      name: 'outbound_bulkhead_active',
      help: 'Calls running against the dependency now (at most its concurrency limit), by target.',
      labelNames: ['target'] as const,
      registers,
    }),
    staleServes: new Counter({
      name: 'fallback_stale_serves_total',
      help: 'Answers served from the last good value because the dependency failed, by target.',
      labelNames: ['target'] as const,
      registers,
    }),
    cacheErrors: new Counter({
      name: 'fallback_cache_errors_total',
      help: 'Fallback cache reads and writes that failed or timed out (the request went on without the cache), by target and operation.',
      labelNames: ['target', 'op'] as const,
      registers,
    }),
  };
  byRegistry.set(registry, m);
  return m;
}
