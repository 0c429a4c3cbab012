import { PartnerError } from '../../../../lib/errors.ts';
import type { Logger } from '../../../../lib/logger.ts';
import { standardWebhooksVerifier, type ApplyFn, type WebhookSource } from '../../../../lib/webhooks/index.ts';
import type { PaymentInitiation } from '../../domain/initiation.ts';
import { consentState, paymentStatusOf, reasonOf } from './mapping.ts';
import { northwindEvent } from './schemas.ts';

/**
 * Northwind's payment webhooks into the payments subgraph, on lib/webhooks: the receiver verifies
 * the Standard Webhooks signature (current and, while rotating, previous secret; five-minute
 * tolerance) and stores the raw event in the inbox (unique on its webhook-id) before answering
 * 2xx; the worker applies events of one bank resource (a payment, a consent) in their `Sequence`
 * order, inside the claiming transaction, so the ledger change and the 'applied' mark commit
 * together. A status that would move a payment backwards (an old event after a newer one, or
 * after the poller learnt more) is recorded as stale and changes nothing.
 */
export const NORTHWIND_WEBHOOK_PATH = '/webhooks/northwind';
export const NORTHWIND_SOURCE = 'northwind';

export function northwindWebhookSource(secrets: readonly string[]): WebhookSource {
  return {
    source: NORTHWIND_SOURCE,
    path: NORTHWIND_WEBHOOK_PATH,
    verify: standardWebhooksVerifier(secrets),
    describe: (payload) => {
      const event = northwindEvent.parse(payload);
      return event.type === 'payment.status_changed'
        ? {
            type: event.type,
            aggregateId: `payment:${event.data.DomesticPaymentId}`,
            sequence: event.data.Sequence,
            occurredAt: new Date(event.data.StatusUpdateDateTime),
          }
        : {
            type: event.type,
            aggregateId: `consent:${event.data.ConsentId}`,
            sequence: event.data.Sequence,
            occurredAt: new Date(event.data.StatusUpdateDateTime),
          };
    },
  };
}

/**
 * Applies one event. `inTransaction(tx)` is the payment initiation bound to the worker's
 * transaction; `afterCommit` runs follow-ups that call the bank (submitting a payment whose
 * consent the customer authorised), which must not hold the transaction open.
 */
export function applyNorthwindEvent(opts: {
  inTransaction: (tx: Parameters<ApplyFn>[1]['tx']) => PaymentInitiation;
  afterCommit: (paymentId: string) => void;
  logger: Logger;
}): ApplyFn {
  return async (event, { tx }) => {
    const parsed = northwindEvent.safeParse(event.payload);
    if (!parsed.success)
      throw new PartnerError('northwind', 'contract', `webhook ${event.eventId} is not a Northwind event`);
    const initiation = opts.inTransaction(tx);
    const e = parsed.data;
    if (e.type === 'payment.status_changed') {
      const status = paymentStatusOf(e.data.Status);
      if (!status)
        throw new PartnerError('northwind', 'contract', `payment status ${e.data.Status} is not in the contract`);
      const codes = (e.data.StatusReason ?? []).flatMap((r) => (r.StatusReasonCode ? [r.StatusReasonCode] : []));
      const before = await initiation.status(e.data.EndToEndIdentification);
      if (before === null) return { result: 'ignored: no such payment in the ledger' };
      const after = await initiation.applyBankPayment(e.data.EndToEndIdentification, {
        bankPaymentId: e.data.DomesticPaymentId,
        status,
        reason: reasonOf(status, codes),
        at: new Date(e.data.StatusUpdateDateTime),
        amount: { amount: e.data.InstructedAmount.Amount, currency: e.data.InstructedAmount.Currency },
      });
      return {
        result:
          after?.status === status && before !== status
            ? `applied: ${before} -> ${status}`
            : `stale: ${status} (payment is ${after?.status ?? before})`,
      };
    }
    const state = consentState(e.data.Status);
    if (state !== 'authorised' && state !== 'rejected') return { result: `ignored: consent ${e.data.Status}` };
    const after = await initiation.applyConsentDecision(e.data.ConsentId, state, new Date(e.data.StatusUpdateDateTime));
    if (!after) return { result: 'ignored: no payment with this consent' };
    if (after.status === 'AUTHORISED') opts.afterCommit(after.id);
    return { result: `consent ${state}: payment ${after.status}` };
  };
}
