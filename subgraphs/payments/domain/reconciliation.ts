import { clientError, ErrorCode } from '../../../lib/errors.ts';
import type { Money } from '../../../lib/money.ts';
import { normaliseAmount } from '../../../lib/money.ts';
import type { PaymentStatus } from './model.ts';
import type { LedgerPayment, PaymentsLedger } from './ports.ts';

/**
 * Reconciliation of one UTC day: the bank's settlement report against the ledger.
 *
 * The report lists the payments the bank settled (or rejected) that day. The ledger side is the
 * payments it recorded as settled (settled_at) or rejected by the bank (with a bank payment id)
 * that day. Rows and payments are matched by the end-to-end id the platform sends (the payment id)
 * and, failing that, by the bank's payment id. Every payment ends in exactly one bucket:
 *
 *   matched            in both, same amount and currency, same outcome
 *   MISSING_AT_BANK    the ledger says settled/rejected that day; the bank's report does not have it
 *   MISSING_IN_LEDGER  the bank reports a payment the ledger does not know
 *   AMOUNT_MISMATCH    in both, the amounts or currencies differ
 *   STATUS_MISMATCH    in both, the outcomes differ (including a ledger that has not learnt the outcome yet)
 */
export interface SettlementRow {
  bankPaymentId: string;
  endToEndId: string;
  amount: Money;
  status: 'SETTLED' | 'REJECTED';
  settledAt: Date;
}

export interface SettlementReport {
  date: string;
  /** False while the day is not over at the bank: rows may still come. */
  complete: boolean;
  rows: SettlementRow[];
}

export type BreakKind = 'MISSING_AT_BANK' | 'MISSING_IN_LEDGER' | 'AMOUNT_MISMATCH' | 'STATUS_MISMATCH';

export interface ReconciliationBreak {
  kind: BreakKind;
  /** The platform's payment id (null when the ledger has no such payment). */
  paymentId: string | null;
  /** The bank's payment id (null when the bank did not report it). */
  bankPaymentId: string | null;
  ledgerAmount: Money | null;
  bankAmount: Money | null;
  ledgerStatus: PaymentStatus | null;
  bankStatus: 'SETTLED' | 'REJECTED' | null;
}

export interface ReconciliationReport {
  date: string;
  institution: 'northwind';
  complete: boolean;
  bankRows: number;
  ledgerPayments: number;
  /** Payment ids that reconcile. */
  matched: string[];
  breaks: ReconciliationBreak[];
}

export interface ReconciliationPorts {
  /** The bank's settlement report of the day. */
  report(date: string): Promise<SettlementReport>;
  /** Ledger payments the bank settled or rejected on the day [start, end). */
  settledBetween(start: Date, end: Date): Promise<LedgerPayment[]>;
  /** Ledger payments by id, or by the bank's payment id. */
  byIds(ids: readonly string[]): Promise<LedgerPayment[]>;
  byBankIds(bankIds: readonly string[]): Promise<LedgerPayment[]>;
}

export type Progress = (step: string, done: number, total: number) => void;

const DATE = /^\d{4}-\d{2}-\d{2}$/;

export function checkReportDate(date: string, today: Date): void {
  const at = Date.parse(`${date}T00:00:00.000Z`);
  if (!DATE.test(date) || Number.isNaN(at) || new Date(at).toISOString().slice(0, 10) !== date)
    throw clientError(ErrorCode.BAD_USER_INPUT, 'date must be a calendar date YYYY-MM-DD', { field: 'date' });
  if (at > today.getTime())
    throw clientError(ErrorCode.BAD_USER_INPUT, 'date is in the future: there is no report yet', { field: 'date' });
}

const bankOutcome = (s: PaymentStatus): string => (s === 'SETTLED' || s === 'REFUNDED' ? 'SETTLED' : s);
const sameMoney = (a: Money, b: Money) =>
  a.currency === b.currency && normaliseAmount(a.amount, a.currency) === normaliseAmount(b.amount, b.currency);

