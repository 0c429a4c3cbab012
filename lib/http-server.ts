import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HeaderMap, type ApolloServer, type BaseContext } from '@apollo/server';
import { SpanStatusCode, type Span } from '@opentelemetry/api';
import cors from 'cors';
import type { Logger } from './logger.ts';
import { metricsOf, UNATTRIBUTED } from './metrics.ts';
import {
  currentService,
  requestContextFromHeaders,
  runWithRequestContext,
  type RequestContext,
} from './request-context.ts';
import { failSpan, runInContext, startServerSpan } from './tracing.ts';

/**
 * Serves an Apollo Server on node:http with the routes every service has:
 * - POST/GET /graphql through Apollo's executeHTTPGraphQLRequest (the documented integration API);
 * - /healthz: the process is alive;
 * - /readyz: dependencies answer (the service passes its own check).
 * - CORS on /graphql for the web apps a service allows (`cors`; the gateway passes CORS_ALLOWED_ORIGINS).
 * /metrics is not here: it is served to operators only, on the listener of lib/metrics-server.ts;
 * the public port answers it 404 like any unknown path.
 * Every request runs inside a request context (x-request-id, traceparent), echoed back in
 * the response so a client can quote it when reporting a problem; it is measured in the service's
 * registry (lib/metrics.ts) and, when tracing is on, is a server span (lib/tracing.ts).
 * A graceful stop goes through markNotReady and drainServer (below), not closeServer.
 */
export interface GraphQLHttpServerOptions<C extends BaseContext> {
  apollo: ApolloServer<C>;
  logger: Logger;
  /**
   * Builds the GraphQL context; throw an HttpError to answer without executing. `content` is
   * exactly what will be executed: the raw body of a POST, the query string of a GET (subgraphs
   * check the gateway's signature covers it).
   */
  context: (req: IncomingMessage, rc: RequestContext, content: string) => Promise<C>;
  /**
   * What makes the service ready: every check must be true. A service may add a report of its
   * dependencies' states (the gateway: each subgraph's reachability, breaker and bulkhead), which
   * is shown in the body and decides nothing.
   */
  readiness?: () => Promise<Record<string, boolean> | ReadinessReport>;
  /** Largest accepted request body; bigger bodies get 413 before parsing. */
  maxBodyBytes?: number;
  /**
   * Inspects the request before Apollo or the context sees it: the parsed body (a JSON array for
   * batched operations; undefined for a GET) and the URL's query parameters (where a GET carries
   * its operation). Throw an HttpError to refuse.
   */
  checkBody?: (body: unknown, params: URLSearchParams) => void;
  /**
   * The service this server is the port of: its requests are measured in that service's registry
   * (lib/metrics.ts) and traced under its name. Defaults to the service whose start creates the server.
   */
  service?: string;
  /**
   * Cross-origin calls to /graphql from web apps (the gateway's CORS_ALLOWED_ORIGINS); absent: no CORS headers at all.
   */
  cors?: CorsOptions;
  /**
   * Extra routes of a service (the gateway's explorer): asked first for every request other than
   * /healthz and /readyz, inside the request context; resolve true when the request was answered,
   * false to fall through to /graphql and the 404. An HttpError thrown here is answered like any other.
   */
  routes?: (req: IncomingMessage, res: ServerResponse, url: URL) => boolean | Promise<boolean>;
}

/** A readiness answer with a report beside the checks (see GraphQLHttpServerOptions.readiness). */
export interface ReadinessReport {
  checks: Record<string, boolean>;
  dependencies: Record<string, unknown>;
}

export class HttpError extends Error {
  readonly status: number;
  readonly code: string;
  readonly headers: Record<string, string>;
  /** Further `extensions` of the error body, next to code and requestId. */
  readonly extensions: Record<string, unknown>;
  constructor(
    status: number,
    code: string,
    message: string,
    headers: Record<string, string> = {},
    extensions: Record<string, unknown> = {},
  ) {
    super(message);
    this.status = status;
    this.code = code;
    this.headers = headers;
    this.extensions = extensions;
  }
}

export interface RunningServer {
  server: Server;
  url: string;
  port: number;
  close(): Promise<void>;
}

export async function listen(server: Server, port: number, host = '127.0.0.1'): Promise<{ port: number; url: string }> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const actual = (server.address() as AddressInfo).port;
  return { port: actual, url: `http://${host === '0.0.0.0' ? 'localhost' : host}:${actual}` };
}

