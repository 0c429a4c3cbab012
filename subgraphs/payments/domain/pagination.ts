import { clientError, ErrorCode } from '../../../lib/errors.ts';
import { isId } from '../../../lib/ids.ts';
import { decodeCursor, encodeCursor, pageSize } from '../../../lib/pagination.ts';
import { checkDate } from '../../../lib/scalars.ts';
import {
  PAYMENT_STATUSES,
  type PaymentListQuery,
  type PaymentModel,
  type PaymentPosition,
  type PaymentStatus,
} from './model.ts';

/**
 * Customer.payments arguments -> a validated keyset query.
 * - first: default 20, 0..100 (lib/pagination.ts);
 * - after: an opaque cursor holding the last item's (created_at, id) position; the next page is
 *   everything strictly older in (created_at DESC, id DESC) order, so items with equal
 *   timestamps are neither skipped nor repeated;
 * - filter.from / filter.to: inclusive UTC calendar dates on createdAt;
 * - filter.status: any of these statuses (an empty list matches nothing).
 */
export interface PaymentsArgs {
  first?: number | null;
  after?: string | null;
  filter?: { from?: string | null; to?: string | null; status?: readonly PaymentStatus[] | null } | null;
}

const KEY = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

export function cursorOf(payment: Pick<PaymentModel, 'createdAtKey' | 'id'>): string {
  return encodeCursor({ t: payment.createdAtKey, id: payment.id });
}

export function positionFromCursor(after: string | null | undefined): PaymentPosition | null {
  const decoded = decodeCursor(after, ['t', 'id'] as const);
  if (decoded === null) return null;
  const { t, id } = decoded;
  if (
    typeof t !== 'string' ||
    !KEY.test(t) ||
    Number.isNaN(Date.parse(t)) ||
    typeof id !== 'string' ||
    !isId(id, 'pay')
  ) {
    throw clientError(ErrorCode.BAD_USER_INPUT, 'after is not a valid cursor', { argument: 'after' });
  }
  return { createdAt: t, id };
}

function startOfUtcDay(date: string): Date {
  return new Date(`${checkDate(date)}T00:00:00.000Z`);
}

export interface PaymentPageRequest {
  first: number;
  query: PaymentListQuery;
}

export function paymentPageRequest(customerId: string, args: PaymentsArgs): PaymentPageRequest {
  const first = pageSize(args.first);
  const after = positionFromCursor(args.after);
  const from = args.filter?.from ? startOfUtcDay(args.filter.from) : null;
  const to = args.filter?.to ? new Date(startOfUtcDay(args.filter.to).getTime() + 86_400_000) : null;
  if (from && to && from >= to) {
    throw clientError(ErrorCode.BAD_USER_INPUT, 'filter.from must not be after filter.to', { argument: 'filter' });
  }
  const status = args.filter?.status;
  if (status && !status.every((s) => (PAYMENT_STATUSES as readonly string[]).includes(s))) {
    throw clientError(ErrorCode.BAD_USER_INPUT, 'filter.status contains an unknown status', { argument: 'filter' });
  }
  return {
    first,
    query: {
      customerId,
      limit: first + 1,
      after,
      createdFrom: from,
      createdBefore: to,
      statuses: status ? [...new Set(status)] : null,
    },
  };
}
