import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { openSharedCache, type SharedCache } from '../../lib/cache.ts';
import { PartnerError } from '../../lib/errors.ts';
import { createFallbackCache, type FallbackCache } from '../../lib/fallback-cache.ts';
import { DependencyUnavailableError } from '../../lib/http-client.ts';
import { createLogger } from '../../lib/logger.ts';
import type { Principal } from '../../lib/principal.ts';
import type { BalanceModel, BankAccount, BankConnection } from '../../subgraphs/accounts/domain/model.ts';
import type { BankAdapter, BankTransactionPage } from '../../subgraphs/accounts/domain/ports.ts';
import { withLastKnownValues } from '../../subgraphs/accounts/partners/last-known-values.ts';

/**
 * The banks' last known values (subgraphs/accounts/partners/last-known-values.ts) on a scripted
 * bank: served only on an outage, only to the principal they were read for, with their read time,
 * Dates intact; in memory and, where REDIS_URL is set, in the real Redis.
 */
const logger = createLogger('last-known-values', 'silent');
const alice: Principal = { customerId: 'cus_alice', clientId: 'web-app', scopes: ['accounts:read'] };
const aliceOnMobile: Principal = { ...alice, clientId: 'mobile-app' };
const aliceViaBudgetly: Principal = {
  customerId: 'cus_alice',
  clientId: 'budgetly',
  scopes: ['accounts:read'],
  consentedAccounts: { ACCOUNTS: ['acc_1'] },
};
const connection: BankConnection = {
  id: 'conn_1',
  customerId: 'cus_alice',
  institution: 'northwind',
  psuId: null,
  consentId: 'aac-1',
  accessToken: 'secret',
};

/** A bank whose next answers the test chooses: 'up' answers, 'down' is an outage, 'refuses' a 403, 'off-contract' a
 * contract violation. */
function scriptedBank() {
  let mode: 'up' | 'down' | 'refuses' | 'off-contract' = 'up';
  let version = 1;
  const fail = () => {
    if (mode === 'down') throw new DependencyUnavailableError('northwind', 'http-status', 'HTTP 503', { status: 503 });
    if (mode === 'refuses') throw new PartnerError('northwind', 'unavailable', 'answered HTTP 403', { status: 403 });
    if (mode === 'off-contract') throw new PartnerError('northwind', 'contract', 'bad payload');
  };
  const adapter: BankAdapter = {
    institution: { id: 'northwind', name: 'Northwind Bank', standard: 'OBIE' },
    async listAccounts(): Promise<BankAccount[]> {
      fail();
      return [
        {
          bankAccountRef: '22289',
          name: `Current v${version}`,
          type: 'CURRENT',
          status: 'ENABLED',
          currency: 'GBP',
          identification: null,
        },
      ];
    },
    async getBalances(_c, refs): Promise<Map<string, BalanceModel[]>> {
      fail();
      return new Map(
        refs.map((ref) => [
          ref,
          [
            {
              type: 'INTERIM_AVAILABLE',
              amount: { amount: `${version}00.00`, currency: 'GBP' },
              direction: 'CREDIT',
              asOf: new Date('2026-12-01T09:00:00Z'),
              includesCreditLine: false,
            },
          ],
        ]),
      );
    },
    async listTransactions(): Promise<BankTransactionPage> {
      fail();
      return {
        transactions: [
          {
            bankTransactionRef: 't1',
            status: 'BOOKED',
            kind: 'STANDARD',
            reversesRef: null,
            amount: { amount: '12.50', currency: 'GBP' },
            direction: 'DEBIT',
            occurredAt: new Date('2026-11-30T10:00:00Z'),
            bookedAt: new Date('2026-11-30T10:00:00Z'),
            valueDate: '2026-11-30',
            description: 'Coffee',
            counterpartyName: null,
          },
        ],
        next: null,
        earliestAvailable: null,
      };
    },
  };
  return {
    adapter,
    set: (m: typeof mode) => (mode = m),
    bump: () => version++,
  };
}

const settle = () => new Promise((r) => setTimeout(r, 30));
const stores: { name: string; open: () => Promise<SharedCache> }[] = [
  { name: 'in memory', open: () => openSharedCache({ logger }) },
  ...(process.env.REDIS_URL
    ? [
        {
          name: 'in Redis',
          open: () =>
            openSharedCache({
              redisUrl: process.env.REDIS_URL,
              logger,
              prefix: `test-lkv-${randomBytes(4).toString('hex')}`,
            }),
        },
      ]
    : []),
];
const opened: SharedCache[] = [];
afterAll(async () => {
  for (const c of opened) await c.close();
});

