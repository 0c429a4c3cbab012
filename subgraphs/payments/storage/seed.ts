import type { Database } from '../../../lib/database.ts';
import { bankAccountId, derivedId } from '../../../lib/ids.ts';
import type { Logger } from '../../../lib/logger.ts';
import type { Seed, SeedCustomer } from '../../../lib/seed.ts';
import type { CreditorModel, PaymentStatus, PaymentStatusChangeModel } from '../domain/model.ts';
import type { DebtorAccount, DebtorAccounts } from '../domain/ports.ts';
import { createPaymentsRepository, type NewPayment } from './repository.ts';

/**
 * Sandbox ledger, from the seed data (SEED_FILE, lib/seed.ts): for every seed customer with a northwind GBP account, a
 * dozen or so payments over the last four months that walk the whole lifecycle (settled, accepted, pending,
 * rejected, cancelled, refunded, failed, unknown, awaiting authorisation) with coherent status
 * histories. Ids are derived from the customer and the payment's number, so re-running the
 * seed is a no-op (existing payments are never touched). Dates are relative to the clock the
 * subgraph starts with. Applied only when SEED_FILE names a seed (never in production).
 */

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

type Step = [PaymentStatus, number, string?];

interface Scenario {
  status: PaymentStatus;
  ago: number;
  creditor: CreditorModel;
  amount: string;
  reference: string | null;
  reason?: string;
}

const C = {
  landlord: { name: 'Harbour Lettings Ltd', scheme: 'SORT_CODE_ACCOUNT_NUMBER', identification: '20000055779911' },
  water: { name: 'Thames Valley Water', scheme: 'SORT_CODE_ACCOUNT_NUMBER', identification: '40051231548877' },
  gadgets: { name: 'Gadget Store UK', scheme: 'IBAN', identification: 'GB29NWBK60161331926819' },
  cottage: { name: 'Cornish Cottages', scheme: 'SORT_CODE_ACCOUNT_NUMBER', identification: '30964712345678' },
  carHire: { name: 'Car Hire Direct', scheme: 'SORT_CODE_ACCOUNT_NUMBER', identification: '11223344556677' },
  friend: { name: 'Sam Ellis', scheme: 'SORT_CODE_ACCOUNT_NUMBER', identification: '77110022334455' },
  energy: { name: 'Bright Energy', scheme: 'IBAN', identification: 'GB82WEST12345698765432' },
  council: { name: 'Leeds City Council', scheme: 'SORT_CODE_ACCOUNT_NUMBER', identification: '52100987654321' },
  gym: { name: 'Northside Gym', scheme: 'SORT_CODE_ACCOUNT_NUMBER', identification: '09012712345612' },
} satisfies Record<string, CreditorModel>;

const REASONS: Partial<Record<PaymentStatus, string>> = {
  REJECTED: 'The bank rejected the payment because there were not enough funds in the account.',
  CANCELLED: 'You cancelled the payment before authorising it.',
  FAILED: "The creditor's bank returned the payment: the account is closed.",
  REFUNDED: 'The creditor refunded the payment in full.',
  UNKNOWN: 'The bank has not confirmed the payment yet; we are checking with the bank.',
};

const SCENARIOS: Record<'alice' | 'ben', Scenario[]> = {
  alice: [
    { status: 'SETTLED', ago: 118 * DAY, creditor: C.landlord, amount: '950.00', reference: 'RENT FLAT 3 AUG' },
    { status: 'SETTLED', ago: 101 * DAY, creditor: C.water, amount: '42.17', reference: 'WTR 88213004' },
    { status: 'REFUNDED', ago: 87 * DAY, creditor: C.gadgets, amount: '249.99', reference: 'ORDER 55120' },
    { status: 'SETTLED', ago: 88 * DAY, creditor: C.landlord, amount: '950.00', reference: 'RENT FLAT 3 SEP' },
    { status: 'REJECTED', ago: 71 * DAY, creditor: C.cottage, amount: '1200.00', reference: 'BOOKING CC-4471' },
    { status: 'CANCELLED', ago: 63 * DAY, creditor: C.carHire, amount: '180.00', reference: 'HIRE 20931' },
    { status: 'SETTLED', ago: 58 * DAY, creditor: C.landlord, amount: '950.00', reference: 'RENT FLAT 3 OCT' },
    { status: 'FAILED', ago: 44 * DAY, creditor: C.friend, amount: '60.00', reference: 'CONCERT TICKETS' },
    { status: 'SETTLED', ago: 28 * DAY, creditor: C.landlord, amount: '950.00', reference: 'RENT FLAT 3 NOV' },
    { status: 'ACCEPTED', ago: 2 * DAY, creditor: C.energy, amount: '86.40', reference: 'ACC 7781-22' },
    { status: 'PENDING', ago: 5 * HOUR, creditor: C.friend, amount: '25.50', reference: 'PIZZA' },
    { status: 'UNKNOWN', ago: 3 * HOUR, creditor: C.gadgets, amount: '19.99', reference: 'ORDER 55871' },
    {
      status: 'AWAITING_AUTHORISATION',
      ago: 20 * MINUTE,
      creditor: C.water,
      amount: '42.17',
      reference: 'WTR 88213004',
    },
  ],
  ben: [
    { status: 'SETTLED', ago: 110 * DAY, creditor: C.council, amount: '168.00', reference: 'CTAX 4410092' },
    { status: 'SETTLED', ago: 80 * DAY, creditor: C.council, amount: '168.00', reference: 'CTAX 4410092' },
    { status: 'CANCELLED', ago: 66 * DAY, creditor: C.gym, amount: '35.00', reference: 'MEMBER 1182' },
    { status: 'REFUNDED', ago: 52 * DAY, creditor: C.gadgets, amount: '74.95', reference: 'ORDER 60231' },
    { status: 'SETTLED', ago: 49 * DAY, creditor: C.council, amount: '168.00', reference: 'CTAX 4410092' },
    { status: 'REJECTED', ago: 30 * DAY, creditor: C.cottage, amount: '640.00', reference: 'BOOKING CC-5120' },
    { status: 'FAILED', ago: 12 * DAY, creditor: C.friend, amount: '15.00', reference: null },
    { status: 'ACCEPTED', ago: 1 * DAY, creditor: C.council, amount: '168.00', reference: 'CTAX 4410092' },
    { status: 'UNKNOWN', ago: 90 * MINUTE, creditor: C.energy, amount: '51.20', reference: 'ACC 9920-01' },
    { status: 'AWAITING_AUTHORISATION', ago: 10 * MINUTE, creditor: C.gym, amount: '35.00', reference: 'MEMBER 1182' },
  ],
};

