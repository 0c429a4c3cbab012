import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HeaderMap, type ApolloServer, type BaseContext } from '@apollo/server';
import cors from 'cors';
import type { Logger } from './logger.ts';
import { requestContextFromHeaders, runWithRequestContext, type RequestContext } from './request-context.ts';

/**
 * Serves an Apollo Server on node:http with the routes every service has:
 * - POST/GET /graphql through Apollo's executeHTTPGraphQLRequest (the documented integration API);
 * - /healthz: the process is alive;
 * - /readyz: dependencies answer (the service passes its own check).
 * - CORS on /graphql for the web apps a service allows (`cors`; the gateway passes CORS_ALLOWED_ORIGINS).
 * /metrics is not here: it is served to operators only, on the listener of lib/metrics-server.ts;
 * the public port answers it 404 like any unknown path.
 * Every request runs inside a request context (x-request-id, traceparent), echoed back in
 * the response so a client can quote it when reporting a problem.
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
  readiness?: () => Promise<Record<string, boolean>>;
  /** Largest accepted request body; bigger bodies get 413 before parsing. */
  maxBodyBytes?: number;
  /**
   * Inspects the request before Apollo or the context sees it: the parsed body (a JSON array for
   * batched operations; undefined for a GET) and the URL's query parameters (where a GET carries
   * its operation). Throw an HttpError to refuse.
   */
  checkBody?: (body: unknown, params: URLSearchParams) => void;
  /**
   * Extra routes of a service (the gateway's explorer): asked first for every request other than
   * /healthz and /readyz, inside the request context; resolve true when the request was answered,
   * false to fall through to /graphql and the 404. An HttpError thrown here is answered like any other.
   */
  routes?: (req: IncomingMessage, res: ServerResponse, url: URL) => boolean | Promise<boolean>;
  /** Cross-origin calls to /graphql from web apps (the gateway's CORS_ALLOWED_ORIGINS); absent: no CORS headers at all. */
  cors?: CorsOptions;
}

export class HttpError extends Error {
  readonly status: number;
  readonly code: string;
  readonly headers: Record<string, string>;
  /** Further `extensions` of the error body, next to code and requestId. */
  readonly extensions: Record<string, unknown>;
  constructor(status: number, code: string, message: string, headers: Record<string, string> = {}, extensions: Record<string, unknown> = {}) {
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

export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
  res.end(JSON.stringify(body));
}

async function readBody(req: IncomingMessage, limit: number): Promise<string> {
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
  return createServer((req, res) => {
    const rc = requestContextFromHeaders(req.headers);
    res.setHeader('x-request-id', rc.requestId);
    res.setHeader('traceparent', rc.traceparent);
    accessLog(req, res, rc);
    runWithRequestContext(rc, () => handle(req, res, rc)).catch((err: unknown) => {
      if (err instanceof HttpError) {
        json(res, err.status, { errors: [{ message: err.message, extensions: { ...err.extensions, code: err.code, requestId: rc.requestId } }] }, err.headers);
        return;
      }
      opts.logger.error({ err }, 'unhandled error serving request');
      if (!res.headersSent) json(res, 500, { errors: [{ message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR', requestId: rc.requestId } }] });
      else res.end();
    });
  });

  /** One line per request, written when the response is done: what operators search by request id. */
  function accessLog(req: IncomingMessage, res: ServerResponse, rc: RequestContext): void {
    const started = performance.now();
    res.once('close', () => {
      const path = (req.url ?? '/').split('?')[0];
      const probe = path === '/healthz' || path === '/readyz';
      opts.logger[probe ? 'debug' : 'info'](
        { requestId: rc.requestId, traceparent: rc.traceparent, method: req.method, path, status: res.statusCode, durationMs: Math.round(performance.now() - started), aborted: !res.writableFinished },
        'request completed',
      );
    });
  }

  async function handle(req: IncomingMessage, res: ServerResponse, rc: RequestContext): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname === '/healthz') return json(res, 200, { status: 'ok' });
    if (url.pathname === '/readyz') {
      const checks = (await opts.readiness?.().catch(() => ({ readiness: false }))) ?? {};
      const ready = Object.values(checks).every(Boolean);
      return json(res, ready ? 200 : 503, { status: ready ? 'ready' : 'not ready', checks });
    }
    if (opts.routes && (await opts.routes(req, res, url))) return;
    if (url.pathname !== '/graphql') return json(res, 404, { errors: [{ message: 'Not found', extensions: { code: 'NOT_FOUND' } }] });
    if (answerCors && (await answerCors(req, res))) return;

    const headers = new HeaderMap();
    for (const [key, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers.set(key, Array.isArray(value) ? value.join(', ') : value);
    }
    let body: unknown = undefined;
    let content = url.search;
    if (req.method === 'POST') {
      const raw = await readBody(req, maxBody);
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
  /** Serialized origins ("https://app.example.com", "http://localhost:5173"), or "scheme://host:*" for any port of that host. */
  allowedOrigins: readonly string[];
  /** How long a browser may cache a preflight answer (Access-Control-Max-Age). */
  maxAgeSeconds: number;
}

/** What a web app may send: the token (Bearer or DPoP), JSON, correlation ids and Apollo's CSRF-preflight headers. */
export const CORS_ALLOWED_HEADERS = ['authorization', 'content-type', 'dpop', 'x-request-id', 'traceparent', 'apollo-require-preflight', 'x-apollo-operation-name'];
/** What a web app may read besides the safelisted headers: the ids to quote in a support request, and why a token or request was refused. */
export const CORS_EXPOSED_HEADERS = ['x-request-id', 'traceparent', 'www-authenticate', 'retry-after'];

/** True when `origin` (an Origin header) is one of `allowed`. "null" and anything that is not a serialized origin never are. */
export function originAllowed(origin: string | undefined, allowed: readonly string[]): boolean {
  if (!origin) return false;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  if (url.origin !== origin) return false;
  return allowed.some((entry) => (entry.endsWith(':*') ? `${url.protocol}//${url.hostname}` === entry.slice(0, -2) : entry === origin));
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
    const preflight = req.method === 'OPTIONS' && origin !== undefined && req.headers['access-control-request-method'] !== undefined;
    if (!originAllowed(origin, options.allowedOrigins)) {
      if (preflight) throw new HttpError(403, 'CORS_ORIGIN_NOT_ALLOWED', 'This origin may not call the API from a browser (CORS_ALLOWED_ORIGINS)');
      return false;
    }
    await new Promise<void>((resolve, reject) => handler(req, res, (err?: unknown) => (err ? reject(err) : resolve())));
    if (!preflight) return false;
    res.writeHead(204, { 'content-length': '0' });
    res.end();
    return true;
  };
}
