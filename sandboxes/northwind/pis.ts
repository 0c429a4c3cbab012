import { createHash, randomUUID } from 'node:crypto';
import { normaliseAmount } from '../../lib/money.ts';
import { PLATFORM_PARTNER_CREDENTIALS, SANDBOX_CUSTOMERS } from '../manifest.ts';
import { HOUR } from '../lib/clock.ts';
import { northwindNumbers } from '../lib/identifiers.ts';
import { inspectDetachedJws } from '../lib/jws.ts';
import type { LedgerAccount, LedgerStore } from '../lib/ledger.ts';
import type { LoadedSpec } from '../lib/openapi.ts';
import { stableHash } from '../lib/prng.ts';
import { bearerToken, header, type Route, type SandboxReply, type SandboxRequest } from '../lib/server.ts';
import { OBIE_PIS_BASE, obError, unauthorized } from './dialect.ts';

/**
 * Northwind Payment Initiation API 4.0, domestic payments:
 *   POST /open-banking/v4.0/pisp/domestic-payment-consents
 *   GET  /open-banking/v4.0/pisp/domestic-payment-consents/{ConsentId}
 *   POST /open-banking/v4.0/pisp/domestic-payments
 *   GET  /open-banking/v4.0/pisp/domestic-payments/{DomesticPaymentId}
 *   GET  /open-banking/v4.0/pisp/domestic-payments/{DomesticPaymentId}/payment-details
 * plus, in sandbox mode, the PSU's side of the consent journey:
 *   POST /sandbox/domestic-payment-consents/{ConsentId}/authorise  { customerId? | psuId?, debtorAccountId? }
 *   POST /sandbox/domestic-payment-consents/{ConsentId}/reject
 *
 * Access: `Authorization: Bearer <PLATFORM_PARTNER_CREDENTIALS.northwindPisToken>` on every PIS
 * route (the sandbox does not model the PSU-authorised token of POST /domestic-payments); any
 * other token -> 401 without body.
 *
 * Required headers (spec): Authorization, x-idempotency-key (POSTs; at most 40 characters, no
 * leading/trailing white space), x-jws-signature (POSTs). The signature must be a detached JWS
 * (`<header>..<signature>`) whose protected header is JSON with `alg` (not none) and `kid`, and
 * that carries every claim listed in `crit`; it is NOT cryptographically verified (the sandbox
 * has no TPP certificate directory). Missing -> 400 U019, malformed -> U018, missing claim -> U017.
 * Answers carry x-fapi-interaction-id and a detached ES256 x-jws-signature of their body.
 *
 * Idempotency (per endpoint, token and key, for 24 hours of the sandbox clock): the same key with
 * the same body returns the original resource with 201 (its current state), without creating
 * anything; the same key with a different body -> 400 U002 (Path x-idempotency-key) and nothing
 * changes. Rejected requests (4xx) are not remembered.
 *
 * Consent lifecycle (Data.Status): AWAU on creation -> AUTH after the sandbox authorise call (or
 * RJCT after reject) -> COND once a payment consumed it. Only GBP is accepted (U023 otherwise);
 * amounts with more than 2 decimals -> U002.
 *
 * POST /domestic-payments: the consent must exist (U011), be AUTH (U009; COND -> "consent already
 * consumed") and the Initiation and Risk must equal the consent's (U008). Payment status over
 * the sandbox clock (Data.Status, ISO 20022):
 *   ACSP (AcceptedSettlementInProcess) from creation,
 *   ACSC (AcceptedSettlementCompletedDebitorAccount) after `settlementMs` (default 10 s),
 *   ACCC (AcceptedSettlementCompletedCreditorAccount) after `creditedMs` (default 60 s);
 *   RJCT instead of ACSC when the amount exceeded the debtor account's available balance at
 *   submission (StatusReason [{ StatusReasonCode: 'AM04' }], insufficient funds).
 * An accepted payment appears on the debtor account's transactions (pending until settlement).
 *
 * Payments loaded at start (the seeded world, seeded.ts) carry their own status history instead
 * of following these timings, and may also be PDNG (received, pending) or BLCK (blocked after
 * acceptance, with its StatusReason); they are not on the account's transactions.
 */

export type PaymentConsentStatus = 'AWAU' | 'AUTH' | 'RJCT' | 'COND';
export type PaymentStatus = 'PDNG' | 'ACSP' | 'ACSC' | 'ACCC' | 'RJCT' | 'BLCK';

