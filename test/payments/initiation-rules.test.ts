import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEV_ID_HASH_SECRET } from '../../lib/config.ts';
import type { Principal } from '../../lib/principal.ts';
import { createPaymentInitiation, type PaymentInitiation } from '../../subgraphs/payments/domain/initiation.ts';
import { createPaymentsLedger } from '../../subgraphs/payments/storage/repository.ts';
import { debtorAccountsFromSeed } from '../../subgraphs/payments/storage/seed.ts';
import { alice, ben, northwindAccount, paymentInput } from './stack.ts';
import { BACKENDS, NOW, openTestDatabase, SANDBOX_SEED, silentLogger, type TestDatabase } from './helpers.ts';

/**
 * Who may debit which account (domain/initiation.ts), on the real ledger without a bank: a third
 * party only from an account its PAYMENTS_INITIATION consent covers (the consented accounts the
 * gateway signs into the principal); any other account, another customer's and one that does not
 * exist all answer the same NOT_FOUND, before the ledger or the bank is touched. An allowed request
 * gets as far as the bank, which is not configured here (PARTNER_UNAVAILABLE), and leaves one
 * CREATED payment that a retry with the same key resumes instead of duplicating.
 */
describe.each(BACKENDS)('payment initiation rules on %s', (backend) => {
  let t: TestDatabase;
  let initiation: PaymentInitiation;
  beforeAll(async () => {
    t = await openTestDatabase(backend);
    initiation = createPaymentInitiation({
      ledger: createPaymentsLedger(t.db),
      bank: null,
      debtors: debtorAccountsFromSeed(SANDBOX_SEED, DEV_ID_HASH_SECRET),
      now: () => NOW,
      logger: silentLogger,
    });
  });
  afterAll(async () => t?.dispose());

  const current = northwindAccount(alice).id;
  const savings = (() => {
    const { bankAccountId } = northwindAccount(alice);
    const other = SANDBOX_SEED.customers
      .find((c) => c.customerId === alice.customerId)!
      .banks.northwind!.accounts.find((a) => a.kind === 'savings' && a.bankAccountId !== bankAccountId)!;
    return other.bankAccountId;
  })();
  const thirdParty = (accounts: string[]): Principal => ({
    customerId: alice.customerId,
    clientId: 'taxpal',
    scopes: ['payments:write'],
    consentedAccounts: { PAYMENTS_INITIATION: accounts },
  });
  const codeOf = (p: Promise<unknown>) =>
    p.then(
      () => 'OK',
      (err: { extensions?: { code?: string }; message: string }) => `${err.extensions?.code} ${err.message}`,
    );

  it('refuses accounts the caller may not debit exactly like an account that does not exist', async () => {
    const missing = await codeOf(
      initiation.initiate(
        thirdParty([current]),
        paymentInput('k1', { debtorAccountId: 'acc_aaaaaaaaaaaaaaaaaaaaaaaaaa' }),
      ),
    );
    expect(missing).toBe('NOT_FOUND No account with this id');
    // Consented for another account only.
    expect(await codeOf(initiation.initiate(thirdParty([savings]), paymentInput('k2')))).toBe(missing);
    // A consent that covers no account for payments.
    expect(await codeOf(initiation.initiate(thirdParty([]), paymentInput('k3')))).toBe(missing);
    // Another customer's account, even named in the consent.
    const bens = northwindAccount(ben).id;
    expect(await codeOf(initiation.initiate(thirdParty([bens]), paymentInput('k4', { debtorAccountId: bens })))).toBe(
      missing,
    );
    // Nothing was written for any of them.
    const rows = await t.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM payments WHERE client_id = 'taxpal'`);
    expect(rows[0]!.n).toBe(0);
  });

  it('lets a consented third party reach the bank; a retry with the same key resumes the one payment', async () => {
    const principal = thirdParty([current]);
    const first = await codeOf(initiation.initiate(principal, paymentInput('k5')));
    expect(first).toMatch(/^PARTNER_UNAVAILABLE/);
    const again = await codeOf(initiation.initiate(principal, paymentInput('k5')));
    expect(again).toBe(first);
    const rows = await t.db.query<{ status: string }>(
      `SELECT status FROM payments WHERE client_id = 'taxpal' AND idempotency_key = 'k5'`,
    );
    expect(rows).toEqual([{ status: 'CREATED' }]);
    // The same key with another payment is refused, whoever checks first.
    expect(await codeOf(initiation.initiate(principal, paymentInput('k5', { reference: 'OTHER' })))).toMatch(
      /^IDEMPOTENCY_KEY_REUSED/,
    );
    // The same key for another client is another payment.
    expect(
      await codeOf(
        initiation.initiate({ ...principal, clientId: 'web-app', consentedAccounts: undefined }, paymentInput('k5')),
      ),
    ).toMatch(/^PARTNER_UNAVAILABLE/);
    const all = await t.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM payments WHERE idempotency_key = 'k5'`);
    expect(all[0]!.n).toBe(2);
  });
});
