import { CompactSign, generateKeyPair, importPKCS8, type CryptoKey } from 'jose';
import { PartnerError } from '../../../../lib/errors.ts';
import { createHttpClient, type HttpClient, type HttpResponse } from '../../../../lib/http-client.ts';
import type { Logger } from '../../../../lib/logger.ts';
import type { DependencyProtections } from '../../../../lib/resilience-config.ts';
import { currentRequestContext } from '../../../../lib/request-context.ts';
import type { BankPayment, PaymentInitiationBank, PaymentOrder } from '../../domain/ports.ts';
import type { SettlementReport } from '../../domain/reconciliation.ts';
import { consentState, initiationOf, paymentStatusOf, reasonOf, RISK } from './mapping.ts';
import { parse as parseCsv } from 'csv-parse/sync';
import { accountResponse, consentResponse, errorResponse, paymentResponse, settlementRows } from './schemas.ts';

/**
 * Northwind Bank, Open Banking UK Payment Initiation API 4.0 (spec
 * shared/partner-specs/obie-payment-initiation-4.0.json, base path /open-banking/v4.0/pisp):
 * domestic-payment-consents, then, once the customer authorised the consent at the bank,
 * domestic-payments; statuses by GET. Built on lib/http-client.ts under the name
 * `northwind-pis` with the NORTHWIND_PIS_* settings: a timeout per call, a bulkhead, a circuit
 * breaker (an open breaker fails fast as PARTNER_UNAVAILABLE), and retries with exponential backoff
 * and jitter (NORTHWIND_PIS_RETRIES) for the reads and for the consent POST. Every POST carries an
 * x-idempotency-key derived from the payment id (`<pay_id>-consent`, `<pay_id>-payment`, 34 and 34
 * characters, within OBIE's 40), so a retry, or a repeat after a crash, can only get back what the
 * first call created. The payment POST (domestic-payments, the call that moves the money) is sent
 * once per submission whatever the setting: its outcome is the domain's to decide
 * (domain/initiation.ts: an answer that never came makes the payment UNKNOWN, visible to the
 * customer, and the bank is asked again under the same key), never repeated inside the client
 * behind the customer's back. A consent moves nothing until the customer authorises it at the
 * bank, so its keyed POST is retried like a read.
 *
 * The debtor account's sort code and account number come from the bank's Account and Transaction
 * API with the customer's connection token (the platform never stores them).
 *
 * The bank's daily settlement report (its own CSV format, GET /reports/settlement/{date}, same
 * token) is read for reconciliation (domain/reconciliation.ts) and validated row by row.
 *
 * Every POST is signed (x-jws-signature, a detached JWS with the OBIE critical claims) with
 * NORTHWIND_PIS_SIGNING_KEY, or in the sandbox profile with a key made at start.
 */
export const NORTHWIND_PIS_BASE = '/open-banking/v4.0/pisp';
const AIS_BASE = '/open-banking/v4.0/aisp';
const PARTNER = 'northwind-pis';

export interface NorthwindPisOptions {
  baseUrl: string;
  timeoutMs: number;
  /** Retries (never of the payment POST), bulkhead and breaker (NORTHWIND_PIS_*); unset: 3 retries, client defaults. */
  protections?: DependencyProtections;
  /** Client credentials access token of the platform at the bank. */
  token: string;
  /** PKCS#8 PEM of the ES256 key that signs requests; undefined: a key generated at start (sandbox only). */
  signingKeyPem?: string | undefined;
  signingKeyId: string;
  /** Where the customer authorises a consent; `{ConsentId}` is replaced. */
  authorisationUrlTemplate: string;
  logger: Logger;
  /** Injected by tests; defaults to the resilient client of lib/http-client.ts. */
  http?: HttpClient;
}

export const consentKey = (paymentId: string) => `${paymentId}-consent`;
export const paymentKey = (paymentId: string) => `${paymentId}-payment`;