/** One status of a payment at the bank, from `at` on; RJCT and BLCK say why. */
export interface PaymentStep {
  status: PaymentStatus;
  at: Date;
  reason?: { code: string; description: string };
}

interface InitiationBody {
  Data: {
    Initiation: Record<string, unknown> & {
      InstructedAmount: { Amount: string; Currency: string };
      EndToEndIdentification: string;
      CreditorAccount: { SchemeName: string; Identification: string; Name: string };
      DebtorAccount?: { SchemeName: string; Identification: string };
      RemittanceInformation?: { Unstructured?: string[] };
    };
  } & Record<string, unknown>;
  Risk: Record<string, unknown>;
}

export interface DomesticPaymentConsent {
  consentId: string;
  createdAt: Date;
  status: PaymentConsentStatus;
  statusUpdatedAt: Date;
  request: InitiationBody;
  debtor?: { customerId: string; psuId: string; bankAccountId: string };
}

export interface DomesticPayment {
  paymentId: string;
  consentId: string;
  createdAt: Date;
  initiation: InitiationBody['Data']['Initiation'];
  debtor: { customerId: string; psuId: string; bankAccountId: string };
  rejected: boolean;
  entryId?: string;
  /** Recorded statuses, oldest first (payments loaded at start); absent: the statuses follow `timings`. */
  statusHistory?: PaymentStep[];
}

export interface PisTimings {
  settlementMs: number;
  creditedMs: number;
}

/**
 * A test-seeded break of the bank's settlement report (settlement.ts documents the hook that sets
 * them). Declared here, with the state that holds them, so that pis.ts and settlement.ts do not
 * import each other.
 */
export type SettlementBreak =
  | { kind: 'missing_at_bank'; paymentId: string }
  | { kind: 'extra_at_bank'; paymentId: string; amount: string; currency: string; status: 'SETTLED' | 'REJECTED' }
  | { kind: 'amount_mismatch'; paymentId: string; amount: string }
  | { kind: 'status_mismatch'; paymentId: string; status: 'SETTLED' | 'REJECTED' };

export interface NorthwindPisState {
  seed: number;
  ledger: LedgerStore;
  /** Undefined when the OBIE PIS spec is not available (PARTNER_SPECS_DIR): no validation then. */
  spec: LoadedSpec | undefined;
  timings: PisTimings;
  now: () => Date;
  consents: Map<string, DomesticPaymentConsent>;
  payments: Map<string, DomesticPayment>;
  idempotency: Map<string, { hash: string; resourceId: string; at: number }>;
  /** Per payment, how many of its status events (events.ts) were queued for the webhook receiver. */
  eventsQueued: Map<string, number>;
  /** Test-seeded breaks of the settlement report, per date (settlement.ts). */
  settlementBreaks: Map<string, SettlementBreak[]>;
  /** Rows invented by extra_at_bank breaks so far (their ids count up). */
  extraRows: number;
  /** The PSU's authorisation page exists (sandbox mode): consent answers advertise it (sca.ts). */
  scaEnabled: boolean;
  /** Told of every PSU decision and created payment (the webhook outbox listens). */
  onConsentDecision?: (consent: DomesticPaymentConsent) => void;
  onPaymentCreated?: (payment: DomesticPayment) => void;
}

const IDEMPOTENCY_TTL_MS = 24 * HOUR;

export class SandboxActionError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value as Record<string, unknown>)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

const hashOf = (value: unknown) => createHash('sha256').update(canonical(value)).digest('hex');

const INSUFFICIENT_FUNDS = { code: 'AM04', description: 'Insufficient funds on the debtor account' };

/**
 * Every status of a payment, oldest first: its recorded history, or, for a payment made through
 * the API, ACSP at creation, then ACSC (or RJCT) after `settlementMs` and ACCC after `creditedMs`.
 * The one source of the payment's status answers, its webhooks (events.ts) and the settlement report.
 */
export function paymentSteps(state: NorthwindPisState, payment: DomesticPayment): PaymentStep[] {
  if (payment.statusHistory) return payment.statusHistory;
  const created = payment.createdAt.getTime();
  const settled = new Date(created + state.timings.settlementMs);
  if (payment.rejected)
    return [
      { status: 'ACSP', at: payment.createdAt },
      { status: 'RJCT', at: settled, reason: INSUFFICIENT_FUNDS },
    ];
  return [
    { status: 'ACSP', at: payment.createdAt },
    { status: 'ACSC', at: settled },
    { status: 'ACCC', at: new Date(created + state.timings.creditedMs) },
  ];
}

