import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Kind, parse, type DocumentNode } from 'graphql';
import { createHttpClient, fetchVia, type HttpClient } from '../lib/http-client.ts';

/**
 * Loading the supergraph the gateway serves: from a file (the checked-in
 * schema/supergraph.graphql by default) or from an http(s) URL (a schema registry, a CI
 * artifact). Any failure is a SupergraphError that says where it looked and what went wrong,
 * so a bad SUPERGRAPH stops the gateway with a readable message.
 */
export class SupergraphError extends Error {
  override name = 'SupergraphError';
}

export interface SubgraphInfo {
  /** The join__Graph enum value, e.g. "ACCOUNTS" (what @graphql-tools/federation keys subschemas by). */
  enumValue: string;
  /** The subgraph's name, e.g. "accounts" (the audience of the signed internal context). */
  name: string;
  /** The URL recorded in the supergraph. */
  url: string;
}

export interface Supergraph {
  sdl: string;
  document: DocumentNode;
  subgraphs: SubgraphInfo[];
  /** Where it was loaded from, for logs. */
  source: string;
}

export async function loadSupergraph(source: string, opts: { timeoutMs: number }): Promise<Supergraph> {
  let sdl: string;
  if (/^https?:\/\//i.test(source)) {
    const fetched = await fetchSupergraph(source, opts.timeoutMs);
    if (fetched.notModified) throw new SupergraphError(`${source} answered 304 without a conditional request`);
    sdl = fetched.sdl;
  } else {
    sdl = await readSupergraphFile(source);
  }
  return parseSupergraph(sdl, source);
}

/** Reads a supergraph file (SUPERGRAPH=<path>). */
export async function readSupergraphFile(path: string): Promise<string> {
  const absolute = resolve(path);
  try {
    return await readFile(absolute, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const reason =
      code === 'ENOENT' ? 'file not found' : code === 'EACCES' ? 'permission denied' : (err as Error).message;
    throw new SupergraphError(`could not read the supergraph from SUPERGRAPH=${path} (${absolute}): ${reason}`);
  }
}

export type FetchedSupergraph = { notModified: true } | { notModified: false; sdl: string; etag?: string };

/**
 * Fetches a supergraph (SUPERGRAPH=<url>). With the ETag of the last answer it asks
 * If-None-Match, and a 304 comes back as notModified (what the reload poll does every interval).
 */
export async function fetchSupergraph(url: string, timeoutMs: number, etag?: string): Promise<FetchedSupergraph> {
  let res: Response;
  try {
    // Through the one outbound client (lib/http-client.ts): breaker, retries of this GET, figures under `supergraph`.
    res = await fetchVia(supergraphClient(url, timeoutMs), 'fetchSupergraph')(url, {
      headers: {
        accept: 'application/graphql, text/plain, */*',
        ...(etag ? { 'if-none-match': etag } : {}),
      },
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    const reason =
      (err as Error).name === 'TimeoutError'
        ? `no answer within ${timeoutMs} ms`
        : ((err as Error & { cause?: Error }).cause?.message ?? (err as Error).message);
    throw new SupergraphError(`could not fetch the supergraph from SUPERGRAPH=${url}: ${reason}`);
  }
  if (res.status === 304 && etag) {
    await res.body?.cancel();
    return { notModified: true };
  }
  const text = await res.text();
  if (!res.ok) throw new SupergraphError(`could not fetch the supergraph from SUPERGRAPH=${url}: HTTP ${res.status}`);
  const newTag = res.headers.get('etag');
  return newTag ? { notModified: false, sdl: text, etag: newTag } : { notModified: false, sdl: text };
}

const supergraphClients = new Map<string, HttpClient>();

/** One client per supergraph URL, so that the reload poll shares its breaker and figures. */
function supergraphClient(url: string, timeoutMs: number): HttpClient {
  const key = `${url}\n${timeoutMs}`;
  let client = supergraphClients.get(key);
  if (!client)
    supergraphClients.set(
      key,
      (client = createHttpClient({ name: 'supergraph', baseUrl: url, timeoutMs, service: 'gateway' })),
    );
  return client;
}

/** Parses a supergraph SDL and lists its subgraphs (join__Graph values with their name and URL). */
export function parseSupergraph(sdl: string, source = '(inline)'): Supergraph {
  let document: DocumentNode;
  try {
    document = parse(sdl);
  } catch (err) {
    throw new SupergraphError(`the supergraph from ${source} is not valid GraphQL SDL: ${(err as Error).message}`);
  }
  const subgraphs: SubgraphInfo[] = [];
  for (const def of document.definitions) {
    if (def.kind !== Kind.ENUM_TYPE_DEFINITION || def.name.value !== 'join__Graph') continue;
    for (const value of def.values ?? []) {
      const directive = value.directives?.find((d) => d.name.value === 'join__graph');
      const arg = (n: string) => {
        const a = directive?.arguments?.find((x) => x.name.value === n);
        return a?.value.kind === Kind.STRING ? a.value.value : undefined;
      };
      const name = arg('name') ?? value.name.value.toLowerCase();
      const url = arg('url');
      if (!url) throw new SupergraphError(`the supergraph from ${source} records no URL for subgraph ${name}`);
      subgraphs.push({ enumValue: value.name.value, name, url });
    }
  }
  if (subgraphs.length === 0) {
    throw new SupergraphError(
      `${source} is not a Federation supergraph: it has no join__Graph enum (run \`npm run compose\` to generate one)`,
    );
  }
  return { sdl, document, subgraphs, source };
}
