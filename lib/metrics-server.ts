import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import { closeServer, listen, type RunningServer } from './http-server.ts';
import type { Logger } from './logger.ts';
import { registry as processRegistry } from './metrics.ts';

/**
 * The operator listener: Prometheus /metrics on its own interface and port, never on a
 * service's public port. Metrics name partners, subgraphs, error rates and security events;
 * anyone who can reach the public port must not read them. The listener binds to loopback by
 * default (METRICS_HOST), and with METRICS_TOKEN it also demands `Authorization: Bearer <token>`,
 * so it can be exposed to a scraper on another host. One listener per process: the registry is
 * per process (lib/metrics.ts), so the all-in-one launcher serves every part's metrics on one.
 */
export interface MetricsServerOptions {
  host: string;
  /** 0: any free port (tests). */
  port: number;
  /** When set, every request must carry `Authorization: Bearer <token>`. */
  token?: string | undefined;
  logger: Logger;
  /** Defaults to the process registry of lib/metrics.ts. */
  registry?: Registry;
}

export interface RunningMetricsServer extends RunningServer {
  /** The full /metrics URL. */
  url: string;
}

/**
 * Compares digests rather than the strings: timingSafeEqual needs equal lengths, and comparing
 * fixed-size SHA-256 digests keeps the time independent of both the content and the length of
 * the presented token.
 */
function tokenMatches(presented: string, expected: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();
  return timingSafeEqual(digest(presented), digest(expected));
}

function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer +(.+)$/i.exec(header ?? '');
  return match?.[1];
}

function refuse(res: ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers });
  res.end(JSON.stringify({ errors: [{ message, extensions: { code } }] }));
}

export async function startMetricsServer(opts: MetricsServerOptions): Promise<RunningMetricsServer> {
  const registry = opts.registry ?? processRegistry;
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://metrics.invalid').pathname;
    if (path !== '/metrics') return refuse(res, 404, 'NOT_FOUND', 'Not found');
    if (req.method !== 'GET' && req.method !== 'HEAD') return refuse(res, 405, 'METHOD_NOT_ALLOWED', 'Use GET', { allow: 'GET, HEAD' });
    if (opts.token !== undefined) {
      const presented = bearerToken(req.headers.authorization);
      if (presented === undefined || !tokenMatches(presented, opts.token)) {
        opts.logger.warn({ remoteAddress: req.socket.remoteAddress, tokenPresented: presented !== undefined }, 'refused /metrics without a valid operator token');
        return refuse(res, 401, 'UNAUTHENTICATED', 'an operator token is required', { 'www-authenticate': 'Bearer realm="metrics"' });
      }
    }
    registry.metrics().then(
      (text) => {
        res.writeHead(200, { 'content-type': registry.contentType, 'cache-control': 'no-store' });
        res.end(req.method === 'HEAD' ? undefined : text);
      },
      (err: unknown) => {
        opts.logger.error({ err }, 'collecting metrics failed');
        refuse(res, 500, 'INTERNAL_SERVER_ERROR', 'Internal server error');
      },
    );
  });
  const { port, url: base } = await listen(server, opts.port, opts.host);
  const url = `${base}/metrics`;
  opts.logger.info({ url, tokenRequired: opts.token !== undefined }, 'metrics listening (operators only)');
  return { server, port, url, close: () => closeServer(server) };
}
