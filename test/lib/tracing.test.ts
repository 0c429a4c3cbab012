import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { SpanKind } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ConfigError } from '../../lib/config.ts';
import { listen } from '../../lib/http-server.ts';
import { startTracing, tracingOn, tracingSettings, type Tracing } from '../../lib/tracing.ts';
import { startPlatform, type RunningPlatform } from '../../scripts/platform.ts';
import { ALICE, principalOf } from '../support/customers.ts';
import { callSubgraph } from '../support/subgraph-client.ts';
import { scaled, waitBudget } from '../support/time.ts';
import { logger } from '../gateway/helpers.ts';

/**
 * OpenTelemetry traces (lib/tracing.ts): off unless OTEL_* asks for them, and when on, one trace
 * per request across every service, linked by traceparent: the gateway's request, its calls to the
 * subgraphs (the executor's and the authorization lookups), each subgraph's request, and under
 * those the partner calls and the database queries.
 */
describe('the OTEL_* variables', () => {
  const problems = (env: Record<string, string>) => {
    try {
      tracingSettings(env);
      return [];
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      return err.problems;
    }
  };

  it('leave tracing off unless an exporter or an OTLP endpoint is configured', () => {
    expect(tracingSettings({})).toBeUndefined();
    expect(
      tracingSettings({ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }),
    ).toBeUndefined();
    expect(
      tracingSettings({ OTEL_SDK_DISABLED: 'true', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }),
    ).toBeUndefined();
  });

  it('export over OTLP/HTTP to the endpoint, as the specification resolves it', () => {
    expect(tracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' })).toMatchObject({
      exporters: ['otlp'],
      otlpUrl: 'http://collector:4318/v1/traces',
      sampler: 'parentbased_always_on',
    });
    expect(
      tracingSettings({
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://otel.example.com/custom/path',
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://ignored:4318',
      })?.otlpUrl,
    ).toBe('https://otel.example.com/custom/path');
    expect(tracingSettings({ OTEL_TRACES_EXPORTER: 'otlp' })?.otlpUrl).toBe('http://localhost:4318/v1/traces');
    expect(
      tracingSettings({
        OTEL_TRACES_EXPORTER: 'console',
        OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
        OTEL_TRACES_SAMPLER_ARG: '0.25',
        OTEL_SERVICE_NAME: 'gw-eu-1',
        OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=prod,team=pay%20ments',
      }),
    ).toEqual({
      exporters: ['console'],
      otlpUrl: undefined,
      sampler: 'parentbased_traceidratio',
      ratio: 0.25,
      serviceName: 'gw-eu-1',
      resourceAttributes: { 'deployment.environment': 'prod', team: 'pay ments' },
    });
  });

  it('stop the process on a value that cannot be honoured, naming the variable', () => {
    expect(problems({ OTEL_TRACES_EXPORTER: 'zipkin' })).toEqual([
      'OTEL_TRACES_EXPORTER: "zipkin" is not supported; allowed: otlp, console, none',
    ]);
    expect(problems({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4317', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' })).toEqual([
      'OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" is not supported; allowed: http/protobuf',
    ]);
    expect(problems({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' })).toEqual([
      'OTEL_EXPORTER_OTLP_ENDPOINT: must be an http(s) URL, got "collector:4318"',
    ]);
    expect(problems({ OTEL_TRACES_SAMPLER: 'jaeger_remote' })[0]).toMatch(
      /^OTEL_TRACES_SAMPLER: "jaeger_remote" is not supported; allowed: always_on/,
    );
    expect(problems({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '2' })).toEqual([
      'OTEL_TRACES_SAMPLER_ARG: must be a number from 0 to 1, got "2"',
    ]);
    expect(problems({ OTEL_RESOURCE_ATTRIBUTES: 'novalue' })).toEqual([
      'OTEL_RESOURCE_ATTRIBUTES: "novalue" is not key=value',
    ]);
    expect(problems({ OTEL_SDK_DISABLED: 'yes' })).toEqual(['OTEL_SDK_DISABLED: must be true or false, got "yes"']);
  });
});