/**
 * Closes a server at once: stops listening and cuts every connection, requests in flight
 * included. For tests, sandboxes and what a graceful stop (drainServer) has left.
 */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    // A server a drain already closed answers ERR_SERVER_NOT_RUNNING: it is closed, which is what was asked.
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/** What a graceful stop needs to know of a server made by createGraphQLHttpServer. */
interface Lifecycle {
  /** /readyz answers 503: the load balancer should send no more requests. */
  notReady: boolean;
  /** Draining: the listener is closed, requests still arriving on open connections get 503. */
  draining: boolean;
  inFlight: Set<ServerResponse>;
  /** Called when a request in flight finishes, while draining. */
  onIdle?: () => void;
}

const lifecycles = new WeakMap<Server, Lifecycle>();

/**
 * First step of a graceful stop: /readyz answers 503 from now on, so that a load balancer or an
 * orchestrator stops sending requests, while everything else is still served (under `npm start`
 * the subgraphs must keep answering the gateway's requests in flight until the gateway has drained).
 */
export function markNotReady(server: Server): void {
  const state = lifecycles.get(server);
  if (state) state.notReady = true;
}

/**
 * Graceful stop of one server: not ready, stop accepting (the listening socket is closed, so new
 * connections are refused), close idle keep-alive connections, let the requests in flight finish
 * (their connections close after the answer), and after `drainMs` cut what is left. Resolves
 * when every connection is closed, with the number of requests that had to be cut.
 */
export function drainServer(server: Server, drainMs: number): Promise<{ cut: number }> {
  const state = lifecycles.get(server) ?? { notReady: true, draining: false, inFlight: new Set<ServerResponse>() };
  state.notReady = true;
  state.draining = true;
  return new Promise((resolve) => {
    let cut = 0;
    const deadline = setTimeout(() => {
      cut = state.inFlight.size;
      server.closeAllConnections();
    }, drainMs);
    deadline.unref();
    server.close(() => {
      clearTimeout(deadline);
      resolve({ cut });
    });
    // Requests in flight keep their connection until they are answered, then close it.
    for (const res of state.inFlight) if (!res.headersSent) res.setHeader('connection', 'close');
    // A keep-alive connection becomes idle when its last answer is sent: close it then.
    state.onIdle = () => setImmediate(() => server.closeIdleConnections());
    server.closeIdleConnections();
  });
}

/** The route label of a request: a fixed set, so that no client can grow the metrics with made-up paths. */
function routeOf(rawUrl: string | undefined): string {
  const path = (rawUrl ?? '/').split('?')[0];
  return path === '/graphql' || path === '/healthz' || path === '/readyz' ? path : 'other';
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
  res.end(JSON.stringify(body));
}

/**
 * The request body as UTF-8 text, exactly as sent (webhook signatures are over these bytes); a body
 * over `limit` bytes is refused with HttpError 413 PAYLOAD_TOO_LARGE before more is buffered.
 */
