import { describe, expect, it } from 'vitest';
import { SANDBOX_SEED } from '../../sandboxes/manifest.ts';
import { createTestClock, DAY, HOUR } from '../../sandboxes/lib/clock.ts';
import { FaultRegistry, faultSpecFromJson, faultToJson } from '../../sandboxes/lib/faults.ts';
import { isValidIban, makeIban, northwindNumbers, rheinbankIban } from '../../sandboxes/lib/identifiers.ts';
import {
  createLedgerStore,
  entryStatus,
  formatMinor,
  generateLedger,
  ledgerAccounts,
  signedMinor,
} from '../../sandboxes/lib/ledger.ts';
import { createPrng, stableHash } from '../../sandboxes/lib/prng.ts';
import { T0 } from './helpers.ts';

describe('seeded PRNG', () => {
  it('is deterministic per key and differs between keys', () => {
    const a = createPrng(1, 'x');
    const b = createPrng(1, 'x');
    const c = createPrng(1, 'y');
    const seqA = Array.from({ length: 5 }, () => a.next());
    expect(Array.from({ length: 5 }, () => b.next())).toEqual(seqA);
    expect(Array.from({ length: 5 }, () => c.next())).not.toEqual(seqA);
    expect(stableHash([1, 'x'])).toBe(stableHash([1, 'x']));
    expect(stableHash([1, 'x'])).not.toBe(stableHash(['1', 'x']));
  });

  it('draws in range with sensible distributions', () => {
    const p = createPrng('range');
    const ints = Array.from({ length: 2000 }, () => p.int(3, 7));
    expect(Math.min(...ints)).toBe(3);
    expect(Math.max(...ints)).toBe(7);
    const floats = Array.from({ length: 2000 }, () => p.next());
    expect(floats.every((f) => f >= 0 && f < 1)).toBe(true);
    const mean = floats.reduce((s, f) => s + f, 0) / floats.length;
    expect(mean).toBeGreaterThan(0.45);
    expect(mean).toBeLessThan(0.55);
    const poisson = Array.from({ length: 2000 }, () => p.poisson(4));
    expect(poisson.reduce((s, n) => s + n, 0) / poisson.length).toBeGreaterThan(3.7);
    expect(poisson.reduce((s, n) => s + n, 0) / poisson.length).toBeLessThan(4.3);
    expect(p.uuid()).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(p.weighted(['a', 'b'], (x) => (x === 'a' ? 0 : 1))).toBe('b');
  });
});

describe('fault registry', () => {
  const target = {
    method: 'GET',
    path: '/open-banking/v4.0/aisp/accounts/22289',
    template: '/open-banking/v4.0/aisp/accounts/{AccountId}',
    specPath: '/accounts/{AccountId}',
  };

  it('matches by template, spec path, concrete path, RegExp and method', () => {
    for (const path of [
      '/open-banking/v4.0/aisp/accounts/{AccountId}',
      '/accounts/{AccountId}',
      '/open-banking/v4.0/aisp/accounts/22289',
      /accounts\/\d+$/,
    ]) {
      const faults = new FaultRegistry();
      faults.inject({ path, status: 503 });
      expect(faults.take(target)?.status).toBe(503);
    }
    const faults = new FaultRegistry();
    faults.inject({ path: '/accounts', status: 503 });
    faults.inject({ method: 'POST', status: 500 });
    expect(faults.take(target)).toBeUndefined();
    expect(faults.take({ ...target, method: 'POST' })?.status).toBe(500);
  });

  it('applies the first match, counts down `times` and can be removed or cleared', () => {
    const faults = new FaultRegistry();
    const once = faults.inject({ status: 500, times: 2 });
    faults.inject({ latencyMs: 5 });
    expect(faults.take(target)?.id).toBe(once.id);
    expect(faults.take(target)?.hits).toBe(2);
    expect(faults.take(target)?.latencyMs).toBe(5);
    expect(faults.list()).toHaveLength(1);
    const hang = faults.inject({ hang: true });
    expect(faults.remove(hang.id)).toBe(true);
    faults.clear();
    expect(faults.take(target)).toBeUndefined();
  });

  it('rejects nonsense and round-trips JSON', () => {
    const faults = new FaultRegistry();
    expect(() => faults.inject({})).toThrow(/needs latencyMs/);
    expect(() => faults.inject({ status: 200 })).toThrow(/status/);
    expect(() => faults.inject({ hang: true, status: 500 })).toThrow(/at most one/);
    expect(() => faultSpecFromJson({ status: 503, colour: 'red' })).toThrow(/unknown fault fields/);
    const spec = faultSpecFromJson({ pathRegex: '/accounts/\\d+', status: 429, retryAfterSeconds: 3, times: 1 });
    expect(spec.path).toBeInstanceOf(RegExp);
    expect(faultToJson(faults.inject(spec))).toMatchObject({
      pathRegex: new RegExp('/accounts/\\d+').source,
      status: 429,
      retryAfterSeconds: 3,
      times: 1,
    });
  });
});

describe('identifiers', () => {
  it('builds IBANs with valid check digits', () => {
    expect(makeIban('GB', 'WEST12345698765432')).toBe('GB82WEST12345698765432');
    expect(isValidIban(rheinbankIban(SANDBOX_SEED, 'x'))).toBe(true);
    expect(isValidIban(northwindNumbers(SANDBOX_SEED, '22289').iban)).toBe(true);
    expect(northwindNumbers(SANDBOX_SEED, '22289').sortCodeAccountNumber).toMatch(/^\d{14}$/);
  });
});

