import { SANDBOX_CUSTOMERS, type Institution, type SandboxBankAccount } from '../manifest.ts';
import {
  CHARGEBACK_REASONS,
  DIRECT_DEBITS,
  EMPLOYERS,
  LANDLORDS,
  MERCHANTS,
  PEOPLE,
  RETURN_REASONS,
  SUBSCRIPTIONS,
  TRANSFER_NOTES,
  type CatalogCurrency,
  type Merchant,
} from './catalog.ts';
import { DAY, HOUR, MINUTE } from './clock.ts';
import { counterpartyIban, counterpartyUkAccount, northwindNumbers, rheinbankIban } from './identifiers.ts';
import { createPrng, stableHash, type Prng } from './prng.ts';

/**
 * The bank-neutral ledger behind both bank sandboxes: every account of the manifest gets about
 * `transactionCount` entries over ~18 months before the sandbox's anchor time (its start), plus
 * a week of entries after it that appear as the clock moves on. Northwind renders entries as
 * OBIE 4.0 transactions, Rheinbank as Berlin Group transactions.
 *
 * Determinism: each day of each account is generated from its own PRNG stream
 * (seed, account, day), so an entry's id, amount and text depend only on the seed, the account
 * and the calendar day; restarting the sandbox (even on another day) reproduces the same
 * entries for the days both windows cover. Balances depend on the anchor: the booked balance
 * at the anchor is a per-account target, and the opening balance is derived from it.
 *
 * Time model: an entry exists from `createdAt` (it is invisible before); it is PENDING while
 * `createdAt <= now < bookingAt` and BOOKED from `bookingAt` on, with the same id throughout.
 * Card payments and cash withdrawals book 4-70 hours after authorisation, chargebacks a day
 * after they are raised; transfers, direct debits, salaries and interest book immediately.
 *
 * Reversals and chargebacks point at their original entry (`original.id`); the original is
 * always an earlier entry of the same account inside the window:
 * - reversal: an outgoing transfer returned by the beneficiary's bank, credited back
 *   (ISO 20022 PMNT-ICDT-RRTN, proprietary code REVERSAL), about every 61 days on current accounts;
 * - chargeback: a disputed card payment credited back (ISO 20022 PMNT-CCRD-CAJT, proprietary
 *   code CHARGEBACK), about every 47 days on accounts with card payments.
 */

export type EntryCategory =
  | 'card'
  | 'subscription'
  | 'atm'
  | 'salary'
  | 'transfer-in'
  | 'transfer-out'
  | 'standing-order'
  | 'direct-debit'
  | 'internal-in'
  | 'internal-out'
  | 'card-repayment'
  | 'interest'
  | 'fee'
  | 'reversal'
  | 'chargeback'
  | 'payment';

export interface Counterparty {
  name: string;
  /** UK sort code + account number (14 digits) for Northwind, IBAN for Rheinbank. */
  account: string;
}

export interface CardDetails {
  scheme: 'VISA' | 'MasterCard';
  last4: string;
  authorisation: 'Contactless' | 'PIN' | 'ConsumerDevice' | 'None';
}

export interface LedgerEntry {
  /** The bank's transaction id: unique, immutable, stable across pending -> booked. <= 35 chars. */
  id: string;
  /** Payment-scheme reference (FPS id, card authorisation code, mandate reference...). <= 35 chars. */
  reference: string;
  endToEndId?: string;
  createdAt: Date;
  bookingAt: Date;
  valueAt: Date;
  /** Positive amount in minor units (pence, cents). */
  amountMinor: number;
  direction: 'CREDIT' | 'DEBIT';
  category: EntryCategory;
  /** Statement text. */
  description: string;
  merchant?: { name: string; mcc: string; city: string };
  counterparty?: Counterparty;
  card?: CardDetails;
  /** ISO 20022 bank transaction code. */
  iso: { domain: string; family: string; subFamily: string };
  /** The bank's own code (<= 35 chars): CARD_PAYMENT, REVERSAL, CHARGEBACK, ... */
  proprietaryCode: string;
  /** For reversals and chargebacks: the entry undone, and why. */
  original?: { id: string; reference: string; reason: string };
  /** For entries created by a sandbox payment (Northwind PIS): the DomesticPaymentId. */
  paymentId?: string;
  /** Booked balance just after this entry books (signed, minor units). */
  balanceAfterMinor: number;
}