describe('the span tree of the customer dashboard, through the platform', () => {
  const exporter = new InMemorySpanExporter();
  let tracing: Tracing | undefined;
  let platform: RunningPlatform;

  beforeAll(async () => {
    expect(tracingOn()).toBe(false);
    tracing = await startTracing({}, { exporter });
    expect(tracingOn()).toBe(true);
    platform = await startPlatform({
      ports: 'free',
      env: { PGLITE_DIR: 'memory://', DATABASE_URL: undefined, REDIS_URL: undefined, LOG_LEVEL: 'silent' },
      logger,
    });
  }, scaled(120_000));

  afterAll(async () => {
    await platform?.close();
    await tracing?.shutdown();
  });

  const serviceOf = (span: ReadableSpan) => String(span.resource.attributes['service.name']);
  const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;

  it("is one trace, continuing the client's, with a span for every hop, partner call and database query", async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const clientSpanId = '00f067aa0ba902b7';
    const token = await platform.sandboxes.auth.mint({
      customerId: ALICE,
      clientId: 'web-app',
      scopes: [
        'accounts:read',
        'balances:read',
        'transactions:read',
        'payments:read',
        'identity:read',
        'consents:read',
      ],
    });
    const res = await fetch(platform.gatewayUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${token}`,
        traceparent: `00-${traceId}-${clientSpanId}-01`,
      },
      body: JSON.stringify({ query: readFileSync(join(process.cwd(), 'test/operations/dashboard.graphql'), 'utf8') }),
    });
    const body = (await res.json()) as { data?: { me?: { accounts: unknown[] } }; errors?: unknown[] };
    expect(body.errors).toBeUndefined();
    expect(body.data?.me?.accounts.length).toBeGreaterThan(0);

    // The gateway's span ends when its answer has been written: wait for it, not for a time.
    const root = await vi.waitFor(() => {
      const span = exporter
        .getFinishedSpans()
        .find((s) => s.spanContext().traceId === traceId && s.kind === SpanKind.SERVER && serviceOf(s) === 'gateway');
      if (!span) throw new Error('the gateway span has not ended yet');
      return span;
    }, waitBudget());
    const spans = exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
    const byId = new Map(spans.map((s) => [s.spanContext().spanId, s]));
    const children = (span: ReadableSpan) => spans.filter((s) => parentOf(s) === span.spanContext().spanId);
    const descendants = (span: ReadableSpan): ReadableSpan[] => children(span).flatMap((c) => [c, ...descendants(c)]);

    // The client's trace is continued, and the gateway's answer names the hop it served.
    expect(res.headers.get('traceparent')).toBe(`00-${traceId}-${root.spanContext().spanId}-01`);
    expect(parentOf(root)).toBe(clientSpanId);
    expect(root.name).toBe('POST /graphql');
    expect(root.attributes).toMatchObject({
      'graphql.operation.name': 'CustomerDashboard',
      'graphql.operation.type': 'query',
      'http.response.status_code': 200,
    });
    // Nothing hangs loose: every span's parent is in the trace, or is the client's.
    for (const span of spans) expect(span === root || byId.has(parentOf(span) ?? ''), span.name).toBe(true);

    // Each call from the gateway to a subgraph is a client span, continued by that subgraph's request span.
    const calls = children(root).filter((s) => s.kind === SpanKind.CLIENT);
    const subgraphs = ['identity', 'accounts', 'payments', 'consents'];
    for (const subgraph of subgraphs) {
      const toSubgraph = calls.filter((s) => s.name === `POST subgraph:${subgraph}`);
      expect(toSubgraph.length, subgraph).toBeGreaterThan(0);
      for (const call of toSubgraph) {
        expect(serviceOf(call)).toBe('gateway');
        const served = children(call);
        expect(
          served.map((s) => [serviceOf(s), s.kind, s.name]),
          `${subgraph} serves ${call.attributes['graphql.operation.name'] ?? call.attributes['graphql.field']}`,
        ).toEqual([[subgraph, SpanKind.SERVER, 'POST /graphql']]);
      }
      // Every subgraph read its own schema to answer, and only its own.
      const queries = toSubgraph
        .flatMap((call) => descendants(call))
        .filter((s) => s.attributes['db.system.name'] === 'postgresql');
      expect(queries.length, `database spans of ${subgraph}`).toBeGreaterThan(0);
      for (const query of queries) {
        expect(query.attributes['db.namespace']).toBe(subgraph);
        expect(serviceOf(query)).toBe(subgraph);
      }
    }
    // The authorization lookups are subgraph calls of their own, traced the same way.
    const lookups = calls.filter((s) =>
      String(s.attributes['graphql.operation.name'] ?? '').startsWith('GatewayAuthz'),
    );
    expect(lookups.length).toBeGreaterThan(0);
    for (const lookup of lookups) expect(children(lookup).map((s) => s.kind)).toEqual([SpanKind.SERVER]);

    // Partner calls, under the subgraph that made them, the partner continuing the same trace.
    const partnerCalls = spans.filter(
      (s) =>
        s.kind === SpanKind.CLIENT &&
        s.attributes['peer.service'] !== undefined &&
        !String(s.name).startsWith('POST subgraph:'),
    );
    const partners = new Map(partnerCalls.map((s) => [String(s.attributes['peer.service']), serviceOf(s)]));
    expect(Object.fromEntries(partners)).toEqual({ northwind: 'accounts', rheinbank: 'accounts', onfido: 'identity' });
    const seenByNorthwind = platform.sandboxes.northwind.requests.list({}).map((r) => r.headers.traceparent);
    expect(seenByNorthwind).toContain(
      `00-${traceId}-${partnerCalls.find((s) => s.attributes['peer.service'] === 'northwind')!.spanContext().spanId}-01`,
    );
  });

  it("records database spans only inside a trace: a start's seeds and migrations add none", () => {
    const rootless = exporter
      .getFinishedSpans()
      .filter((s) => s.attributes['db.system.name'] === 'postgresql' && s.parentSpanContext === undefined);
    expect(rootless).toEqual([]);
  });
});

describe('a service process with OTEL_EXPORTER_OTLP_ENDPOINT', () => {
  it(
    'exports its spans over OTLP/HTTP (protobuf), and flushes them when it stops',
    async () => {
      const received: { path: string; type: string | undefined; body: Buffer }[] = [];
      const collector = createServer(async (req, res) => {
        const chunks: Buffer[] = [];
        for await (const chunk of req) chunks.push(chunk as Buffer);
        received.push({ path: req.url ?? '', type: req.headers['content-type'], body: Buffer.concat(chunks) });
        res.writeHead(200, { 'content-type': 'application/x-protobuf' });
        res.end();
      });
      const { url: collectorUrl } = await listen(collector, 0);
      const child = spawn(process.execPath, [join(process.cwd(), 'subgraphs/payments/main.ts')], {
        env: {
          PATH: process.env.PATH ?? '',
          PAYMENTS_PORT: '0',
          METRICS_PORT: '0',
          PGLITE_DIR: 'memory://',
          LOG_LEVEL: 'info',
          OTEL_EXPORTER_OTLP_ENDPOINT: collectorUrl,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      try {
        let out = '';
        const url = await new Promise<string>((resolve, reject) => {
          child.stdout!.on('data', (chunk: Buffer) => {
            out += chunk.toString();
            const match = /"url":"([^"]+\/graphql)","msg":"payments subgraph listening"/.exec(out);
            if (match) resolve(match[1]!);
          });
          child.once('exit', (code) => reject(new Error(`payments exited with ${code}: ${out}`)));
        });
        const answer = await callSubgraph(url, 'payments', '{ __typename }', {
          principal: principalOf(ALICE, ['payments:read']),
        });
        expect(answer.status).toBe(200);
        const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        expect(await exited).toBe(0);
        expect(received.length).toBeGreaterThan(0);
        expect(received.every((r) => r.path === '/v1/traces' && r.type === 'application/x-protobuf')).toBe(true);
        const exported = Buffer.concat(received.map((r) => r.body)).toString('latin1');
        // Protobuf keeps strings as they are: the service's name and its request span are in the export.
        expect(exported).toContain('payments');
        expect(exported).toContain('POST /graphql');
      } finally {
        if (child.exitCode === null) child.kill('SIGKILL');
        await new Promise((resolve) => collector.close(resolve));
      }
    },
    scaled(90_000),
  );
});
