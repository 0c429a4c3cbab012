import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { closeServer, listen, readRequestBody, type RunningServer } from '../../lib/http-server.ts';
import type { Logger } from '../../lib/logger.ts';
import { requestIdFrom, runWithRequestContext, traceparentFrom } from '../../lib/request-context.ts';
import type { Now } from './clock.ts';
import { FaultRegistry, faultSpecFromJson, faultToJson, type Fault } from './faults.ts';
import type { LoadedSpec, Violation } from './openapi.ts';
import { formatViolation } from './openapi.ts';

/**
 * The small HTTP framework every sandbox is built on (node:http, no express). For each request:
 *
 * 1. `/healthz` and, in sandbox mode, the admin routes under `/__sandbox/` are answered first
 *    (never faulted, validated or recorded);
 * 2. the route is matched (`{param}` templates); unknown path or method -> the partner's 404/405;
 * 3. an injected fault, if one matches, is applied (latency, hang, error status, or a corrupted
 *    real answer);
 * 4. the request is validated against the partner's OpenAPI spec; violations are answered with
 *    the partner's 400 error shape (the dialect decides) and recorded;
 * 5. the handler runs; its answer is validated against the spec as well (a sandbox bug shows up
 *    as `responseViolations` in the record and a warning in the log);
 *    (4 and 5 happen only when the partner's spec is available: see PARTNER_SPECS_DIR in lib/openapi.ts)
 * 6. the exchange is recorded in `requests` (`GET /__sandbox/requests`).
 *
 * Admin routes (sandbox mode only):
 *   GET    /__sandbox/faults            list injected faults
 *   POST   /__sandbox/faults            inject one: FaultSpec as JSON, RegExp as `pathRegex`
 *   DELETE /__sandbox/faults            clear all;   DELETE /__sandbox/faults/{id}  remove one
 *   GET    /__sandbox/requests          recorded requests (?violations=true, ?route=..., ?method=...)
 *   DELETE /__sandbox/requests          forget recorded requests
 */

export interface SandboxRequest {
  method: string;
  path: string;
  url: URL;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  /** Parsed JSON (or form) body; the raw string when it did not parse; undefined when empty. */
  body: unknown;
  rawBody: string;
  params: Record<string, string>;
  route: Route;
  requestId: string;
  /** The sandbox clock at the time the request arrived. */
  now: Date;
  /** Scheme + host the client used (for absolute links), e.g. `http://127.0.0.1:4101`. */
  baseUrl: string;
}

export interface SandboxReply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export type Handler = (req: SandboxRequest) => SandboxReply | Promise<SandboxReply>;

export interface Route {
  method: string;
  /** Full path template, e.g. `/open-banking/v4.0/aisp/accounts/{AccountId}`. */
  path: string;
  handler: Handler;
  /**
   * Spec the route implements: requests and responses are validated against it. Absent when the
   * partner's spec is not available (lib/openapi.ts, PARTNER_SPECS_DIR): the route still answers.
   */
  spec?: LoadedSpec;
  /**
   * The partner API's base path (the spec's server path, e.g. `/open-banking/v4.0/aisp`), so a
   * fault can name the route as the spec writes it (`/accounts/{AccountId}`) with or without the spec loaded.
   */
  basePath?: string;
  /** Sandbox-only helper route (consent authorisation...): needs sandbox mode, never faulted or recorded. */
  admin?: boolean;
}

/** How a partner says things: its error bodies and headers, and how to break its payloads. */
export interface Dialect {
  invalidRequest(violations: Violation[], req: SandboxRequest): SandboxReply;
  /** Error answer for an injected (or unexpected) failure with this status. */
  failure(
    status: number,
    retryAfterSeconds: number | undefined,
    req: Pick<SandboxRequest, 'headers' | 'requestId' | 'path'>,
  ): SandboxReply;
  notFound(
    req: Pick<SandboxRequest, 'headers' | 'requestId' | 'path' | 'method'>,
    methodNotAllowed: boolean,
  ): SandboxReply;
  /** Valid JSON that breaks the spec (e.g. an amount as a number, a required field missing). */
  schemaViolation(body: unknown): unknown;
  /**
   * Headers every answer carries, computed from the exact payload that will be sent
   * (x-fapi-interaction-id, X-Request-ID, a detached JWS of the body, ...).
   */
  finalizeHeaders?(
    req: Pick<SandboxRequest, 'headers' | 'requestId' | 'path'>,
    reply: SandboxReply,
    payload: string | undefined,
  ): Record<string, string>;
}