export interface LedgerAccount {
  institution: Institution;
  customerId: string;
  psuId: string;
  holderName: string;
  account: SandboxBankAccount;
  /** The holder's other accounts at the same bank. */
  siblings: SandboxBankAccount[];
}

export type EntryStatus = 'pending' | 'booked';

export interface Ledger {
  account: LedgerAccount;
  /** Earliest createdAt the ledger covers (midnight UTC, ~18 months before the anchor). */
  windowStart: Date;
  anchor: Date;
  openingBalanceMinor: number;
  /** Credit limit of card accounts (minor units). */
  creditLimitMinor?: number;
  /** Every entry, sorted by booking time (then creation time, then id). */
  entries(): readonly LedgerEntry[];
  /** Entries that exist at `now`, newest first, with their status at `now`. */
  visible(now: Date): Array<{ entry: LedgerEntry; status: EntryStatus }>;
  get(id: string): LedgerEntry | undefined;
  /** Booked balance at `at` (opening + every entry booked at or before `at`). */
  bookedBalanceMinor(at: Date): number;
  /** Sum of pending debits and credits at `now` (positive numbers). */
  pendingMinor(now: Date): { debits: number; credits: number };
  /** Adds an entry (a payment initiated through the sandbox) and recomputes running balances. */
  append(entry: Omit<LedgerEntry, 'balanceAfterMinor'>): LedgerEntry;
}

export interface LedgerOptions {
  seed: number;
  anchor: Date;
  historyDays?: number;
  futureDays?: number;
}

export interface LedgerStore {
  institution: Institution;
  accounts(): LedgerAccount[];
  /** The account's ledger, generated on first use and cached. */
  get(bankAccountId: string): Ledger | undefined;
}

export const HISTORY_DAYS = 548;
export const FUTURE_DAYS = 7;

/** The manifest's accounts at a bank. */
export function ledgerAccounts(institution: Institution): LedgerAccount[] {
  const out: LedgerAccount[] = [];
  for (const customer of SANDBOX_CUSTOMERS) {
    const bank = customer.banks[institution];
    if (!bank) continue;
    const holderName = customer.legal
      ? `${customer.legal.givenName} ${customer.legal.familyName}`
      : customer.displayName;
    for (const account of bank.accounts) {
      out.push({
        institution,
        customerId: customer.customerId,
        psuId: bank.psuId,
        holderName,
        account,
        siblings: bank.accounts.filter((a) => a !== account),
      });
    }
  }
  return out;
}

export function createLedgerStore(institution: Institution, options: LedgerOptions): LedgerStore {
  const accounts = ledgerAccounts(institution);
  const cache = new Map<string, Ledger>();
  return {
    institution,
    accounts: () => accounts,
    get(bankAccountId) {
      let ledger = cache.get(bankAccountId);
      if (!ledger) {
        const account = accounts.find((a) => a.account.bankAccountId === bankAccountId);
        if (!account) return undefined;
        ledger = generateLedger(account, options);
        cache.set(bankAccountId, ledger);
      }
      return ledger;
    },
  };
}

/** Minor units to a decimal string with the currency's two decimals ("1234" -> "12.34"). */
export function formatMinor(minor: number): string {
  const negative = minor < 0;
  const abs = Math.abs(Math.round(minor));
  const text = `${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')}`;
  return negative ? `-${text}` : text;
}

export function signedMinor(entry: Pick<LedgerEntry, 'amountMinor' | 'direction'>): number {
  return entry.direction === 'CREDIT' ? entry.amountMinor : -entry.amountMinor;
}

export function entryStatus(entry: LedgerEntry, now: Date): EntryStatus | 'future' {
  if (entry.createdAt.getTime() > now.getTime()) return 'future';
  return entry.bookingAt.getTime() <= now.getTime() ? 'booked' : 'pending';
}

// ---------------------------------------------------------------------------------------------
// Generation
// ---------------------------------------------------------------------------------------------

