import { randomUUID } from 'node:crypto';
import type { JwsSigner } from '../lib/jws.ts';
import type { Violation } from '../lib/openapi.ts';
import { breakSchema, header, type Dialect, type SandboxReply, type SandboxRequest } from '../lib/server.ts';

/**
 * How Northwind (an Open Banking UK 4.0 ASPSP) answers errors.
 *
 * Error bodies are OBErrorResponse1: `{ Code, Id, Message, Errors: [{ ErrorCode, Message, Path? }] }`
 * with ErrorCode from OBExternalStatusReason1Code (OB_Internal_CodeSet):
 *   U002 Field.Invalid, U004 Field.Missing, U006 Header.Invalid, U007 Header.Missing,
 *   U008 Resource.ConsentMismatch, U009 Resource.InvalidConsentStatus, U010 Resource.InvalidFormat,
 *   U011 Resource.NotFound, U017 Signature.MissingClaim, U018 Signature.Malformed,
 *   U019 Signature.Missing, U023 Unsupported.Currency, U028 Reauthenticate, U000 UnexpectedError.
 * 401, 404, 405 and 429 have no body (as the spec documents); every answer carries
 * x-fapi-interaction-id (echoed from the request, else a new UUID), and PIS answers with a body
 * carry a detached JWS of it in x-jws-signature.
 */
export const OBIE_AIS_BASE = '/open-banking/v4.0/aisp';
export const OBIE_PIS_BASE = '/open-banking/v4.0/pisp';

export interface ObError {
  ErrorCode: string;
  Message: string;
  Path?: string;
}

export function obError(status: number, requestId: string, errors: ObError[], message?: string): SandboxReply {
  return {
    status,
    body: {
      Code: String(status),
      Id: requestId.slice(0, 40),
      Message: (message ?? errors[0]?.Message ?? 'Error').slice(0, 500),
      Errors: errors.slice(0, 20).map((e) => ({
        ErrorCode: e.ErrorCode,
        Message: e.Message.slice(0, 500) || 'Invalid',
        ...(e.Path ? { Path: e.Path.slice(0, 500) } : {}),
      })),
    },
  };
}

/** 401 as OBIE documents it: no body. */
export function unauthorized(): SandboxReply {
  return { status: 401, headers: { 'www-authenticate': 'Bearer error="invalid_token"' } };
}

function pathOf(v: Violation): string | undefined {
  if (v.in === 'body') return (v.name ?? '').replace(/^\//, '').split('/').filter(Boolean).join('.') || undefined;
  return v.name;
}

export function violationToObError(v: Violation): ObError {
  const path = pathOf(v);
  const base = { Message: v.message, ...(path ? { Path: path } : {}) };
  const isSignature = (v.name ?? '').toLowerCase() === 'x-jws-signature';
  switch (v.in) {
    case 'header':
      if (v.keyword === 'required') return { ErrorCode: isSignature ? 'U019' : 'U007', ...base };
      return { ErrorCode: isSignature ? 'U018' : 'U006', ...base };
    case 'security':
      return {
        ErrorCode: 'U007',
        Message: 'Authorization header with a bearer token is required',
        Path: 'Authorization',
      };
    case 'body':
      if (v.keyword === 'json') return { ErrorCode: 'U010', ...base };
      if (v.keyword === 'required') return { ErrorCode: 'U004', ...base };
      return { ErrorCode: 'U002', ...base };
    case 'route':
      return { ErrorCode: 'U000', ...base };
    default:
      return { ErrorCode: 'U002', ...base };
  }
}

export function northwindDialect(signer: JwsSigner): Dialect {
  return {
    invalidRequest(violations: Violation[], req: SandboxRequest) {
      return obError(
        400,
        req.requestId,
        violations.map(violationToObError),
        'The request does not conform to the Open Banking specification',
      );
    },
    failure(status, _retryAfter, req) {
      if (status === 401 || status === 404 || status === 405 || status === 406 || status === 415 || status === 429)
        return { status };
      return obError(status, req.requestId, [{ ErrorCode: 'U000', Message: `Unexpected error (HTTP ${status})` }]);
    },
    notFound(_req, methodNotAllowed) {
      return { status: methodNotAllowed ? 405 : 404 };
    },
    schemaViolation: breakSchema,
    finalizeHeaders(req, _reply, payload) {
      const headers: Record<string, string> = {
        'x-fapi-interaction-id': header(req, 'x-fapi-interaction-id') ?? randomUUID(),
      };
      if (payload !== undefined && req.path.startsWith(OBIE_PIS_BASE)) {
        headers['x-jws-signature'] = signer.signDetached(payload, {
          'http://openbanking.org.uk/iat': Math.floor(Date.now() / 1000),
          'http://openbanking.org.uk/iss': 'northwind-sandbox',
          'http://openbanking.org.uk/tan': 'northwind.sandbox.local',
          crit: ['http://openbanking.org.uk/iat', 'http://openbanking.org.uk/iss', 'http://openbanking.org.uk/tan'],
        });
      }
      return headers;
    },
  };
}