export interface RecordedRequest {
  seq: number;
  /** Sandbox clock time, ISO. */
  at: string;
  method: string;
  path: string;
  query: Record<string, string>;
  /** Matched route template. */
  route?: string;
  operationId?: string;
  requestId: string;
  /** Request headers; credentials shortened to their scheme and last 4 characters. */
  headers: Record<string, string>;
  body?: unknown;
  status: number;
  /** What in the request broke the partner spec (the request was answered 400). */
  violations: string[];
  /** What in the sandbox's own answer broke the spec (a sandbox bug, or an injected malformed fault). */
  responseViolations: string[];
  fault?: Record<string, unknown>;
  durationMs: number;
}

export interface RequestFilter {
  /** Only requests whose own body/headers violated the spec. */
  violations?: boolean;
  route?: string;
  method?: string;
}

export class RequestRecorder {
  #items: RecordedRequest[] = [];
  #seq = 0;
  #max: number;

  constructor(max = 5000) {
    this.#max = max;
  }

  add(entry: Omit<RecordedRequest, 'seq'>): RecordedRequest {
    const recorded = { ...entry, seq: ++this.#seq };
    this.#items.push(recorded);
    if (this.#items.length > this.#max) this.#items.splice(0, this.#items.length - this.#max);
    return recorded;
  }

  list(filter: RequestFilter = {}): RecordedRequest[] {
    return this.#items.filter(
      (r) =>
        (!filter.violations || r.violations.length > 0) &&
        (!filter.route || r.route === filter.route) &&
        (!filter.method || r.method === filter.method.toUpperCase()),
    );
  }

  /** Requests that violated the partner spec: assert this is empty after exercising an adapter. */
  violations(): RecordedRequest[] {
    return this.list({ violations: true });
  }

  /** Answers that broke the spec although no fault was injected (a sandbox bug: should be empty). */
  responseViolations(): RecordedRequest[] {
    return this.#items.filter((r) => r.responseViolations.length > 0 && r.fault === undefined);
  }

  clear(): void {
    this.#items = [];
  }
}

export interface SandboxServerOptions {
  name: string;
  port: number;
  host?: string;
  logger: Logger;
  now: Now;
  routes: Route[];
  dialect: Dialect;
  /** Enables `/__sandbox/*` and `admin` routes. Default true. */
  adminRoutes?: boolean;
  maxBodyBytes?: number;
}

export interface SandboxServer extends RunningServer {
  name: string;
  faults: FaultRegistry;
  requests: RequestRecorder;
}

interface CompiledRoute {
  route: Route;
  regex: RegExp;
  names: string[];
  specPath?: string;
}

export function compileTemplate(template: string): { regex: RegExp; names: string[] } {
  const names: string[] = [];
  const pattern = template
    .split(/(\{[^}]+\})/)
    .map((part) => {
      const m = /^\{([^}]+)\}$/.exec(part);
      if (m) {
        names.push(m[1]!);
        return '([^/]+)';
      }
      return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    })
    .join('');
  return { regex: new RegExp(`^${pattern}/?$`), names };
}

