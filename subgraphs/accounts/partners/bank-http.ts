import { createHash } from 'node:crypto';
import type { z } from 'zod';
import { PartnerError } from '../../../lib/errors.ts';
import { createHttpClient, type HttpClient, type HttpResponse } from '../../../lib/http-client.ts';
import type { Logger } from '../../../lib/logger.ts';
import type { DependencyProtections } from '../../../lib/resilience-config.ts';
import { isCurrencyCode } from '../../../lib/money.ts';
import type { BankConnection } from '../domain/model.ts';

/**
 * Helpers every bank adapter uses at the boundary: a payload is validated against the zod
 * mirror of the spec before any field is read, and anything off-contract becomes
 * PartnerError(partner, 'contract', ...) logged with the partner's name. Never silently
 * wrong data.
 */
export function contractViolation(
  partner: string,
  logger: Logger,
  operation: string,
  message: string,
  details: Record<string, unknown> = {},
): PartnerError {
  logger.error({ partner, operation, ...details }, `${partner} ${operation}: contract violation: ${message}`);
  return new PartnerError(partner, 'contract', `${operation}: ${message}`);
}

/** Validates a payload against a schema; the error names the partner, the operation and the first offending paths. */
export function parsePayload<S extends z.ZodType>(
  partner: string,
  logger: Logger,
  operation: string,
  schema: S,
  body: unknown,
): z.infer<S> {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issues = result.error.issues.slice(0, 5).map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`);
  throw contractViolation(
    partner,
    logger,
    operation,
    `response does not match the API specification (${issues.join('; ')})`,
    { issues },
  );
}

/**
 * Non-2xx answers that the HTTP client did not already turn into an outage (4xx): the
 * partner refused the call (expired consent, revoked token, unknown account). From the
 * client's point of view the bank's data is unavailable; the status is kept for operators.
 */
export function expectOk(partner: string, logger: Logger, operation: string, res: HttpResponse): void {
  if (res.status >= 200 && res.status < 300) return;
  logger.warn({ partner, operation, status: res.status }, `${partner} ${operation} refused with HTTP ${res.status}`);
  throw new PartnerError(partner, 'unavailable', `${operation} answered HTTP ${res.status}`, { status: res.status });
}

/**
 * Resolves a partner "next page" link against the partner's base URL and refuses links to any
 * other origin or outside the API's base path: the access token must never be sent elsewhere.
 * Returns the path and query to request.
 */
export function sameOriginLink(
  partner: string,
  logger: Logger,
  operation: string,
  baseUrl: string,
  basePath: string,
  link: string,
): string {
  let url: URL;
  try {
    url = new URL(link, baseUrl);
  } catch {
    throw contractViolation(partner, logger, operation, 'next link is not a URL');
  }
  const base = new URL(baseUrl);
  if (url.origin !== base.origin || !url.pathname.startsWith(basePath)) {
    throw contractViolation(partner, logger, operation, 'next link points outside the API', {
      link: `${url.origin}${url.pathname}`,
    });
  }
  return `${url.pathname}${url.search}`;
}

/** A currency the bank names must be an ISO 4217 code the platform knows, or the payload is off-contract. */
export function knownCurrency(partner: string, logger: Logger, operation: string, currency: string): string {
  if (!isCurrencyCode(currency)) throw contractViolation(partner, logger, operation, `unknown currency ${currency}`);
  return currency;
}

/**
 * An amount the bank sent, converted to the canonical Money by `convert` (each standard writes
 * amounts its own way); one that cannot be represented without guessing (too many decimals for
 * the currency, out of range) is a contract violation naming the amount.
 */
export function representableAmount<T>(
  partner: string,
  logger: Logger,
  operation: string,
  amount: string,
  currency: string,
  convert: () => T,
): T {
  knownCurrency(partner, logger, operation, currency);
  try {
    return convert();
  } catch (err) {
    throw contractViolation(
      partner,
      logger,
      operation,
      `amount ${amount} ${currency} cannot be represented: ${(err as Error).message}`,
    );
  }
}

/**
 * The request plumbing every bank client shares: one resilient HTTP client per bank (named after
 * it, so its latency, errors and breaker are the bank's), GET calls carrying the headers the
 * bank's standard requires for a connection, refusals turned into PartnerError, and paging that
 * follows the bank's own next links only within its API. What differs between banks (paths,
 * headers, query parameters, payloads) stays in their client.ts and mapping.ts.
 */
export interface BankHttpOptions {
  /** Institution id: the HTTP client's name and the `partner` of every log line and error. */
  partner: string;
  baseUrl: string;
  /** The API's base path under baseUrl; next links outside it are refused. */
  basePath: string;
  timeoutMs: number;
  /** The bank's retries, bulkhead and breaker (<BANK>_* variables); unset: lib/http-client.ts's defaults. */
  protections?: DependencyProtections | undefined;
  logger: Logger;
  /** Injected for tests; defaults to the resilient client of lib/http-client.ts. */
  http?: HttpClient | undefined;
  /** The headers the bank's standard requires on every call made for a connection. */
  headers: (connection: BankConnection) => Record<string, string>;
}

export type BankQuery = Record<string, string | undefined>;

export interface BankHttp {
  readonly http: HttpClient;
  /** The caller's logger with the partner bound. */
  readonly logger: Logger;
  /** GET `path` for a connection; a refusal (non-2xx) throws PartnerError. The body is not validated yet. */
  get(operation: string, path: string, connection: BankConnection, query?: BankQuery): Promise<unknown>;
  /** The first page (`path` with `query`), or the page behind the bank's next link `pageToken` (same origin only). */
  page(
    operation: string,
    connection: BankConnection,
    first: { path: string; query: BankQuery },
    pageToken: string | null,
  ): Promise<unknown>;
}

export function createBankHttp(opts: BankHttpOptions): BankHttp {
  const { partner, baseUrl, basePath } = opts;
  const logger = opts.logger.child({ partner });
  const http =
    opts.http ?? createHttpClient({ name: partner, baseUrl, ...opts.protections, timeoutMs: opts.timeoutMs, logger });
  const get = async (operation: string, path: string, connection: BankConnection, query?: BankQuery) => {
    const headers = opts.headers(connection);
    const res = await http.request({ method: 'GET', path, operation, headers, ...(query ? { query } : {}) });
    expectOk(partner, logger, operation, res);
    return res.body;
  };
  return {
    http,
    logger,
    get,
    page: (operation, connection, first, pageToken) =>
      pageToken === null
        ? get(operation, first.path, connection, first.query)
        : get(operation, sameOriginLink(partner, logger, operation, baseUrl, basePath, pageToken), connection),
  };
}

/**
 * One call per distinct account (the banks have no batch endpoint for balances), in parallel,
 * keyed by the bank's account reference; any failure fails the whole batch of that connection.
 */
export async function perAccount<T>(
  bankAccountRefs: readonly string[],
  call: (bankAccountRef: string) => Promise<T>,
): Promise<Map<string, T>> {
  const refs = [...new Set(bankAccountRefs)];
  const results = await Promise.all(refs.map(call));
  return new Map(refs.map((ref, i) => [ref, results[i]!]));
}

/** A stable stand-in id for a transaction the bank reported without any id (both specs allow that). */
export function syntheticTransactionRef(...parts: (string | undefined | null)[]): string {
  return `h:${createHash('sha256')
    .update(parts.map((p) => p ?? '').join('\u0000'))
    .digest('base64url')
    .slice(0, 32)}`;
}

/** RFC 3339 date-time with a mandatory zone, as both specs require in responses. */
export const RFC3339_WITH_ZONE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/i;
export const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;