export function createNorthwindPis(
  opts: NorthwindPisOptions,
): PaymentInitiationBank & { http: HttpClient; settlementReport(date: string): Promise<SettlementReport> } {
  const logger = opts.logger.child({ partner: PARTNER });
  const http =
    opts.http ??
    createHttpClient({
      name: PARTNER,
      baseUrl: opts.baseUrl,
      retries: 3,
      ...opts.protections,
      timeoutMs: opts.timeoutMs,
      logger,
    });
  let key: Promise<CryptoKey> | undefined;
  const signingKey = () =>
    (key ??= opts.signingKeyPem
      ? importPKCS8(opts.signingKeyPem, 'ES256')
      : generateKeyPair('ES256').then((k) => k.privateKey));

  const headers = (extra: Record<string, string> = {}): Record<string, string> => {
    const h: Record<string, string> = { authorization: `Bearer ${opts.token}`, ...extra };
    const rc = currentRequestContext();
    if (rc) h['x-fapi-interaction-id'] = rc.requestId;
    return h;
  };

  /** A detached JWS of the body (OBIE message signing): `<protected header>..<signature>`. */
  const sign = async (body: string): Promise<string> => {
    const jws = await new CompactSign(new TextEncoder().encode(body))
      .setProtectedHeader({
        alg: 'ES256',
        kid: opts.signingKeyId,
        typ: 'JOSE',
        cty: 'application/json',
        'http://openbanking.org.uk/iat': Math.floor(Date.now() / 1000) - 1,
        'http://openbanking.org.uk/iss': opts.signingKeyId,
        'http://openbanking.org.uk/tan': 'openbanking.org.uk',
        crit: ['http://openbanking.org.uk/iat', 'http://openbanking.org.uk/iss', 'http://openbanking.org.uk/tan'],
      })
      .sign(await signingKey(), {
        crit: {
          'http://openbanking.org.uk/iat': true,
          'http://openbanking.org.uk/iss': true,
          'http://openbanking.org.uk/tan': true,
        },
      });
    const [h, , s] = jws.split('.');
    return `${h}..${s}`;
  };

  /** A signed, keyed POST; `retry: false` sends it once whatever the retry setting (the payment POST). */
  const post = async (
    operation: string,
    path: string,
    idempotencyKey: string,
    payload: unknown,
    { retry }: { retry: boolean },
  ) => {
    const body = JSON.stringify(payload);
    return http.request({
      method: 'POST',
      path,
      operation,
      body,
      // Safe to repeat under its key; whether the client repeats it is the caller's choice.
      idempotent: true,
      noRetry: !retry,
      headers: headers({ 'x-idempotency-key': idempotencyKey, 'x-jws-signature': await sign(body) }),
    });
  };

  const parse = <T>(
    operation: string,
    schema: { safeParse(v: unknown): { success: boolean; data?: T } },
    res: HttpResponse,
  ): T => {
    if (res.status >= 200 && res.status < 300) {
      const parsed = schema.safeParse(res.body);
      if (parsed.success) return parsed.data as T;
      logger.error({ operation, status: res.status }, 'northwind-pis: response does not match the specification');
      throw new PartnerError(PARTNER, 'contract', `${operation}: response does not match the API specification`);
    }
    const error = errorResponse.safeParse(res.body);
    const codes = error.success ? error.data.Errors.map((e) => `${e.ErrorCode}: ${e.Message}`).join('; ') : '';
    logger.error({ operation, status: res.status, codes }, 'northwind-pis refused a request');
    throw new PartnerError(
      PARTNER,
      'contract',
      `${operation} refused with HTTP ${res.status}${codes ? ` (${codes})` : ''}`,
      {
        status: res.status,
      },
    );
  };

  const debtorIdentification = async (order: PaymentOrder): Promise<string | null> => {
    const res = await http.request({
      method: 'GET',
      path: `${AIS_BASE}/accounts/${encodeURIComponent(order.debtor.bankAccountId)}`,
      operation: 'getAccount',
      headers: { ...headers(), authorization: `Bearer ${order.debtor.accessToken}` },
    });
    const account = parse('getAccount', accountResponse, res).Data.Account[0]!;
    return account.Account?.find((a) => a.SchemeName === 'UK.OBIE.SortCodeAccountNumber')?.Identification ?? null;
  };

  const toBankPayment = (body: ReturnType<typeof paymentResponse.parse>): BankPayment => {
    const status = paymentStatusOf(body.Data.Status);
    if (!status) {
      logger.error({ status: body.Data.Status }, 'northwind-pis: payment status outside the contract');
      throw new PartnerError(
        PARTNER,
        'contract',
        `payment status ${body.Data.Status} is not an ISO 20022 status we know`,
      );
    }
    const codes = (body.Data.StatusReason ?? []).flatMap((r) => (r.StatusReasonCode ? [r.StatusReasonCode] : []));
    return {
      bankPaymentId: body.Data.DomesticPaymentId,
      status,
      reason: reasonOf(status, codes),
      at: new Date(body.Data.StatusUpdateDateTime),
      amount: {
        amount: body.Data.Initiation.InstructedAmount.Amount,
        currency: body.Data.Initiation.InstructedAmount.Currency,
      },
    };
  };

  return {
    http,
    async createConsent(order) {
      const initiation = initiationOf(order, await debtorIdentification(order));
      const res = await post(
        'createDomesticPaymentConsent',
        `${NORTHWIND_PIS_BASE}/domestic-payment-consents`,
        consentKey(order.paymentId),
        { Data: { Initiation: initiation }, Risk: RISK },
        { retry: true },
      );
      const consent = parse('createDomesticPaymentConsent', consentResponse, res);
      const consentId = consent.Data.ConsentId;
      // OBIE leaves the SCA redirect to the bank's OAuth flow; the sandbox names its page in a header.
      const named = res.headers.get('x-sandbox-authorisation-url');
      return {
        consentId,
        authorisationUrl:
          named && /^https?:\/\//.test(named)
            ? named
            : opts.authorisationUrlTemplate.replace('{ConsentId}', encodeURIComponent(consentId)),
      };
    },
    async consentState(consentId) {
      const res = await http.request({
        method: 'GET',
        path: `${NORTHWIND_PIS_BASE}/domestic-payment-consents/${encodeURIComponent(consentId)}`,
        operation: 'getDomesticPaymentConsent',
        headers: headers(),
      });
      const consent = parse('getDomesticPaymentConsent', consentResponse, res);
      const state = consentState(consent.Data.Status);
      if (!state) throw new PartnerError(PARTNER, 'contract', `consent status ${consent.Data.Status} is unknown`);
      return state;
    },
    async submitPayment(order, consentId) {
      const initiation = initiationOf(order, await debtorIdentification(order));
      const res = await post(
        'createDomesticPayment',
        `${NORTHWIND_PIS_BASE}/domestic-payments`,
        paymentKey(order.paymentId),
        {
          Data: { ConsentId: consentId, Initiation: initiation },
          Risk: RISK,
        },
        // The money-moving call: sent once, its lost answer is UNKNOWN (see the comment at the top).
        { retry: false },
      );
      return toBankPayment(parse('createDomesticPayment', paymentResponse, res));
    },
    async settlementReport(date) {
      const res = await http.request({
        method: 'GET',
        path: `/reports/settlement/${encodeURIComponent(date)}`,
        operation: 'getSettlementReport',
        headers: headers(),
        responseType: 'text',
      });
      if (res.status !== 200) {
        logger.error({ status: res.status }, 'northwind: settlement report refused');
        throw new PartnerError('northwind-reports', 'contract', `settlement report of ${date}: HTTP ${res.status}`, {
          status: res.status,
        });
      }
      let records: unknown;
      try {
        records = parseCsv(res.text, { columns: true, skip_empty_lines: true, trim: false });
      } catch (cause) {
        throw new PartnerError('northwind-reports', 'contract', `settlement report of ${date} is not CSV`, { cause });
      }
      const parsed = settlementRows.safeParse(records);
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        throw new PartnerError(
          'northwind-reports',
          'contract',
          `settlement report of ${date}: row ${String(issue.path[0])}: ${issue.path.slice(1).join('.')} ${issue.message}`,
        );
      }
      return {
        date,
        complete: res.headers.get('x-report-complete') === 'true',
        rows: parsed.data.map((r) => ({
          bankPaymentId: r.payment_id,
          endToEndId: r.end_to_end_id,
          amount: { amount: r.amount, currency: r.currency },
          status: r.status,
          settledAt: new Date(r.settled_at),
        })),
      };
    },
    async payment(bankPaymentId) {
      const res = await http.request({
        method: 'GET',
        path: `${NORTHWIND_PIS_BASE}/domestic-payments/${encodeURIComponent(bankPaymentId)}`,
        operation: 'getDomesticPayment',
        headers: headers(),
      });
      return toBankPayment(parse('getDomesticPayment', paymentResponse, res));
    },
  };
}