export async function startSandboxServer(opts: SandboxServerOptions): Promise<SandboxServer> {
  const log = opts.logger.child({ sandbox: opts.name });
  const adminEnabled = opts.adminRoutes ?? true;
  const maxBody = opts.maxBodyBytes ?? 1_000_000;
  const faults = new FaultRegistry();
  const requests = new RequestRecorder();
  const closing = new AbortController();

  const compiled: CompiledRoute[] = opts.routes
    .filter((r) => adminEnabled || !r.admin)
    .map((route) => {
      const { regex, names } = compileTemplate(route.path);
      const base = route.basePath ?? route.spec?.basePath;
      const specPath = base && route.path.startsWith(base) ? route.path.slice(base.length) : undefined;
      return { route, regex, names, ...(specPath ? { specPath } : {}) };
    })
    // literal routes before templated ones
    .sort((a, b) => a.names.length - b.names.length);

  const server = createServer((req, res) => {
    const requestId = requestIdFrom(req.headers['x-request-id'] ?? req.headers['x-fapi-interaction-id']);
    const ctx = { requestId, traceparent: traceparentFrom(req.headers.traceparent) };
    runWithRequestContext(ctx, () => handle(req, res, requestId)).catch((err: unknown) => {
      log.error({ err }, 'sandbox failed to answer');
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: 'sandbox internal error' }));
      } else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse, requestId: string): Promise<void> {
    const started = performance.now();
    const method = (req.method ?? 'GET').toUpperCase();
    const url = new URL(req.url ?? '/', 'http://sandbox.invalid');
    const path = url.pathname;
    const baseUrl = `http://${req.headers.host ?? `${opts.host ?? '127.0.0.1'}`}`;

    if (path === '/healthz') return send(res, { status: 200, body: { status: 'ok', sandbox: opts.name } });
    const finish = (reply: SandboxReply, rawPayload?: string): { reply: SandboxReply; payload: string | undefined } => {
      const payload = rawPayload ?? serialise(reply.body);
      const extra = opts.dialect.finalizeHeaders?.({ headers: req.headers, requestId, path }, reply, payload);
      return { reply: extra ? { ...reply, headers: { ...extra, ...(reply.headers ?? {}) } } : reply, payload };
    };

    let rawBody: string;
    try {
      rawBody = await readRequestBody(req, maxBody);
    } catch {
      return send(res, { status: 413, body: { error: 'request body too large' } });
    }
    const body = parseBody(rawBody, req.headers['content-type']);

    if (path.startsWith('/__sandbox/')) {
      if (!adminEnabled)
        return send(res, opts.dialect.notFound({ headers: req.headers, requestId, path, method }, false));
      return send(res, adminRoute(method, path, url.searchParams, body));
    }

    const pathMatches = compiled.map((c) => ({ c, m: c.regex.exec(path) })).filter((x) => x.m !== null);
    const hit = pathMatches.find((x) => x.c.route.method === method);
    if (!hit) {
      const done = finish(
        opts.dialect.notFound({ headers: req.headers, requestId, path, method }, pathMatches.length > 0),
      );
      send(res, done.reply, done.payload);
      return;
    }
    const { route } = hit.c;
    const params: Record<string, string> = {};
    hit.c.names.forEach((name, i) => {
      params[name] = safeDecode(hit.m![i + 1] ?? '');
    });
    const sreq: SandboxRequest = {
      method,
      path,
      url,
      query: url.searchParams,
      headers: req.headers,
      body,
      rawBody,
      params,
      route,
      requestId,
      now: opts.now(),
      baseUrl,
    };
    if (route.admin) {
      const done = finish(await route.handler(sreq));
      return send(res, done.reply, done.payload);
    }

    const fault = faults.take({
      method,
      path,
      template: route.path,
      ...(hit.c.specPath ? { specPath: hit.c.specPath } : {}),
    });
    let violations: Violation[] = [];
    let reply: SandboxReply | undefined;
    let raw: string | undefined;

    if (fault?.latencyMs) {
      try {
        await sleep(fault.latencyMs, undefined, { signal: closing.signal });
      } catch {
        res.destroy();
        return;
      }
    }
    // A fault with afterHandler lets the request take effect first (the payment is created), then loses or
    // replaces the answer: what a client sees when a partner commits and its response never arrives.
    const early = fault && !fault.afterHandler ? fault : undefined;
    const late = fault?.afterHandler ? fault : undefined;
    const hangOrReset = async (f: Fault): Promise<void> => {
      if (f.reset) {
        log.info({ method, path, fault: f.id }, 'connection reset (injected fault)');
        record(sreq, 0, [], [], f, started);
        res.destroy();
        return;
      }
      log.info({ method, path, fault: f.id }, 'hanging request (injected fault)');
      record(sreq, 0, [], [], f, started);
      await new Promise<void>((resolve) => {
        if (closing.signal.aborted || res.closed || res.destroyed) return resolve();
        closing.signal.addEventListener('abort', () => resolve(), { once: true });
        res.once('close', () => resolve());
      });
      res.destroy();
    };
    if (early?.hang || early?.reset) return hangOrReset(early);
    if (early?.status !== undefined) {
      reply = opts.dialect.failure(early.status, early.retryAfterSeconds, sreq);
      if (early.retryAfterSeconds !== undefined)
        reply = withHeaders(reply, { 'retry-after': String(early.retryAfterSeconds) });
    } else {
      if (route.spec) {
        violations = route.spec.validateRequestDetailed({
          method,
          path,
          query: url.searchParams,
          headers: req.headers,
          body: rawBody === '' ? undefined : body,
          ...(req.headers['content-type'] ? { contentType: req.headers['content-type'] } : {}),
        }).violations;
      }
      if (violations.length > 0) {
        reply = opts.dialect.invalidRequest(violations, sreq);
      } else {
        try {
          reply = await route.handler(sreq);
        } catch (err) {
          log.error({ err, method, path }, 'sandbox handler failed');
          reply = opts.dialect.failure(500, undefined, sreq);
        }
      }
      if (late?.hang || late?.reset) return hangOrReset(late);
      if (late?.status !== undefined) {
        reply = opts.dialect.failure(late.status, late.retryAfterSeconds, sreq);
      }
      if (fault?.malformed === 'invalid-json') {
        const text = reply.body === undefined ? '{"' : JSON.stringify(reply.body);
        raw = text.slice(0, Math.max(2, Math.floor(text.length / 2)));
      } else if (fault?.malformed === 'schema-violation') {
        reply = { ...reply, body: opts.dialect.schemaViolation(reply.body) };
      }
      if (fault?.retryAfterSeconds !== undefined)
        reply = withHeaders(reply, { 'retry-after': String(fault.retryAfterSeconds) });
    }
    const done = finish(reply, raw);
    reply = done.reply;

    let responseViolations: string[] = [];
    if (route.spec) {
      responseViolations = route.spec
        .validateResponseDetailed({
          method,
          path,
          status: reply.status,
          body: done.payload,
          headers: {
            ...(done.payload !== undefined ? { 'content-type': 'application/json' } : {}),
            ...(reply.headers ?? {}),
          },
        })
        .violations.map(formatViolation);
      if (responseViolations.length > 0 && !fault)
        log.warn(
          { method, path, status: reply.status, responseViolations },
          'sandbox answer violates the partner spec',
        );
    }
    send(res, reply, done.payload);
    record(sreq, reply.status, violations.map(formatViolation), responseViolations, fault, started);
    const level = reply.status >= 400 ? 'info' : 'debug';
    log[level](
      {
        method,
        path,
        status: reply.status,
        ms: Math.round(performance.now() - started),
        ...(violations.length ? { violations: violations.map(formatViolation) } : {}),
        ...(fault ? { fault: fault.id } : {}),
      },
      'sandbox request',
    );
  }

  function record(
    req: SandboxRequest,
    status: number,
    violations: string[],
    responseViolations: string[],
    fault: Fault | undefined,
    started: number,
  ): void {
    requests.add({
      at: req.now.toISOString(),
      method: req.method,
      path: req.path,
      query: Object.fromEntries(req.query.entries()),
      route: req.route.path,
      ...(req.route.spec ? operationIdOf(req.route.spec, req.method, req.path) : {}),
      requestId: req.requestId,
      headers: maskHeaders(req.headers),
      ...(req.body !== undefined ? { body: req.body } : {}),
      status,
      violations,
      responseViolations,
      ...(fault ? { fault: faultToJson(fault) } : {}),
      durationMs: Math.round(performance.now() - started),
    });
  }

  function adminRoute(method: string, path: string, query: URLSearchParams, body: unknown): SandboxReply {
    if (path === '/__sandbox/faults') {
      if (method === 'GET') return { status: 200, body: { faults: faults.list().map(faultToJson) } };
      if (method === 'DELETE') {
        faults.clear();
        return { status: 204 };
      }
      if (method === 'POST') {
        try {
          const fault = faults.inject(faultSpecFromJson(body));
          log.info({ fault: faultToJson(fault) }, 'fault injected');
          return { status: 201, body: faultToJson(fault) };
        } catch (err) {
          return { status: 400, body: { error: (err as Error).message } };
        }
      }
    }
    const one = /^\/__sandbox\/faults\/([^/]+)$/.exec(path);
    if (one && method === 'DELETE')
      return faults.remove(one[1]!) ? { status: 204 } : { status: 404, body: { error: 'no such fault' } };
    if (path === '/__sandbox/requests') {
      if (method === 'GET') {
        const filter: RequestFilter = {};
        if (query.get('violations') === 'true') filter.violations = true;
        const routeFilter = query.get('route');
        if (routeFilter) filter.route = routeFilter;
        const methodFilter = query.get('method');
        if (methodFilter) filter.method = methodFilter;
        return { status: 200, body: { requests: requests.list(filter) } };
      }
      if (method === 'DELETE') {
        requests.clear();
        return { status: 204 };
      }
    }
    return { status: 404, body: { error: `no admin route ${method} ${path}` } };
  }

  const { port, url } = await listen(server, opts.port, opts.host ?? '127.0.0.1');
  log.info({ url }, `${opts.name} sandbox listening`);
  let closed: Promise<void> | undefined;
  return {
    name: opts.name,
    server,
    port,
    url,
    faults,
    requests,
    close() {
      closed ??= (async () => {
        closing.abort();
        await closeServer(server);
      })();
      return closed;
    },
  };
}

