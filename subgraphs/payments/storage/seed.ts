import type { Database } from '../../../lib/database.ts';
import { bankAccountId } from '../../../lib/ids.ts';
import type { Logger } from '../../../lib/logger.ts';
import { seedAnchor, seedTime, type Seed, type SeedPayment } from '../../../lib/seed.ts';
import { PAYMENT_STATUSES, type PaymentStatus, type PaymentStatusChangeModel } from '../domain/model.ts';
import type { DebtorAccount, DebtorAccounts } from '../domain/ports.ts';
import { isCoherentHistory } from '../domain/status.ts';
import { createPaymentsRepository, type NewPayment } from './repository.ts';

/**
 * Sandbox ledger, from the seed data (SEED_FILE, lib/seed.ts `payments`): the seeded world's
 * payments over the last four months, walking the whole lifecycle, as this ledger recorded them
 * from the bank: with the bank's consent and payment ids and the bank's times. The sandbox bank
 * holds the same payments as its own records (generated from the same manifest entries into the
 * same file), so the bank's settlement report and this ledger agree on every seeded day.
 *
 * Times are relative to the seed anchor (lib/seed.ts seedAnchor: the start of the hour of the
 * clock the subgraph starts with), as the bank places them from its own start. Ids come from the
 * file, so re-running the seed is a no-op (existing payments are never touched, whenever it runs).
 * Applied only when SEED_FILE names a seed (never in production).
 */

const isStatus = (s: string): s is PaymentStatus => (PAYMENT_STATUSES as readonly string[]).includes(s);

/** Where a seeded payment's authorisation happens: what the seed needs besides the ids' key and the clock. */
export interface SeedOptions {
  idSecret: string;
  now: Date;
  /**
   * The bank's SCA page with `{ConsentId}` (the one the bank client uses for new payments): a
   * seeded payment awaiting authorisation links to it for its consent, so it can be approved like
   * one initiated now. Unset: no link.
   */
  authorisationUrlTemplate?: string;
}

function toNewPayment(p: SeedPayment, anchor: Date, opts: SeedOptions): NewPayment {
  const idSecret = opts.idSecret;
  const history: PaymentStatusChangeModel[] = p.history.map((h) => {
    if (!isStatus(h.status)) throw new Error(`seeded payment ${p.paymentId}: unknown status ${h.status}`);
    return { status: h.status, at: seedTime(anchor, h.at), reason: h.reason };
  });
  const statuses = history.map((h) => h.status);
  // A seed that contradicts the lifecycle would show customers an impossible history: refuse it.
  if (!isCoherentHistory(statuses) || statuses.at(-1) !== p.status)
    throw new Error(`seeded payment ${p.paymentId}: its history ${statuses.join(' > ')} does not lead to ${p.status}`);
  const last = history.at(-1)!;
  return {
    id: p.paymentId,
    customerId: p.customerId,
    debtorAccountId: bankAccountId(idSecret, p.institution, p.debtorBankAccountId),
    amount: p.amount,
    currency: p.currency,
    creditor: p.creditor,
    reference: p.reference,
    status: last.status,
    statusReason: p.statusReason,
    createdAt: history[0]!.at,
    updatedAt: last.at,
    settledAt: p.settledAt === null ? null : seedTime(anchor, p.settledAt),
    partner: p.institution,
    partnerConsentId: p.bank.consentId,
    partnerPaymentId: p.bank.paymentId,
    authorisationUrl:
      last.status === 'AWAITING_AUTHORISATION' && opts.authorisationUrlTemplate
        ? opts.authorisationUrlTemplate.replace('{ConsentId}', encodeURIComponent(p.bank.consentId))
        : null,
    history,
  };
}

/** The seed's ledger rows, placed at the seed anchor of `now`. */
export function sandboxPayments(seed: Seed, opts: SeedOptions): NewPayment[] {
  const anchor = seedAnchor(opts.now);
  return seed.payments.map((p) => toNewPayment(p, anchor, opts));
}

/** Writes the seed's ledger (what is already there is left alone); returns how many payments it inserted. */
export async function applySeed(db: Database, seed: Seed, opts: SeedOptions & { logger: Logger }): Promise<number> {
  const payments = sandboxPayments(seed, opts);
  const inserted = await db.transaction(async (tx) => {
    const repo = createPaymentsRepository(tx);
    let count = 0;
    for (const p of payments) if (await repo.insertIfAbsent(p)) count++;
    return count;
  });
  if (inserted > 0) opts.logger.info({ inserted }, 'seeded sandbox payments');
  return inserted;
}

/**
 * The customers' Northwind accounts that can initiate payments, from the seed's bank connections
 * (SEED_FILE): the account ids the accounts subgraph derives (lib/ids.ts bankAccountId) mapped to
 * the bank's account id and the connection's token. This is the sandbox's source of "which
 * accounts are the customer's"; a production deployment provides DebtorAccounts from its
 * connection store instead (SEED_FILE is refused there).
 */
export function debtorAccountsFromSeed(seed: Seed | null, idSecret: string): DebtorAccounts {
  const byCustomer = new Map<string, Map<string, DebtorAccount>>();
  for (const customer of seed?.customers ?? []) {
    const connection = customer.banks.northwind;
    if (!connection) continue;
    const accounts = new Map<string, DebtorAccount>();
    for (const a of connection.accounts) {
      if (a.kind === 'credit-card') continue;
      accounts.set(bankAccountId(idSecret, 'northwind', a.bankAccountId), {
        bankAccountId: a.bankAccountId,
        currency: a.currency,
        accessToken: connection.accessToken,
      });
    }
    byCustomer.set(customer.customerId, accounts);
  }
  return { find: async (customerId, accountId) => byCustomer.get(customerId)?.get(accountId) ?? null };
}
