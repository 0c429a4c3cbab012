import { describe, expect, it } from 'vitest';
import { GraphQLError } from 'graphql';
import { DEV_ID_HASH_SECRET } from '../../lib/config.ts';
import { encodeCursor } from '../../lib/pagination.ts';
import { isValidCreditorIdentification, maskIdentifier } from '../../subgraphs/payments/domain/creditor.ts';
import { PAYMENT_STATUSES, type PaymentStatus } from '../../subgraphs/payments/domain/model.ts';
import { cursorOf, paymentPageRequest, positionFromCursor } from '../../subgraphs/payments/domain/pagination.ts';
import {
  canTransition,
  isCoherentHistory,
  isFinalStatus,
  paymentStatusFromIso20022,
} from '../../subgraphs/payments/domain/status.ts';
import { sandboxPayments } from '../../subgraphs/payments/storage/seed.ts';
import { ALICE, BEN, NOW, SANDBOX_SEED } from './helpers.ts';

function badInput(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(GraphQLError);
    expect((err as GraphQLError).extensions.code).toBe('BAD_USER_INPUT');
    return (err as GraphQLError).message;
  }
  throw new Error('expected BAD_USER_INPUT');
}

describe('ISO 20022 payment status mapping', () => {
  it('maps the codes banks report onto the canonical lifecycle', () => {
    const expected: Record<string, PaymentStatus> = {
      RCVD: 'PENDING',
      PDNG: 'PENDING',
      ACTC: 'ACCEPTED',
      ACSP: 'ACCEPTED',
      ACWC: 'ACCEPTED',
      ACSC: 'SETTLED',
      ACCC: 'SETTLED',
      RJCT: 'REJECTED',
      CANC: 'CANCELLED',
      ACCP: 'ACCEPTED',
      ACFC: 'ACCEPTED',
      ACWP: 'ACCEPTED',
      PATC: 'AWAITING_AUTHORISATION',
      BLCK: 'FAILED',
    };
    for (const [code, status] of Object.entries(expected))
      expect([code, paymentStatusFromIso20022(code)]).toEqual([code, status]);
  });

  it('covers every status OBIE 4.0 domestic payments can report, and guesses nothing else', () => {
    const obie = [
      'RCVD',
      'CANC',
      'PDNG',
      'ACTC',
      'PATC',
      'ACCP',
      'ACFC',
      'ACSP',
      'ACWC',
      'ACSC',
      'ACWP',
      'ACCC',
      'BLCK',
      'RJCT',
    ];
    for (const code of obie) expect(paymentStatusFromIso20022(code)).not.toBeNull();
    for (const code of ['AUTH', 'AWAU', 'rjct', '', 'toString', '__proto__'])
      expect(paymentStatusFromIso20022(code)).toBeNull();
  });
});

describe('payment lifecycle', () => {
  it('allows the happy path and refunds only after settlement', () => {
    expect(
      isCoherentHistory([
        'CREATED',
        'AWAITING_AUTHORISATION',
        'AUTHORISED',
        'PENDING',
        'ACCEPTED',
        'SETTLED',
        'REFUNDED',
      ]),
    ).toBe(true);
    expect(canTransition('ACCEPTED', 'REFUNDED')).toBe(false);
    expect(canTransition('SETTLED', 'FAILED')).toBe(false);
  });

  it('never treats UNKNOWN as final, and ends at rejection, failure, cancellation or refund', () => {
    expect(isFinalStatus('UNKNOWN')).toBe(false);
    expect(canTransition('UNKNOWN', 'SETTLED')).toBe(true);
    for (const s of ['REJECTED', 'FAILED', 'CANCELLED', 'REFUNDED'] as const) expect(isFinalStatus(s)).toBe(true);
    expect(isFinalStatus('SETTLED')).toBe(false);
  });

  it('rejects histories that skip steps or do not start at CREATED', () => {
    expect(isCoherentHistory(['AWAITING_AUTHORISATION', 'AUTHORISED'])).toBe(false);
    expect(isCoherentHistory(['CREATED', 'SETTLED'])).toBe(false);
    expect(isCoherentHistory(['CREATED', 'AWAITING_AUTHORISATION', 'CANCELLED', 'AUTHORISED'])).toBe(false);
  });
});

