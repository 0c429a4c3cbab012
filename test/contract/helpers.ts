import { randomUUID } from 'node:crypto';
import { createLogger } from '../../lib/logger.ts';
import { createTestClock, startSandboxes, type RunningSandboxes, type TestClock } from '../../sandboxes/index.ts';
import type { LoadedSpec } from '../../sandboxes/lib/openapi.ts';

/** The clock every contract test starts from (the generated history ends here). */
export const T0 = '2026-11-23T12:00:00.000Z';

export const silentLogger = createLogger('contract-test', 'silent');

export async function startAll(
  options: {
    clock?: TestClock;
    northwind?: Parameters<typeof startSandboxes>[0]['northwind'];
    onfido?: Parameters<typeof startSandboxes>[0]['onfido'];
  } = {},
): Promise<{ sandboxes: RunningSandboxes; clock: TestClock }> {
  const clock = options.clock ?? createTestClock(T0);
  const sandboxes = await startSandboxes({
    ports: 0,
    logger: silentLogger,
    now: clock.now,
    ...(options.northwind ? { northwind: options.northwind } : {}),
    ...(options.onfido ? { onfido: options.onfido } : {}),
  });
  return { sandboxes, clock };
}

export interface CallResult<T = any> {
  status: number;
  body: T;
  text: string;
  headers: Headers;
  /** Violations of the partner spec in the answer (status, headers, body). */
  violations: string[];
}

export interface CallOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: unknown;
  /** Validate the answer against this spec (default: the one passed to `caller`). */
  validate?: boolean;
}

/** fetch + JSON + validation of the answer against the partner spec. */
export function caller(baseUrl: string, spec: LoadedSpec) {
  return async function call<T = any>(path: string, options: CallOptions = {}): Promise<CallResult<T>> {
    const method = options.method ?? 'GET';
    const headers: Record<string, string> = { ...(options.headers ?? {}) };
    let payload: string | undefined;
    if (options.body !== undefined) {
      payload = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
      headers['content-type'] ??= 'application/json';
    }
    const res = await fetch(`${baseUrl}${path}`, {
      method,
      headers,
      ...(payload !== undefined ? { body: payload } : {}),
    });
    const text = await res.text();
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = text;
    }
    const violations =
      options.validate === false
        ? []
        : spec.validateResponse({
            method,
            path: new URL(`${baseUrl}${path}`).pathname,
            status: res.status,
            body: text === '' ? undefined : text,
            headers: Object.fromEntries(res.headers),
          });
    return { status: res.status, body: body as T, text, headers: res.headers, violations };
  };
}

export const uuid = () => randomUUID();

/** Response JSON, untyped (tests assert on its shape). */
export const readJson = (res: Response): Promise<any> => res.json();

/** Follows `next` links until the end; returns every page. */
export async function allPages<T>(
  first: CallResult<T>,
  next: (page: CallResult<T>) => Promise<CallResult<T>> | undefined,
): Promise<CallResult<T>[]> {
  const pages = [first];
  for (;;) {
    const following = next(pages[pages.length - 1]!);
    if (!following) return pages;
    pages.push(await following);
    if (pages.length > 200) throw new Error('too many pages');
  }
}

/** A detached JWS-shaped x-jws-signature, as a TPP would send (not verified by the sandbox). */
export function fakeJwsSignature(kid = 'tpp-test-kid'): string {
  const header = Buffer.from(JSON.stringify({ alg: 'PS256', kid, typ: 'JOSE', cty: 'application/json' })).toString(
    'base64url',
  );
  return `${header}..${Buffer.from('not-a-real-signature').toString('base64url')}`;
}
