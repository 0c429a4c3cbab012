import {
  context,
  trace,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  TraceFlags,
  type Attributes,
  type Context,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import type { SpanExporter, SpanProcessor, TracerProvider, Sampler } from '@opentelemetry/sdk-trace';
import { ConfigError } from './config.ts';
import { currentService } from './request-context.ts';

/**
 * OpenTelemetry traces, exported through the standard OTEL_* variables and off unless they ask for
 * it. Spans: the incoming request of every service (lib/http-server.ts), each subgraph call of the
 * gateway (gateway/subgraph-fetch.ts and the authorization lookups), each partner call
 * (lib/http-client.ts) and each database query made while serving a request (lib/database.ts),
 * linked across services by the W3C traceparent header the services already exchange.
 *
 * Off means off: without configuration the SDK is never imported, no span object is created, and
 * instrumented code asks `tracingOn()` before doing anything else. Only the API package (a few
 * kilobytes, already loaded by prom-client) is loaded.
 *
 * One tracer provider per service, each with its own `service.name` resource, all feeding the same
 * exporter: under `npm start` the five services share one process, and a trace viewer must still
 * show the gateway's spans apart from each subgraph's, as it would with one process per service.
 *
 * Variables (https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/):
 * - OTEL_SDK_DISABLED=true: off, whatever else is set.
 * - OTEL_TRACES_EXPORTER: `otlp`, `console` or `none` (a comma-separated list). Unset: `otlp` when an
 *   OTLP endpoint is set, otherwise off (the spec's default is `otlp`; here an unconfigured service
 *   must not try to reach a collector that is not there).
 * - OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (as is) or OTEL_EXPORTER_OTLP_ENDPOINT (+ /v1/traces); default
 *   http://localhost:4318/v1/traces. OTEL_EXPORTER_OTLP_(TRACES_)HEADERS, _TIMEOUT and _COMPRESSION
 *   are read by the exporter itself.
 * - OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL: `http/protobuf` only (the spec's default for OTLP).
 * - OTEL_TRACES_SAMPLER (+ OTEL_TRACES_SAMPLER_ARG): always_on, always_off, traceidratio,
 *   parentbased_always_on (default), parentbased_always_off, parentbased_traceidratio.
 * - OTEL_SERVICE_NAME (a process running one service: its `service.name`; the all-in-one launcher
 *   names each part after itself) and OTEL_RESOURCE_ATTRIBUTES (key=value,...).
 */
export type Env = Record<string, string | undefined>;

export type SamplerName =
  | 'always_on'
  | 'always_off'
  | 'traceidratio'
  | 'parentbased_always_on'
  | 'parentbased_always_off'
  | 'parentbased_traceidratio';
const SAMPLERS: readonly SamplerName[] = [
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
];
const EXPORTERS = ['otlp', 'console', 'none'] as const;
type ExporterName = (typeof EXPORTERS)[number];

export interface TracingSettings {
  exporters: Exclude<ExporterName, 'none'>[];
  /** The OTLP traces URL; undefined when no otlp exporter is used. */
  otlpUrl: string | undefined;
  sampler: SamplerName;
  /** For the ratio samplers, in [0, 1]. */
  ratio: number;
  /** OTEL_SERVICE_NAME, for a process running one service. */
  serviceName: string | undefined;
  resourceAttributes: Record<string, string>;
}

const set = (value: string | undefined): value is string => value !== undefined && value.trim() !== '';

/**
 * Reads the OTEL_* variables; undefined when tracing is off. A value that cannot be honoured stops
 * the process like every other configuration mistake (ConfigError, naming the variable).
 */
export function tracingSettings(env: Env): TracingSettings | undefined {
  const problems: string[] = [];
  const disabled = env.OTEL_SDK_DISABLED?.trim().toLowerCase();
  if (set(disabled) && disabled !== 'true' && disabled !== 'false')
    problems.push(`OTEL_SDK_DISABLED: must be true or false, got ${JSON.stringify(env.OTEL_SDK_DISABLED)}`);
  const tracesEndpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim();
  const endpoint = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();

  let exporters: ExporterName[];
  if (set(env.OTEL_TRACES_EXPORTER)) {
    exporters = [];
    for (const name of env.OTEL_TRACES_EXPORTER.split(',').map((e) => e.trim().toLowerCase())) {
      if ((EXPORTERS as readonly string[]).includes(name)) exporters.push(name as ExporterName);
      else
        problems.push(
          `OTEL_TRACES_EXPORTER: ${JSON.stringify(name)} is not supported; allowed: ${EXPORTERS.join(', ')}`,
        );
    }
  } else {
    exporters = set(tracesEndpoint) || set(endpoint) ? ['otlp'] : [];
  }
  const active = exporters.includes('none') ? [] : (exporters as Exclude<ExporterName, 'none'>[]);

  let otlpUrl: string | undefined;
  if (active.includes('otlp')) {
    const [variable, url] = set(tracesEndpoint)
      ? ['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', tracesEndpoint]
      : set(endpoint)
        ? ['OTEL_EXPORTER_OTLP_ENDPOINT', `${endpoint.replace(/\/+$/, '')}/v1/traces`]
        : ['', 'http://localhost:4318/v1/traces'];
    try {
      const parsed = new URL(url);
      if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error('not http');
      otlpUrl = parsed.href;
    } catch {
      problems.push(
        `${variable}: must be an http(s) URL, got ${JSON.stringify(variable === 'OTEL_EXPORTER_OTLP_ENDPOINT' ? endpoint : tracesEndpoint)}`,
      );
    }
    for (const variable of ['OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', 'OTEL_EXPORTER_OTLP_PROTOCOL']) {
      const protocol = env[variable]?.trim();
      if (set(protocol) && protocol !== 'http/protobuf')
        problems.push(`${variable}: ${JSON.stringify(protocol)} is not supported; allowed: http/protobuf`);
    }
  }

  const samplerRaw = env.OTEL_TRACES_SAMPLER?.trim().toLowerCase();
  let sampler: SamplerName = 'parentbased_always_on';
  if (set(samplerRaw)) {
    if ((SAMPLERS as readonly string[]).includes(samplerRaw)) sampler = samplerRaw as SamplerName;
    else
      problems.push(
        `OTEL_TRACES_SAMPLER: ${JSON.stringify(samplerRaw)} is not supported; allowed: ${SAMPLERS.join(', ')}`,
      );
  }
  let ratio = 1;
  if (sampler.endsWith('traceidratio') && set(env.OTEL_TRACES_SAMPLER_ARG)) {
    ratio = Number(env.OTEL_TRACES_SAMPLER_ARG);
    if (!Number.isFinite(ratio) || ratio < 0 || ratio > 1)
      problems.push(
        `OTEL_TRACES_SAMPLER_ARG: must be a number from 0 to 1, got ${JSON.stringify(env.OTEL_TRACES_SAMPLER_ARG)}`,
      );
  }

  const resourceAttributes: Record<string, string> = {};
  if (set(env.OTEL_RESOURCE_ATTRIBUTES)) {
    for (const pair of env.OTEL_RESOURCE_ATTRIBUTES.split(',')) {
      const at = pair.indexOf('=');
      const key = pair.slice(0, Math.max(at, 0)).trim();
      if (at <= 0 || key === '') {
        problems.push(`OTEL_RESOURCE_ATTRIBUTES: ${JSON.stringify(pair.trim())} is not key=value`);
        continue;
      }
      try {
        resourceAttributes[key] = decodeURIComponent(pair.slice(at + 1).trim());
      } catch {
        problems.push(`OTEL_RESOURCE_ATTRIBUTES: the value of ${key} is not percent-encoded correctly`);
      }
    }
  }

  if (problems.length > 0) throw new ConfigError(problems);
  if (disabled === 'true' || active.length === 0) return undefined;
  return {
    exporters: active,
    otlpUrl,
    sampler,
    ratio,
    serviceName: set(env.OTEL_SERVICE_NAME) ? env.OTEL_SERVICE_NAME.trim() : undefined,
    resourceAttributes,
  };
}

interface Runtime {
  tracerOf(service: string): Tracer;
  shutdown(): Promise<void>;
}

let runtime: Runtime | undefined;

/**
 * True when spans are recorded. Instrumented code checks it first, so that nothing is allocated when tracing is off.
 */
export function tracingOn(): boolean {
  return runtime !== undefined;
}

export interface Tracing {
  /** Exports what is buffered and stops recording (the process is stopping). */
  shutdown(): Promise<void>;
}

export interface StartTracingOptions {
  /** The one service this process runs (lib/service-main.ts): OTEL_SERVICE_NAME, when set, names it. */
  service?: string;
  /**
   * Exports to this exporter, each span as it ends, whatever the OTEL_* variables say (tests use
   * the SDK's InMemorySpanExporter).
   */
  exporter?: SpanExporter;
}

/**
 * Starts tracing for this process as configured by `env` (see above); resolves undefined when it is
 * off or already started (the first start owns it and shuts it down). Throws ConfigError for a bad
 * OTEL_* value.
 */
export async function startTracing(env: Env, options: StartTracingOptions = {}): Promise<Tracing | undefined> {
  const settings = options.exporter ? { ...(tracingSettings(env) ?? defaults()), exporters: [] } : tracingSettings(env);
  if (!settings || runtime) return undefined;
  const sdk = await import('@opentelemetry/sdk-trace');
  const { AsyncLocalStorageContextManager } = await import('@opentelemetry/context-async-hooks');
  const { resourceFromAttributes } = await import('@opentelemetry/resources');

  const processors: SpanProcessor[] = [];
  if (options.exporter) processors.push(new sdk.SimpleSpanProcessor({ exporter: options.exporter }));
  for (const name of settings.exporters) {
    if (name === 'console') processors.push(new sdk.SimpleSpanProcessor({ exporter: new sdk.ConsoleSpanExporter() }));
    if (name === 'otlp') {
      const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-proto');
      processors.push(new sdk.BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url: settings.otlpUrl! }) }));
    }
  }
  const sampler = samplerOf(sdk, settings.sampler, settings.ratio);
  // One processor list shared by every service's provider: one batch, one exporter connection.
  const shared: SpanProcessor = {
    onStart: (span, parent) => processors.forEach((p) => p.onStart(span, parent)),
    onEnd: (span) => processors.forEach((p) => p.onEnd(span)),
    forceFlush: async () => void (await Promise.all(processors.map((p) => p.forceFlush()))),
    shutdown: async () => void (await Promise.all(processors.map((p) => p.shutdown()))),
  };
  const providers = new Map<string, TracerProvider>();
  const contextManager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(contextManager);
  const started: Runtime = {
    tracerOf(service) {
      let provider = providers.get(service);
      if (!provider) {
        const serviceName = options.service === service && settings.serviceName ? settings.serviceName : service;
        const resource = resourceFromAttributes({
          ...settings.resourceAttributes,
          'service.name': serviceName,
          'service.namespace': settings.resourceAttributes['service.namespace'] ?? 'financial-data-graph',
        });
        provider = new sdk.TracerProvider({ resource, sampler, spanProcessors: [shared] });
        providers.set(service, provider);
      }
      return provider.getTracer('financial-data-graph');
    },
    async shutdown() {
      if (runtime === started) runtime = undefined;
      try {
        await shared.forceFlush();
        await shared.shutdown();
      } finally {
        context.disable();
      }
    },
  };
  runtime = started;
  return { shutdown: () => started.shutdown() };
}

