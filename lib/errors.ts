import { GraphQLError } from 'graphql';

/**
 * Error codes a client can act on. They travel in `extensions.code`; the message is safe to
 * show and never carries a stack trace or partner internals (see DESIGN.md, canonical model).
 */
export const ErrorCode = {
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  FORBIDDEN: 'FORBIDDEN',
  CONSENT_REQUIRED: 'CONSENT_REQUIRED',
  NOT_FOUND: 'NOT_FOUND',
  BAD_USER_INPUT: 'BAD_USER_INPUT',
  CONFLICT: 'CONFLICT',
  /**
   * A client already has as many consent requests awaiting a customer's decision as it may
   * (CONSENTS_MAX_PENDING_PER_CLIENT).
   */
  CONSENT_REQUEST_LIMIT_EXCEEDED: 'CONSENT_REQUEST_LIMIT_EXCEEDED',
  /** A money-moving mutation without an idempotency key (argument or Idempotency-Key header); HTTP 400. */
  IDEMPOTENCY_KEY_REQUIRED: 'IDEMPOTENCY_KEY_REQUIRED',
  /** The idempotency key was used before with another payload; nothing was executed (HTTP 422). */
  IDEMPOTENCY_KEY_REUSED: 'IDEMPOTENCY_KEY_REUSED',
  /** A request with this idempotency key is still being processed; retry later (HTTP 409). */
  IDEMPOTENCY_KEY_IN_USE: 'IDEMPOTENCY_KEY_IN_USE',
  /** The payment's current status does not allow what was asked (e.g. cancelling a settled payment). */
  PAYMENT_TRANSITION_NOT_ALLOWED: 'PAYMENT_TRANSITION_NOT_ALLOWED',
  PARTNER_UNAVAILABLE: 'PARTNER_UNAVAILABLE',
  PARTNER_CONTRACT_VIOLATION: 'PARTNER_CONTRACT_VIOLATION',
  INTERNAL_SERVER_ERROR: 'INTERNAL_SERVER_ERROR',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export function clientError(code: ErrorCode, message: string, extra: Record<string, unknown> = {}): GraphQLError {
  return new GraphQLError(message, { extensions: { code, ...extra } });
}

/** Raised by partner adapters; carries the partner's name so logs and errors say who broke. */
export class PartnerError extends Error {
  readonly partner: string;
  readonly kind: 'unavailable' | 'contract';
  readonly status: number | undefined;
  constructor(
    partner: string,
    kind: 'unavailable' | 'contract',
    message: string,
    opts: { status?: number; cause?: unknown } = {},
  ) {
    super(`${partner}: ${message}`, { cause: opts.cause });
    this.name = 'PartnerError';
    this.partner = partner;
    this.kind = kind;
    this.status = opts.status;
  }

  toGraphQLError(): GraphQLError {
    return this.kind === 'contract'
      ? clientError(
          ErrorCode.PARTNER_CONTRACT_VIOLATION,
          `${this.partner} returned data that violates its API contract`,
          { partner: this.partner },
        )
      : clientError(ErrorCode.PARTNER_UNAVAILABLE, `${this.partner} is unavailable`, { partner: this.partner });
  }
}
