import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';

/**
 * The explorer's static files, served from memory by the gateway itself: no CDN, no request
 * leaves the gateway's origin. GraphiQL 4 ships a prebuilt UMD bundle (CodeMirror and its fonts
 * inlined) that runs on React 18's UMD builds, so the files are taken as the packages publish
 * them: nothing to build, nothing for a developer to remember after `npm ci`.
 *
 * Each file is read once at start; its gzip encoding is made on the first request that accepts
 * it and kept (one compression per file per process). Vendor files are addressed by version, so
 * browsers may keep them for good; the explorer's own files are revalidated by ETag.
 */
export interface Asset {
  body: Buffer;
  contentType: string;
  etag: string;
  cacheControl: string;
  gzipped?: Promise<Buffer>;
}

const require = createRequire(import.meta.url);
const packageDir = (name: string) => dirname(require.resolve(`${name}/package.json`));
const versionOf = (name: string) =>
  (JSON.parse(readFileSync(join(packageDir(name), 'package.json'), 'utf8')) as { version: string }).version;

const IMMUTABLE = 'public, max-age=31536000, immutable';
const REVALIDATE = 'no-cache';

export function asset(body: Buffer | string, contentType: string, cacheControl = REVALIDATE): Asset {
  const buffer = typeof body === 'string' ? Buffer.from(body) : body;
  return {
    body: buffer,
    contentType,
    etag: `"${createHash('sha256').update(buffer).digest('base64url').slice(0, 27)}"`,
    cacheControl,
  };
}

/** A published bundle without its source-map comment (the map is not served, so devtools would ask for it in vain). */
function vendorScript(path: string): Asset {
  const text = readFileSync(path, 'utf8').replace(/\n\/\/# sourceMappingURL=\S+\s*$/, '\n');
  return asset(text, 'text/javascript; charset=utf-8', IMMUTABLE);
}

export interface VendorAssets {
  /** URL path (under /explorer/vendor/) → asset. */
  files: Map<string, Asset>;
  /** The paths the page loads, in order. */
  scripts: string[];
  styles: string[];
}

export function vendorAssets(): VendorAssets {
  const react = versionOf('react');
  const reactDom = versionOf('react-dom');
  const graphiql = versionOf('graphiql');
  const files = new Map<string, Asset>([
    [`/explorer/vendor/react-${react}.js`, vendorScript(join(packageDir('react'), 'umd/react.production.min.js'))],
    [
      `/explorer/vendor/react-dom-${reactDom}.js`,
      vendorScript(join(packageDir('react-dom'), 'umd/react-dom.production.min.js')),
    ],
    [`/explorer/vendor/graphiql-${graphiql}.js`, vendorScript(join(packageDir('graphiql'), 'graphiql.min.js'))],
    [
      `/explorer/vendor/graphiql-${graphiql}.css`,
      asset(readFileSync(join(packageDir('graphiql'), 'graphiql.min.css')), 'text/css; charset=utf-8', IMMUTABLE),
    ],
  ]);
  return {
    files,
    scripts: [
      `/explorer/vendor/react-${react}.js`,
      `/explorer/vendor/react-dom-${reactDom}.js`,
      `/explorer/vendor/graphiql-${graphiql}.js`,
    ],
    styles: [`/explorer/vendor/graphiql-${graphiql}.css`],
  };
}

/** One of the explorer's own files in ./public. */
export function publicAsset(name: string, contentType: string): Asset {
  return asset(readFileSync(new URL(`./public/${name}`, import.meta.url)), contentType);
}

const gzipAsync = promisify(gzip);

/** Answers GET/HEAD with the asset: 304 on a matching If-None-Match, gzip when accepted. */
export async function sendAsset(
  req: IncomingMessage,
  res: ServerResponse,
  file: Asset,
  extraHeaders: Record<string, string> = {},
): Promise<void> {
  const headers: Record<string, string> = {
    'content-type': file.contentType,
    'cache-control': file.cacheControl,
    etag: file.etag,
    vary: 'accept-encoding',
    'x-content-type-options': 'nosniff',
    ...extraHeaders,
  };
  if (req.headers['if-none-match'] === file.etag) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  let body = file.body;
  if (/\bgzip\b/.test(String(req.headers['accept-encoding'] ?? '')) && file.body.length > 1024) {
    file.gzipped ??= gzipAsync(file.body, { level: 9 });
    body = await file.gzipped;
    headers['content-encoding'] = 'gzip';
  }
  headers['content-length'] = String(body.length);
  res.writeHead(200, headers);
  res.end(req.method === 'HEAD' ? undefined : body);
}