type Draft = Omit<LedgerEntry, 'balanceAfterMinor'>;

interface Profile {
  currency: CatalogCurrency;
  incomeMinor: number;
  rentMinor: number;
  employer: string;
  landlord: string;
  directDebits: Array<{ name: string; min: number; max: number; dayOfMonth: number }>;
  subscriptions: Array<{ name: string; mcc: string; city: string; amount: number; dayOfMonth: number }>;
  card: CardDetails;
  targetBalanceMinor: number;
  creditLimitMinor?: number;
  randomPerDay: number;
  mix: Array<{ category: EntryCategory; weight: number }>;
  cardScale: number;
  chargebackPhase: number;
  reversalPhase: number;
  hasCardPayments: boolean;
}

const dayOf = (d: Date): number => Math.floor(d.getTime() / DAY);
const toMinor = (major: number): number => Math.round(major * 100);

function buildProfile(seed: number, acct: LedgerAccount): Profile {
  const { account } = acct;
  const currency = account.currency as CatalogCurrency;
  const p = createPrng(seed, 'profile', acct.institution, account.bankAccountId);
  const holder = createPrng(seed, 'holder', acct.institution, acct.customerId);
  const incomeMinor = toMinor(holder.int(23, 42) * 100 + holder.int(0, 99) + 0.5);
  const rentMinor = Math.round(incomeMinor * holder.float(0.28, 0.35));
  const employer = holder.pick(EMPLOYERS[currency]);
  const landlord = holder.pick(LANDLORDS[currency]);
  const dds = shuffle(holder, DIRECT_DEBITS[currency]).slice(0, holder.int(3, 5));
  const subs = shuffle(holder, SUBSCRIPTIONS[currency])
    .slice(0, 2)
    .map((s) => ({ ...s, dayOfMonth: holder.int(1, 28) }));
  const card: CardDetails = {
    scheme: account.kind === 'credit-card' ? 'MasterCard' : 'VISA',
    last4: p.digits(4),
    authorisation: 'Contactless',
  };
  const hasSavings = acct.siblings.some((s) => s.kind === 'savings');
  const hasCardAccount = acct.siblings.some((s) => s.kind === 'credit-card');
  const months = HISTORY_DAYS / 30.44;

  let scheduledPerMonth = 0;
  let mix: Profile['mix'];
  let targetBalanceMinor: number;
  let creditLimitMinor: number | undefined;
  let monthlyCardBudgetMinor = 0;
  switch (account.kind) {
    case 'current': {
      scheduledPerMonth = 2 + dds.length + subs.length + (hasSavings ? 1 : 0) + (hasCardAccount ? 1 : 0);
      mix = [
        { category: 'card', weight: 0.76 },
        { category: 'atm', weight: 0.05 },
        { category: 'transfer-out', weight: 0.09 },
        { category: 'transfer-in', weight: 0.1 },
      ];
      targetBalanceMinor = toMinor(p.int(900, 4200) + p.int(0, 99) / 100);
      const ddMonthly = dds.reduce((s, d) => s + toMinor((d.min + d.max) / 2), 0);
      const subsMonthly = subs.reduce((s, d) => s + toMinor(d.amount), 0);
      const fixed =
        rentMinor + ddMonthly + subsMonthly + (hasSavings ? toMinor(275) : 0) + (hasCardAccount ? toMinor(475) : 0);
      // Expected other random flows per month: cash withdrawals (mean 50) and the small net of
      // person-to-person transfers in (10%) and out (9%) (mean 74); what is left is card spend.
      const randomPerDay = Math.max(0.05, (account.transactionCount - scheduledPerMonth * months) / HISTORY_DAYS);
      const perMonth = randomPerDay * 30.44;
      const otherNet = perMonth * (0.1 - 0.09) * toMinor(74) - perMonth * 0.05 * toMinor(50);
      monthlyCardBudgetMinor = Math.max(toMinor(250), incomeMinor - fixed + otherNet);
      break;
    }
    case 'savings':
      scheduledPerMonth = 1 + (acct.siblings.some((s) => s.kind === 'current') ? 1 : 0);
      mix = [
        { category: 'transfer-in', weight: 0.55 },
        { category: 'transfer-out', weight: 0.45 },
      ];
      targetBalanceMinor = toMinor(p.int(4000, 18000) + p.int(0, 99) / 100);
      break;
    case 'credit-card':
      scheduledPerMonth = 1;
      mix = [{ category: 'card', weight: 1 }];
      creditLimitMinor = toMinor(p.pick([2500, 4000, 6000]));
      targetBalanceMinor = -toMinor(p.int(150, 1400) + p.int(0, 99) / 100);
      monthlyCardBudgetMinor = toMinor(475);
      break;
  }
  const randomPerDay = Math.max(0.05, (account.transactionCount - scheduledPerMonth * months) / HISTORY_DAYS);
  const cardShare = mix.find((m) => m.category === 'card')?.weight ?? 0;
  const merchants = MERCHANTS[currency];
  const totalWeight = merchants.reduce((s, m) => s + m.weight, 0);
  const rawMean = merchants.reduce((s, m) => s + ((m.min + m.max) / 2) * m.weight, 0) / totalWeight;
  const cardsPerMonth = randomPerDay * cardShare * 30.44;
  const cardScale =
    cardsPerMonth > 0 ? Math.min(2.5, Math.max(0.35, monthlyCardBudgetMinor / 100 / cardsPerMonth / rawMean)) : 1;
  const phase = (salt: string, mod: number) => parseInt(stableHash([seed, salt, account.bankAccountId], 8), 16) % mod;
  return {
    currency,
    incomeMinor,
    rentMinor,
    employer,
    landlord,
    directDebits: dds,
    subscriptions: subs,
    card,
    targetBalanceMinor,
    ...(creditLimitMinor !== undefined ? { creditLimitMinor } : {}),
    randomPerDay,
    mix,
    cardScale,
    chargebackPhase: phase('chargeback', 47),
    reversalPhase: phase('reversal', 61),
    hasCardPayments: cardShare > 0,
  };
}