/** The payment's status at `now` (its latest step reached; the first one before that). */
export function paymentStatusAt(
  state: NorthwindPisState,
  payment: DomesticPayment,
  now: Date,
): { status: PaymentStatus; updatedAt: Date; reason: PaymentStep['reason'] } {
  const steps = paymentSteps(state, payment);
  let current = steps[0]!;
  for (const step of steps) if (step.at.getTime() <= now.getTime()) current = step;
  return { status: current.status, updatedAt: current.at, reason: current.reason };
}

function debtorAccountObject(
  state: NorthwindPisState,
  debtor: DomesticPaymentConsent['debtor'],
): Record<string, unknown> | undefined {
  if (!debtor) return undefined;
  const account = state.ledger.accounts().find((a) => a.account.bankAccountId === debtor.bankAccountId);
  if (!account) return undefined;
  return {
    SchemeName: 'UK.OBIE.SortCodeAccountNumber',
    Identification: northwindNumbers(state.seed, debtor.bankAccountId).sortCodeAccountNumber,
    Name: account.holderName.toUpperCase(),
  };
}

export function renderConsent(
  state: NorthwindPisState,
  consent: DomesticPaymentConsent,
  baseUrl: string,
): Record<string, unknown> {
  const { Data, Risk } = consent.request;
  const debtor = debtorAccountObject(state, consent.debtor);
  return {
    Data: {
      ConsentId: consent.consentId,
      CreationDateTime: consent.createdAt.toISOString(),
      Status: consent.status,
      StatusUpdateDateTime: consent.statusUpdatedAt.toISOString(),
      ...(Data.ReadRefundAccount !== undefined ? { ReadRefundAccount: Data.ReadRefundAccount } : {}),
      ExpectedExecutionDateTime: consent.createdAt.toISOString(),
      ExpectedSettlementDateTime: new Date(consent.createdAt.getTime() + state.timings.settlementMs).toISOString(),
      Initiation: Data.Initiation,
      ...(Data.Authorisation !== undefined ? { Authorisation: Data.Authorisation } : {}),
      ...(Data.SCASupportData !== undefined ? { SCASupportData: Data.SCASupportData } : {}),
      ...(debtor ? { Debtor: debtor } : {}),
    },
    Risk,
    Links: { Self: `${baseUrl}${OBIE_PIS_BASE}/domestic-payment-consents/${encodeURIComponent(consent.consentId)}` },
    Meta: {},
  };
}

export function renderPayment(
  state: NorthwindPisState,
  payment: DomesticPayment,
  now: Date,
  baseUrl: string,
): Record<string, unknown> {
  const { status, updatedAt, reason } = paymentStatusAt(state, payment, now);
  const debtor = debtorAccountObject(state, payment.debtor);
  return {
    Data: {
      DomesticPaymentId: payment.paymentId,
      ConsentId: payment.consentId,
      CreationDateTime: payment.createdAt.toISOString(),
      Status: status,
      StatusUpdateDateTime: updatedAt.toISOString(),
      ...(reason
        ? { StatusReason: [{ StatusReasonCode: reason.code, StatusReasonDescription: reason.description }] }
        : {}),
      ExpectedExecutionDateTime: payment.createdAt.toISOString(),
      ExpectedSettlementDateTime: new Date(payment.createdAt.getTime() + state.timings.settlementMs).toISOString(),
      Initiation: payment.initiation,
      ...(debtor ? { Debtor: debtor } : {}),
    },
    Links: { Self: `${baseUrl}${OBIE_PIS_BASE}/domestic-payments/${encodeURIComponent(payment.paymentId)}` },
    Meta: {},
  };
}

