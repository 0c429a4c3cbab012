import { describe, expect, it } from 'vitest';
import { PartnerError } from '../../lib/errors.ts';
import { bankAccountId, bankTransactionId } from '../../lib/ids.ts';
import { createLogger } from '../../lib/logger.ts';
import {
  chooseCurrentBalance,
  loadCustomersAccounts,
  maskIdentifier,
} from '../../subgraphs/accounts/domain/accounts.ts';
import type { BankAdapter, BankTransactionQuery } from '../../subgraphs/accounts/domain/ports.ts';
import type { BalanceModel, BankConnection, BankTransaction } from '../../subgraphs/accounts/domain/model.ts';
import {
  findTransactions,
  transactionsPage,
  WALK,
  type TransactionPageRequest,
} from '../../subgraphs/accounts/domain/transactions.ts';
import { createAccountsService } from '../../subgraphs/accounts/domain/service.ts';
import { createAccountsLoaders } from '../../subgraphs/accounts/loaders.ts';
import { createMemoryRepo } from './memory-repo.ts';

const SECRET = 'test-id-secret-that-is-long-enough-000001';
const NOW = new Date('2026-11-23T12:00:00Z');
const logger = createLogger('test', 'silent');
const connection: BankConnection = {
  id: 'conn-1',
  customerId: 'cus_a',
  institution: 'testbank',
  psuId: null,
  consentId: 'c',
  accessToken: 't',
};
const account = { id: 'acc_a', customerId: 'cus_a', institution: 'testbank', bankAccountRef: 'A1' };
const DAY = 86_400_000;

function entry(ref: string, at: Date, over: Partial<BankTransaction> = {}): BankTransaction {
  return {
    bankTransactionRef: ref,
    status: 'BOOKED',
    kind: 'STANDARD',
    reversesRef: null,
    amount: { amount: '1.00', currency: 'GBP' },
    direction: 'DEBIT',
    occurredAt: at,
    bookedAt: at,
    valueDate: null,
    description: null,
    counterpartyName: null,
    ...over,
  };
}

/** A bank that filters by the UTC date of occurredAt and pages 7 entries at a time. */
function fakeBank(entries: BankTransaction[], opts: { earliestAvailable?: string; loopingNext?: boolean } = {}) {
  const queries: BankTransactionQuery[] = [];
  const adapter: BankAdapter = {
    institution: { id: 'testbank', name: 'Test Bank', standard: 'OBIE' },
    async listAccounts() {
      return [];
    },
    async getBalances() {
      return new Map();
    },
    async listTransactions(_c, _ref, query, token) {
      if (token === null) queries.push(query);
      const inRange = entries.filter((e) => {
        const d = e.occurredAt.toISOString().slice(0, 10);
        return (
          d >= query.fromDate &&
          (query.toDate === null || d <= query.toDate) &&
          (query.bookingStatus === 'both' || (query.bookingStatus === 'pending') === (e.status === 'PENDING'))
        );
      });
      const index = token ? Number(token) : 0;
      const next = opts.loopingNext ? 'same' : index + 7 < inRange.length ? String(index + 7) : null;
      return { transactions: inRange.slice(index, index + 7), next, earliestAvailable: opts.earliestAvailable ?? null };
    },
  };
  return { adapter, queries };
}

const deps = (repo = createMemoryRepo()) => ({ repo, idSecret: SECRET, now: () => NOW });
const request = (over: Partial<TransactionPageRequest> = {}): TransactionPageRequest => ({
  first: 20,
  after: null,
  filter: null,
  ...over,
});
/** One entry per day at 10:00 UTC, the newest yesterday. */
const daily = (days: number) =>
  Array.from({ length: days }, (_, i) => entry(`d${i}`, new Date(Date.parse('2026-11-22T10:00:00Z') - i * DAY)));

