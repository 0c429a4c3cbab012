import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import { closeServer, listen, type RunningServer } from './http-server.ts';
import type { Logger } from './logger.ts';
import { combinedExposition } from './metrics.ts';

/**
 * The operator listener: Prometheus /metrics on its own interface and port, never on a
 * service's public port. Metrics name partners, subgraphs, error rates and security events;
 * anyone who can reach the public port must not read them. The listener binds to loopback by
 * default (METRICS_HOST), and with METRICS_TOKEN it also demands `Authorization: Bearer <token>`,
 * so it can be exposed to a scraper on another host.
 *
 * One listener per process, serving the registries of the services the process runs (one per
 * service, lib/metrics.ts): `/metrics` all of them together (every series carries its `service`
 * label), `/metrics/<name>` one of them. A service process has one registry, so both are the same;
 * under `npm start` an operator scrapes /metrics/gateway, /metrics/accounts, ... as separate jobs,
 * or /metrics once and tells the services apart by the label.
 */
export interface MetricsServerOptions {
  host: string;
  /** 0: any free port (tests). */
  port: number;
  /** When set, every request must carry `Authorization: Bearer <token>`. */
  token?: string | undefined;
  logger: Logger;
  /** The registries served, by name: /metrics/<name> serves one, /metrics all of them. */
  registries: Record<string, Registry>;
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

function refuse(
  res: ServerResponse,
  status: number,
  code: string,
  message: string,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers });
  res.end(JSON.stringify({ errors: [{ message, extensions: { code } }] }));
}

export async function startMetricsServer(opts: MetricsServerOptions): Promise<RunningMetricsServer> {
  const names = Object.keys(opts.registries);
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://metrics.invalid').pathname;
    const match = /^\/metrics(?:\/([a-z0-9_-]+))?$/.exec(path);
    // Own properties only: a name like "constructor" must not reach Object.prototype.
    const name = match?.[1];
    if (!match || (name !== undefined && !Object.hasOwn(opts.registries, name)))
      return refuse(res, 404, 'NOT_FOUND', 'Not found');
    if (req.method !== 'GET' && req.method !== 'HEAD')
      return refuse(res, 405, 'METHOD_NOT_ALLOWED', 'Use GET', { allow: 'GET, HEAD' });
    if (opts.token !== undefined) {
      const presented = bearerToken(req.headers.authorization);
      if (presented === undefined || !tokenMatches(presented, opts.token)) {
        opts.logger.warn(
          { remoteAddress: req.socket.remoteAddress, tokenPresented: presented !== undefined },
          'refused /metrics without a valid operator token',
        );
        return refuse(res, 401, 'UNAUTHENTICATED', 'an operator token is required', {
          'www-authenticate': 'Bearer realm="metrics"',
        });
      }
    }
    const chosen = name !== undefined ? [opts.registries[name]!] : names.map((n) => opts.registries[n]!);
    combinedExposition(chosen).then(
      (text) => {
        res.writeHead(200, {
          'content-type': chosen[0]?.contentType ?? 'text/plain; version=0.0.4; charset=utf-8',
          'cache-control': 'no-store',
        });
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
  opts.logger.info(
    { url, services: names, tokenRequired: opts.token !== undefined },
    'metrics listening (operators only)',
  );
  return { server, port, url, close: () => closeServer(server) };
}