export async function readRequestBody(req: IncomingMessage, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new HttpError(413, 'PAYLOAD_TOO_LARGE', `request body exceeds ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export function createGraphQLHttpServer<C extends BaseContext>(opts: GraphQLHttpServerOptions<C>): Server {
  const maxBody = opts.maxBodyBytes ?? 1_000_000;
  const answerCors = opts.cors ? corsAnswerer(opts.cors) : undefined;
  const service = opts.service ?? currentService() ?? UNATTRIBUTED;
  const metrics = metricsOf(service);
  const lifecycle: Lifecycle = { notReady: false, draining: false, inFlight: new Set() };
  const server = createServer((req, res) => {
    const route = routeOf(req.url);
    // Probes come every few seconds from the orchestrator: a trace each would bury the requests that matter.
    const probe = route === '/healthz' || route === '/readyz';
    const serverSpan = probe
      ? undefined
      : startServerSpan(
          service,
          route === 'other' ? (req.method ?? 'GET') : `${req.method} ${route}`,
          req.headers.traceparent,
          {
            'http.request.method': req.method ?? 'GET',
            ...(route === 'other' ? {} : { 'http.route': route }),
          },
        );
    const incoming = requestContextFromHeaders(req.headers);
    // With tracing on, this hop's traceparent is the server span's, so logs and exported spans agree.
    const rc: RequestContext = { ...incoming, ...(serverSpan ? { traceparent: serverSpan.traceparent } : {}), service };
    serverSpan?.span.setAttribute('request.id', rc.requestId);
    res.setHeader('x-request-id', rc.requestId);
    res.setHeader('traceparent', rc.traceparent);
    accessLog(req, res, rc);
    track(req, res, route, serverSpan?.span);
    const serve = () =>
      runWithRequestContext(rc, () => handle(req, res, rc)).catch((err: unknown) => {
        if (err instanceof HttpError) {
          json(
            res,
            err.status,
            {
              errors: [
                { message: err.message, extensions: { ...err.extensions, code: err.code, requestId: rc.requestId } },
              ],
            },
            err.headers,
          );
          return;
        }
        failSpan(serverSpan?.span, err);
        opts.logger.error({ err }, 'unhandled error serving request');
        if (!res.headersSent)
          json(res, 500, {
            errors: [
              {
                message: 'Internal server error',
                extensions: { code: 'INTERNAL_SERVER_ERROR', requestId: rc.requestId },
              },
            ],
          });
        else res.end();
      });
    void (serverSpan ? runInContext(serverSpan.context, serve) : serve());
  });
  lifecycles.set(server, lifecycle);
  return server;

  /** Request metrics, the in-flight set a graceful stop waits for, and the end of the request's span. */
  function track(req: IncomingMessage, res: ServerResponse, route: string, span: Span | undefined): void {
    const started = performance.now();
    lifecycle.inFlight.add(res);
    metrics.httpRequestsInFlight.inc();
    // While draining, every answer closes its connection: the listener is already closed.
    if (lifecycle.draining) res.setHeader('connection', 'close');
    res.once('close', () => {
      lifecycle.inFlight.delete(res);
      metrics.httpRequestsInFlight.dec();
      metrics.httpRequests
        .labels(req.method ?? 'GET', route, String(res.statusCode))
        .observe((performance.now() - started) / 1000);
      if (span) {
        span.setAttribute('http.response.status_code', res.statusCode);
        if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
        if (!res.writableFinished) span.setAttribute('http.aborted', true);
        span.end();
      }
      if (lifecycle.draining) lifecycle.onIdle?.();
    });
  }

  /** One line per request, written when the response is done: what operators search by request id. */
  function accessLog(req: IncomingMessage, res: ServerResponse, rc: RequestContext): void {
    const started = performance.now();
    res.once('close', () => {
      const path = (req.url ?? '/').split('?')[0];
      const probe = path === '/healthz' || path === '/readyz';
      opts.logger[probe ? 'debug' : 'info'](
        {
          requestId: rc.requestId,
          traceparent: rc.traceparent,
          method: req.method,
          path,
          status: res.statusCode,
          durationMs: Math.round(performance.now() - started),
          aborted: !res.writableFinished,
        },
        'request completed',
      );
    });
  }

  async function handle(req: IncomingMessage, res: ServerResponse, rc: RequestContext): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname === '/healthz') return json(res, 200, { status: 'ok' });
    if (url.pathname === '/readyz') {
      if (lifecycle.notReady) return json(res, 503, { status: 'stopping', checks: {} });
      const answer = (await opts.readiness?.().catch(() => ({ readiness: false }))) ?? {};
      const report = 'checks' in answer && typeof answer.checks === 'object' ? (answer as ReadinessReport) : null;
      const checks = report ? report.checks : (answer as Record<string, boolean>);
      const ready = Object.values(checks).every(Boolean);
      return json(res, ready ? 200 : 503, {
        status: ready ? 'ready' : 'not ready',
        checks,
        ...(report ? { dependencies: report.dependencies } : {}),
      });
    }
    // A request that reaches a draining server on a connection opened before the stop: refused like a new connection
    // would be.
    if (lifecycle.draining)
      throw new HttpError(503, 'SERVICE_UNAVAILABLE', 'The service is stopping; retry', { 'retry-after': '1' });
    if (opts.routes && (await opts.routes(req, res, url))) return;
    if (url.pathname !== '/graphql')
      return json(res, 404, { errors: [{ message: 'Not found', extensions: { code: 'NOT_FOUND' } }] });
    if (answerCors && (await answerCors(req, res))) return;

    const headers = new HeaderMap();
    for (const [key, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers.set(key, Array.isArray(value) ? value.join(', ') : value);
    }
    let body: unknown = undefined;
    let content = url.search;
    if (req.method === 'POST') {
      const raw = await readRequestBody(req, maxBody);
      content = raw;
      if ((req.headers['content-type'] ?? '').includes('application/json')) {
        try {
          body = raw.length ? JSON.parse(raw) : undefined;
        } catch {
          throw new HttpError(400, 'BAD_REQUEST', 'request body is not valid JSON');
        }
      } else {
        body = raw;
      }
    }
    opts.checkBody?.(body, url.searchParams);
    const context = await opts.context(req, rc, content);
    const response = await opts.apollo.executeHTTPGraphQLRequest({
      httpGraphQLRequest: { method: req.method ?? 'GET', headers, search: url.search, body },
      context: async () => context,
    });
    for (const [key, value] of response.headers) res.setHeader(key, value);
    res.statusCode = response.status ?? 200;
    if (response.body.kind === 'complete') {
      res.end(response.body.string);
    } else {
      for await (const chunk of response.body.asyncIterator) res.write(chunk);
      res.end();
    }
  }
}

// ---------------------------------------------------------------------------------------------
// CORS for /graphql: which web apps on other origins may read the answers.

export interface CorsOptions {
  /**
   * Serialized origins ("https://app.example.com", "http://localhost:5173"), or "scheme://host:*" for any port of that
   * host.
   */
  allowedOrigins: readonly string[];
  /** How long a browser may cache a preflight answer (Access-Control-Max-Age). */
  maxAgeSeconds: number;
}

/**
 * What a web app may send: the token (Bearer or DPoP), JSON, correlation ids, Apollo's CSRF-preflight headers and the
 * Idempotency-Key of a money-moving mutation (gateway/idempotency/).
 */
export const CORS_ALLOWED_HEADERS = [
  'authorization',
  'content-type',
  'dpop',
  'x-request-id',
  'traceparent',
  'apollo-require-preflight',
  'x-apollo-operation-name',
  'idempotency-key',
];
/**
 * What a web app may read besides the safelisted headers: the ids to quote in a support request, and why a token or
 * request was refused.
 */
export const CORS_EXPOSED_HEADERS = ['x-request-id', 'traceparent', 'www-authenticate', 'retry-after'];

/**
 * True when `origin` (an Origin header) is one of `allowed`. "null" and anything that is not a serialized origin never
 * are.
 */
export function originAllowed(origin: string | undefined, allowed: readonly string[]): boolean {
  if (!origin) return false;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  if (url.origin !== origin) return false;
  return allowed.some((entry) =>
    entry.endsWith(':*') ? `${url.protocol}//${url.hostname}` === entry.slice(0, -2) : entry === origin,
  );
}

