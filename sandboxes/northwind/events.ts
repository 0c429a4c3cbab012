import type { WebhookOutbox } from '../lib/webhooks.ts';
import {
  paymentSteps,
  type DomesticPayment,
  type DomesticPaymentConsent,
  type NorthwindPisState,
  type PaymentStep,
} from './pis.ts';

/**
 * Northwind's webhooks (Standard Webhooks signing: sandboxes/lib/webhooks.ts). Two event types,
 * JSON, the event's time in `timestamp` (sandbox clock) and a per-resource `Sequence` (1, 2, 3...)
 * so a receiver can order what it gets out of order:
 *
 *   { "type": "payment.status_changed", "timestamp": "<StatusUpdateDateTime>",
 *     "data": { "DomesticPaymentId", "ConsentId", "Status": "ACSP"|"ACSC"|"ACCC"|"RJCT",
 *               "StatusUpdateDateTime", "Sequence", "StatusReason"?: [{ "StatusReasonCode": "AM04", ... }],
 *               "EndToEndIdentification", "InstructionIdentification",
 *               "InstructedAmount": { "Amount", "Currency" } } }
 *   { "type": "payment-consent.status_changed", "timestamp": "...",
 *     "data": { "ConsentId", "Status": "AUTH"|"RJCT", "StatusUpdateDateTime", "Sequence" } }
 *
 * webhook-id is stable per event: `msg_<DomesticPaymentId>_<Sequence>` / `msg_<ConsentId>_<Sequence>`
 * (a redelivery or a forced duplicate carries the same id).
 * A payment's events: ACSP (Sequence 1) when it is created; ACSC (2) or RJCT (2) at settlement;
 * ACCC (3) when the creditor is credited. They are queued as the sandbox clock passes each time
 * (the pump, or `flush()` in tests), so a clock moved far ahead queues them all at once.
 */
export function paymentTimeline(state: NorthwindPisState, payment: DomesticPayment): PaymentStep[] {
  return paymentSteps(state, payment);
}

/** Queues the status events of every payment that the clock has reached and that were not queued yet. */
export function queuePaymentEvents(state: NorthwindPisState, outbox: WebhookOutbox): void {
  if (!outbox.enabled) return;
  const now = state.now().getTime();
  for (const payment of state.payments.values()) {
    const timeline = paymentTimeline(state, payment);
    const sent = state.eventsQueued.get(payment.paymentId) ?? 0;
    for (let i = sent; i < timeline.length; i++) {
      const step = timeline[i]!;
      if (step.at.getTime() > now) break;
      const sequence = i + 1;
      const init = payment.initiation;
      outbox.enqueue(
        'payment.status_changed',
        {
          type: 'payment.status_changed',
          timestamp: step.at.toISOString(),
          data: {
            DomesticPaymentId: payment.paymentId,
            ConsentId: payment.consentId,
            Status: step.status,
            StatusUpdateDateTime: step.at.toISOString(),
            Sequence: sequence,
            ...(step.reason
              ? {
                  StatusReason: [
                    { StatusReasonCode: step.reason.code, StatusReasonDescription: step.reason.description },
                  ],
                }
              : {}),
            EndToEndIdentification: init.EndToEndIdentification,
            ...(typeof init.InstructionIdentification === 'string'
              ? { InstructionIdentification: init.InstructionIdentification }
              : {}),
            InstructedAmount: init.InstructedAmount,
          },
        },
        `msg_${payment.paymentId}_${sequence}`,
      );
      state.eventsQueued.set(payment.paymentId, sequence);
    }
  }
}

/** Queues the event of a consent decision (AUTH or RJCT) at the bank. */
export function queueConsentEvent(
  state: NorthwindPisState,
  outbox: WebhookOutbox,
  consent: DomesticPaymentConsent,
): void {
  const sequence = 2; // AWAU (1) is the consent's creation, answered synchronously.
  outbox.enqueue(
    'payment-consent.status_changed',
    {
      type: 'payment-consent.status_changed',
      timestamp: consent.statusUpdatedAt.toISOString(),
      data: {
        ConsentId: consent.consentId,
        Status: consent.status,
        StatusUpdateDateTime: consent.statusUpdatedAt.toISOString(),
        Sequence: sequence,
      },
    },
    `msg_${consent.consentId}_${sequence}`,
  );
}
