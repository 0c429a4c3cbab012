import { createHash } from 'node:crypto';
import type { z } from 'zod';
import { PartnerError } from '../../../lib/errors.ts';
import type { HttpResponse } from '../../../lib/http-client.ts';
import type { Logger } from '../../../lib/logger.ts';

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