describe('sandbox ledger', () => {
  const payments = sandboxPayments(SANDBOX_SEED, { idSecret: DEV_ID_HASH_SECRET, now: NOW });

  it('covers the lifecycle for every customer with a northwind GBP account, with coherent histories', () => {
    const alice = payments.filter((p) => p.customerId === ALICE);
    const perCustomer = Map.groupBy(payments, (p) => p.customerId);
    expect([...perCustomer.keys()].sort()).toEqual([ALICE, BEN].sort());
    for (const list of perCustomer.values()) {
      expect(list.length).toBeGreaterThanOrEqual(8);
      expect(list.length).toBeLessThanOrEqual(15);
    }
    const covered = new Set(alice.map((p) => p.status));
    for (const s of [
      'SETTLED',
      'ACCEPTED',
      'PENDING',
      'REJECTED',
      'CANCELLED',
      'REFUNDED',
      'FAILED',
      'UNKNOWN',
      'AWAITING_AUTHORISATION',
    ] as const)
      expect(covered).toContain(s);
    for (const p of payments) {
      const statuses = p.history.map((h) => h.status);
      expect(isCoherentHistory(statuses), `${p.status}: ${statuses.join(' > ')}`).toBe(true);
      expect(statuses.at(-1)).toBe(p.status);
      expect(p.updatedAt).toEqual(p.history.at(-1)!.at);
      expect(p.updatedAt.getTime()).toBeLessThanOrEqual(NOW.getTime());
      expect(p.history.every((h, i) => i === 0 || h.at >= p.history[i - 1]!.at)).toBe(true);
      expect(p.settledAt !== null).toBe(statuses.includes('SETTLED'));
      if (['REJECTED', 'FAILED', 'CANCELLED', 'UNKNOWN'].includes(p.status)) expect(p.statusReason).toBeTruthy();
      expect(isValidCreditorIdentification(p.creditor.scheme, p.creditor.identification)).toBe(true);
    }
  });

  it('spreads payments over the last months', () => {
    const ages = payments.map((p) => NOW.getTime() - p.createdAt.getTime());
    expect(Math.max(...ages)).toBeGreaterThan(90 * 86_400_000);
    expect(Math.min(...ages)).toBeLessThan(86_400_000);
  });
});

describe('creditor identification', () => {
  it('shows only the last four characters', () => {
    expect(maskIdentifier('20000055779911')).toBe('••••9911');
    expect(maskIdentifier('GB29NWBK60161331926819')).toBe('••••6819');
  });

  it('validates sort code + account number and IBAN checksums', () => {
    expect(isValidCreditorIdentification('SORT_CODE_ACCOUNT_NUMBER', '20000055779911')).toBe(true);
    expect(isValidCreditorIdentification('SORT_CODE_ACCOUNT_NUMBER', '20-00-00 55779911')).toBe(false);
    expect(isValidCreditorIdentification('IBAN', 'GB29NWBK60161331926819')).toBe(true);
    expect(isValidCreditorIdentification('IBAN', 'GB28NWBK60161331926819')).toBe(false);
  });
});

describe('payments page arguments', () => {
  it('defaults to 20, allows 0..100 and refuses more', () => {
    expect(paymentPageRequest(ALICE, {}).first).toBe(20);
    expect(paymentPageRequest(ALICE, { first: 100 }).query.limit).toBe(101);
    expect(paymentPageRequest(ALICE, { first: 0 }).first).toBe(0);
    badInput(() => paymentPageRequest(ALICE, { first: 101 }));
    badInput(() => paymentPageRequest(ALICE, { first: -1 }));
  });

  it('turns inclusive UTC dates into a half-open createdAt range', () => {
    const { query } = paymentPageRequest(ALICE, { filter: { from: '2026-11-01', to: '2026-11-23' } });
    expect(query.createdFrom?.toISOString()).toBe('2026-11-01T00:00:00.000Z');
    expect(query.createdBefore?.toISOString()).toBe('2026-11-24T00:00:00.000Z');
    expect(
      paymentPageRequest(ALICE, {
        filter: { from: '2026-11-23', to: '2026-11-23' },
      }).query.createdBefore?.toISOString(),
    ).toBe('2026-11-24T00:00:00.000Z');
    expect(badInput(() => paymentPageRequest(ALICE, { filter: { from: '2026-11-24', to: '2026-11-23' } }))).toMatch(
      /from/,
    );
    badInput(() => paymentPageRequest(ALICE, { filter: { from: '2026-02-30' } }));
  });

  it('filters by statuses without duplicates; no filter means any status', () => {
    expect(paymentPageRequest(ALICE, { filter: { status: ['SETTLED', 'SETTLED', 'PENDING'] } }).query.statuses).toEqual(
      ['SETTLED', 'PENDING'],
    );
    expect(paymentPageRequest(ALICE, { filter: {} }).query.statuses).toBeNull();
    expect(paymentPageRequest(ALICE, { filter: { status: [] } }).query.statuses).toEqual([]);
    badInput(() => paymentPageRequest(ALICE, { filter: { status: ['SENT' as PaymentStatus] } }));
    expect(PAYMENT_STATUSES).toHaveLength(11);
  });

  it('round-trips cursors and refuses forged or foreign ones', () => {
    const payment = { createdAtKey: '2026-11-23T10:15:00.123456Z', id: 'pay_aaaaaaaaaaaaaaaaaaaaaaaaaa' };
    expect(positionFromCursor(cursorOf(payment))).toEqual({ createdAt: payment.createdAtKey, id: payment.id });
    expect(positionFromCursor(null)).toBeNull();
    badInput(() => positionFromCursor('not a cursor'));
    badInput(() => positionFromCursor(encodeCursor({ t: '2026-11-23', id: payment.id })));
    badInput(() => positionFromCursor(encodeCursor({ t: payment.createdAtKey, id: "pay_'; DROP TABLE payments; --" })));
    badInput(() => positionFromCursor(encodeCursor({ t: payment.createdAtKey, id: 'acc_aaaaaaaaaaaaaaaaaaaaaaaaaa' })));
  });
});
