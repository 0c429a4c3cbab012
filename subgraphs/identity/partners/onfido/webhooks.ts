import { z } from 'zod';
import type { Queryable } from '../../../../lib/database.ts';
import { PartnerError } from '../../../../lib/errors.ts';
import type { Logger } from '../../../../lib/logger.ts';
import { onfidoVerifier, type ApplyFn, type WebhookSource } from '../../../../lib/webhooks/index.ts';
import type { KycCheckStatus } from '../../domain/model.ts';
import type { KycCheckLookup, KycCheckStore } from '../../domain/ports.ts';

/**
 * Onfido's check and report webhooks into the identity subgraph, on lib/webhooks. The receiver
 * verifies X-SHA2-Signature (hex HMAC-SHA256 of the raw body under the webhook token; the current
 * and, while rotating, the previous token) and stores the raw event in the inbox before answering
 * 2xx. Onfido's events carry no id: the inbox keys them by the SHA-256 of the body, so a
 * redelivery of the same event is a duplicate. The worker then applies a check's events one at a
 * time in the order of their times (started_at / completed_at).
 *
 * Onfido's payload says what happened to which resource, not the outcome: applying a check event
 * reads the check (GET /v3.6/checks/{id}, the href's resource) for its applicant and result, then
 * records the event's state in kyc_checks unless a newer state is already there (an older event
 * never moves a check backwards; a duplicate changes nothing). The read runs inside the worker's
 * transaction, bounded by ONFIDO_TIMEOUT_MS; when Onfido fails the event is retried with backoff
 * and ends dead-lettered, for `npm run webhooks -- replay`.
 */
export const ONFIDO_WEBHOOK_PATH = '/webhooks/onfido';
export const ONFIDO_SOURCE = 'onfido';

const uuid = z.string().regex(/^[0-9a-f]{8}-(?:[0-9a-f]{4}-){3}[0-9a-f]{12}$/i, 'must be a UUID');
const dateTime = z.iso.datetime({ offset: true });

/** components.schemas.webhook_event (payload: resource_type, action, object) for check and report events. */
export const onfidoWebhookEvent = z.object({
  payload: z.object({
    resource_type: z.enum(['check', 'report']),
    action: z.enum([
      'check.started',
      'check.reopened',
      'check.withdrawn',
      'check.completed',
      'check.form_completed',
      'report.withdrawn',
      'report.resumed',
      'report.cancelled',
      'report.awaiting_approval',
      'report.completed',
    ]),
    object: z.object({
      id: uuid,
      status: z.string().max(64).nullish(),
      started_at_iso8601: dateTime.nullish(),
      completed_at_iso8601: dateTime.nullish(),
      href: z.string().max(2048).nullish(),
    }),
  }),
});
export type OnfidoWebhookEvent = z.infer<typeof onfidoWebhookEvent>;

/** The state a check event puts the check in (by action: Onfido's object status is a broader enum). */
const CHECK_STATE: Record<string, KycCheckStatus> = {
  'check.started': 'IN_PROGRESS',
  'check.form_completed': 'IN_PROGRESS',
  'check.reopened': 'REOPENED',
  'check.completed': 'COMPLETE',
  'check.withdrawn': 'WITHDRAWN',
};

function eventTime(e: OnfidoWebhookEvent): Date | null {
  const at = e.payload.object.completed_at_iso8601 ?? e.payload.object.started_at_iso8601;
  return at ? new Date(at) : null;
}

/** The receiver's source: verify with the tokens, order events per check (or report) by their time. */
export function onfidoWebhookSource(tokens: readonly string[]): WebhookSource {
  return {
    source: ONFIDO_SOURCE,
    path: ONFIDO_WEBHOOK_PATH,
    verify: onfidoVerifier(tokens),
    describe: (body) => {
      const e = onfidoWebhookEvent.parse(body);
      return {
        type: e.payload.action,
        aggregateId: `${e.payload.resource_type}:${e.payload.object.id.toLowerCase()}`,
        occurredAt: eventTime(e),
      };
    },
  };
}

/**
 * Applies one event. `checks` reads a check at Onfido; `store(tx)` is the kyc_checks record bound
 * to the worker's transaction. Report events are acknowledged and change nothing: reports are
 * read from Onfido when asked for, and the check's own event carries the outcome.
 */
export function applyOnfidoEvent(opts: {
  checks: KycCheckLookup;
  store: (tx: Queryable) => KycCheckStore;
  logger: Logger;
}): ApplyFn {
  return async (event, { tx }) => {
    const parsed = onfidoWebhookEvent.safeParse(event.payload);
    if (!parsed.success)
      throw new PartnerError(ONFIDO_SOURCE, 'contract', `webhook ${event.id} is not an Onfido check or report event`);
    const e = parsed.data;
    if (e.payload.resource_type === 'report') return { result: `ignored: ${e.payload.action} (reports are read live)` };
    const status = CHECK_STATE[e.payload.action]!;
    const check = await opts.checks.getCheck(e.payload.object.id);
    if (!check) return { result: 'ignored: onfido does not know this check' };
    const at = eventTime(e) ?? event.receivedAt;
    // The outcome is the check's as Onfido has it now, if it is still complete; a check reopened since has none yet.
    const result = status === 'COMPLETE' && check.status === 'COMPLETE' ? check.result : null;
    const completedAt = status === 'COMPLETE' ? (eventTime(e) ?? null) : null;
    const outcome = await opts
      .store(tx)
      .record({ ...check, status, result, completedAt }, at, `${event.source}:${event.eventId}`);
    if (outcome === 'stale') return { result: `stale: ${status} at ${at.toISOString()} (a newer state is recorded)` };
    opts.logger.info({ action: e.payload.action, status, result }, 'kyc check updated from onfido webhook');
    return { result: `applied: ${status}${result ? ` ${result}` : ''}` };
  };
}
