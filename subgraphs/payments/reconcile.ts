import { clientError, ErrorCode } from '../../lib/errors.ts';
import type { PaymentsLedger } from './domain/ports.ts';
import { reconcile, type Progress, type ReconciliationReport, type SettlementReport } from './domain/reconciliation.ts';

/**
 * Reconciliation wired to its sources: the ledger and the bank's settlement report. Used by
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
