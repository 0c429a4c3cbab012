import type { PaymentStatus } from './model.ts';

/**
 * Payment status rules of the platform.
 *
 * ISO 20022 payment status codes (ExternalPaymentTransactionStatus1Code, as OBIE 4.0 domestic
 * payments report them) map onto the canonical PaymentStatus like this:
 *
 * | ISO 20022        | meaning                                                               | PaymentStatus          |
 * |------------------|-----------------------------------------------------------------------|------------------------|
 * | RCVD, PDNG       | received / pending at the bank                                        | PENDING                |
 * | PATC             | technically correct, needs further authorisation                      | AWAITING_AUTHORISATION |
 * | ACTC, ACSP, ACWC | accepted (technical validation / settlement in process / with change) | ACCEPTED               |
 * | ACCP, ACFC, ACWP | accepted (customer profile / funds checked / without posting)         | ACCEPTED               |
 * | ACSC, ACCC       | settlement completed on the debtor / creditor side                    | SETTLED                |
 * | RJCT             | rejected                                                              | REJECTED               |
 * | CANC             | cancelled                                                             | CANCELLED              |
 * | BLCK             | blocked: neither posted nor returned                                  | FAILED                 |
 *
 * Any other code is not part of the contract: the adapter that receives it must treat it as a
 * contract violation, never guess (paymentStatusFromIso20022 returns null).
 */
const ISO20022: Readonly<Record<string, PaymentStatus>> = {
  RCVD: 'PENDING',
  PDNG: 'PENDING',
  PATC: 'AWAITING_AUTHORISATION',
  ACTC: 'ACCEPTED',
  ACSP: 'ACCEPTED',
  ACWC: 'ACCEPTED',
  ACCP: 'ACCEPTED',
  ACFC: 'ACCEPTED',
  ACWP: 'ACCEPTED',
  ACSC: 'SETTLED',
  ACCC: 'SETTLED',
  RJCT: 'REJECTED',
  CANC: 'CANCELLED',
  BLCK: 'FAILED',
};

export function paymentStatusFromIso20022(code: string): PaymentStatus | null {
  return Object.hasOwn(ISO20022, code) ? ISO20022[code]! : null;
}

/**
 * The lifecycle: which status may follow which. A payment starts CREATED. UNKNOWN (outcome not
 * learnt from the bank yet, e.g. a timeout after submission) is never final: reconciliation
 * moves it on. REJECTED, FAILED, CANCELLED and REFUNDED are final; SETTLED is final except for
 * a full refund.
 */
export const PAYMENT_TRANSITIONS: Readonly<Record<PaymentStatus, readonly PaymentStatus[]>> = {
  CREATED: ['AWAITING_AUTHORISATION', 'REJECTED', 'FAILED', 'CANCELLED'],
  AWAITING_AUTHORISATION: ['AUTHORISED', 'REJECTED', 'FAILED', 'CANCELLED'],
  AUTHORISED: ['PENDING', 'ACCEPTED', 'SETTLED', 'REJECTED', 'FAILED', 'CANCELLED', 'UNKNOWN'],
  PENDING: ['ACCEPTED', 'SETTLED', 'REJECTED', 'FAILED', 'CANCELLED', 'UNKNOWN'],
  ACCEPTED: ['SETTLED', 'REJECTED', 'FAILED', 'CANCELLED', 'UNKNOWN'],
  UNKNOWN: ['PENDING', 'ACCEPTED', 'SETTLED', 'REJECTED', 'FAILED', 'CANCELLED'],
  SETTLED: ['REFUNDED'],
  REJECTED: [],
  FAILED: [],
  CANCELLED: [],
  REFUNDED: [],
};

export const INITIAL_PAYMENT_STATUS: PaymentStatus = 'CREATED';

export function canTransition(from: PaymentStatus, to: PaymentStatus): boolean {
  return PAYMENT_TRANSITIONS[from].includes(to);
}

export function isFinalStatus(status: PaymentStatus): boolean {
  return PAYMENT_TRANSITIONS[status].length === 0;
}

/** True when a status history starts at CREATED and every step is an allowed transition. */
export function isCoherentHistory(statuses: readonly PaymentStatus[]): boolean {
  if (statuses[0] !== INITIAL_PAYMENT_STATUS) return false;
  return statuses.every((s, i) => i === 0 || canTransition(statuses[i - 1]!, s));
}