function defaults(): TracingSettings {
  return {
    exporters: [],
    otlpUrl: undefined,
    sampler: 'parentbased_always_on',
    ratio: 1,
    serviceName: undefined,
    resourceAttributes: {},
  };
}

function samplerOf(sdk: typeof import('@opentelemetry/sdk-trace'), name: SamplerName, ratio: number): Sampler {
  const root = name.endsWith('always_off')
    ? new sdk.AlwaysOffSampler()
    : name.endsWith('traceidratio')
      ? new sdk.TraceIdRatioBasedSampler(ratio)
      : new sdk.AlwaysOnSampler();
  return name.startsWith('parentbased_') ? new sdk.ParentBasedSampler({ root }) : root;
}

/** The service code works for (request or start scope); spans of code outside any service land under this name. */
const OUTSIDE = 'unattributed';

export interface SpanSpec {
  kind: SpanKind;
  attributes?: Attributes;
  /** The service the span belongs to; defaults to the one the calling code works for. */
  service?: string | undefined;
  /** Record the span only inside an existing trace (database queries: not the seeds and sweeps of a start). */
  requireParent?: boolean;
}

/**
 * Runs fn inside a new span (a child of the active one), ending it when fn settles: a thrown error
 * marks it failed. fn receives the span, or undefined when tracing is off (then fn simply runs).
 */
