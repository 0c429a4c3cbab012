import { normaliseAmount } from '../../../../lib/money.ts';
import type { PaymentStatus } from '../../domain/model.ts';
import type { PaymentOrder } from '../../domain/ports.ts';
import { paymentStatusFromIso20022 } from '../../domain/status.ts';

/**
 * Canonical payment order -> OBIE 4.0 domestic payment initiation, and the bank's statuses back.
 *
 * The body is a pure function of the ledger row (the payment id, amount, creditor, reference and
 * the debtor's identification), so every retry of a call sends byte-for-byte the same request under
 * the same x-idempotency-key: the bank answers it with the original resource instead of refusing a
 * changed body (OBIE: a changed body under one key must not change anything).
 */
export function initiationOf(order: PaymentOrder, debtorIdentification: string | null): Record<string, unknown> {
  const creditor =
    order.creditor.scheme === 'IBAN'
      ? { SchemeName: 'UK.OBIE.IBAN', Identification: order.creditor.identification, Name: order.creditor.name }
      : {
          SchemeName: 'UK.OBIE.SortCodeAccountNumber',
          Identification: order.creditor.identification,
          Name: order.creditor.name,
        };
  return {
    // The payment id (30 characters) identifies the instruction end to end: FPS carries 31.
    InstructionIdentification: order.paymentId,
    EndToEndIdentification: order.paymentId,
    LocalInstrument: 'UK.OBIE.FPS',
    InstructedAmount: {
      Amount: normaliseAmount(order.amount.amount, order.amount.currency),
      Currency: order.amount.currency,
    },
    ...(debtorIdentification
      ? { DebtorAccount: { SchemeName: 'UK.OBIE.SortCodeAccountNumber', Identification: debtorIdentification } }
      : {}),
    CreditorAccount: creditor,
    ...(order.reference ? { RemittanceInformation: { Unstructured: [order.reference] } } : {}),
  };
}

export const RISK = { PaymentContextCode: 'TransferToThirdParty' } as const;

/**
 * The canonical status of a consent: AWAU waits for the PSU, AUTH lets the platform submit, RJCT/EXPD end it; COND
 * means a payment was made from it.
 */
export function consentState(status: string): 'awaiting' | 'authorised' | 'rejected' | 'consumed' | null {
  switch (status) {
    case 'AWAU':
      return 'awaiting';
    case 'AUTH':
      return 'authorised';
    case 'RJCT':
    case 'EXPD':
      return 'rejected';
    case 'COND':
      return 'consumed';
    default:
      return null;
  }
}

/** The bank's ISO 20022 payment status as a PaymentStatus; null for a code outside the contract. */
export function paymentStatusOf(code: string): PaymentStatus | null {
  return paymentStatusFromIso20022(code);
}

/** A reason safe to show the customer, from the bank's status reason codes. */
export function reasonOf(status: PaymentStatus, codes: readonly string[]): string | null {
  if (status === 'REJECTED')
    return codes.includes('AM04')
      ? 'The bank rejected the payment because there were not enough funds in the account.'
      : 'The bank rejected the payment.';
  if (status === 'FAILED') return 'The bank could not execute the payment.';
  return null;
}