/**
 * Sets the CORS headers of a /graphql request and answers its preflight (the returned function
 * resolves true when it answered). Credentials are never allowed (no
 * Access-Control-Allow-Credentials): the API takes its caller from the Authorization header only,
 * so there is no cookie a page could borrow. Every answer varies by Origin. An origin that is not
 * allowed gets no CORS header, so the browser keeps the answer from the page; its preflight is
 * refused outright (403 CORS_ORIGIN_NOT_ALLOWED) rather than left to Apollo's CSRF error. Requests
 * a browser sends without a preflight still meet Apollo's CSRF prevention, which refuses them
 * unless they carry a JSON content type or a preflight header. The headers themselves are set by
 * the cors package (expressjs/cors) once the origin is allowed.
 */
function corsAnswerer(options: CorsOptions): (req: IncomingMessage, res: ServerResponse) => Promise<boolean> {
  const handler = cors({
    origin: true, // reflect the request's origin: only reached once originAllowed said yes
    methods: ['GET', 'POST'],
    allowedHeaders: CORS_ALLOWED_HEADERS,
    exposedHeaders: CORS_EXPOSED_HEADERS,
    credentials: false,
    maxAge: options.maxAgeSeconds,
    preflightContinue: true,
  });
  return async (req, res) => {
    res.setHeader('vary', 'Origin');
    const origin = req.headers.origin;
    const preflight =
      req.method === 'OPTIONS' && origin !== undefined && req.headers['access-control-request-method'] !== undefined;
    if (!originAllowed(origin, options.allowedOrigins)) {
      if (preflight)
        throw new HttpError(
          403,
          'CORS_ORIGIN_NOT_ALLOWED',
          'This origin may not call the API from a browser (CORS_ALLOWED_ORIGINS)',
        );
      return false;
    }
    await new Promise<void>((resolve, reject) => handler(req, res, (err?: unknown) => (err ? reject(err) : resolve())));
    if (!preflight) return false;
    res.writeHead(204, { 'content-length': '0' });
    res.end();
    return true;
  };
}
