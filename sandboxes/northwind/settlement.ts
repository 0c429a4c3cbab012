import { normaliseAmount } from '../../lib/money.ts';
import { PLATFORM_PARTNER_CREDENTIALS } from '../manifest.ts';
import { DAY } from '../lib/clock.ts';
import { bearerToken, type Route, type SandboxReply } from '../lib/server.ts';
import { paymentSteps, type NorthwindPisState, type SettlementBreak } from './pis.ts';

/**
 * Northwind's daily settlement report: the bank's own format (not OBIE), one CSV file per UTC
 * calendar day, RFC 4180, UTF-8, with this header line:
 *
 *   payment_id,end_to_end_id,instruction_id,amount,currency,status,settled_at
 *
 *   payment_id      DomesticPaymentId
 *   end_to_end_id   Initiation.EndToEndIdentification;  instruction_id  Initiation.InstructionIdentification
 *   amount          decimal string with 2 decimals (always positive);  currency  ISO 4217 (GBP)
 *   status          SETTLED (ACSC/ACCC) or REJECTED (RJCT, e.g. AM04 insufficient funds)
 *   settled_at      RFC 3339 UTC time the bank settled (or rejected) it; the row's day
 * Rows are the payments whose settlement (or rejection) time falls on that day, by settled_at then payment_id:
 * the time of their ACSC or RJCT status, for the payments made through the API and for those
 * loaded at start with their recorded histories (the seeded world) alike. A payment still in
 * process (PDNG, ACSP) or blocked (BLCK) is on no day's report.
 *
 *   GET /reports/settlement/{YYYY-MM-DD}   Authorization: Bearer <northwindPisToken>
 *     200 text/csv; `x-report-complete: true` once the day is over on the bank's clock (false: so far)
 *     400 malformed date, 401 unknown token, 404 a day in the future
 *
 * Test hook (sandbox mode): breaks the bank's side of a day's report, to exercise reconciliation:
 *   POST   /sandbox/settlement-reports/{date}/breaks  { kind, paymentId?, amount?, currency?, status? }
 *     missing_at_bank  paymentId: the row is left out
 *     extra_at_bank    a row the platform never sent (payment_id generated, amount default 12.34 GBP)
 *     amount_mismatch  paymentId, amount: the row carries this amount
 *     status_mismatch  paymentId, status (SETTLED|REJECTED): the row carries this status
 *   GET / DELETE /sandbox/settlement-reports/{date}/breaks
 */
export type { SettlementBreak };

export interface SettlementRow {
  payment_id: string;
  end_to_end_id: string;
  instruction_id: string;
  amount: string;
  currency: string;
  status: 'SETTLED' | 'REJECTED';
  settled_at: string;
}

export const SETTLEMENT_COLUMNS: Array<keyof SettlementRow> = [
  'payment_id',
  'end_to_end_id',
  'instruction_id',
  'amount',
  'currency',
  'status',
  'settled_at',
];

const DATE = /^\d{4}-\d{2}-\d{2}$/;

export function settlementRows(state: NorthwindPisState, date: string): SettlementRow[] {
  const start = Date.parse(`${date}T00:00:00.000Z`);
  const end = start + DAY;
  const now = state.now().getTime();
  const breaks = state.settlementBreaks.get(date) ?? [];
  const rows: SettlementRow[] = [];
  for (const payment of state.payments.values()) {
    // When the bank settled (ACSC) or rejected (RJCT) it; ACCC, the creditor's side, comes later.
    const final = paymentSteps(state, payment).find((s) => s.status === 'ACSC' || s.status === 'RJCT');
    if (!final) continue;
    const at = final.at.getTime();
    if (at < start || at >= end || at > now) continue;
    const init = payment.initiation;
    rows.push({
      payment_id: payment.paymentId,
      end_to_end_id: init.EndToEndIdentification,
      instruction_id: typeof init.InstructionIdentification === 'string' ? init.InstructionIdentification : '',
      amount: Number(normaliseAmount(init.InstructedAmount.Amount, init.InstructedAmount.Currency)).toFixed(2),
      currency: init.InstructedAmount.Currency,
      status: final.status === 'RJCT' ? 'REJECTED' : 'SETTLED',
      settled_at: final.at.toISOString(),
    });
  }
  let out = rows;
  for (const b of breaks) {
    if (b.kind === 'missing_at_bank') out = out.filter((r) => r.payment_id !== b.paymentId);
    else if (b.kind === 'amount_mismatch')
      out = out.map((r) => (r.payment_id === b.paymentId ? { ...r, amount: b.amount } : r));
    else if (b.kind === 'status_mismatch')
      out = out.map((r) => (r.payment_id === b.paymentId ? { ...r, status: b.status } : r));
    else
      out.push({
        payment_id: b.paymentId,
        end_to_end_id: `E2E-${b.paymentId.slice(-12)}`,
        instruction_id: '',
        amount: b.amount,
        currency: b.currency,
        status: b.status,
        settled_at: new Date(start + 12 * 3_600_000).toISOString(),
      });
  }
  return out.sort((a, b) => a.settled_at.localeCompare(b.settled_at) || a.payment_id.localeCompare(b.payment_id));
}

