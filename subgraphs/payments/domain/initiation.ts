import { createHash } from 'node:crypto';
import { clientError, ErrorCode, PartnerError } from '../../../lib/errors.ts';
import { newId } from '../../../lib/ids.ts';
import type { Logger } from '../../../lib/logger.ts';
import { isCurrencyCode, isDecimalString, minorUnits, normaliseAmount } from '../../../lib/money.ts';
import { consentedAccountsFor, type Principal } from '../../../lib/principal.ts';
import { isValidCreditorIdentification } from './creditor.ts';
import type { CreditorModel, PaymentModel, PaymentRequest, PaymentStatus } from './model.ts';
import type {
  BankPayment,
  DebtorAccounts,
  LedgerPayment,
  PaymentInitiationBank,
  PaymentOrder,
  PaymentsLedger,
} from './ports.ts';
import { canTransition } from './status.ts';

/**
 * Payment initiation: the use cases that move money (initiatePayment, cancelPayment) and the one
 * that follows a payment through the bank (advance: by the poller when a webhook is late, and by
 * the webhook worker). The rules:
 *
 * - Ownership: the debtor account must be the customer's (DebtorAccounts) and, for a third party,
 *   covered by its PAYMENTS_INITIATION consent (the consented accounts the gateway signs). Any
 *   other account gets the same NOT_FOUND as one that does not exist.
 * - Idempotency, second layer: the ledger row is created under the unique (client, customer, key)
 *   before the bank is called; a request that finds its key already used with the same request
 *   resumes that payment where it stopped (so a crash between the bank call and the commit, or a
 *   lost gateway record, converges on the same payment), and another request under the key is
 *   IDEMPOTENCY_KEY_REUSED. The bank sees keys derived from the payment id only.
 * - Uncertainty: a submission whose answer never came (a timeout or 5xx; the client sends it once,
 *   partners/northwind/client.ts) is UNKNOWN, resolved by asking the bank again under the same key
 *   (which can only return the payment the first call made), never by a new key. The bank being
 *   unreachable before anything was sent is PARTNER_UNAVAILABLE (the circuit breaker fails fast)
 *   and leaves the payment where it was.
 * - Monotonic: every status change is a compare-and-set from the statuses that may precede it
 *   (domain/status.ts), so an older report never moves a payment backwards.
 */
export interface InitiationDeps {
  ledger: PaymentsLedger;
  /** Null when the bank is not configured (no NORTHWIND_PIS_TOKEN): initiation answers PARTNER_UNAVAILABLE. */
  bank: PaymentInitiationBank | null;
  debtors: DebtorAccounts;
  now: () => Date;
  logger: Logger;
}

export interface InitiatePaymentInput {
  idempotencyKey?: string | null;
  debtorAccountId: string;
  creditor: { name: string; sortCode?: string | null; accountNumber?: string | null; iban?: string | null };
  amount: { amount: string; currency: string };
  reference?: string | null;
}

const REASONS = {
  cancelled: 'You cancelled the payment before authorising it.',
  rejectedAtBank: 'You rejected the payment at your bank, or the authorisation expired.',
  unknown: 'The bank has not confirmed the payment yet; we are checking with the bank.',
} as const;

const badInput = (message: string, field: string) => clientError(ErrorCode.BAD_USER_INPUT, message, { field });

/** The key rule (also the gateway's): 1 to 40 printable ASCII characters, no leading or trailing space. */
export function checkIdempotencyKey(key: string | null | undefined): string {
  if (key === undefined || key === null)
    throw clientError(
      ErrorCode.IDEMPOTENCY_KEY_REQUIRED,
      'A payment needs an idempotency key (idempotencyKey or the Idempotency-Key header)',
    );
  if (key.length < 1 || key.length > 40 || !/^[\x20-\x7e]+$/.test(key) || key.trim() !== key)
    throw badInput(
      'The idempotency key must be 1 to 40 printable ASCII characters without surrounding spaces',
      'idempotencyKey',
    );
  return key;
}

/**
 * Validates the GraphQL input into a PaymentRequest (creditor identification, amount, reference); BAD_USER_INPUT naming
 * the field otherwise.
 */