/** The lifecycle walked to reach a final status, as offsets from creation. */
function steps(status: PaymentStatus): Step[] {
  const created: Step[] = [
    ['CREATED', 0],
    ['AWAITING_AUTHORISATION', 2_000],
  ];
  const authorised: Step[] = [...created, ['AUTHORISED', 95_000], ['PENDING', 97_000]];
  const accepted: Step[] = [...authorised, ['ACCEPTED', 99_000]];
  const settled: Step[] = [...accepted, ['SETTLED', 3 * MINUTE]];
  switch (status) {
    case 'AWAITING_AUTHORISATION':
      return created;
    case 'CANCELLED':
      return [...created, ['CANCELLED', 4 * MINUTE, REASONS.CANCELLED]];
    case 'PENDING':
      return authorised;
    case 'ACCEPTED':
      return accepted;
    case 'SETTLED':
      return settled;
    case 'REFUNDED':
      return [...settled, ['REFUNDED', 4 * DAY, REASONS.REFUNDED]];
    case 'REJECTED':
      return [...authorised, ['REJECTED', 100_000, REASONS.REJECTED]];
    case 'FAILED':
      return [...accepted, ['FAILED', 2 * HOUR, REASONS.FAILED]];
    case 'UNKNOWN':
      return [...created, ['AUTHORISED', 95_000], ['UNKNOWN', 125_000, REASONS.UNKNOWN]];
    default:
      throw new Error(`no sandbox scenario for ${status}`);
  }
}

function northwindGbpAccount(customer: SeedCustomer): string | null {
  const accounts = customer.banks.northwind?.accounts.filter((a) => a.currency === 'GBP') ?? [];
  return (accounts.find((a) => a.kind === 'current') ?? accounts[0])?.bankAccountId ?? null;
}

export function sandboxPayments(seed: Seed, opts: { idSecret: string; now: Date }): NewPayment[] {
  const payments: NewPayment[] = [];
  for (const customer of seed.customers) {
    const account = northwindGbpAccount(customer);
    if (!account) continue;
    const scenarios = customer.displayName === 'Alice' ? SCENARIOS.alice : SCENARIOS.ben;
    for (const [n, s] of scenarios.entries()) {
      const id = derivedId('pay', opts.idSecret, 'sandbox-seed', customer.customerId, String(n));
      // Whole seconds keep the sandbox data tidy; the order stays that of the scenarios' ages.
      const createdAt = new Date(Math.floor((opts.now.getTime() - s.ago) / 1000) * 1000);
      const history: PaymentStatusChangeModel[] = steps(s.status).map(([status, offset, reason]) => ({
        status,
        at: new Date(createdAt.getTime() + offset),
        reason: reason ?? null,
      }));
      const last = history.at(-1)!;
      const settled = history.find((h) => h.status === 'SETTLED');
      const submitted = history.some((h) => h.status === 'AUTHORISED');
      payments.push({
        id,
        customerId: customer.customerId,
        debtorAccountId: bankAccountId(opts.idSecret, 'northwind', account),
        amount: s.amount,
        currency: 'GBP',
        creditor: s.creditor,
        reference: s.reference,
        status: s.status,
        statusReason: last.reason,
        createdAt,
        updatedAt: last.at,
        settledAt: settled?.at ?? null,
        partner: 'northwind',
        partnerConsentId: `sbx-pc-${id.slice(4, 20)}`,
        partnerPaymentId: submitted ? `sbx-dp-${id.slice(4, 20)}` : null,
        history,
      });
    }
  }
  return payments;
}

/** Writes the seed's ledger (what is already there is left alone); returns how many payments it inserted. */
export async function applySeed(
  db: Database,
  seed: Seed,
  opts: { idSecret: string; now: Date; logger: Logger },
): Promise<number> {
  const inserted = await db.transaction(async (tx) => {
    const repo = createPaymentsRepository(tx);
    let count = 0;
    for (const p of sandboxPayments(seed, opts)) if (await repo.insertIfAbsent(p)) count++;
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