const csvCell = (v: string) => (/[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);

export function settlementCsv(rows: SettlementRow[]): string {
  return [SETTLEMENT_COLUMNS.join(','), ...rows.map((r) => SETTLEMENT_COLUMNS.map((c) => csvCell(r[c])).join(','))]
    .map((line) => `${line}\r\n`)
    .join('');
}

function parseBreak(body: unknown, state: NorthwindPisState): SettlementBreak | string {
  const b = (body && typeof body === 'object' ? body : {}) as Record<string, unknown>;
  const str = (k: string) => (typeof b[k] === 'string' && b[k] ? (b[k] as string) : undefined);
  const known = (id: string | undefined) => (id && state.payments.has(id) ? id : undefined);
  const amountOk = (a: string | undefined) => (a && /^\d{1,13}\.\d{2}$/.test(a) ? a : undefined);
  switch (b.kind) {
    case 'missing_at_bank': {
      const paymentId = known(str('paymentId'));
      return paymentId ? { kind: 'missing_at_bank', paymentId } : 'paymentId of a Northwind payment is required';
    }
    case 'extra_at_bank': {
      const amount = str('amount') ?? '12.34';
      if (!amountOk(amount)) return 'amount must be a decimal with 2 decimals';
      const status = str('status') ?? 'SETTLED';
      if (status !== 'SETTLED' && status !== 'REJECTED') return 'status must be SETTLED or REJECTED';
      return {
        kind: 'extra_at_bank',
        paymentId: str('paymentId') ?? `DPX${String(++state.extraRows).padStart(6, '0')}`,
        amount,
        currency: str('currency') ?? 'GBP',
        status,
      };
    }
    case 'amount_mismatch': {
      const paymentId = known(str('paymentId'));
      const amount = amountOk(str('amount'));
      return paymentId && amount
        ? { kind: 'amount_mismatch', paymentId, amount }
        : 'paymentId of a Northwind payment and amount (2 decimals) are required';
    }
    case 'status_mismatch': {
      const paymentId = known(str('paymentId'));
      const status = str('status');
      return paymentId && (status === 'SETTLED' || status === 'REJECTED')
        ? { kind: 'status_mismatch', paymentId, status }
        : 'paymentId of a Northwind payment and status SETTLED|REJECTED are required';
    }
    default:
      return 'kind must be missing_at_bank, extra_at_bank, amount_mismatch or status_mismatch';
  }
}

export function settlementRoutes(state: NorthwindPisState): Route[] {
  const badDate = (date: string | undefined): SandboxReply | undefined =>
    date && DATE.test(date) && !Number.isNaN(Date.parse(`${date}T00:00:00Z`))
      ? undefined
      : { status: 400, body: { error: 'date must be YYYY-MM-DD' } };
  return [
    {
      method: 'GET',
      path: '/reports/settlement/{date}',
      handler(req) {
        if (bearerToken(req) !== PLATFORM_PARTNER_CREDENTIALS.northwindPisToken)
          return { status: 401, headers: { 'www-authenticate': 'Bearer error="invalid_token"' } };
        const date = req.params.date;
        const refused = badDate(date);
        if (refused) return refused;
        const start = Date.parse(`${date}T00:00:00Z`);
        if (start > req.now.getTime()) return { status: 404, body: { error: 'no report for a future day' } };
        return {
          status: 200,
          headers: {
            'content-type': 'text/csv; charset=utf-8',
            'x-report-complete': String(req.now.getTime() >= start + DAY),
          },
          body: settlementCsv(settlementRows(state, date!)),
        };
      },
    },
    {
      method: 'POST',
      path: '/sandbox/settlement-reports/{date}/breaks',
      admin: true,
      handler(req) {
        const refused = badDate(req.params.date);
        if (refused) return refused;
        const parsed = parseBreak(req.body, state);
        if (typeof parsed === 'string') return { status: 400, body: { error: parsed } };
        const list = state.settlementBreaks.get(req.params.date!) ?? [];
        list.push(parsed);
        state.settlementBreaks.set(req.params.date!, list);
        return { status: 201, body: parsed };
      },
    },
    {
      method: 'GET',
      path: '/sandbox/settlement-reports/{date}/breaks',
      admin: true,
      handler: (req) => ({ status: 200, body: { breaks: state.settlementBreaks.get(req.params.date ?? '') ?? [] } }),
    },
    {
      method: 'DELETE',
      path: '/sandbox/settlement-reports/{date}/breaks',
      admin: true,
      handler(req) {
        state.settlementBreaks.delete(req.params.date ?? '');
        return { status: 204 };
      },
    },
  ];
}