function renderPaymentDetails(
  state: NorthwindPisState,
  payment: DomesticPayment,
  now: Date,
  baseUrl: string,
): Record<string, unknown> {
  const { status, updatedAt, reason } = paymentStatusAt(state, payment, now);
  const localInstrument =
    typeof payment.initiation.LocalInstrument === 'string' ? payment.initiation.LocalInstrument : 'UK.OBIE.FPS';
  return {
    Data: {
      PaymentStatus: [
        {
          PaymentTransactionId: payment.entryId ?? payment.paymentId,
          Status: status,
          StatusUpdateDateTime: updatedAt.toISOString(),
          StatusDetail: {
            LocalInstrument: localInstrument,
            Status: status,
            ...(reason ? { StatusReason: reason.code, StatusReasonDescription: reason.description } : {}),
          },
        },
      ],
    },
    Links: {
      Self: `${baseUrl}${OBIE_PIS_BASE}/domestic-payments/${encodeURIComponent(payment.paymentId)}/payment-details`,
    },
    Meta: {},
  };
}

/** Authorises a consent as the PSU would at the bank; throws SandboxActionError on misuse. */
export function authoriseConsent(
  state: NorthwindPisState,
  consentId: string,
  who: { customerId?: string; psuId?: string; debtorAccountId?: string } = {},
): DomesticPaymentConsent {
  const consent = state.consents.get(consentId);
  if (!consent) throw new SandboxActionError(404, `no domestic-payment-consent ${consentId}`);
  if (consent.status !== 'AWAU')
    throw new SandboxActionError(409, `consent ${consentId} is ${consent.status}, not AWAU`);
  const accounts = state.ledger.accounts();
  const initiation = consent.request.Data.Initiation;
  const named = initiation.DebtorAccount
    ? accounts.find((a) => {
        const n = northwindNumbers(state.seed, a.account.bankAccountId);
        const id = initiation.DebtorAccount!.Identification.replace(/[\s-]/g, '').toUpperCase();
        return id === n.sortCodeAccountNumber || id === n.iban;
      })
    : undefined;
  if (initiation.DebtorAccount && !named)
    throw new SandboxActionError(400, 'the consent names a DebtorAccount that is not a Northwind account');
  const customer =
    (who.customerId && SANDBOX_CUSTOMERS.find((c) => c.customerId === who.customerId)) ||
    (who.psuId && SANDBOX_CUSTOMERS.find((c) => c.banks.northwind?.psuId === who.psuId)) ||
    (named && SANDBOX_CUSTOMERS.find((c) => c.customerId === named.customerId)) ||
    undefined;
  if (!customer || !customer.banks.northwind)
    throw new SandboxActionError(
      400,
      'say who authorises: customerId or psuId of a Northwind customer (or a DebtorAccount in the consent)',
    );
  const own = accounts.filter((a) => a.customerId === customer.customerId);
  let debtor: LedgerAccount | undefined;
  if (who.debtorAccountId) {
    debtor = own.find((a) => a.account.bankAccountId === who.debtorAccountId);
    if (!debtor)
      throw new SandboxActionError(400, `account ${who.debtorAccountId} is not one of the PSU's Northwind accounts`);
  } else if (named) {
    debtor = named;
  } else {
    debtor =
      own.find((a) => a.account.kind === 'current' && a.account.currency === initiation.InstructedAmount.Currency) ??
      own[0];
  }
  if (!debtor) throw new SandboxActionError(400, 'the PSU has no Northwind account');
  if (named && named.customerId !== customer.customerId)
    throw new SandboxActionError(400, 'the DebtorAccount of the consent belongs to another PSU');
  consent.status = 'AUTH';
  consent.statusUpdatedAt = state.now();
  consent.debtor = {
    customerId: customer.customerId,
    psuId: customer.banks.northwind.psuId,
    bankAccountId: debtor.account.bankAccountId,
  };
  state.onConsentDecision?.(consent);
  return consent;
}

export function rejectConsent(state: NorthwindPisState, consentId: string): DomesticPaymentConsent {
  const consent = state.consents.get(consentId);
  if (!consent) throw new SandboxActionError(404, `no domestic-payment-consent ${consentId}`);
  if (consent.status !== 'AWAU')
    throw new SandboxActionError(409, `consent ${consentId} is ${consent.status}, not AWAU`);
  consent.status = 'RJCT';
  consent.statusUpdatedAt = state.now();
  state.onConsentDecision?.(consent);
  return consent;
}

/** Where the PSU approves a consent still awaiting it (sca.ts); nothing once decided or without sandbox mode. */
function scaHeader(
  state: NorthwindPisState,
  baseUrl: string,
  consent: DomesticPaymentConsent,
): Record<string, string> | undefined {
  if (!state.scaEnabled || consent.status !== 'AWAU') return undefined;
  return { 'x-sandbox-authorisation-url': `${baseUrl}/sandbox/pis/authorise/${encodeURIComponent(consent.consentId)}` };
}