export async function withSpan<T>(
  name: string,
  spec: SpanSpec,
  fn: (span: Span | undefined) => Promise<T>,
): Promise<T> {
  if (!runtime || (spec.requireParent && !trace.getActiveSpan())) return fn(undefined);
  const tracer = runtime.tracerOf(spec.service ?? currentService() ?? OUTSIDE);
  return tracer.startActiveSpan(
    name,
    { kind: spec.kind, ...(spec.attributes ? { attributes: spec.attributes } : {}) },
    async (span) => {
      try {
        return await fn(span);
      } catch (err) {
        failSpan(span, err);
        throw err;
      } finally {
        span.end();
      }
    },
  );
}

/** Marks a span failed with the error's class and message (never a stack trace: spans leave the process). */
export function failSpan(span: Span | undefined, err: unknown): void {
  if (!span) return;
  const e = err as Error | undefined;
  span.setStatus({ code: SpanStatusCode.ERROR, message: e?.message ?? String(err) });
  span.setAttribute('error.type', e?.name ?? 'Error');
}

/** The traceparent header of a span (the parent a called service should continue from). */
export function traceparentOf(span: Span): string {
  const { traceId, spanId, traceFlags } = span.spanContext();
  return `00-${traceId}-${spanId}-${(traceFlags & TraceFlags.SAMPLED) === TraceFlags.SAMPLED ? '01' : '00'}`;
}