function operationIdOf(spec: LoadedSpec, method: string, path: string): { operationId?: string } {
  const op = spec.matchOperation(method, path);
  return op?.operationId ? { operationId: op.operationId } : {};
}

function withHeaders(reply: SandboxReply, headers: Record<string, string> | undefined): SandboxReply {
  if (!headers) return reply;
  return { ...reply, headers: { ...headers, ...(reply.headers ?? {}) } };
}

function serialise(body: unknown): string | undefined {
  if (body === undefined) return undefined;
  return typeof body === 'string' ? body : JSON.stringify(body);
}

function send(res: ServerResponse, reply: SandboxReply, rawPayload?: string): void {
  if (res.headersSent || res.destroyed) return;
  const headers: Record<string, string> = { ...(reply.headers ?? {}) };
  const payload = rawPayload ?? serialise(reply.body);
  if (payload !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type'))
    headers['content-type'] = 'application/json; charset=utf-8';
  res.writeHead(reply.status, headers);
  res.end(payload);
}

function parseBody(raw: string, contentType: string | undefined): unknown {
  if (raw === '') return undefined;
  const type = (contentType ?? '').toLowerCase();
  if (type.includes('application/x-www-form-urlencoded')) return Object.fromEntries(new URLSearchParams(raw));
  if (type.includes('json') || /^\s*[[{]/.test(raw)) {
    try {
      return JSON.parse(raw) as unknown;
    } catch {
      return raw;
    }
  }
  return raw;
}

const SECRET_HEADERS = new Set(['authorization', 'consent-id', 'x-jws-signature', 'cookie']);

export function maskHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    const text = Array.isArray(value) ? value.join(', ') : value;
    if (SECRET_HEADERS.has(key) && key !== 'consent-id') {
      const space = text.indexOf(' ');
      const scheme = space > 0 ? text.slice(0, space + 1) : '';
      out[key] = `${scheme}…${text.slice(-4)}`;
    } else out[key] = text;
  }
  return out;
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/** Header value as a single string. */
export function header(req: Pick<SandboxRequest, 'headers'>, name: string): string | undefined {
  const value = req.headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

/** The bearer token of the request, if any. */
export function bearerToken(req: Pick<SandboxRequest, 'headers'>): string | undefined {
  const auth = header(req, 'authorization');
  const m = auth ? /^Bearer\s+(\S+)\s*$/i.exec(auth) : null;
  return m ? m[1] : undefined;
}

/**
 * Generic "break the spec but stay JSON" mutation: the first string amount (a property named
 * amount/Amount) becomes a number; failing that, the first top-level property gets a value of
 * the wrong type; an empty answer gets a body where none is documented.
 */
export function breakSchema(body: unknown): unknown {
  if (body === undefined || body === null) return { unexpected: true };
  const copy = structuredClone(body) as unknown;
  let done = false;
  const walk = (node: unknown): void => {
    if (done || node === null || typeof node !== 'object') return;
    if (Array.isArray(node)) {
      for (const item of node) walk(item);
      return;
    }
    const obj = node as Record<string, unknown>;
    for (const [key, value] of Object.entries(obj)) {
      if (done) return;
      if (/^amount$/i.test(key) && typeof value === 'string' && !Number.isNaN(Number(value))) {
        obj[key] = Number(value);
        done = true;
        return;
      }
      walk(value);
    }
  };
  walk(copy);
  if (done) return copy;
  if (typeof copy === 'object' && copy !== null && !Array.isArray(copy)) {
    const obj = copy as Record<string, unknown>;
    const first = Object.keys(obj)[0];
    if (first === undefined) return 42;
    obj[first] = typeof obj[first] === 'number' ? 'not-a-number' : 42;
    return obj;
  }
  return { unexpected: true };
}