export function generateLedger(acct: LedgerAccount, options: LedgerOptions): Ledger {
  const seed = options.seed;
  const anchor = new Date(options.anchor.getTime());
  const anchorDay = dayOf(anchor);
  const firstDay = anchorDay - (options.historyDays ?? HISTORY_DAYS);
  const lastDay = anchorDay + (options.futureDays ?? FUTURE_DAYS);
  const profile = buildProfile(seed, acct);
  const { account } = acct;
  const idPrefix = acct.institution === 'northwind' ? 'NW' : 'RB';
  const baseCache = new Map<number, Draft[]>();

  const counterpartyAccount = (name: string): string =>
    acct.institution === 'northwind' ? counterpartyUkAccount(seed, name) : counterpartyIban(seed, name);
  const makeId = (day: number, key: string): string =>
    `${idPrefix}${stableHash([seed, acct.institution, account.bankAccountId, day, key], 20).toUpperCase()}`;
  const at = (day: number, p: Prng, fromHour: number, toHour: number): Date =>
    new Date(day * DAY + p.int(fromHour * 60, toHour * 60 - 1) * MINUTE + p.int(0, 59) * 1000);
  const iso = (domain: string, family: string, subFamily: string) => ({ domain, family, subFamily });
  const transferIso = (direction: 'in' | 'out', sub?: string) =>
    iso('PMNT', direction === 'in' ? 'RCDT' : 'ICDT', sub ?? (acct.institution === 'northwind' ? 'DMCT' : 'ESCT'));
  const monthKey = (day: number): string => new Date(day * DAY).toISOString().slice(0, 7);

  function base(day: number): Draft[] {
    const cached = baseCache.get(day);
    if (cached) return cached;
    const p = createPrng(seed, 'day', acct.institution, account.bankAccountId, day);
    const date = new Date(day * DAY);
    const dom = date.getUTCDate();
    const drafts: Draft[] = [];
    let n = 0;
    const add = (d: Omit<Draft, 'id'>): void => {
      drafts.push({ ...d, id: makeId(day, String(n++)) });
    };
    const instant = (createdAt: Date) => ({ createdAt, bookingAt: createdAt, valueAt: createdAt });

    // ---- scheduled entries
    if (account.kind === 'current') {
      if (dom === 25) {
        const t = at(day, p, 5, 7);
        add({
          ...instant(t),
          reference: `SAL${p.digits(12)}`,
          endToEndId: `PAYROLL-${monthKey(day)}`,
          amountMinor: profile.incomeMinor,
          direction: 'CREDIT',
          category: 'salary',
          description: `${profile.employer} SALARY`,
          counterparty: { name: profile.employer, account: counterpartyAccount(profile.employer) },
          iso: iso('PMNT', 'RCDT', 'SALA'),
          proprietaryCode: 'SALARY',
        });
      }
      if (dom === 1) {
        const t = at(day, p, 6, 8);
        add({
          ...instant(t),
          reference: `SO${p.digits(14)}`,
          endToEndId: `RENT-${monthKey(day)}`,
          amountMinor: profile.rentMinor,
          direction: 'DEBIT',
          category: 'standing-order',
          description: `${profile.landlord} RENT`,
          counterparty: { name: profile.landlord, account: counterpartyAccount(profile.landlord) },
          iso: iso('PMNT', 'ICDT', 'STDO'),
          proprietaryCode: 'STANDING_ORDER',
        });
      }
      for (const dd of profile.directDebits) {
        if (dd.dayOfMonth !== dom) continue;
        const t = at(day, p, 4, 6);
        add({
          ...instant(t),
          reference: `DD${p.digits(14)}`,
          amountMinor: toMinor(p.float(dd.min, dd.max)),
          direction: 'DEBIT',
          category: 'direct-debit',
          description: `${dd.name} DIRECT DEBIT`,
          counterparty: { name: dd.name, account: counterpartyAccount(dd.name) },
          iso: iso('PMNT', 'RDDT', acct.institution === 'northwind' ? 'PMDD' : 'ESDD'),
          proprietaryCode: 'DIRECT_DEBIT',
        });
      }
      for (const sub of profile.subscriptions) {
        if (sub.dayOfMonth !== dom) continue;
        const t = at(day, p, 1, 4);
        add({
          createdAt: t,
          bookingAt: new Date(t.getTime() + p.int(20, 50) * HOUR),
          valueAt: t,
          reference: `CRD${p.digits(12)}`,
          amountMinor: toMinor(sub.amount),
          direction: 'DEBIT',
          category: 'subscription',
          description: `${sub.name} ${sub.city}`,
          merchant: { name: sub.name, mcc: sub.mcc, city: sub.city },
          card: { ...profile.card, authorisation: 'None' },
          iso: iso('PMNT', 'CCRD', 'POSD'),
          proprietaryCode: 'CARD_PAYMENT',
        });
      }
      const savings = acct.siblings.find((s) => s.kind === 'savings');
      if (savings && dom === 26) {
        const t = at(day, p, 7, 8);
        const amount = savingsSweepMinor(seed, acct, monthKey(day));
        add({
          ...instant(t),
          reference: `TRF${p.digits(12)}`,
          endToEndId: `SAVE-${monthKey(day)}`,
          amountMinor: amount,
          direction: 'DEBIT',
          category: 'internal-out',
          description: `TRANSFER TO ${savings.name.toUpperCase()}`,
          counterparty: { name: acct.holderName, account: ownAccount(seed, acct.institution, savings.bankAccountId) },
          iso: transferIso('out'),
          proprietaryCode: 'INTERNAL_TRANSFER',
        });
      }
      const cardAccount = acct.siblings.find((s) => s.kind === 'credit-card');
      if (cardAccount && dom === 20) {
        const t = at(day, p, 9, 10);
        add({
          ...instant(t),
          reference: `TRF${p.digits(12)}`,
          endToEndId: `CARDPAY-${monthKey(day)}`,
          amountMinor: cardRepaymentMinor(seed, acct, monthKey(day)),
          direction: 'DEBIT',
          category: 'card-repayment',
          description: `${cardAccount.name.toUpperCase()} REPAYMENT`,
          counterparty: {
            name: cardAccount.name,
            account: ownAccount(seed, acct.institution, cardAccount.bankAccountId),
          },
          iso: transferIso('out'),
          proprietaryCode: 'CARD_REPAYMENT',
        });
      }
    } else if (account.kind === 'savings') {
      if (dom === 1) {
        const t = at(day, p, 0, 1);
        const interest = Math.max(1, Math.round((Math.abs(profile.targetBalanceMinor) * 0.034) / 12));
        add({
          ...instant(t),
          reference: `INT${p.digits(12)}`,
          amountMinor: interest,
          direction: 'CREDIT',
          category: 'interest',
          description: 'INTEREST PAID',
          iso: iso('ACMT', 'MCOP', 'INTR'),
          proprietaryCode: 'INTEREST',
        });
      }
      const current = acct.siblings.find((s) => s.kind === 'current');
      if (current && dom === 26) {
        const t = at(day, p, 7, 8);
        add({
          ...instant(t),
          reference: `TRF${p.digits(12)}`,
          endToEndId: `SAVE-${monthKey(day)}`,
          amountMinor: savingsSweepMinor(seed, acct, monthKey(day)),
          direction: 'CREDIT',
          category: 'internal-in',
          description: `TRANSFER FROM ${current.name.toUpperCase()}`,
          counterparty: { name: acct.holderName, account: ownAccount(seed, acct.institution, current.bankAccountId) },
          iso: transferIso('in'),
          proprietaryCode: 'INTERNAL_TRANSFER',
        });
      }
    } else if (account.kind === 'credit-card') {
      if (dom === 20) {
        const t = at(day, p, 9, 10);
        const current = acct.siblings.find((s) => s.kind === 'current');
        add({
          ...instant(t),
          reference: `TRF${p.digits(12)}`,
          endToEndId: `CARDPAY-${monthKey(day)}`,
          amountMinor: cardRepaymentMinor(seed, acct, monthKey(day)),
          direction: 'CREDIT',
          category: 'card-repayment',
          description: 'PAYMENT RECEIVED - THANK YOU',
          ...(current
            ? {
                counterparty: {
                  name: acct.holderName,
                  account: ownAccount(seed, acct.institution, current.bankAccountId),
                },
              }
            : {}),
          iso: transferIso('in'),
          proprietaryCode: 'CARD_REPAYMENT',
        });
      }
    }

    // ---- random entries
    const count = p.poisson(profile.randomPerDay);
    for (let i = 0; i < count; i++) {
      const { category } = p.weighted(profile.mix, (m) => m.weight);
      if (category === 'card') {
        const m: Merchant = p.weighted(MERCHANTS[profile.currency], (x) => x.weight);
        const t = at(day, p, 7, 23);
        const amount = Math.max(50, toMinor(p.float(m.min, m.max) * profile.cardScale));
        const authorisation: CardDetails['authorisation'] = m.online
          ? 'ConsumerDevice'
          : amount > toMinor(100)
            ? 'PIN'
            : 'Contactless';
        add({
          createdAt: t,
          bookingAt: new Date(t.getTime() + p.int(20, 70) * HOUR + p.int(0, 59) * MINUTE),
          valueAt: t,
          reference: `CRD${p.digits(12)}`,
          amountMinor: amount,
          direction: 'DEBIT',
          category: 'card',
          description: `${m.name} ${m.city}`,
          merchant: { name: m.name, mcc: m.mcc, city: m.city },
          card: { ...profile.card, authorisation },
          iso: iso('PMNT', 'CCRD', 'POSD'),
          proprietaryCode: 'CARD_PAYMENT',
        });
      } else if (category === 'atm') {
        const t = at(day, p, 8, 22);
        const amount = toMinor(p.pick([20, 30, 40, 50, 60, 100]));
        add({
          createdAt: t,
          bookingAt: new Date(t.getTime() + p.int(4, 24) * HOUR),
          valueAt: t,
          reference: `ATM${p.digits(12)}`,
          amountMinor: amount,
          direction: 'DEBIT',
          category: 'atm',
          description: profile.currency === 'GBP' ? 'CASH WITHDRAWAL LINK ATM' : 'Bargeldauszahlung GA',
          card: { ...profile.card, authorisation: 'PIN' },
          iso: iso('PMNT', 'CCRD', 'CWDL'),
          proprietaryCode: 'CASH_WITHDRAWAL',
        });
      } else if (category === 'transfer-out' || category === 'transfer-in') {
        const t = at(day, p, 8, 22);
        const person = p.pick(PEOPLE[profile.currency]);
        const note = p.pick(TRANSFER_NOTES[profile.currency]);
        const incoming = category === 'transfer-in';
        const amount =
          account.kind === 'savings' ? toMinor(p.int(50, 600)) : toMinor(p.int(8, 140) + p.pick([0, 0.5, 0.99, 0.25]));
        add({
          ...instant(t),
          reference: `FP${p.digits(16)}`,
          endToEndId: `E2E${p.hex(16).toUpperCase()}`,
          amountMinor: amount,
          direction: incoming ? 'CREDIT' : 'DEBIT',
          category,
          description: `${incoming ? 'FROM' : 'TO'} ${person} ${note}`,
          counterparty: { name: person, account: counterpartyAccount(person) },
          iso: transferIso(incoming ? 'in' : 'out'),
          proprietaryCode: incoming ? 'TRANSFER_IN' : 'TRANSFER_OUT',
        });
      }
    }
    baseCache.set(day, drafts);
    return drafts;
  }

  function derived(day: number): Draft[] {
    const out: Draft[] = [];
    const p = createPrng(seed, 'derived', acct.institution, account.bankAccountId, day);
    if (profile.hasCardPayments && (day + profile.chargebackPhase) % 47 === 0) {
      for (let k = p.int(7, 20); k <= 45 && day - k >= firstDay; k++) {
        const candidates = base(day - k).filter((e) => e.category === 'card' && e.amountMinor >= 500);
        if (candidates.length === 0) continue;
        const orig = p.pick(candidates);
        const t = at(day, p, 9, 17);
        const reason = p.pick(CHARGEBACK_REASONS);
        out.push({
          id: makeId(day, 'chargeback'),
          createdAt: t,
          bookingAt: new Date(t.getTime() + 24 * HOUR),
          valueAt: t,
          reference: `CBK${p.digits(12)}`,
          amountMinor: orig.amountMinor,
          direction: 'CREDIT',
          category: 'chargeback',
          description: `CHARGEBACK ${orig.merchant?.name ?? orig.description}`.slice(0, 140),
          ...(orig.merchant ? { merchant: orig.merchant } : {}),
          ...(orig.card ? { card: { ...orig.card, authorisation: 'None' as const } } : {}),
          iso: iso('PMNT', 'CCRD', 'CAJT'),
          proprietaryCode: 'CHARGEBACK',
          original: { id: orig.id, reference: orig.reference, reason },
        });
        break;
      }
    }
    if (account.kind === 'current' && (day + profile.reversalPhase) % 61 === 0) {
      for (let k = 1; k <= 10 && day - k >= firstDay; k++) {
        const candidates = base(day - k).filter((e) => e.category === 'transfer-out');
        if (candidates.length === 0) continue;
        const orig = p.pick(candidates);
        const t = new Date(Math.max(at(day, p, 8, 16).getTime(), orig.createdAt.getTime() + HOUR));
        const reason = p.pick(RETURN_REASONS);
        out.push({
          id: makeId(day, 'reversal'),
          createdAt: t,
          bookingAt: t,
          valueAt: t,
          reference: `RTN${p.digits(12)}`,
          ...(orig.endToEndId ? { endToEndId: orig.endToEndId } : {}),
          amountMinor: orig.amountMinor,
          direction: 'CREDIT',
          category: 'reversal',
          description: `RETURNED PAYMENT ${orig.counterparty?.name ?? ''}`.trim(),
          ...(orig.counterparty ? { counterparty: orig.counterparty } : {}),
          iso: iso('PMNT', 'ICDT', 'RRTN'),
          proprietaryCode: 'REVERSAL',
          original: { id: orig.id, reference: orig.reference, reason },
        });
        break;
      }
    }
    return out;
  }

  const drafts: Draft[] = [];
  for (let day = firstDay; day <= lastDay; day++) drafts.push(...base(day), ...derived(day));
  baseCache.clear();

  // Opening balance: the booked balance at the anchor equals the account's target.
  const anchorMs = anchor.getTime();
  const bookedAtAnchor = drafts.reduce((sum, d) => (d.bookingAt.getTime() <= anchorMs ? sum + signedMinor(d) : sum), 0);
  const openingBalanceMinor = profile.targetBalanceMinor - bookedAtAnchor;
  return assembleLedger(acct, drafts, openingBalanceMinor, new Date(firstDay * DAY), anchor, profile.creditLimitMinor);
}