/** The traceparent to send on an outbound call: the call's own span when tracing is on, else the request's. */
export function outboundTraceparent(span: Span | undefined, fallback: string): string {
  return span ? traceparentOf(span) : fallback;
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

export interface ServerSpan {
  span: Span;
  /** The context to serve the request in: the server span is active, so child spans nest under it. */
  context: Context;
  /** This hop's traceparent (the server span), for the request context, the logs and the response header. */
  traceparent: string;
}

/**
 * The span of an incoming request, continuing the caller's trace when its traceparent is valid
 * (an invalid or all-zero one starts a new trace, as W3C asks). Undefined when tracing is off.
 */
export function startServerSpan(
  service: string,
  name: string,
  traceparentHeader: string | string[] | undefined,
  attributes: Attributes,
): ServerSpan | undefined {
  if (!runtime) return undefined;
  const header = Array.isArray(traceparentHeader) ? traceparentHeader[0] : traceparentHeader;
  const match = header ? TRACEPARENT.exec(header) : null;
  const parent =
    match && !/^0+$/.test(match[1]!) && !/^0+$/.test(match[2]!)
      ? trace.setSpanContext(ROOT_CONTEXT, {
          traceId: match[1]!,
          spanId: match[2]!,
          traceFlags: parseInt(match[3]!, 16) & TraceFlags.SAMPLED,
          isRemote: true,
        })
      : ROOT_CONTEXT;
  const span = runtime.tracerOf(service).startSpan(name, { kind: SpanKind.SERVER, attributes }, parent);
  return { span, context: trace.setSpan(parent, span), traceparent: traceparentOf(span) };
}

/** Runs fn with `ctx` as the active context (a server span's). */
export function runInContext<T>(ctx: Context, fn: () => T): T {
  return context.with(ctx, fn);
}

export { SpanKind };