describe('transaction pages', () => {
  it('orders newest first, then by id, and pages with cursors without gaps or repeats', async () => {
    const same = new Date('2026-11-20T08:00:00Z');
    const entries = [...daily(40), entry('x1', same), entry('x2', same)];
    const { adapter } = fakeBank(entries);
    const all = await transactionsPage(deps(), adapter, connection, account, request({ first: 45 }));
    expect(all.edges).toHaveLength(42);
    expect(all.pageInfo.hasNextPage).toBe(false);
    const keys = all.edges.map((e) => [e.node.occurredAt.getTime(), e.node.id] as const);
    for (let i = 1; i < keys.length; i++) {
      const [t0, id0] = keys[i - 1]!;
      const [t1, id1] = keys[i]!;
      expect(t0 > t1 || (t0 === t1 && id0 > id1)).toBe(true);
    }
    const ids: string[] = [];
    let after: string | null = null;
    for (let n = 0; n < 10; n++) {
      const page = await transactionsPage(deps(), adapter, connection, account, request({ first: 9, after }));
      ids.push(...page.edges.map((e) => e.node.id));
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    expect(ids).toEqual(all.edges.map((e) => e.node.id));
  });

  it('asks the bank for a small recent window first and widens only when needed', async () => {
    const { adapter, queries } = fakeBank(daily(500));
    const page = await transactionsPage(deps(), adapter, connection, account, request({ first: 20 }));
    expect(page.edges).toHaveLength(20);
    expect(page.pageInfo.hasNextPage).toBe(true);
    // 14 days (+1 day margin) first, open-ended at the top; then the next 28 days.
    expect(queries).toEqual([
      { fromDate: '2026-11-09', toDate: null, bookingStatus: 'both' },
      { fromDate: '2026-10-12', toDate: '2026-11-10', bookingStatus: 'both' },
    ]);
  });

  it('stops walking back where the bank says its history starts, or after the lookback limit', async () => {
    const sparse = [entry('s1', new Date('2026-11-01T10:00:00Z')), entry('s2', new Date('2026-09-01T10:00:00Z'))];
    // History from 2026-10-01: 14 + 28 + 56 days reach it, so three bank calls and no more.
    const withStart = fakeBank([sparse[0]!], { earliestAvailable: '2026-10-01' });
    const page = await transactionsPage(deps(), withStart.adapter, connection, account, request());
    expect(page.edges.map((e) => e.node.bankTransactionRef)).toEqual(['s1']);
    expect(withStart.queries).toHaveLength(3);

    const noStart = fakeBank(sparse);
    const full = await transactionsPage(deps(), noStart.adapter, connection, account, request());
    expect(full.edges.map((e) => e.node.bankTransactionRef)).toEqual(['s1', 's2']);
    const oldest = noStart.queries.at(-1)!.fromDate;
    expect(oldest >= '2024-11-21').toBe(true);
    expect(noStart.queries.length).toBeLessThanOrEqual(Math.ceil(WALK.maxLookbackDays / WALK.maxWindowDays) + 4);
  });

  it('filters by inclusive UTC dates and statuses, pushing a pending-only filter down to the bank', async () => {
    const entries = [
      entry('late-on-the-2nd', new Date('2026-10-02T23:30:00Z')),
      entry('early-on-the-3rd', new Date('2026-10-03T00:10:00Z')),
      entry('on-the-1st', new Date('2026-10-01T00:00:00Z')),
      entry('on-the-4th', new Date('2026-10-04T00:00:00Z')),
      entry('pending', new Date('2026-11-22T10:00:00Z'), { status: 'PENDING', bookedAt: null }),
    ];
    const { adapter, queries } = fakeBank(entries);
    const range = await transactionsPage(
      deps(),
      adapter,
      connection,
      account,
      request({ filter: { from: '2026-10-01', to: '2026-10-03' } }),
    );
    expect(range.edges.map((e) => e.node.bankTransactionRef)).toEqual([
      'early-on-the-3rd',
      'late-on-the-2nd',
      'on-the-1st',
    ]);
    expect(queries[0]).toMatchObject({ toDate: '2026-10-04' });

    const pending = await transactionsPage(
      deps(),
      adapter,
      connection,
      account,
      request({ filter: { status: ['PENDING'] } }),
    );
    expect(pending.edges.map((e) => e.node.status)).toEqual(['PENDING']);
    expect(queries.at(-1)!.bookingStatus).toBe('pending');

    const inverted = await transactionsPage(
      deps(),
      adapter,
      connection,
      account,
      request({ filter: { from: '2026-10-05', to: '2026-10-01' } }),
    );
    expect(inverted.edges).toEqual([]);
  });

  it('handles first = 0 and rejects a tampered cursor', async () => {
    const { adapter } = fakeBank(daily(5));
    const zero = await transactionsPage(deps(), adapter, connection, account, request({ first: 0 }));
    expect(zero).toEqual({ edges: [], pageInfo: { hasNextPage: true, endCursor: null } });
    const tampered = Buffer.from(JSON.stringify({ t: 'yesterday', id: 'txn_x' })).toString('base64url');
    await expect(
      transactionsPage(deps(), adapter, connection, account, request({ after: tampered })),
    ).rejects.toMatchObject({ extensions: { code: 'BAD_USER_INPUT' } });
  });

  it('marks an original REVERSED across pages, using the link remembered from an earlier page', async () => {
    const original = entry('orig', new Date('2026-11-10T10:00:00Z'));
    const reversal = entry('rev', new Date('2026-11-21T10:00:00Z'), {
      kind: 'REVERSAL',
      reversesRef: 'orig',
      direction: 'CREDIT',
    });
    const filler = daily(8).map((e) => ({
      ...e,
      bankTransactionRef: `f-${e.bankTransactionRef}`,
      occurredAt: new Date(e.occurredAt.getTime() - 30 * DAY),
    }));
    const repo = createMemoryRepo();
    const { adapter } = fakeBank([original, reversal, ...filler]);
    const first = await transactionsPage(deps(repo), adapter, connection, account, request({ first: 1 }));
    expect(first.edges[0]!.node).toMatchObject({
      kind: 'REVERSAL',
      reversesId: bankTransactionId(SECRET, 'testbank', 'A1', 'orig'),
    });
    // Second page, with a date filter that keeps the reversal out of the rows fetched now.
    const second = await transactionsPage(
      deps(repo),
      adapter,
      connection,
      account,
      request({ first: 1, filter: { to: '2026-11-15' } }),
    );
    expect(second.edges[0]!.node).toMatchObject({
      bankTransactionRef: 'orig',
      status: 'REVERSED',
      reversedById: first.edges[0]!.node.id,
    });
    const reversed = await transactionsPage(
      deps(repo),
      adapter,
      connection,
      account,
      request({ filter: { status: ['REVERSED'] } }),
    );
    expect(reversed.edges.map((e) => e.node.bankTransactionRef)).toEqual(['orig']);
  });

  it('refuses a bank whose paging never ends', async () => {
    const { adapter } = fakeBank(daily(30), { loopingNext: true });
    await expect(transactionsPage(deps(), adapter, connection, account, request())).rejects.toMatchObject({
      partner: 'testbank',
      kind: 'contract',
    });
  });
});

describe('finding transactions by reference', () => {
  it('looks around the stored date first, then up to today when the transaction moved', async () => {
    const repo = createMemoryRepo();
    const moved = entry('p1', new Date('2026-11-20T10:00:00Z'));
    const { adapter, queries } = fakeBank([moved, ...daily(3)]);
    const id = bankTransactionId(SECRET, 'testbank', 'A1', 'p1');
    const ref = {
      transactionId: id,
      customerId: 'cus_a',
      accountId: 'acc_a',
      institution: 'testbank',
      bankAccountRef: 'A1',
      bankTransactionRef: 'p1',
      occurredOn: '2026-10-01',
      reversesTransactionId: null,
    };
    const found = await findTransactions(
      deps(repo),
      () => adapter,
      () => connection,
      [ref],
    );
    expect(found.get(id)).toMatchObject({ id, bankTransactionRef: 'p1', status: 'BOOKED' });
    expect(queries).toEqual([
      { fromDate: '2026-09-24', toDate: '2026-10-15', bookingStatus: 'both' },
      { fromDate: '2026-07-01', toDate: null, bookingStatus: 'both' },
    ]);
    const gone = await findTransactions(
      deps(repo),
      () => adapter,
      () => connection,
      [{ ...ref, transactionId: 'txn_gone', bankTransactionRef: 'nope' }],
    );
    expect(gone.get('txn_gone')).toBeNull();
  });
});

describe('accounts across banks', () => {
  const bank = (id: string, behaviour: () => Promise<never> | Promise<[]> | null): BankAdapter => ({
    institution: { id, name: id, standard: 'OBIE' },
    async listAccounts() {
      const b = behaviour();
      if (b) return b;
      return [
        {
          bankAccountRef: `${id}-1`,
          name: 'Main',
          type: 'CURRENT',
          status: 'ENABLED',
          currency: 'GBP',
          identification: { scheme: 'IBAN', value: 'GB29 NWBK 6016 1331 9268 19' },
        },
      ];
    },
    async getBalances() {
      return new Map();
    },
    async listTransactions() {
      return { transactions: [], next: null, earliestAvailable: null };
    },
  });
  const connections: BankConnection[] = [
    { id: 'c-a', customerId: 'cus_a', institution: 'alpha', psuId: null, consentId: 'x', accessToken: 'x' },
    { id: 'c-b', customerId: 'cus_a', institution: 'beta', psuId: null, consentId: 'x', accessToken: 'x' },
  ];

  it('returns the healthy bank and names the one that failed', async () => {
    const repo = createMemoryRepo([...connections]);
    const adapters = new Map([
      ['alpha', bank('alpha', () => Promise.reject(new PartnerError('alpha', 'unavailable', 'down')))],
      ['beta', bank('beta', () => null)],
    ]);
    const result = (await loadCustomersAccounts({ adapters, repo, idSecret: SECRET, logger }, ['cus_a'])).get('cus_a')!;
    expect(result.accounts.map((a) => [a.institution.id, a.bankAccountRef, a.maskedIdentifier])).toEqual([
      ['beta', 'beta-1', '••••6819'],
    ]);
    expect(result.unavailable.map((i) => i.id)).toEqual(['alpha']);
    expect(result.errors.get('alpha')).toMatchObject({ partner: 'alpha', kind: 'unavailable' });
    expect(await repo.accountRefs([result.accounts[0]!.id])).toHaveLength(1);
  });

  it('does not hide programming errors as a bank outage', async () => {
    const repo = createMemoryRepo([...connections]);
    const adapters = new Map([
      ['alpha', bank('alpha', () => Promise.reject(new TypeError('bug')))],
      ['beta', bank('beta', () => null)],
    ]);
    await expect(loadCustomersAccounts({ adapters, repo, idSecret: SECRET, logger }, ['cus_a'])).rejects.toThrow('bug');
  });

  it('the service, not the repository, keeps other customers out of references read by id', async () => {
    // cus_b banks at alpha too, which is down for everyone.
    const repo = createMemoryRepo([
      ...connections,
      { id: 'c-b-a', customerId: 'cus_b', institution: 'alpha', psuId: null, consentId: 'y', accessToken: 'y' },
    ]);
    const adapters = new Map([
      ['alpha', bank('alpha', () => Promise.reject(new PartnerError('alpha', 'unavailable', 'down')))],
      ['beta', bank('beta', () => null)],
    ]);
    const accountId = bankAccountId(SECRET, 'alpha', 'alpha-1');
    const transactionId = bankTransactionId(SECRET, 'alpha', 'alpha-1', 'T-1');
    // cus_a read her accounts and a transaction while alpha was up: the references are hers.
    await repo.upsertAccountRefs([{ accountId, customerId: 'cus_a', institution: 'alpha', bankAccountRef: 'alpha-1' }]);
    await repo.upsertTransactionRefs([
      {
        transactionId,
        customerId: 'cus_a',
        accountId,
        institution: 'alpha',
        bankAccountRef: 'alpha-1',
        bankTransactionRef: 'T-1',
        occurredOn: '2026-11-20',
        reversesTransactionId: null,
      },
    ]);
    const serviceFor = (customerId: string | null) => {
      const principal = { customerId, clientId: 'app', scopes: [] };
      return createAccountsService({
        principal,
        loaders: createAccountsLoaders(repo),
        adapters,
        repo,
        idSecret: SECRET,
        now: () => NOW,
        logger,
      });
    };
    // The repository answers by id whoever asks; another customer still gets the null of an unknown id,
    // not the outage of cus_a's bank (which would say that the id exists).
    expect(await repo.accountRefs([accountId])).toHaveLength(1);
    const other = serviceFor('cus_b');
    expect(await other.account(accountId)).toBeNull();
    expect(await other.transaction(transactionId)).toBeNull();
    expect(await serviceFor(null).account(accountId)).toBeNull();
    // Its owner learns that the account exists at a bank that cannot be read now.
    await expect(serviceFor('cus_a').account(accountId)).rejects.toMatchObject({ partner: 'alpha' });
  });

  it('masks identifiers to their last four characters', () => {
    expect(maskIdentifier('60837112345678')).toBe('••••5678');
    expect(maskIdentifier(null)).toBe('••••');
  });
});

describe('current balance', () => {
  const b = (type: BalanceModel['type'], asOf: string, amount = '1.00'): BalanceModel => ({
    type,
    asOf: new Date(asOf),
    amount: { amount, currency: 'GBP' },
    direction: 'CREDIT',
    includesCreditLine: false,
  });

  it('prefers interim available, then interim booked, then the newest booked balance', () => {
    expect(
      chooseCurrentBalance([
        b('CLOSING_BOOKED', '2026-11-22T00:00:00Z'),
        b('INTERIM_BOOKED', '2026-11-23T00:00:00Z'),
        b('INTERIM_AVAILABLE', '2026-11-23T00:00:00Z'),
      ])?.type,
    ).toBe('INTERIM_AVAILABLE');
    expect(
      chooseCurrentBalance([
        b('CLOSING_BOOKED', '2026-11-22T00:00:00Z'),
        b('INTERIM_BOOKED', '2026-11-23T00:00:00Z'),
        b('EXPECTED', '2026-11-23T00:00:00Z'),
      ])?.type,
    ).toBe('INTERIM_BOOKED');
    expect(
      chooseCurrentBalance([
        b('OPENING_BOOKED', '2026-11-01T00:00:00Z', '5.00'),
        b('CLOSING_BOOKED', '2026-11-22T00:00:00Z', '7.00'),
        b('EXPECTED', '2026-11-23T00:00:00Z'),
      ])?.amount.amount,
    ).toBe('7.00');
    expect(
      chooseCurrentBalance([b('EXPECTED', '2026-11-23T00:00:00Z'), b('FORWARD_AVAILABLE', '2026-11-23T00:00:00Z')]),
    ).toBeNull();
    expect(
      chooseCurrentBalance([
        b('INTERIM_AVAILABLE', '2026-11-22T00:00:00Z', '1.00'),
        b('INTERIM_AVAILABLE', '2026-11-23T00:00:00Z', '2.00'),
      ])?.amount.amount,
    ).toBe('2.00');
  });
});