export function parsePaymentRequest(input: InitiatePaymentInput): PaymentRequest {
  const name = input.creditor.name.trim();
  if (name.length < 1 || name.length > 70)
    throw badInput('The creditor name must be 1 to 70 characters', 'creditor.name');
  const compact = (v: string | null | undefined) => (v ?? '').replace(/[\s-]/g, '').toUpperCase();
  const { sortCode, accountNumber, iban } = input.creditor;
  let creditor: CreditorModel;
  if (iban && !sortCode && !accountNumber) {
    const value = compact(iban);
    if (!isValidCreditorIdentification('IBAN', value))
      throw badInput('The IBAN is not valid (format or check digits)', 'creditor.iban');
    creditor = { name, scheme: 'IBAN', identification: value };
  } else if (!iban && sortCode && accountNumber) {
    const sc = compact(sortCode);
    const an = compact(accountNumber);
    if (!/^\d{6}$/.test(sc)) throw badInput('A UK sort code has 6 digits', 'creditor.sortCode');
    if (!/^\d{8}$/.test(an)) throw badInput('A UK account number has 8 digits', 'creditor.accountNumber');
    creditor = { name, scheme: 'SORT_CODE_ACCOUNT_NUMBER', identification: `${sc}${an}` };
  } else {
    throw badInput('Give the creditor either a sortCode and an accountNumber, or an iban', 'creditor');
  }
  const { amount, currency } = input.amount;
  if (!isCurrencyCode(currency)) throw badInput(`${currency} is not an ISO 4217 currency`, 'amount.currency');
  if (!isDecimalString(amount)) throw badInput('The amount must be a decimal string such as "12.50"', 'amount.amount');
  const fraction = amount.split('.')[1] ?? '';
  if (fraction.replace(/0+$/, '').length > minorUnits(currency))
    throw badInput(`${currency} has ${minorUnits(currency)} decimal places`, 'amount.amount');
  const normalised = normaliseAmount(amount, currency);
  if (!/[1-9]/.test(normalised)) throw badInput('The amount must be more than zero', 'amount.amount');
  const reference = input.reference?.trim() || null;
  if (reference !== null && !/^[A-Za-z0-9 \-./&]{1,18}$/.test(reference))
    throw badInput('The reference is at most 18 letters, digits, spaces and - . / & (UK Faster Payments)', 'reference');
  return {
    debtorAccountId: input.debtorAccountId,
    creditor,
    amount: { amount: normalised, currency },
    reference,
  };
}

/** sha256 of the request a key was first used with: the same key with another request is IDEMPOTENCY_KEY_REUSED. */
export function requestHash(request: PaymentRequest): string {
  return createHash('sha256')
    .update(
      JSON.stringify([
        request.debtorAccountId,
        request.creditor.name,
        request.creditor.scheme,
        request.creditor.identification,
        request.amount.amount,
        request.amount.currency,
        request.reference,
      ]),
    )
    .digest('hex');
}

/** An account the caller may not debit answers exactly like one that does not exist. */
const accountNotFound = () => clientError(ErrorCode.NOT_FOUND, 'No account with this id', { field: 'debtorAccountId' });

export interface PaymentInitiation {
  initiate(principal: Principal | null, input: InitiatePaymentInput): Promise<PaymentModel>;
  cancel(principal: Principal | null, id: string, idempotencyKey: string | null | undefined): Promise<PaymentModel>;
  /** Asks the bank where a payment is and records it; returns the payment after. */
  advance(paymentId: string): Promise<LedgerPayment | null>;
  /** Records what the bank reported about a submitted payment (webhook or poll), if it moves the payment forward. */
  applyBankPayment(paymentId: string, report: BankPayment): Promise<LedgerPayment | null>;
  /**
   * Records the customer's decision at the bank (a consent webhook): AUTHORISED (the caller then
   * submits the payment, advance) or REJECTED. Null when no payment has this consent.
   */
  applyConsentDecision(consentId: string, decision: 'authorised' | 'rejected', at: Date): Promise<LedgerPayment | null>;
  /** The payment's current status, or null when the ledger has no such payment. */
  status(paymentId: string): Promise<PaymentStatus | null>;
}

