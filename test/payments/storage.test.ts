import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEV_ID_HASH_SECRET } from '../../lib/config.ts';
import { newId } from '../../lib/ids.ts';
import type { PaymentModel, PaymentStatus } from '../../subgraphs/payments/domain/model.ts';
import { cursorOf, paymentPageRequest, type PaymentsArgs } from '../../subgraphs/payments/domain/pagination.ts';
import {
  createPaymentsLedger,
  createPaymentsRepository,
  createPaymentWebhookInbox,
  type NewPayment,
  type PaymentsStore,
} from '../../subgraphs/payments/storage/repository.ts';
import { applySeed, debtorAccountsFromSeed, sandboxPayments } from '../../subgraphs/payments/storage/seed.ts';
import { createPaymentInitiation } from '../../subgraphs/payments/domain/initiation.ts';
import { reconcilePayments } from '../../subgraphs/payments/domain/reconciliation.ts';
import { createPaymentsService } from '../../subgraphs/payments/domain/service.ts';
import { createPaymentsLoaders } from '../../subgraphs/payments/loaders.ts';
import {
  ALICE,
  BACKENDS,
  BEN,
  customerPrincipal,
  NOW,
  openTestDatabase,
  SANDBOX_SEED,
  silentLogger,
  type TestDatabase,
} from './helpers.ts';

const debtor = 'acc_aaaaaaaaaaaaaaaaaaaaaaaaaa';

function payment(customerId: string, createdAt: string, overrides: Partial<NewPayment> = {}): NewPayment {
  const at = new Date(createdAt);
  const status: PaymentStatus = overrides.status ?? 'AWAITING_AUTHORISATION';
  return {
    id: newId('pay'),
    customerId,
    debtorAccountId: debtor,
    amount: '10.00',
    currency: 'GBP',
    creditor: { name: 'Test Creditor', scheme: 'SORT_CODE_ACCOUNT_NUMBER', identification: '12345612345678' },
    reference: 'TEST',
    status,
    statusReason: null,
    createdAt: at,
    updatedAt: at,
    settledAt: null,
    partner: 'northwind',
    partnerConsentId: null,
    partnerPaymentId: null,
    history: [
      { status: 'CREATED', at, reason: null },
      { status, at, reason: null },
    ],
    ...overrides,
  };
}

/** Every item of a customer's payments, page by page, through the cursors. */
async function pageThrough(
  repo: PaymentsStore,
  customerId: string,
  first: number,
  args: PaymentsArgs = {},
): Promise<PaymentModel[][]> {
  const pages: PaymentModel[][] = [];
  let after: string | null = null;
  for (let i = 0; i < 100; i++) {
    const { query, first: n } = paymentPageRequest(customerId, { ...args, first, after });
    const rows = await repo.list(query);
    const page = rows.slice(0, n);
    pages.push(page);
    if (rows.length <= n) return pages;
    after = cursorOf(page.at(-1)!);
  }
  throw new Error('pagination did not end');
}

