import pino, { type Logger } from 'pino';
import { currentRequestContext } from './request-context.ts';

/**
 * Paths that must never reach a log line: credentials, tokens and personal data.
 * pino's redaction is applied at serialisation time, so a careless `log.info({ headers })`
 * still cannot leak a bearer token.
 */
const REDACT = [
  'authorization',
  '*.authorization',
  '*.*.authorization',
  'headers.authorization',
  'req.headers.authorization',
  'headers["x-internal-auth"]',
  '*.headers["x-internal-auth"]',
  'dpop',
  '*.dpop',
  'token',
  '*.token',
  'accessToken',
  '*.accessToken',
  'access_token',
  '*.access_token',
  'password',
  '*.password',
  'secret',
  '*.secret',
  'clientSecret',
  '*.clientSecret',
  'email',
  '*.email',
  'phone',
  '*.phone',
  'dateOfBirth',
  '*.dateOfBirth',
  'legalName',
  '*.legalName',
  'address',
  '*.address',
  'iban',
  '*.iban',
  'accountNumber',
  '*.accountNumber',
];

export function createLogger(service: string, level = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({
    level,
    base: { service },
    redact: { paths: REDACT, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
    // Every line written inside a request carries its correlation ids.
    mixin() {
      const ctx = currentRequestContext();
      return ctx ? { requestId: ctx.requestId, traceparent: ctx.traceparent } : {};
    },
  });
}

export type { Logger };
