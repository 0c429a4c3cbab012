import { existsSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { GraphQLSchema } from 'graphql';
import { HttpError } from '../../lib/http-server.ts';
import type { Logger } from '../../lib/logger.ts';
import type { Principal } from '../../lib/principal.ts';
import { graphqlRuntime } from '../authorization/graphql-runtime.ts';
import type { AuthzDeps } from '../authorization/engine.ts';
import { asset, publicAsset, sendAsset, vendorAssets, type Asset } from './assets.ts';
import { callerFacts } from './caller.ts';
import { loadExamples } from './examples.ts';
import { buildRequirements, type RequirementsDocument } from './requirements.ts';
import { sandboxRelay } from './sandbox.ts';

/**
 * The gateway's offline explorer: GraphiQL at `/`, served with everything it loads from the
 * gateway's own origin (see assets.ts), plus what GraphiQL does not know about this product:
 *
 *   GET /                            the page (a Content-Security-Policy keeps every request on this origin)
 *   GET /explorer/requirements.json  what every field requires (requirements.ts: the live rule set)
 *   GET /explorer/schema.json        the served schema as an introspection result, so the docs work
 *                                    where introspection is switched off (production)
 *   GET /explorer/examples.json      example operations for the common jobs (examples.ts)
 *   GET /explorer/changelog.md       the public schema's changelog (schema/CHANGELOG.md, npm run schema:check)
 *   GET /explorer/caller             the caller the request's token stands for (caller.ts)
 *   GET /explorer/*.js|.css          the explorer's own files (./public) and the vendor bundles
 *   GET /graphql from a browser      (an HTML navigation without a query) redirects to the explorer
 * and, in the sandbox profile only, the token panel: /explorer/sandbox.js and the relay of
 * sandbox.ts. In the production profile those routes are not registered at all.
 *
 * startGateway creates it only when GATEWAY_EXPLORER is on (default: on in the sandbox profile,
 * off in production); otherwise none of these paths exist and `/` is 404 as before.
 */
export interface ExplorerOptions {
  /** The schema the gateway serves. */
  schema: GraphQLSchema;
  profile: 'sandbox' | 'production';
  /** The sandbox authorization server (token panel, sandbox profile only). */
  authIssuer: string;
  timeoutMs: number;
  logger: Logger;
  /**
   * Verifies the request's access token exactly as /graphql does: null without one; throws an HttpError for a refused
   * one.
   */
  authenticate(req: IncomingMessage, requestId: string): Promise<Principal | null>;
  /**
   * The authorization engine's lookups; null when the gateway runs without authorization (then there is no caller to
   * describe).
   */
  authz: AuthzDeps | null;
}

export interface Explorer {
  /** The http-server route hook: true when the request was answered. */
  handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean>;
  requirements: RequirementsDocument;
}

/**
 * Everything the page may load comes from this origin; scripts only from files (no inline code,
 * no eval). Inline style attributes are allowed because React and CodeMirror set them.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const JSON_TYPE = 'application/json; charset=utf-8';

/** What changed in the public schema, release by release (kept by `npm run schema:check`). */
const CHANGELOG = new URL('../../schema/CHANGELOG.md', import.meta.url);

function page(opts: {
  sandbox: boolean;
  profile: string;
  changelog: boolean;
  scripts: string[];
  styles: string[];
}): string {
  // Relative URLs throughout: the page works at any path prefix a proxy puts the gateway behind.
  const rel = (path: string) => `.${path}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Financial data graph · Explorer</title>
<link rel="icon" href="data:,">
${opts.styles.map((s) => `<link rel="stylesheet" href="${rel(s)}">`).join('\n')}
<link rel="stylesheet" href="./explorer/explorer.css">
${opts.scripts.map((s) => `<script defer src="${rel(s)}"></script>`).join('\n')}
<script type="module" src="./explorer/app.js"></script>
</head>
<body data-profile="${opts.profile}" data-sandbox-panel="${opts.sandbox ? 'on' : 'off'}">
<header class="explorer-header">
  <strong>Financial data graph</strong>
  <span class="explorer-profile" title="PROFILE of this gateway">${opts.profile}</span>
  <nav>
    ${opts.changelog ? '<a href="./explorer/changelog.md" target="_blank" rel="noopener">Schema changelog</a>' : ''}
    <a href="./explorer/requirements.json" target="_blank" rel="noopener">Requirements of every field (JSON)</a>
  </nav>
</header>
<main id="explorer"><p class="explorer-loading">Loading the explorer…</p><noscript>The explorer needs JavaScript. The GraphQL endpoint is <code>/graphql</code>.</noscript></main>
</body>
</html>
`;
}

export function createExplorer(opts: ExplorerOptions): Explorer {
  const sandbox = opts.profile !== 'production';
  const vendor = vendorAssets();
  const requirements = buildRequirements(opts.schema);
  if (requirements.problems.length)
    opts.logger.warn(
      { problems: requirements.problems },
      'explorer: the rule set has problems (see npm run shield:audit)',
    );
  const changelog = existsSync(CHANGELOG) ? asset(readFileSync(CHANGELOG), 'text/plain; charset=utf-8') : null;
  const files = new Map<string, Asset>([
    ...vendor.files,
    [
      '/',
      asset(
        page({
          sandbox,
          profile: opts.profile,
          changelog: changelog !== null,
          scripts: vendor.scripts,
          styles: vendor.styles,
        }),
        'text/html; charset=utf-8',
      ),
    ],
    ...(changelog ? [['/explorer/changelog.md', changelog] as const] : []),
    ['/explorer/app.js', publicAsset('app.js', 'text/javascript; charset=utf-8')],
    ['/explorer/check.js', publicAsset('check.js', 'text/javascript; charset=utf-8')],
    ['/explorer/explorer.css', publicAsset('explorer.css', 'text/css; charset=utf-8')],
    ['/explorer/requirements.json', asset(JSON.stringify(requirements), JSON_TYPE)],
    [
      '/explorer/schema.json',
      asset(JSON.stringify({ data: graphqlRuntime.introspectionFromSchema(opts.schema) }), JSON_TYPE),
    ],
    ['/explorer/examples.json', asset(JSON.stringify(loadExamples(opts.schema, opts.logger)), JSON_TYPE)],
    ...(sandbox
      ? [['/explorer/sandbox.js', publicAsset('sandbox.js', 'text/javascript; charset=utf-8')] as const]
      : []),
  ]);
  const relay = sandbox
    ? sandboxRelay({ authIssuer: opts.authIssuer, timeoutMs: opts.timeoutMs, logger: opts.logger })
    : null;
  const pageHeaders = {
    'content-security-policy': CONTENT_SECURITY_POLICY,
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
  };

  async function caller(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!opts.authz) throw new HttpError(404, 'NOT_FOUND', 'Not found');
    const requestId = String(res.getHeader('x-request-id') ?? '');
    const principal = await opts.authenticate(req, requestId);
    if (!principal) {
      throw new HttpError(
        401,
        'UNAUTHENTICATED',
        'send the access token to describe as Authorization: Bearer <token>',
        { 'www-authenticate': 'Bearer', 'cache-control': 'no-store' },
      );
    }
    let facts;
    try {
      facts = await callerFacts(principal, opts.authz, requestId);
    } catch (err) {
      // The lookups fail closed with SERVICE_UNAVAILABLE; anything else is a bug and goes to the 500 handler.
      if (err instanceof graphqlRuntime.GraphQLError && err.extensions.code === 'SERVICE_UNAVAILABLE') {
        throw new HttpError(503, 'SERVICE_UNAVAILABLE', err.message, { 'retry-after': '5' });
      }
      throw err;
    }
    res.writeHead(200, { 'content-type': JSON_TYPE, 'cache-control': 'no-store' });
    res.end(JSON.stringify(facts));
  }

  return {
    requirements,
    async handle(req, res, url) {
      const method = req.method ?? 'GET';
      const path = url.pathname;
      const read = method === 'GET' || method === 'HEAD';
      if (
        path === '/graphql' &&
        read &&
        !url.searchParams.has('query') &&
        /\btext\/html\b/.test(String(req.headers.accept ?? ''))
      ) {
        // A browser opening the endpoint: the explorer, not Apollo's (CDN-hosted) landing page.
        res.writeHead(302, { location: './', 'cache-control': 'no-store' });
        res.end();
        return true;
      }
      const file = read ? files.get(path) : undefined;
      if (file) {
        await sendAsset(req, res, file, path === '/' ? pageHeaders : {});
        return true;
      }
      if (path === '/explorer/caller' && read) {
        await caller(req, res);
        return true;
      }
      if (relay && path === '/explorer/sandbox/world' && read) {
        await relay.world(res);
        return true;
      }
      if (relay && path === '/explorer/sandbox/token' && method === 'POST') {
        await relay.token(req, res);
        return true;
      }
      return false;
    },
  };
}
