import { clientError, ErrorCode, PartnerError } from '../../../lib/errors.ts';
import { bankTransactionId, isId } from '../../../lib/ids.ts';
import { decodeCursor, encodeCursor, toConnection, type Connection } from '../../../lib/pagination.ts';
import { olderReadTime } from '../../../lib/resilience.ts';
import { addDays, maxDate, minDate, utcDateOf } from './dates.ts';
import type { BankConnection, BankTransaction, LastKnown, TransactionModel, TransactionStatus } from './model.ts';
import type { AccountsRepository, BankAdapter, BankTransactionQuery, TransactionRef } from './ports.ts';

/**
 * Transactions are read from the bank on every request, never copied. How a page is fetched
 * without loading the whole history:
 *
 * - Order is newest first by occurredAt, then id (both descending). The cursor carries the
 *   (occurredAt, id) of the last row served, so the next page starts strictly after it.
 * - The walk starts at the newest date the page can contain (the `to` filter, the cursor's
 *   date, or open-ended for the first page so future-dated pending items are included) and goes
 *   back in date windows: 14 days first, doubling up to ~6 months per window. Each window is
 *   asked from the bank with the bank's own date filters (following its `next` links), then
 *   rows are assigned to windows by their exact UTC date; the bank is asked one day wider on
 *   each side because banks interpret dates in their own time zone.
 * - It stops as soon as it has first+1 matching rows (the extra one only says hasNextPage):
 *   every older window holds only older rows, so the page is exact. It also stops at the
 *   `from` filter, at the date the bank says its history starts, or after two years.
 * - So 20 rows of a busy current account cost one or two bank calls, and a quiet savings
 *   account costs a handful of wider windows, instead of 18 months of history per page.
 *
 * Reversals: the bank reports REVERSAL/CHARGEBACK entries with the id of the original. A
 * transaction is REVERSED when such an entry is seen in the rows fetched for the request or
 * was seen before (transaction_refs.reverses_transaction_id), so the link survives paging.
 */
export const WALK = {
  initialWindowDays: 14,
  maxWindowDays: 184,
  maxLookbackDays: 731,
  /** Extra days asked from the bank on each side of a window (time-zone slack). */
  partnerMarginDays: 1,
  /** Partner pages followed within one window before the bank is deemed to loop. */
  maxPagesPerWindow: 200,
} as const;

export interface TransactionFilterInput {
  from?: string | null;
  to?: string | null;
  status?: readonly TransactionStatus[] | null;
}

export interface TransactionsDeps {
  repo: AccountsRepository;
  idSecret: string;
  now: () => Date;
}

/** What the domain needs to know about the account whose transactions it reads. */
export interface AccountCoordinates {
  id: string;
  customerId: string;
  institution: string;
  bankAccountRef: string;
}

export function toTransactionModel(
  bank: BankTransaction,
  account: AccountCoordinates,
  idSecret: string,
): TransactionModel {
  const { reversesRef, status, ...rest } = bank;
  return {
    ...rest,
    reversesRef,
    id: bankTransactionId(idSecret, account.institution, account.bankAccountRef, bank.bankTransactionRef),
    status,
    accountId: account.id,
    customerId: account.customerId,
    institution: account.institution,
    bankAccountRef: account.bankAccountRef,
    reversesId:
      reversesRef === null
        ? null
        : bankTransactionId(idSecret, account.institution, account.bankAccountRef, reversesRef),
    reversedById: null,
  };
}