function authorisePis(req: SandboxRequest): SandboxReply | undefined {
  return bearerToken(req) === PLATFORM_PARTNER_CREDENTIALS.northwindPisToken ? undefined : unauthorized();
}

function checkSignature(req: SandboxRequest): SandboxReply | undefined {
  const value = header(req, 'x-jws-signature');
  if (!value)
    return obError(400, req.requestId, [
      { ErrorCode: 'U019', Message: 'x-jws-signature is required', Path: 'x-jws-signature' },
    ]);
  const inspection = inspectDetachedJws(value);
  if (inspection.ok) return undefined;
  return obError(400, req.requestId, [
    { ErrorCode: inspection.code, Message: inspection.message, Path: inspection.path ?? 'x-jws-signature' },
  ]);
}

type IdempotentEndpoint = 'domestic-payment-consents' | 'domestic-payments';

const idempotencyStoreKey = (endpoint: IdempotentEndpoint, token: string, key: string) =>
  `${endpoint}\u0000${token}\u0000${key}`;

/**
 * Records that the platform's request `body` under `key` created `resourceId` at `at`, as a live
 * create does: for the payments loaded at start (seeded.ts), so that the platform asking again
 * under the same key (its answer was lost) gets the original back within the 24 hours.
 */
export function rememberIdempotencyKey(
  state: NorthwindPisState,
  endpoint: IdempotentEndpoint,
  key: string,
  body: unknown,
  resourceId: string,
  at: Date,
): void {
  state.idempotency.set(idempotencyStoreKey(endpoint, PLATFORM_PARTNER_CREDENTIALS.northwindPisToken, key), {
    hash: hashOf(body),
    resourceId,
    at: at.getTime(),
  });
}

/**
 * Runs `create` at most once per (endpoint, token, idempotency key) within 24 hours: a replay
 * with the same body gets the original resource, a different body is refused.
 */
function idempotent(
  state: NorthwindPisState,
  req: SandboxRequest,
  endpoint: IdempotentEndpoint,
  create: () => { reply: SandboxReply; resourceId?: string },
  replay: (resourceId: string) => SandboxReply,
): SandboxReply {
  const key = header(req, 'x-idempotency-key') ?? '';
  // Checked here too, not only by the spec validator: without PARTNER_SPECS_DIR the bank still refuses a bad key.
  if (!key)
    return obError(400, req.requestId, [
      { ErrorCode: 'U007', Message: 'x-idempotency-key is required', Path: 'x-idempotency-key' },
    ]);
  if (key.length > 40 || key.trim() !== key)
    return obError(400, req.requestId, [
      {
        ErrorCode: 'U006',
        Message: 'x-idempotency-key must be at most 40 characters without leading or trailing white space',
        Path: 'x-idempotency-key',
      },
    ]);
  const storeKey = idempotencyStoreKey(endpoint, bearerToken(req) ?? '', key);
  const nowMs = req.now.getTime();
  const hash = hashOf(req.body);
  const previous = state.idempotency.get(storeKey);
  if (previous && nowMs - previous.at < IDEMPOTENCY_TTL_MS) {
    if (previous.hash !== hash) {
      return obError(400, req.requestId, [
        {
          ErrorCode: 'U002',
          Message:
            'x-idempotency-key was already used with a different request body within 24 hours; nothing was changed',
          Path: 'x-idempotency-key',
        },
      ]);
    }
    return replay(previous.resourceId);
  }
  const { reply, resourceId } = create();
  if (resourceId && reply.status < 300) state.idempotency.set(storeKey, { hash, resourceId, at: nowMs });
  return reply;
}