describe.each(BACKENDS)('payments ledger on %s', (backend) => {
  let t: TestDatabase;
  let repo: PaymentsStore;

  beforeAll(async () => {
    t = await openTestDatabase(backend);
    repo = createPaymentsRepository(t.db);
  });
  afterAll(async () => {
    await t?.dispose();
  });

  it('seeds the sandbox ledger once, however often and whenever it runs', async () => {
    const expected = sandboxPayments(SANDBOX_SEED, { idSecret: DEV_ID_HASH_SECRET, now: NOW });
    expect(await applySeed(t.db, SANDBOX_SEED, { idSecret: DEV_ID_HASH_SECRET, now: NOW, logger: silentLogger })).toBe(
      expected.length,
    );
    expect(await applySeed(t.db, SANDBOX_SEED, { idSecret: DEV_ID_HASH_SECRET, now: NOW, logger: silentLogger })).toBe(
      0,
    );
    const later = new Date(NOW.getTime() + 7 * 86_400_000);
    expect(
      await applySeed(t.db, SANDBOX_SEED, { idSecret: DEV_ID_HASH_SECRET, now: later, logger: silentLogger }),
    ).toBe(0);
    const [{ count }] = (await t.db.query<{ count: number }>('SELECT count(*)::int AS count FROM payments')) as [
      { count: number },
    ];
    expect(count).toBe(expected.length);
  });

  it("reads a seeded payment back exactly, with its history oldest first and without the bank's identifiers", async () => {
    const expected = sandboxPayments(SANDBOX_SEED, { idSecret: DEV_ID_HASH_SECRET, now: NOW }).find(
      (p) => p.customerId === ALICE && p.status === 'REFUNDED',
    )!;
    const [read] = await repo.findByIds([expected.id]);
    expect(read).toMatchObject({
      id: expected.id,
      customerId: ALICE,
      debtorAccountId: expected.debtorAccountId,
      amount: { amount: expected.amount, currency: 'GBP' },
      creditor: expected.creditor,
      reference: expected.reference,
      status: 'REFUNDED',
      statusReason: expected.statusReason,
      createdAt: expected.createdAt,
      updatedAt: expected.updatedAt,
      settledAt: expected.settledAt,
    });
    expect(Object.keys(read!).some((k) => k.startsWith('partner'))).toBe(false);
    expect((await repo.historyOf([expected.id])).get(expected.id)).toEqual(expected.history);
  });

  it("finds payments by id whoever owns them: ownership is decided by the service alone, which gives Ben none of Alice's", async () => {
    const alices = sandboxPayments(SANDBOX_SEED, { idSecret: DEV_ID_HASH_SECRET, now: NOW }).filter(
      (p) => p.customerId === ALICE,
    );
    expect((await repo.findByIds([alices[0]!.id])).map((p) => p.customerId)).toEqual([ALICE]);
    expect(await repo.findByIds([])).toEqual([]);
    const serviceFor = (customerId: string) =>
      createPaymentsService({
        principal: customerPrincipal(customerId),
        loaders: createPaymentsLoaders(repo),
        repository: repo,
        // Reads only: no bank is configured, so initiation would answer PARTNER_UNAVAILABLE.
        initiation: createPaymentInitiation({
          ledger: createPaymentsLedger(t.db),
          bank: null,
          debtors: debtorAccountsFromSeed(SANDBOX_SEED, DEV_ID_HASH_SECRET),
          now: () => NOW,
          logger: silentLogger,
        }),
        reconcile: (date) => reconcilePayments(date, { bank: null, ledger: createPaymentsLedger(t.db), now: NOW }),
        webhookInbox: createPaymentWebhookInbox(t.db, { now: () => NOW }),
      });
    expect((await serviceFor(ALICE).payment(alices[0]!.id))?.id).toBe(alices[0]!.id);
    expect(await serviceFor(BEN).payment(alices[0]!.id)).toBeNull();
    expect(await serviceFor(BEN).paymentReference(alices[0]!.id)).toBeNull();
  });

  it('the poller takes payments in progress round-robin: stuck ones cannot starve newer ones, each is asked once per grace', async () => {
    const ledger = createPaymentsLedger(t.db);
    const customer = 'cus_pollpollpollpollpollpollpo';
    // Three payments nobody authorises, older than a fourth that needs following too.
    const stuck = ['2026-01-01T00:00:00Z', '2026-01-01T00:01:00Z', '2026-01-01T00:02:00Z'].map((at, i) =>
      payment(customer, at, { partnerConsentId: `poll-consent-${i}-${backend}` }),
    );
    const newer = payment(customer, '2026-01-02T00:00:00Z', { partnerConsentId: `poll-consent-new-${backend}` });
    for (const p of [...stuck, newer]) await repo.insertIfAbsent(p);
    const ids = new Set([...stuck, newer].map((p) => p.id));
    const round = async (now: string, graceMs = 0) => {
      const at = new Date(now);
      const due = await ledger.open(new Date(at.getTime() - graceMs), 2, at);
      return due.map((p) => p.id).filter((id) => ids.has(id));
    };
    // The batch holds 2: the two oldest first, then the others, then the first two again.
    const first = await round('2026-02-01T00:00:00Z');
    expect(first).toEqual([stuck[0]!.id, stuck[1]!.id]);
    const second = await round('2026-02-01T00:00:10Z');
    expect(second).toEqual([stuck[2]!.id, newer.id]);
    expect(await round('2026-02-01T00:00:20Z')).toEqual(first);
    // With a grace of a minute, nothing polled in the last minute is asked again.
    expect(await round('2026-02-01T00:00:30Z', 60_000)).toEqual([]);
    expect(await round('2026-02-01T00:01:15Z', 60_000)).toEqual(second);
  });

  it('lists newest first and pages through every payment exactly once', async () => {
    const all = sandboxPayments(SANDBOX_SEED, { idSecret: DEV_ID_HASH_SECRET, now: NOW }).filter(
      (p) => p.customerId === ALICE,
    );
    const expectedOrder = [...all]
      .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : -1))
      .map((p) => p.id);
    const pages = await pageThrough(repo, ALICE, 4);
    expect(pages.flat().map((p) => p.id)).toEqual(expectedOrder);
    expect(pages.slice(0, -1).every((p) => p.length === 4)).toBe(true);
  });

  it('pages correctly through payments that share a timestamp, down to the microsecond', async () => {
    const customer = 'cus_tttttttttttttttttttttttttt';
    const same = '2026-05-05T05:05:05.000Z';
    const batch = [
      ...Array.from({ length: 7 }, () => payment(customer, same)),
      payment(customer, '2026-05-05T05:05:06.000Z'),
      payment(customer, '2026-05-05T05:05:04.000Z'),
      payment(customer, '2026-05-05T05:05:05.000Z'),
      payment(customer, '2026-05-05T05:05:05.000Z'),
    ];
    for (const p of batch) await repo.insertIfAbsent(p);
    // Two rows a microsecond apart from the shared timestamp: a millisecond cursor would lose them.
    await t.db.query(
      `UPDATE payments SET created_at = created_at + interval '1 microsecond', updated_at = updated_at + interval '1 microsecond' WHERE id = $1`,
      [batch[9]!.id],
    );
    await t.db.query(
      `UPDATE payments SET created_at = created_at + interval '2 microseconds', updated_at = updated_at + interval '2 microseconds' WHERE id = $1`,
      [batch[10]!.id],
    );

    const rows = await t.db.query<{ id: string }>(
      `SELECT id FROM payments WHERE customer_id = $1 ORDER BY created_at DESC, id DESC`,
      [customer],
    );
    const expected = rows.map((r) => r.id);
    expect(expected).toHaveLength(batch.length);
    for (const size of [1, 2, 3, 5]) {
      const ids = (await pageThrough(repo, customer, size)).flat().map((p) => p.id);
      expect(ids, `page size ${size}`).toEqual(expected);
    }
    expect(expected.slice(0, 3)).toEqual([batch[7]!.id, batch[10]!.id, batch[9]!.id]);
  });

  it('filters by status and by inclusive UTC dates, and keeps paging within the filter', async () => {
    const customer = 'cus_ffffffffffffffffffffffffff';
    const rows = [
      payment(customer, '2026-10-31T23:59:59.999Z', { status: 'CANCELLED' }),
      payment(customer, '2026-11-01T00:00:00.000Z', { status: 'CANCELLED' }),
      payment(customer, '2026-11-10T12:00:00.000Z', { status: 'AWAITING_AUTHORISATION' }),
      payment(customer, '2026-11-15T12:00:00.000Z', { status: 'CANCELLED' }),
      payment(customer, '2026-11-20T23:59:59.999Z', { status: 'AWAITING_AUTHORISATION' }),
      payment(customer, '2026-11-21T00:00:00.000Z', { status: 'CANCELLED' }),
    ];
    for (const p of rows) await repo.insertIfAbsent(p);
    const ids = async (args: PaymentsArgs) => (await pageThrough(repo, customer, 1, args)).flat().map((p) => p.id);
    expect(await ids({ filter: { from: '2026-11-01', to: '2026-11-20' } })).toEqual([
      rows[4]!.id,
      rows[3]!.id,
      rows[2]!.id,
      rows[1]!.id,
    ]);
    expect(await ids({ filter: { status: ['CANCELLED'] } })).toEqual([
      rows[5]!.id,
      rows[3]!.id,
      rows[1]!.id,
      rows[0]!.id,
    ]);
    expect(await ids({ filter: { status: ['CANCELLED'], from: '2026-11-01', to: '2026-11-20' } })).toEqual([
      rows[3]!.id,
      rows[1]!.id,
    ]);
    expect(await ids({ filter: { to: '2026-10-31' } })).toEqual([rows[0]!.id]);
  });

  it('keeps amounts exact and in the currency minor units', async () => {
    const customer = 'cus_mmmmmmmmmmmmmmmmmmmmmmmmmm';
    const gbp = payment(customer, '2026-01-01T00:00:00.000Z', { amount: '7.5' });
    const jpy = payment(customer, '2026-01-02T00:00:00.000Z', { amount: '1500', currency: 'JPY' });
    const large = payment(customer, '2026-01-03T00:00:00.000Z', { amount: '9999999999999.99' });
    for (const p of [gbp, jpy, large]) await repo.insertIfAbsent(p);
    const byId = new Map((await repo.findByIds([gbp.id, jpy.id, large.id])).map((p) => [p.id, p.amount]));
    expect(byId.get(gbp.id)).toEqual({ amount: '7.50', currency: 'GBP' });
    expect(byId.get(jpy.id)).toEqual({ amount: '1500', currency: 'JPY' });
    expect(byId.get(large.id)).toEqual({ amount: '9999999999999.99', currency: 'GBP' });
    await expect(
      repo.insertIfAbsent(payment(customer, '2026-01-04T00:00:00.000Z', { amount: '1.234' })),
    ).rejects.toThrow(/fraction digits/);
  });

  it('refuses rows that break the ledger rules', async () => {
    const insert = (overrides: Record<string, unknown>) => {
      const row = {
        id: newId('pay'),
        customer_id: ALICE,
        debtor_account_id: debtor,
        amount: '1.00',
        currency: 'GBP',
        creditor_name: 'X',
        creditor_scheme: 'IBAN',
        creditor_identification: 'GB29NWBK60161331926819',
        status: 'CREATED',
        partner: 'northwind',
        ...overrides,
      };
      const cols = Object.keys(row);
      return t.db.query(
        `INSERT INTO payments (${cols.join(', ')}, created_at, updated_at) VALUES (${cols.map((_, i) => `$${i + 1}`).join(', ')}, now(), now())`,
        Object.values(row),
      );
    };
    await expect(insert({})).resolves.toBeDefined();
    await expect(insert({ amount: '-1.00' })).rejects.toThrow();
    await expect(insert({ amount: '0' })).rejects.toThrow();
    await expect(insert({ amount: '1.000001' })).rejects.toThrow();
    await expect(insert({ status: 'SENT' })).rejects.toThrow();
    await expect(insert({ creditor_scheme: 'SORT_CODE_ACCOUNT_NUMBER' })).rejects.toThrow();
    await expect(insert({ id: 'payment-1' })).rejects.toThrow();
  });
});