export async function reconcile(
  date: string,
  ports: ReconciliationPorts,
  opts: { now: Date; progress?: Progress; batch?: number },
): Promise<ReconciliationReport> {
  checkReportDate(date, opts.now);
  const progress = opts.progress ?? (() => {});
  const batch = opts.batch ?? 500;
  progress('fetching the bank settlement report', 0, 1);
  const report = await ports.report(date);
  progress('fetching the bank settlement report', 1, 1);
  const start = new Date(`${date}T00:00:00.000Z`);
  const expected = await ports.settledBetween(start, new Date(start.getTime() + 86_400_000));

  // The ledger payments of the bank's rows, in batches (a busy day has many).
  const known = new Map<string, LedgerPayment>();
  const byBank = new Map<string, LedgerPayment>();
  for (const p of expected) known.set(p.id, p);
  for (let i = 0; i < report.rows.length; i += batch) {
    const slice = report.rows.slice(i, i + batch);
    for (const p of await ports.byIds(slice.map((r) => r.endToEndId))) known.set(p.id, p);
    const unmatched = slice.filter((r) => !known.has(r.endToEndId)).map((r) => r.bankPaymentId);
    if (unmatched.length > 0)
      for (const p of await ports.byBankIds(unmatched)) if (p.partnerPaymentId) byBank.set(p.partnerPaymentId, p);
    progress('matching the report with the ledger', Math.min(i + batch, report.rows.length), report.rows.length);
  }

  const matched: string[] = [];
  const breaks: ReconciliationBreak[] = [];
  const seen = new Set<string>();
  for (const row of report.rows) {
    const p = known.get(row.endToEndId) ?? byBank.get(row.bankPaymentId);
    if (!p) {
      breaks.push({
        kind: 'MISSING_IN_LEDGER',
        paymentId: null,
        bankPaymentId: row.bankPaymentId,
        ledgerAmount: null,
        bankAmount: row.amount,
        ledgerStatus: null,
        bankStatus: row.status,
      });
      continue;
    }
    seen.add(p.id);
    const common = {
      paymentId: p.id,
      bankPaymentId: row.bankPaymentId,
      ledgerAmount: p.amount,
      bankAmount: row.amount,
      ledgerStatus: p.status,
      bankStatus: row.status,
    };
    if (!sameMoney(p.amount, row.amount)) breaks.push({ kind: 'AMOUNT_MISMATCH', ...common });
    else if (bankOutcome(p.status) !== row.status) breaks.push({ kind: 'STATUS_MISMATCH', ...common });
    else matched.push(p.id);
  }
  for (const p of expected) {
    if (seen.has(p.id)) continue;
    breaks.push({
      kind: 'MISSING_AT_BANK',
      paymentId: p.id,
      bankPaymentId: p.partnerPaymentId,
      ledgerAmount: p.amount,
      bankAmount: null,
      ledgerStatus: p.status,
      bankStatus: null,
    });
  }
  return {
    date,
    institution: 'northwind',
    complete: report.complete,
    bankRows: report.rows.length,
    ledgerPayments: expected.length,
    matched,
    breaks,
  };
}

/**
 * Reconciliation wired to its sources: the ledger (its port) and the bank's settlement report. Used by
 * Query.paymentReconciliation (server.ts) and by `npm run reconcile` (scripts/reconcile.ts).
 */
export async function reconcilePayments(
  date: string,
  opts: {
    bank: { settlementReport(date: string): Promise<SettlementReport> } | null;
    ledger: Pick<PaymentsLedger, 'settledBetween' | 'byIds' | 'byBankIds'>;
    now: Date;
    progress?: Progress;
  },
): Promise<ReconciliationReport> {
  const bank = opts.bank;
  if (!bank)
    throw clientError(ErrorCode.PARTNER_UNAVAILABLE, 'The bank is not configured (NORTHWIND_PIS_TOKEN)', {
      partner: 'northwind',
    });
  return reconcile(
    date,
    {
      report: (d) => bank.settlementReport(d),
      settledBetween: (start, end) => opts.ledger.settledBetween(start, end),
      byIds: (ids) => opts.ledger.byIds(ids),
      byBankIds: (ids) => opts.ledger.byBankIds(ids),
    },
    { now: opts.now, ...(opts.progress ? { progress: opts.progress } : {}) },
  );
}