/** Newest first: occurredAt descending, then id descending. Negative when a comes first. */
export function compareNewestFirst(
  a: Pick<TransactionModel, 'occurredAt' | 'id'>,
  b: Pick<TransactionModel, 'occurredAt' | 'id'>,
): number {
  const dt = b.occurredAt.getTime() - a.occurredAt.getTime();
  if (dt !== 0) return dt;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

interface Position {
  occurredAt: Date;
  id: string;
}

export function transactionCursor(t: Pick<TransactionModel, 'occurredAt' | 'id'>): string {
  return encodeCursor({ t: t.occurredAt.toISOString(), id: t.id });
}

export function decodeTransactionCursor(after: string | null | undefined): Position | null {
  const raw = decodeCursor(after, ['t', 'id'] as const);
  if (raw === null) return null;
  const occurredAt = new Date(String(raw.t));
  if (Number.isNaN(occurredAt.getTime()) || !isId(String(raw.id), 'txn')) {
    throw clientError(ErrorCode.BAD_USER_INPUT, 'after is not a valid cursor', { argument: 'after' });
  }
  return { occurredAt, id: String(raw.id) };
}

function bookingStatusFor(
  statuses: readonly TransactionStatus[] | null | undefined,
): BankTransactionQuery['bookingStatus'] {
  if (!statuses || statuses.length === 0) return 'both';
  const pending = statuses.includes('PENDING');
  const booked = statuses.includes('BOOKED') || statuses.includes('REVERSED');
  return pending && !booked ? 'pending' : booked && !pending ? 'booked' : 'both';
}

/** Follows the bank's `next` links for one date window. */
export async function fetchTransactionWindow(
  adapter: BankAdapter,
  connection: BankConnection,
  bankAccountRef: string,
  query: BankTransactionQuery,
): Promise<{ transactions: BankTransaction[]; earliestAvailable: string | null } & LastKnown> {
  const transactions: BankTransaction[] = [];
  const seenTokens = new Set<string>();
  let token: string | null = null;
  let earliestAvailable: string | null = null;
  let lastKnownAt: string | undefined;
  for (let page = 0; ; page++) {
    if (page >= WALK.maxPagesPerWindow)
      throw new PartnerError(
        adapter.institution.id,
        'contract',
        `more than ${WALK.maxPagesPerWindow} transaction pages for one date window`,
      );
    const result = await adapter.listTransactions(connection, bankAccountRef, query, token);
    transactions.push(...result.transactions);
    earliestAvailable ??= result.earliestAvailable;
    lastKnownAt = olderReadTime(lastKnownAt, result.lastKnownAt);
    if (result.next === null) break;
    if (seenTokens.has(result.next))
      throw new PartnerError(
        adapter.institution.id,
        'contract',
        'transaction paging loops back to a page already read',
      );
    seenTokens.add(result.next);
    token = result.next;
  }
  return { transactions, earliestAvailable, ...(lastKnownAt ? { lastKnownAt } : {}) };
}

/**
 * Marks originals as REVERSED using the reversals known so far (this request's rows, then the
 * stored links), mutating the models in place.
 */
async function linkReversals(
  deps: TransactionsDeps,
  customerId: string,
  rows: readonly TransactionModel[],
  reversalOf: Map<string, string>,
): Promise<void> {
  const unknown = rows.filter((r) => r.status === 'BOOKED' && !reversalOf.has(r.id)).map((r) => r.id);
  if (unknown.length > 0) {
    for (const [original, reversal] of await deps.repo.reversalsOf(customerId, unknown))
      reversalOf.set(original, reversal);
  }
  for (const r of rows) {
    const reversal = reversalOf.get(r.id);
    if (reversal !== undefined && reversal !== r.id) {
      r.reversedById = reversal;
      if (r.status === 'BOOKED') r.status = 'REVERSED';
    }
  }
}

function toRef(t: TransactionModel): TransactionRef {
  return {
    transactionId: t.id,
    customerId: t.customerId,
    accountId: t.accountId,
    institution: t.institution,
    bankAccountRef: t.bankAccountRef,
    bankTransactionRef: t.bankTransactionRef,
    occurredOn: utcDateOf(t.occurredAt),
    reversesTransactionId: t.reversesId,
  };
}

export interface TransactionPageRequest {
  first: number;
  after: string | null | undefined;
  filter: TransactionFilterInput | null | undefined;
}

/** One page of an account's transactions; see the comment at the top of this file. */
export async function transactionsPage(
  deps: TransactionsDeps,
  adapter: BankAdapter,
  connection: BankConnection,
  account: AccountCoordinates,
  request: TransactionPageRequest,
): Promise<Connection<TransactionModel> & LastKnown> {
  const { first } = request;
  const cursor = decodeTransactionCursor(request.after);
  const filter = request.filter ?? {};
  const statuses = filter.status && filter.status.length > 0 ? new Set(filter.status) : null;
  const today = utcDateOf(deps.now());
  const floor = maxDate(filter.from, addDays(today, -WALK.maxLookbackDays))!;
  const top = minDate(filter.to, cursor ? utcDateOf(cursor.occurredAt) : null);
  const empty = toConnection<TransactionModel>([], first, transactionCursor);
  if (top !== null && top < floor) return empty;
  if (filter.from && filter.to && filter.from > filter.to) return empty;

  const bookingStatus = bookingStatusFor(filter.status);
  const seen = new Map<string, TransactionModel>();
  const reversalOf = new Map<string, string>();
  const matches: TransactionModel[] = [];
  const isAfterCursor = (t: TransactionModel) => cursor === null || compareNewestFirst(t, cursor) > 0;
  const inRange = (t: TransactionModel) => {
    const d = utcDateOf(t.occurredAt);
    return (!filter.from || d >= filter.from) && (!filter.to || d <= filter.to);
  };

  let windowHi: string | null = top;
  let windowDays: number = WALK.initialWindowDays;
  let lastKnownAt: string | undefined;
  for (;;) {
    const lo = maxDate(floor, addDays(windowHi ?? today, -(windowDays - 1)))!;
    const window = await fetchTransactionWindow(adapter, connection, account.bankAccountRef, {
      fromDate: addDays(lo, -WALK.partnerMarginDays),
      toDate: windowHi === null ? null : addDays(windowHi, WALK.partnerMarginDays),
      bookingStatus,
    });
    const { transactions, earliestAvailable } = window;
    lastKnownAt = olderReadTime(lastKnownAt, window.lastKnownAt);
    const inWindow = new Map<string, TransactionModel>();
    for (const bank of transactions) {
      const model = toTransactionModel(bank, account, deps.idSecret);
      const known = seen.get(model.id);
      if (!known) seen.set(model.id, model);
      const row = known ?? model;
      if (row.reversesId !== null && row.kind !== 'STANDARD') reversalOf.set(row.reversesId, row.id);
      const d = utcDateOf(row.occurredAt);
      if (d >= lo && (windowHi === null || d <= windowHi)) inWindow.set(row.id, row);
    }
    const windowRows = [...inWindow.values()];
    await linkReversals(deps, account.customerId, windowRows, reversalOf);
    for (const row of windowRows) {
      if (isAfterCursor(row) && inRange(row) && (statuses === null || statuses.has(row.status))) matches.push(row);
    }
    if (matches.length > first) break;
    if (lo <= floor) break;
    if (earliestAvailable !== null && lo <= earliestAvailable) break;
    windowHi = addDays(lo, -1);
    windowDays = Math.min(windowDays * 2, WALK.maxWindowDays);
  }

  matches.sort(compareNewestFirst);
  const connectionResult = toConnection(matches.slice(0, first + 1), first, transactionCursor);
  // Remember where the served rows live and every reversal link seen (both ends), so
  // transaction(id), entity references, `reverses` / `reversedBy` and later pages find them.
  const served = connectionResult.edges.map((e) => e.node);
  const reversals = [...seen.values()].filter((t) => t.reversesId !== null && t.kind !== 'STANDARD');
  const refs = new Map([...served, ...reversals].map((t) => [t.id, toRef(t)]));
  for (const r of reversals) {
    const original = seen.get(r.reversesId!);
    if (original) refs.set(original.id, toRef(original));
    else if (!refs.has(r.reversesId!) && r.reversesRef !== null) {
      // Not fetched yet (older than the windows walked): the reversal's date is the search hint.
      refs.set(r.reversesId!, {
        ...toRef(r),
        transactionId: r.reversesId!,
        bankTransactionRef: r.reversesRef,
        reversesTransactionId: null,
      });
    }
  }
  await deps.repo.upsertTransactionRefs([...refs.values()]);
  return lastKnownAt ? { ...connectionResult, lastKnownAt } : connectionResult;
}

/** How far around the stored date hint to look for a single transaction, first narrowly, then widely. */
const LOOKUP_BEFORE_DAYS = 7;
const LOOKUP_AFTER_DAYS = 14;
const LOOKUP_FALLBACK_BEFORE_DAYS = 92;

/**
 * Finds known transactions by reference (transaction(id), entity references, reverses /
 * reversedBy links): the stored reference names the account and a date hint; the bank is asked
 * for a window around it, then once for a wide window up to today if the transaction moved (a
 * pending item that booked later) or the hint is only approximate (the original of a reversal
 * not seen yet, hinted by the reversal's date). Returns null for ids the bank no longer reports.
 */
export async function findTransactions(
  deps: TransactionsDeps,
  adapterFor: (institution: string) => BankAdapter | undefined,
  connectionFor: (institution: string) => BankConnection | undefined,
  refs: readonly TransactionRef[],
): Promise<Map<string, TransactionModel | null>> {
  const found = new Map<string, TransactionModel | null>(refs.map((r) => [r.transactionId, null]));
  const byAccount = new Map<string, TransactionRef[]>();
  for (const r of refs) byAccount.set(r.accountId, [...(byAccount.get(r.accountId) ?? []), r]);

  await Promise.all(
    [...byAccount.values()].map(async (group) => {
      const first = group[0]!;
      const adapter = adapterFor(first.institution);
      const connection = connectionFor(first.institution);
      if (!adapter || !connection) return;
      const account: AccountCoordinates = {
        id: first.accountId,
        customerId: first.customerId,
        institution: first.institution,
        bankAccountRef: first.bankAccountRef,
      };
      const wanted = new Set(group.map((r) => r.bankTransactionRef));
      const rows = new Map<string, TransactionModel>();
      const reversalOf = new Map<string, string>();
      const collect = (list: BankTransaction[]) => {
        for (const bank of list) {
          const model = toTransactionModel(bank, account, deps.idSecret);
          if (model.reversesId !== null && model.kind !== 'STANDARD') reversalOf.set(model.reversesId, model.id);
          if (wanted.has(bank.bankTransactionRef) && !rows.has(model.id)) rows.set(model.id, model);
        }
      };
      // Cluster the date hints so a handful of nearby ids cost one bank window.
      const hints = [...new Set(group.map((r) => r.occurredOn))].sort();
      const clusters: { from: string; to: string }[] = [];
      for (const h of hints) {
        const last = clusters.at(-1);
        if (last && h <= addDays(last.to, 31)) last.to = h;
        else clusters.push({ from: h, to: h });
      }
      for (const c of clusters) {
        const { transactions } = await fetchTransactionWindow(adapter, connection, account.bankAccountRef, {
          fromDate: addDays(c.from, -LOOKUP_BEFORE_DAYS),
          toDate: addDays(c.to, LOOKUP_AFTER_DAYS),
          bookingStatus: 'both',
        });
        collect(transactions);
      }
      const missing = group.filter(
        (r) => ![...rows.values()].some((m) => m.bankTransactionRef === r.bankTransactionRef),
      );
      if (missing.length > 0) {
        const earliest = missing.map((r) => r.occurredOn).sort()[0]!;
        const { transactions } = await fetchTransactionWindow(adapter, connection, account.bankAccountRef, {
          fromDate: addDays(earliest, -LOOKUP_FALLBACK_BEFORE_DAYS),
          toDate: null,
          bookingStatus: 'both',
        });
        collect(transactions);
      }
      const models = [...rows.values()];
      await linkReversals(deps, account.customerId, models, reversalOf);
      for (const m of models) found.set(m.id, m);
    }),
  );
  return found;
}
