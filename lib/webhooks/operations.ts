import type { Database, Queryable } from '../database.ts';
import { clientError, ErrorCode } from '../errors.ts';
import { decodeCursor, encodeCursor, pageSize, toConnection, type Connection } from '../pagination.ts';
import { hasScope, type Principal } from '../principal.ts';
import {
  listEvents,
  replayEvents,
  type InboxEvent,
  type InboxStatus,
  type ListFilter,
  type ReplayResult,
  type ReplaySelector,
} from './inbox.ts';

/**
 * The operators' GraphQL surface over a subgraph's webhook inbox (issue 10: "Same through GraphQL
 * for callers with an operator scope"), shared by every subgraph that owns an inbox (payments for
 * Northwind's events, identity for Onfido's) so that both list and replay with the same arguments,
 * pagination, data minimisation and authorization. The subgraph's service calls these and adds
 * what only it knows (which of its objects an event is about); `npm run webhooks` is the same
 * over the same inbox functions.
 *
 * - Who: a principal without a customer holding `webhooks:read` (listing) or `webhooks:replay`
 *   (replaying; it changes state, so the read-only audit scope never grants it). The gateway's
 *   policy refuses everyone else before a subgraph is called; the service checks again.
 * - What: never the raw body nor the stored headers (a partner's payload may carry personal data),
 *   and of the last error only its first line, bounded (never a stack trace).
 * - Pages: first (default 20, at most 100) and an opaque cursor over the list's order
 *   (received_at, inbox id), like every connection of the graph.
 */

/** The operators' names of the inbox statuses (the schema's WebhookEventStatus). */
export const OPERATOR_STATUSES = {
  PENDING: 'received',
  APPLIED: 'applied',
  FAILED: 'failed',
  DEAD_LETTERED: 'dead',
} as const satisfies Record<string, InboxStatus>;
export type OperatorEventStatus = keyof typeof OPERATOR_STATUSES;
const OPERATOR_STATUS_OF = Object.fromEntries(
  Object.entries(OPERATOR_STATUSES).map(([operator, inbox]) => [inbox, operator]),
) as Record<InboxStatus, OperatorEventStatus>;

export type WebhookScope = 'webhooks:read' | 'webhooks:replay';

/**
 * Only operators: no customer in the token and the scope. A customer, a third party, an auditor
 * with audit:read alone or a machine client gets FORBIDDEN, the same answer whatever it asked.
 */
export function requireWebhookOperator(principal: Principal | null, scope: WebhookScope): void {
  if (!principal || principal.customerId !== null || !hasScope(principal, scope))
    throw clientError(ErrorCode.FORBIDDEN, `Webhook operations are for operators with ${scope}`);
}

/** The arguments of a `...WebhookEvents` list field. */
export interface WebhookEventsArgs {
  first?: number | null;
  after?: string | null;
  filter?: {
    status?: readonly string[] | null;
    receivedFrom?: Date | null;
    receivedTo?: Date | null;
  } | null;
}

/** The arguments of a `replay...WebhookEvents` mutation: exactly one way of choosing. */
export interface WebhookReplayArgs {
  id?: string | null;
  receivedFrom?: Date | null;
  receivedTo?: Date | null;
  allFailed?: boolean | null;
}

/** An inbox event as operators see it. */
export interface WebhookEventView {
  /** Inbox id: what replay takes (and what `npm run webhooks` shows). */
  id: string;
  /** The partner's own id of the event. */
  eventId: string;
  partner: string;
  type: string;
  status: OperatorEventStatus;
  attempts: number;
  lastError: string | null;
  receivedAt: Date;
  /** When the worker tries again; only while FAILED (a dead-lettered event waits for a replay). */
  nextAttemptAt: Date | null;
  appliedAt: Date | null;
}

/** What a replay did, as operators see it: exact counts, and the ids (at most REPLAY_IDS_SHOWN of each). */
export interface WebhookReplayView {
  replayed: number;
  replayedIds: string[];
  alreadyApplied: number;
  alreadyAppliedIds: string[];
  alreadyPending: number;
  alreadyPendingIds: string[];
}

/** A replay over a busy day's range selects thousands of applied events: exact counts, bounded id lists. */
export const REPLAY_IDS_SHOWN = 100;
const LAST_ERROR_CHARS = 500;

/** The inbox as the operators' use cases need it (a subgraph's storage binds it to its database and clock). */
export interface WebhookInboxPort {
  list(filter: ListFilter): Promise<InboxEvent[]>;
  /** Requeues what the selector names (lib/webhooks replayEvents) at the subgraph's clock. */
  replay(selector: ReplaySelector): Promise<ReplayResult>;
}

/**
 * The inbox port on a subgraph's database. `now` is the subgraph's clock (the worker compares due
 * times with it, so a replay made on another clock could stay not due); `onRequeued` wakes the
 * subgraph's worker so a replayed event does not wait for its next poll.
 */
export function webhookInboxPort(
  db: Database | Queryable,
  options: { now: () => Date; onRequeued?: () => void },
): WebhookInboxPort {
  return {
    list: (filter) => listEvents(db, filter),
    async replay(selector) {
      const result = await replayEvents(db, selector, options.now());
      if (result.requeued.length > 0) options.onRequeued?.();
      return result;
    },
  };
}

const badInput = (message: string, argument: string) => clientError(ErrorCode.BAD_USER_INPUT, message, { argument });