export function northwindPisRoutes(state: NorthwindPisState): Route[] {
  const { spec } = state;
  const guard = (req: SandboxRequest, signed: boolean): SandboxReply | undefined =>
    authorisePis(req) ?? (signed ? checkSignature(req) : undefined);
  /** The read routes of one domestic payment: the same guard and lookup, a different rendering. */
  const readPayment = (req: SandboxRequest, render: (payment: DomesticPayment) => unknown): SandboxReply => {
    const refused = guard(req, false);
    if (refused) return refused;
    const payment = state.payments.get(req.params.DomesticPaymentId ?? '');
    if (!payment)
      return obError(400, req.requestId, [
        { ErrorCode: 'U011', Message: 'No domestic-payment with this DomesticPaymentId', Path: 'DomesticPaymentId' },
      ]);
    return { status: 200, body: render(payment) };
  };

  return [
    {
      method: 'POST',
      path: `${OBIE_PIS_BASE}/domestic-payment-consents`,
      spec,
      handler(req) {
        const refused = guard(req, true);
        if (refused) return refused;
        return idempotent(
          state,
          req,
          'domestic-payment-consents',
          () => {
            const body = req.body as InitiationBody;
            const amount = body.Data.Initiation.InstructedAmount;
            if (amount.Currency !== 'GBP') {
              return {
                reply: obError(400, req.requestId, [
                  {
                    ErrorCode: 'U023',
                    Message: 'Northwind initiates domestic payments in GBP only',
                    Path: 'Data.Initiation.InstructedAmount.Currency',
                  },
                ]),
              };
            }
            try {
              if (Number(normaliseAmount(amount.Amount, 'GBP')) <= 0) throw new RangeError('amount must be positive');
            } catch (err) {
              return {
                reply: obError(400, req.requestId, [
                  {
                    ErrorCode: 'U002',
                    Message: (err as Error).message,
                    Path: 'Data.Initiation.InstructedAmount.Amount',
                  },
                ]),
              };
            }
            const consent: DomesticPaymentConsent = {
              consentId: `PDC-${randomUUID()}`,
              createdAt: req.now,
              status: 'AWAU',
              statusUpdatedAt: req.now,
              request: structuredClone(body),
            };
            state.consents.set(consent.consentId, consent);
            return {
              reply: {
                status: 201,
                body: renderConsent(state, consent, req.baseUrl),
                headers: scaHeader(state, req.baseUrl, consent),
              },
              resourceId: consent.consentId,
            };
          },
          (consentId) => ({
            status: 201,
            body: renderConsent(state, state.consents.get(consentId)!, req.baseUrl),
            headers: scaHeader(state, req.baseUrl, state.consents.get(consentId)!),
          }),
        );
      },
    },
    {
      method: 'GET',
      path: `${OBIE_PIS_BASE}/domestic-payment-consents/{ConsentId}`,
      spec,
      handler(req) {
        const refused = guard(req, false);
        if (refused) return refused;
        const consent = state.consents.get(req.params.ConsentId ?? '');
        if (!consent)
          return obError(400, req.requestId, [
            { ErrorCode: 'U011', Message: 'No domestic-payment-consent with this ConsentId', Path: 'ConsentId' },
          ]);
        return {
          status: 200,
          body: renderConsent(state, consent, req.baseUrl),
          headers: scaHeader(state, req.baseUrl, consent),
        };
      },
    },
    {
      method: 'POST',
      path: `${OBIE_PIS_BASE}/domestic-payments`,
      spec,
      handler(req) {
        const refused = guard(req, true);
        if (refused) return refused;
        return idempotent(
          state,
          req,
          'domestic-payments',
          () => {
            const body = req.body as InitiationBody & { Data: { ConsentId: string } };
            const consent = state.consents.get(body.Data.ConsentId);
            if (!consent)
              return {
                reply: obError(400, req.requestId, [
                  {
                    ErrorCode: 'U011',
                    Message: 'No domestic-payment-consent with this ConsentId',
                    Path: 'Data.ConsentId',
                  },
                ]),
              };
            if (consent.status !== 'AUTH' || !consent.debtor) {
              const message =
                consent.status === 'COND'
                  ? 'The consent was already consumed by a payment'
                  : `The consent is ${consent.status}, not AUTH`;
              return {
                reply: obError(400, req.requestId, [{ ErrorCode: 'U009', Message: message, Path: 'Data.ConsentId' }]),
              };
            }
            if (hashOf(body.Data.Initiation) !== hashOf(consent.request.Data.Initiation)) {
              return {
                reply: obError(400, req.requestId, [
                  { ErrorCode: 'U008', Message: 'Initiation does not match the consent', Path: 'Data.Initiation' },
                ]),
              };
            }
            if (hashOf(body.Risk) !== hashOf(consent.request.Risk)) {
              return {
                reply: obError(400, req.requestId, [
                  { ErrorCode: 'U008', Message: 'Risk does not match the consent', Path: 'Risk' },
                ]),
              };
            }
            const initiation = body.Data.Initiation;
            const amountMinor = Math.round(Number(normaliseAmount(initiation.InstructedAmount.Amount, 'GBP')) * 100);
            const ledger = state.ledger.get(consent.debtor.bankAccountId)!;
            const pending = ledger.pendingMinor(req.now);
            const available = ledger.bookedBalanceMinor(req.now) - pending.debits + (ledger.creditLimitMinor ?? 0);
            const paymentId = `DP${randomUUID().replace(/-/g, '').toUpperCase()}`;
            const payment: DomesticPayment = {
              paymentId,
              consentId: consent.consentId,
              createdAt: req.now,
              initiation: structuredClone(initiation),
              debtor: consent.debtor,
              rejected: amountMinor > available,
            };
            if (!payment.rejected) {
              const entry = ledger.append({
                id: `NW${stableHash([state.seed, 'payment', paymentId], 20).toUpperCase()}`,
                reference: initiation.EndToEndIdentification.slice(0, 35),
                endToEndId: initiation.EndToEndIdentification,
                createdAt: req.now,
                bookingAt: new Date(req.now.getTime() + state.timings.settlementMs),
                valueAt: req.now,
                amountMinor,
                direction: 'DEBIT',
                category: 'payment',
                description: (
                  initiation.RemittanceInformation?.Unstructured?.[0] ?? `PAYMENT TO ${initiation.CreditorAccount.Name}`
                ).slice(0, 140),
                counterparty: {
                  name: initiation.CreditorAccount.Name,
                  account: initiation.CreditorAccount.Identification,
                },
                iso: { domain: 'PMNT', family: 'ICDT', subFamily: 'DMCT' },
                proprietaryCode: 'PAYMENT',
                paymentId,
              });
              payment.entryId = entry.id;
            }
            state.payments.set(paymentId, payment);
            consent.status = 'COND';
            consent.statusUpdatedAt = req.now;
            state.onPaymentCreated?.(payment);
            return {
              reply: { status: 201, body: renderPayment(state, payment, req.now, req.baseUrl) },
              resourceId: paymentId,
            };
          },
          (paymentId) => ({
            status: 201,
            body: renderPayment(state, state.payments.get(paymentId)!, req.now, req.baseUrl),
          }),
        );
      },
    },
    {
      method: 'GET',
      path: `${OBIE_PIS_BASE}/domestic-payments/{DomesticPaymentId}`,
      spec,
      handler: (req) => readPayment(req, (payment) => renderPayment(state, payment, req.now, req.baseUrl)),
    },
    {
      method: 'GET',
      path: `${OBIE_PIS_BASE}/domestic-payments/{DomesticPaymentId}/payment-details`,
      spec,
      handler: (req) => readPayment(req, (payment) => renderPaymentDetails(state, payment, req.now, req.baseUrl)),
    },
    {
      method: 'POST',
      path: '/sandbox/domestic-payment-consents/{ConsentId}/authorise',
      admin: true,
      handler(req) {
        const body = (req.body && typeof req.body === 'object' ? req.body : {}) as {
          customerId?: unknown;
          psuId?: unknown;
          debtorAccountId?: unknown;
        };
        const str = (v: unknown) => (typeof v === 'string' && v ? v : undefined);
        try {
          const who = {
            ...(str(body.customerId) ? { customerId: str(body.customerId)! } : {}),
            ...(str(body.psuId) ? { psuId: str(body.psuId)! } : {}),
            ...(str(body.debtorAccountId) ? { debtorAccountId: str(body.debtorAccountId)! } : {}),
          };
          return {
            status: 200,
            body: renderConsent(state, authoriseConsent(state, req.params.ConsentId ?? '', who), req.baseUrl),
          };
        } catch (err) {
          if (err instanceof SandboxActionError) return { status: err.status, body: { error: err.message } };
          throw err;
        }
      },
    },
    {
      method: 'POST',
      path: '/sandbox/domestic-payment-consents/{ConsentId}/reject',
      admin: true,
      handler(req) {
        try {
          return {
            status: 200,
            body: renderConsent(state, rejectConsent(state, req.params.ConsentId ?? ''), req.baseUrl),
          };
        } catch (err) {
          if (err instanceof SandboxActionError) return { status: err.status, body: { error: err.message } };
          throw err;
        }
      },
    },
  ];
}