export function createPaymentInitiation(deps: InitiationDeps): PaymentInitiation {
  const { ledger, debtors, logger } = deps;
  const bank = () => {
    if (!deps.bank)
      throw clientError(ErrorCode.PARTNER_UNAVAILABLE, 'Payment initiation is not available', { partner: 'northwind' });
    return deps.bank;
  };

  const orderOf = async (p: LedgerPayment): Promise<PaymentOrder> => {
    const debtor = await debtors.find(p.customerId, p.debtorAccountId);
    if (!debtor) throw new Error(`debtor account of ${p.id} is no longer known`);
    return { paymentId: p.id, amount: p.amount, creditor: p.creditor, reference: p.reference, debtor };
  };

  /** Asks the bank for the consent of a CREATED payment (the same consent on every retry) and records it. */
  const requestConsent = async (p: LedgerPayment): Promise<LedgerPayment> => {
    let consent;
    try {
      consent = await bank().createConsent(await orderOf(p));
    } catch (err) {
      if (err instanceof PartnerError && err.kind === 'contract' && err.status !== undefined && err.status < 500) {
        // The bank refused the order itself (a 4xx): nothing will ever be paid.
        logger.warn({ paymentId: p.id, err: err.message }, 'bank refused the payment consent');
        return (
          (await ledger.transition({
            id: p.id,
            from: ['CREATED'],
            to: 'REJECTED',
            at: deps.now(),
            reason: 'The bank refused the payment.',
          })) ?? (await ledger.byId(p.id))!
        );
      }
      throw err;
    }
    return (
      (await ledger.transition({
        id: p.id,
        from: ['CREATED'],
        to: 'AWAITING_AUTHORISATION',
        at: deps.now(),
        partnerConsentId: consent.consentId,
        authorisationUrl: consent.authorisationUrl,
      })) ?? (await ledger.byId(p.id))!
    );
  };

  const applyBankPayment = async (paymentId: string, report: BankPayment): Promise<LedgerPayment | null> => {
    const current = await ledger.byId(paymentId);
    if (!current) return null;
    if (current.status === report.status) return current;
    if (!canTransition(current.status, report.status)) {
      logger.debug({ paymentId, from: current.status, to: report.status }, 'stale bank status ignored');
      return current;
    }
    const from = (['AUTHORISED', 'PENDING', 'ACCEPTED', 'UNKNOWN'] as PaymentStatus[]).filter((s) =>
      canTransition(s, report.status),
    );
    const settled = report.status === 'SETTLED';
    return (
      (await ledger.transition({
        id: paymentId,
        from: from.includes(current.status) ? [current.status] : from,
        to: report.status,
        at: report.at,
        reason: report.reason,
        partnerPaymentId: report.bankPaymentId,
        ...(settled ? { settledAt: report.at } : {}),
      })) ?? (await ledger.byId(paymentId))
    );
  };

  /**
   * Submits an authorised payment; an answer that never came makes it UNKNOWN (asked again later under the same key).
   */
  const submit = async (p: LedgerPayment): Promise<LedgerPayment | null> => {
    let report: BankPayment;
    try {
      report = await bank().submitPayment(await orderOf(p), p.partnerConsentId!);
    } catch (err) {
      if (err instanceof PartnerError && err.kind === 'unavailable') {
        logger.warn(
          { paymentId: p.id, err: err.message },
          'payment submission unconfirmed: UNKNOWN until the bank says',
        );
        return (
          (await ledger.transition({
            id: p.id,
            from: ['AUTHORISED'],
            to: 'UNKNOWN',
            at: deps.now(),
            reason: REASONS.unknown,
          })) ?? ledger.byId(p.id)
        );
      }
      throw err;
    }
    return applyBankPayment(p.id, report);
  };

  const advance = async (paymentId: string): Promise<LedgerPayment | null> => {
    let p = await ledger.byId(paymentId);
    if (!p) return null;
    if (p.status === 'CREATED') return requestConsent(p);
    if (!p.partnerConsentId) return p;
    if (p.status === 'AWAITING_AUTHORISATION') {
      const state = await bank().consentState(p.partnerConsentId);
      if (state === 'awaiting') return p;
      if (state === 'rejected')
        return (
          (await ledger.transition({
            id: p.id,
            from: ['AWAITING_AUTHORISATION'],
            to: 'REJECTED',
            at: deps.now(),
            reason: REASONS.rejectedAtBank,
          })) ?? ledger.byId(p.id)
        );
      // Authorised at the bank: claim the submission (a cancellation that got there first wins).
      const claimed = await ledger.transition({
        id: p.id,
        from: ['AWAITING_AUTHORISATION'],
        to: 'AUTHORISED',
        at: deps.now(),
        authorisationUrl: null,
      });
      // Lost the race (a consent webhook authorised it, a cancellation won): go on from what it is now.
      p = claimed ?? (await ledger.byId(p.id));
      if (!p) return null;
    }
    if (p.status === 'AUTHORISED' || (p.status === 'UNKNOWN' && !p.partnerPaymentId)) return submit(p);
    if (p.partnerPaymentId && (p.status === 'PENDING' || p.status === 'ACCEPTED' || p.status === 'UNKNOWN'))
      return applyBankPayment(p.id, await bank().payment(p.partnerPaymentId));
    return p;
  };

  return {
    async initiate(principal, input) {
      const customerId = principal?.customerId;
      if (!principal || !customerId) throw accountNotFound();
      const key = checkIdempotencyKey(input.idempotencyKey);
      const request = parsePaymentRequest(input);
      const consented = consentedAccountsFor(principal, 'PAYMENTS_INITIATION');
      if (consented !== null && !consented.includes(request.debtorAccountId)) throw accountNotFound();
      const debtor = await debtors.find(customerId, request.debtorAccountId);
      if (!debtor) throw accountNotFound();
      if (debtor.currency !== request.amount.currency)
        throw badInput(`The account pays in ${debtor.currency}`, 'amount.currency');
      const hash = requestHash(request);
      const { payment } = await ledger.createOrGet({
        id: newId('pay'),
        clientId: principal.clientId,
        customerId,
        idempotencyKey: key,
        requestHash: hash,
        request,
        partnerAccountId: debtor.bankAccountId,
        at: deps.now(),
      });
      if (payment.requestHash !== hash)
        throw clientError(
          ErrorCode.IDEMPOTENCY_KEY_REUSED,
          'This idempotency key was already used for a different payment; use a new key for a new payment',
        );
      // A payment whose consent was never recorded (a crash or an outage after the ledger row) resumes here.
      return payment.status === 'CREATED' ? requestConsent(payment) : payment;
    },

    async cancel(principal, id, idempotencyKey) {
      checkIdempotencyKey(idempotencyKey);
      const customerId = principal?.customerId;
      const p = customerId ? await ledger.byId(id) : null;
      const consented = consentedAccountsFor(principal, 'PAYMENTS_INITIATION');
      if (!p || p.customerId !== customerId || (consented !== null && !consented.includes(p.debtorAccountId)))
        throw clientError(ErrorCode.NOT_FOUND, 'No payment with this id');
      if (p.status === 'CANCELLED') return p;
      const cancelled = await ledger.transition({
        id,
        from: ['CREATED', 'AWAITING_AUTHORISATION'],
        to: 'CANCELLED',
        at: deps.now(),
        reason: REASONS.cancelled,
        authorisationUrl: null,
      });
      if (cancelled) return cancelled;
      const now = (await ledger.byId(id))!;
      if (now.status === 'CANCELLED') return now;
      throw clientError(
        ErrorCode.PAYMENT_TRANSITION_NOT_ALLOWED,
        `A payment that is ${now.status} can no longer be cancelled`,
        { status: now.status },
      );
    },

    advance,
    applyBankPayment,
    async applyConsentDecision(consentId, decision, at) {
      const p = await ledger.byConsentId(consentId);
      if (!p) return null;
      const moved = await ledger.transition(
        decision === 'authorised'
          ? { id: p.id, from: ['AWAITING_AUTHORISATION'], to: 'AUTHORISED', at, authorisationUrl: null }
          : { id: p.id, from: ['AWAITING_AUTHORISATION'], to: 'REJECTED', at, reason: REASONS.rejectedAtBank },
      );
      return moved ?? ledger.byId(p.id);
    },
    async status(paymentId) {
      return (await ledger.byId(paymentId))?.status ?? null;
    },
  };
}