function timeRange(
  from: Date | null | undefined,
  to: Date | null | undefined,
  argument: string,
): { from?: Date; to?: Date } {
  if (from && to && from >= to) throw badInput(`${argument}.receivedFrom must be before receivedTo`, argument);
  return { ...(from ? { from } : {}), ...(to ? { to } : {}) };
}

function positionFromCursor(after: string | null | undefined): ListFilter['after'] {
  const decoded = decodeCursor(after, ['t', 'id'] as const);
  if (decoded === null) return undefined;
  const at = typeof decoded.t === 'string' ? new Date(decoded.t) : new Date(Number.NaN);
  if (Number.isNaN(at.getTime()) || typeof decoded.id !== 'string' || !/^\d{1,18}$/.test(decoded.id))
    throw badInput('after is not a valid cursor', 'after');
  return { receivedAt: at, id: decoded.id };
}

/** The list arguments, validated, as an inbox query: first + 1 rows, so the page knows whether more follow. */
export function webhookEventsQuery(args: WebhookEventsArgs): { first: number; filter: ListFilter } {
  const first = pageSize(args.first);
  const after = positionFromCursor(args.after);
  const requested = args.filter?.status;
  if (requested && !requested.every((s) => s in OPERATOR_STATUSES))
    throw badInput('filter.status contains an unknown status', 'filter');
  const statuses = requested
    ? [...new Set(requested.map((s) => OPERATOR_STATUSES[s as OperatorEventStatus]))]
    : // What needs an operator's attention, as `npm run webhooks -- list` shows by default.
      [OPERATOR_STATUSES.FAILED, OPERATOR_STATUSES.DEAD_LETTERED];
  return {
    first,
    filter: {
      statuses,
      ...timeRange(args.filter?.receivedFrom, args.filter?.receivedTo, 'filter'),
      ...(after ? { after } : {}),
      limit: first + 1,
    },
  };
}

/** First line of the error, bounded: what went wrong, never a stack trace or a dump of the payload. */
function shortError(error: string | null): string | null {
  if (error === null) return null;
  const line = error.split(/\r?\n/, 1)[0]!.trim();
  return line.length > LAST_ERROR_CHARS ? `${line.slice(0, LAST_ERROR_CHARS - 1)}…` : line;
}

/** The operator's view of an event: no raw body, no headers. */
export function webhookEventView(e: InboxEvent): WebhookEventView {
  return {
    id: e.id,
    eventId: e.eventId,
    partner: e.source,
    type: e.type,
    status: OPERATOR_STATUS_OF[e.status],
    attempts: e.attempts,
    lastError: shortError(e.lastError),
    receivedAt: e.receivedAt,
    nextAttemptAt: e.status === 'failed' ? e.nextAttemptAt : null,
    appliedAt: e.appliedAt,
  };
}

/** A page of events (fetched with webhookEventsQuery's limit) as a connection of the subgraph's nodes. */
export function webhookEventConnection<T>(
  events: readonly InboxEvent[],
  first: number,
  node: (event: InboxEvent) => T,
): Connection<T> {
  const connection = toConnection([...events], first, (e) => encodeCursor({ t: e.receivedAt.toISOString(), id: e.id }));
  return { ...connection, edges: connection.edges.map((edge) => ({ cursor: edge.cursor, node: node(edge.node) })) };
}

/** The replay arguments as an inbox selector: exactly one of an id, a whole time range, or allFailed. */
export function webhookReplaySelector(args: WebhookReplayArgs): ReplaySelector {
  const byId = args.id !== null && args.id !== undefined;
  const byRange = Boolean(args.receivedFrom || args.receivedTo);
  const all = args.allFailed === true;
  if (Number(byId) + Number(byRange) + Number(all) !== 1)
    throw badInput('Replay one of: an id, a time range (receivedFrom with receivedTo), or allFailed: true', 'input');
  if (byId) return { id: args.id! };
  if (all) return { allFailed: true };
  if (!args.receivedFrom || !args.receivedTo)
    throw badInput('A time range needs both receivedFrom and receivedTo', 'input');
  const range = timeRange(args.receivedFrom, args.receivedTo, 'input');
  return { from: range.from!, to: range.to! };
}

/**
 * Replays through the port. An id that names no event (unknown, or not an inbox id at all) is
 * NOT_FOUND, as `npm run webhooks -- replay --id` says "no such event"; a range or allFailed that
 * selects nothing is an empty result.
 */
export async function replayWebhookEvents(
  inbox: WebhookInboxPort,
  args: WebhookReplayArgs,
): Promise<WebhookReplayView> {
  const selector = webhookReplaySelector(args);
  const result = await inbox.replay(selector);
  const selected = result.requeued.length + result.alreadyApplied.length + result.alreadyQueued.length;
  if ('id' in selector && selected === 0) throw clientError(ErrorCode.NOT_FOUND, 'No webhook event with this id');
  return {
    replayed: result.requeued.length,
    replayedIds: result.requeued.slice(0, REPLAY_IDS_SHOWN),
    alreadyApplied: result.alreadyApplied.length,
    alreadyAppliedIds: result.alreadyApplied.slice(0, REPLAY_IDS_SHOWN),
    alreadyPending: result.alreadyQueued.length,
    alreadyPendingIds: result.alreadyQueued.slice(0, REPLAY_IDS_SHOWN),
  };
}