function assembleLedger(
  account: LedgerAccount,
  drafts: Draft[],
  openingBalanceMinor: number,
  windowStart: Date,
  anchor: Date,
  creditLimitMinor: number | undefined,
): Ledger {
  let entries: LedgerEntry[] = [];
  let bookingTimes: number[] = [];
  let byId = new Map<string, LedgerEntry>();
  let newestFirst: LedgerEntry[] = [];

  const rebuild = (all: Draft[]): void => {
    const sorted = [...all].sort(
      (a, b) =>
        a.bookingAt.getTime() - b.bookingAt.getTime() ||
        a.createdAt.getTime() - b.createdAt.getTime() ||
        (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
    );
    let balance = openingBalanceMinor;
    entries = sorted.map((d) => {
      balance += signedMinor(d);
      return { ...d, balanceAfterMinor: balance };
    });
    bookingTimes = entries.map((e) => e.bookingAt.getTime());
    byId = new Map(entries.map((e) => [e.id, e]));
    newestFirst = [...entries].sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : -1));
  };
  rebuild(drafts);

  // Index of the first entry booked after `ms`.
  const upperBound = (ms: number): number => {
    let lo = 0;
    let hi = bookingTimes.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (bookingTimes[mid]! <= ms) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };

  return {
    account,
    windowStart,
    anchor,
    openingBalanceMinor,
    ...(creditLimitMinor !== undefined ? { creditLimitMinor } : {}),
    entries: () => entries,
    get: (id) => byId.get(id),
    visible(now) {
      const ms = now.getTime();
      const out: Array<{ entry: LedgerEntry; status: EntryStatus }> = [];
      for (const entry of newestFirst) {
        if (entry.createdAt.getTime() > ms) continue;
        out.push({ entry, status: entry.bookingAt.getTime() <= ms ? 'booked' : 'pending' });
      }
      return out;
    },
    bookedBalanceMinor(at) {
      const i = upperBound(at.getTime());
      return i === 0 ? openingBalanceMinor : entries[i - 1]!.balanceAfterMinor;
    },
    pendingMinor(now) {
      const ms = now.getTime();
      let debits = 0;
      let credits = 0;
      for (let i = upperBound(ms); i < entries.length; i++) {
        const e = entries[i]!;
        if (e.createdAt.getTime() > ms) continue;
        if (e.direction === 'DEBIT') debits += e.amountMinor;
        else credits += e.amountMinor;
      }
      return { debits, credits };
    },
    append(entry) {
      if (byId.has(entry.id)) throw new Error(`duplicate ledger entry ${entry.id}`);
      rebuild([...entries, entry]);
      return byId.get(entry.id)!;
    },
  };
}

function shuffle<T>(p: Prng, items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = p.int(0, i);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** Both sides of a savings sweep use the same amount (keyed by holder and month). */
function savingsSweepMinor(seed: number, acct: LedgerAccount, month: string): number {
  return createPrng(seed, 'savings-sweep', acct.institution, acct.customerId, month).int(15, 40) * 1000;
}

/** Both sides of a card repayment use the same amount (keyed by holder and month). */
function cardRepaymentMinor(seed: number, acct: LedgerAccount, month: string): number {
  return createPrng(seed, 'card-repayment', acct.institution, acct.customerId, month).int(25000, 70000);
}

/** The holder's own account number as a counterparty (matches what the account endpoint shows). */
function ownAccount(seed: number, institution: Institution, bankAccountId: string): string {
  return institution === 'northwind'
    ? northwindNumbers(seed, bankAccountId).sortCodeAccountNumber
    : rheinbankIban(seed, bankAccountId);
}
