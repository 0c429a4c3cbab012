import { z } from 'zod';

/**
 * zod mirrors of the parts of the Open Banking UK Payment Initiation API 4.0
 * (shared/partner-specs/obie-payment-initiation-4.0.json) the adapter reads: the consent response
 * (OBWriteDomesticConsentResponse5), the payment response (OBWriteDomesticResponse5), the
 * error response (OBErrorResponse1), and the account identification of the Account and
 * Transaction API (OBReadAccount6) for the debtor. Fields the adapter does not read are not checked.
 */
const dateTime = z.string().datetime({ offset: true });
const amount = z.string().regex(/^\d{1,13}$|^\d{1,13}\.\d{1,5}$/, 'must be a decimal amount string');
const currency = z.string().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code');

export const consentResponse = z.object({
  Data: z.object({
    ConsentId: z.string().min(1).max(128),
    Status: z.enum(['AWAU', 'AUTH', 'RJCT', 'COND', 'EXPD']),
    StatusUpdateDateTime: dateTime,
    Initiation: z.object({ InstructedAmount: z.object({ Amount: amount, Currency: currency }) }),
  }),
});
export type ConsentResponse = z.infer<typeof consentResponse>;

export const paymentResponse = z.object({
  Data: z.object({
    DomesticPaymentId: z.string().min(1).max(40),
    ConsentId: z.string().min(1).max(128),
    Status: z.string().min(1).max(4),
    StatusUpdateDateTime: dateTime,
    StatusReason: z
      .array(z.object({ StatusReasonCode: z.string().optional(), StatusReasonDescription: z.string().optional() }))
      .optional(),
    Initiation: z.object({ InstructedAmount: z.object({ Amount: amount, Currency: currency }) }),
  }),
});
export type PaymentResponse = z.infer<typeof paymentResponse>;

export const errorResponse = z.object({
  Code: z.string().optional(),
  Errors: z.array(z.object({ ErrorCode: z.string(), Message: z.string(), Path: z.string().optional() })).min(1),
});

export const accountResponse = z.object({
  Data: z.object({
    Account: z
      .array(
        z.object({
          AccountId: z.string(),
          Currency: currency.optional(),
          Account: z.array(z.object({ SchemeName: z.string(), Identification: z.string().min(1).max(256) })).optional(),
        }),
      )
      .min(1),
  }),
});

/**
 * Northwind's webhook events (the sandbox documents them in sandboxes/northwind/events.ts; Standard
 * Webhooks signing): a payment's ISO 20022 status, and the PSU's decision on a consent. `Sequence`
 * orders one resource's events.
 */
export const paymentEvent = z.object({
  type: z.literal('payment.status_changed'),
  data: z.object({
    DomesticPaymentId: z.string().min(1).max(40),
    ConsentId: z.string().min(1).max(128),
    Status: z.string().min(1).max(4),
    StatusUpdateDateTime: dateTime,
    Sequence: z.number().int().min(1),
    StatusReason: z.array(z.object({ StatusReasonCode: z.string().optional() })).optional(),
    EndToEndIdentification: z.string().min(1).max(35),
    InstructedAmount: z.object({ Amount: amount, Currency: currency }),
  }),
});

export const consentEvent = z.object({
  type: z.literal('payment-consent.status_changed'),
  data: z.object({
    ConsentId: z.string().min(1).max(128),
    Status: z.string().min(1).max(4),
    StatusUpdateDateTime: dateTime,
    Sequence: z.number().int().min(1),
  }),
});

export const northwindEvent = z.discriminatedUnion('type', [paymentEvent, consentEvent]);
export type NorthwindEvent = z.infer<typeof northwindEvent>;

/**
 * One row of Northwind's daily settlement report (CSV with a header line: payment_id, end_to_end_id,
 * instruction_id, amount, currency, status, settled_at; documented in sandboxes/README.md).
 */
export const settlementRow = z.object({
  payment_id: z.string().min(1).max(40),
  end_to_end_id: z.string().min(1).max(35),
  instruction_id: z.string().max(35),
  amount: amount,
  currency: currency,
  status: z.enum(['SETTLED', 'REJECTED']),
  settled_at: dateTime,
});
export const settlementRows = z.array(settlementRow);