describe.each(stores)('last known values of a bank ($name)', ({ open }) => {
  async function setup() {
    const shared = await open();
    opened.push(shared);
    const cache: FallbackCache = createFallbackCache({
      store: shared.store('fallback'),
      key: randomBytes(32),
      ttlMs: 60_000,
      logger,
      service: 'accounts',
    });
    const bank = scriptedBank();
    const registry = new Map([['northwind', bank.adapter]]);
    const as = (principal: Principal) =>
      withLastKnownValues(registry, principal, { cache, logger, service: 'accounts' }).get('northwind')!;
    return { bank, as };
  }

  it('an outage answers the last good values, stamped with when they were read, Dates intact', async () => {
    const { bank, as } = await setup();
    const before = new Date().toISOString();
    const query = { fromDate: '2026-11-01', toDate: null, bookingStatus: 'both' as const };
    await as(alice).listAccounts(connection);
    await as(alice).getBalances(connection, ['22289']);
    await as(alice).listTransactions(connection, '22289', query, null);
    await settle();
    bank.set('down');
    const accounts = await as(alice).listAccounts(connection);
    expect(accounts.map((a) => a.name)).toEqual(['Current v1']);
    expect(accounts[0]!.lastKnownAt! >= before).toBe(true);
    const balances = (await as(alice).getBalances(connection, ['22289'])).get('22289')!;
    expect(balances[0]!.asOf).toEqual(new Date('2026-12-01T09:00:00Z'));
    expect(balances[0]!.lastKnownAt).toBeDefined();
    const page = await as(alice).listTransactions(connection, '22289', query, null);
    expect(page.lastKnownAt).toBeDefined();
    expect(page.transactions[0]!.occurredAt).toEqual(new Date('2026-11-30T10:00:00Z'));
    expect(page.transactions[0]!.lastKnownAt).toBe(page.lastKnownAt);
    // Other arguments were never read: nothing to serve, the outage shows.
    await expect(
      as(alice).listTransactions(connection, '22289', { ...query, fromDate: '2026-10-01' }, null),
    ).rejects.toThrow(DependencyUnavailableError);
  });

  it('the last good value is the newest live one, and live answers carry no stamp', async () => {
    const { bank, as } = await setup();
    await as(alice).listAccounts(connection);
    bank.bump();
    const live = await as(alice).listAccounts(connection);
    expect(live[0]!.lastKnownAt).toBeUndefined();
    await settle();
    bank.set('down');
    expect((await as(alice).listAccounts(connection))[0]!.name).toBe('Current v2');
  });

  it('only the principal it was read for: another app of the same customer, or a third party, gets the outage', async () => {
    const { bank, as } = await setup();
    await Promise.all([as(alice).listAccounts(connection), as(aliceViaBudgetly).listAccounts(connection)]);
    await settle();
    bank.set('down');
    const [web, budgetly, mobile] = await Promise.allSettled([
      as(alice).listAccounts(connection),
      as(aliceViaBudgetly).listAccounts(connection),
      as(aliceOnMobile).listAccounts(connection),
    ]);
    expect(web.status).toBe('fulfilled');
    expect(budgetly.status).toBe('fulfilled');
    expect(mobile.status).toBe('rejected');
    // The same third party under other consented accounts is another principal.
    await expect(
      as({ ...aliceViaBudgetly, consentedAccounts: { ACCOUNTS: ['acc_1', 'acc_2'] } }).listAccounts(connection),
    ).rejects.toThrow(DependencyUnavailableError);
    // Another bank consent of the same customer starts afresh.
    await expect(as(alice).listAccounts({ ...connection, consentId: 'aac-2' })).rejects.toThrow(
      DependencyUnavailableError,
    );
  });

  it('a refusal (4xx) or an off-contract payload is passed on, never answered from what was kept', async () => {
    const { bank, as } = await setup();
    await as(alice).listAccounts(connection);
    await settle();
    bank.set('refuses');
    await expect(as(alice).listAccounts(connection)).rejects.toThrow(/403/);
    bank.set('off-contract');
    await expect(as(alice).listAccounts(connection)).rejects.toThrow(/bad payload/);
  });

  it('balances are kept per account and recalled all or nothing', async () => {
    const { bank, as } = await setup();
    await as(alice).getBalances(connection, ['22289']);
    await settle();
    bank.set('down');
    expect((await as(alice).getBalances(connection, ['22289'])).get('22289')).toHaveLength(1);
    // 22290 was never read: showing 22289's balances and none for 22290 would be silently wrong.
    await expect(as(alice).getBalances(connection, ['22289', '22290'])).rejects.toThrow(DependencyUnavailableError);
  });
});

describe('an optional cache whose Redis is down at start', () => {
  it('opens at once; the bank answers live, and keeping and recalling are misses (bounded, never an error)', async () => {
    // A port nothing listens on (the accounts subgraph opens its cache with required: false).
    const shared = await openSharedCache({ redisUrl: 'redis://127.0.0.1:1', logger, required: false });
    opened.push(shared);
    const cache = createFallbackCache({
      store: shared.store('fallback'),
      key: randomBytes(32),
      ttlMs: 60_000,
      logger,
      service: 'accounts',
    });
    const bank = scriptedBank();
    const adapter = withLastKnownValues(new Map([['northwind', bank.adapter]]), alice, {
      cache,
      logger,
      service: 'accounts',
    }).get('northwind')!;
    expect((await adapter.listAccounts(connection))[0]!.name).toBe('Current v1');
    await settle();
    bank.set('down');
    await expect(adapter.listAccounts(connection)).rejects.toThrow(DependencyUnavailableError);
  });
});