describe('ledger', () => {
  const anchor = new Date(T0);
  const alice = ledgerAccounts('northwind').find((a) => a.account.bankAccountId === '22289')!;

  it('is identical for the same seed and anchor, and different for another seed', () => {
    const a = generateLedger(alice, { seed: SANDBOX_SEED, anchor });
    const b = generateLedger(alice, { seed: SANDBOX_SEED, anchor });
    const c = generateLedger(alice, { seed: SANDBOX_SEED + 1, anchor });
    expect(b.entries()).toEqual(a.entries());
    expect(c.entries().map((e) => e.id)).not.toEqual(a.entries().map((e) => e.id));
  });

  it('keeps ids and amounts of a day stable when the sandbox starts on another day', () => {
    const a = generateLedger(alice, { seed: SANDBOX_SEED, anchor });
    const b = generateLedger(alice, { seed: SANDBOX_SEED, anchor: new Date(anchor.getTime() + 10 * DAY) });
    const day = (e: { createdAt: Date }) => Math.floor(e.createdAt.getTime() / DAY);
    const target = Math.floor(anchor.getTime() / DAY) - 100;
    const pick = (l: typeof a) =>
      l
        .entries()
        .filter((e) => day(e) === target)
        .map((e) => [e.id, e.amountMinor, e.description]);
    expect(pick(a).length).toBeGreaterThan(0);
    expect(pick(b)).toEqual(pick(a));
  });

  it('spans ~18 months with about transactionCount entries per account', () => {
    const store = createLedgerStore('northwind', { seed: SANDBOX_SEED, anchor });
    for (const acct of store.accounts()) {
      const ledger = store.get(acct.account.bankAccountId)!;
      const visible = ledger.visible(anchor);
      expect(visible.length).toBeGreaterThan(acct.account.transactionCount * 0.8);
      expect(visible.length).toBeLessThan(acct.account.transactionCount * 1.25);
      const oldest = visible[visible.length - 1]!.entry.createdAt.getTime();
      expect((anchor.getTime() - oldest) / DAY).toBeGreaterThan(540);
    }
  });

  it('keeps balances consistent with the entries', () => {
    const ledger = generateLedger(alice, { seed: SANDBOX_SEED, anchor });
    const t1 = new Date(anchor.getTime() - 30 * DAY);
    const between = ledger.entries().filter((e) => e.bookingAt > t1 && e.bookingAt <= anchor);
    expect(ledger.bookedBalanceMinor(anchor) - ledger.bookedBalanceMinor(t1)).toBe(
      between.reduce((s, e) => s + signedMinor(e), 0),
    );
    const lastBooked = ledger
      .entries()
      .filter((e) => e.bookingAt <= anchor)
      .at(-1)!;
    expect(lastBooked.balanceAfterMinor).toBe(ledger.bookedBalanceMinor(anchor));
    const pendingDebits = ledger.visible(anchor).filter((v) => v.status === 'pending' && v.entry.direction === 'DEBIT');
    expect(ledger.pendingMinor(anchor).debits).toBe(pendingDebits.reduce((s, v) => s + v.entry.amountMinor, 0));
    expect(formatMinor(-1234)).toBe('-12.34');
    expect(formatMinor(5)).toBe('0.05');
  });

  it('has recent pending card payments that book later under the same id', () => {
    const clock = createTestClock(anchor);
    const ledger = generateLedger(alice, { seed: SANDBOX_SEED, anchor });
    const pending = ledger.visible(clock.now()).filter((v) => v.status === 'pending');
    expect(pending.length).toBeGreaterThan(0);
    const entry = pending[0]!.entry;
    expect(entry.category).toMatch(/card|subscription|atm|chargeback/);
    clock.advance(4 * DAY);
    expect(entryStatus(entry, clock.now())).toBe('booked');
    expect(ledger.visible(clock.now()).find((v) => v.entry.id === entry.id)?.status).toBe('booked');
  });

  it('links reversals and chargebacks to an earlier original of the same amount', () => {
    const ledger = generateLedger(alice, { seed: SANDBOX_SEED, anchor });
    const linked = ledger.entries().filter((e) => e.original);
    const kinds = new Set(linked.map((e) => e.category));
    expect(kinds).toEqual(new Set(['reversal', 'chargeback']));
    for (const e of linked) {
      const original = ledger.get(e.original!.id)!;
      expect(original).toBeDefined();
      expect(original.amountMinor).toBe(e.amountMinor);
      expect(original.direction).toBe('DEBIT');
      expect(e.direction).toBe('CREDIT');
      expect(original.createdAt.getTime()).toBeLessThan(e.createdAt.getTime());
      expect(e.category === 'reversal' ? original.category : 'card').toBe(
        e.category === 'reversal' ? 'transfer-out' : original.category,
      );
    }
  });

  it('appends sandbox payments and recomputes running balances', () => {
    const ledger = generateLedger(alice, { seed: SANDBOX_SEED, anchor });
    const before = ledger.bookedBalanceMinor(new Date(anchor.getTime() + HOUR));
    ledger.append({
      id: 'NWTESTPAYMENT',
      reference: 'E2E',
      createdAt: anchor,
      bookingAt: new Date(anchor.getTime() + 60_000),
      valueAt: anchor,
      amountMinor: 1000,
      direction: 'DEBIT',
      category: 'payment',
      description: 'PAYMENT',
      iso: { domain: 'PMNT', family: 'ICDT', subFamily: 'DMCT' },
      proprietaryCode: 'PAYMENT',
    });
    expect(ledger.bookedBalanceMinor(new Date(anchor.getTime() + HOUR))).toBe(before - 1000);
    expect(ledger.visible(anchor).find((v) => v.entry.id === 'NWTESTPAYMENT')?.status).toBe('pending');
  });
});
