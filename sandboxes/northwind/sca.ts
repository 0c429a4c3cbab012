import { SANDBOX_CUSTOMERS } from '../manifest.ts';
import type { Route, SandboxReply, SandboxRequest } from '../lib/server.ts';
import {
  authoriseConsent,
  rejectConsent,
  renderConsent,
  SandboxActionError,
  type DomesticPaymentConsent,
  type NorthwindPisState,
} from './pis.ts';

/**
 * The PSU's strong customer authentication step at Northwind, for a human in a browser or a test
 * over HTTP (sandbox mode only; no JavaScript, plain form POSTs):
 *
 *   GET  /sandbox/pis/authorise/{ConsentId}?redirect_uri=<platform URL>&state=<opaque>
 *        an HTML page with the payment (amount, creditor, reference) and Approve / Reject buttons;
 *        when the consent names no DebtorAccount, a choice of the PSU (seeded Northwind customers)
 *   POST /sandbox/pis/authorise/{ConsentId}
 *        form or JSON: decision=approve|reject, psuId? | customerId?, debtorAccountId?, redirect_uri?, state?
 *        -> 303 to redirect_uri?consent_id=<id>&decision=approved|rejected&state=<state> when given,
 *           else the consent as JSON (Accept: application/json) or a short HTML page.
 *        Errors: 404 unknown consent, 409 already decided, 400 a PSU that cannot approve it.
 *
 * The platform learns the URL from the consent answers (POST and GET domestic-payment-consents)
 * in the `x-sandbox-authorisation-url` header (OBIE leaves the authorisation URL to the bank's
 * OAuth flow, outside the Payment Initiation API); it is `<bank>/sandbox/pis/authorise/<ConsentId>`,
 * to which the platform appends its redirect_uri and state. The decision is also sent as a
 * `payment-consent.status_changed` webhook (events.ts).
 */
export const SCA_PATH = '/sandbox/pis/authorise';

export function authorisationUrl(baseUrl: string, consentId: string): string {
  return `${baseUrl}${SCA_PATH}/${encodeURIComponent(consentId)}`;
}

const escape = (value: unknown): string =>
  String(value).replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );

function page(title: string, body: string): SandboxReply {
  return {
    status: 200,
    headers: {
      'content-type': 'text/html; charset=utf-8',
      // Nothing but this page: no scripts, forms post back to the bank only.
      'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self' http: https:",
      'cache-control': 'no-store',
    },
    body: `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escape(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem}dt{font-weight:600}button{font-size:1rem;padding:.5rem 1.5rem;margin-right:1rem}</style>
</head><body><h1>Northwind Bank</h1>${body}</body></html>`,
  };
}

/** Whose decision and where to go back: from the query string (GET) or the form / JSON body (POST). */
function field(req: SandboxRequest, name: string): string | undefined {
  const fromBody = req.body && typeof req.body === 'object' ? (req.body as Record<string, unknown>)[name] : undefined;
  const value = typeof fromBody === 'string' ? fromBody : (req.query.get(name) ?? undefined);
  return value ? value : undefined;
}

function redirectTarget(raw: string | undefined): URL | undefined | 'invalid' {
  if (!raw) return undefined;
  try {
    const url = new URL(raw);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url : 'invalid';
  } catch {
    return 'invalid';
  }
}

function describeConsent(consent: DomesticPaymentConsent): string {
  const i = consent.request.Data.Initiation;
  const reference = i.RemittanceInformation?.Unstructured?.[0] ?? i.EndToEndIdentification;
  return `<dl><dt>Pay</dt><dd>${escape(i.InstructedAmount.Amount)} ${escape(i.InstructedAmount.Currency)}</dd>
<dt>To</dt><dd>${escape(i.CreditorAccount.Name)} (${escape(i.CreditorAccount.Identification)})</dd>
<dt>Reference</dt><dd>${escape(reference)}</dd>
${i.DebtorAccount ? `<dt>From</dt><dd>${escape(i.DebtorAccount.Identification)}</dd>` : ''}</dl>`;
}

export function scaRoutes(state: NorthwindPisState): Route[] {
  return [
    {
      method: 'GET',
      path: `${SCA_PATH}/{ConsentId}`,
      admin: true,
      handler(req) {
        const consentId = req.params.ConsentId ?? '';
        const consent = state.consents.get(consentId);
        if (!consent) return { ...page('Unknown payment', '<p>There is no such payment request.</p>'), status: 404 };
        if (consent.status !== 'AWAU')
          return {
            ...page('Already decided', `<p>This payment request is ${escape(consent.status)}.</p>`),
            status: 409,
          };
        const redirect = field(req, 'redirect_uri');
        const st = field(req, 'state');
        const psus = SANDBOX_CUSTOMERS.filter((c) => c.banks.northwind);
        const hidden = [
          redirect ? `<input type="hidden" name="redirect_uri" value="${escape(redirect)}">` : '',
          st ? `<input type="hidden" name="state" value="${escape(st)}">` : '',
          consent.request.Data.Initiation.DebtorAccount
            ? ''
            : `<p><label>Signed in as <select name="psuId">${psus
                .map((c) => `<option value="${escape(c.banks.northwind!.psuId)}">${escape(c.displayName)}</option>`)
                .join('')}</select></label></p>`,
        ].join('');
        return page(
          'Approve this payment?',
          `<p>An app asks to make this payment from your Northwind account:</p>${describeConsent(consent)}
<form method="post" action="${escape(`${SCA_PATH}/${encodeURIComponent(consentId)}`)}">${hidden}
<button type="submit" name="decision" value="approve">Approve</button>
<button type="submit" name="decision" value="reject">Reject</button></form>`,
        );
      },
    },
    {
      method: 'POST',
      path: `${SCA_PATH}/{ConsentId}`,
      admin: true,
      handler(req) {
        const consentId = req.params.ConsentId ?? '';
        const decision = field(req, 'decision');
        // A browser's form post gets pages; a test posting JSON (or asking for it) gets JSON.
        const wantsJson =
          /application\/json/.test(String(req.headers.accept ?? '')) ||
          /json/.test(String(req.headers['content-type'] ?? ''));
        const fail = (status: number, message: string): SandboxReply =>
          wantsJson
            ? { status, body: { error: message } }
            : { ...page('Not possible', `<p>${escape(message)}</p>`), status };
        if (decision !== 'approve' && decision !== 'reject') return fail(400, 'decision must be approve or reject');
        const redirect = redirectTarget(field(req, 'redirect_uri'));
        if (redirect === 'invalid') return fail(400, 'redirect_uri must be an absolute http(s) URL');
        let consent: DomesticPaymentConsent;
        try {
          const psuId = field(req, 'psuId');
          const customerId = field(req, 'customerId');
          const debtorAccountId = field(req, 'debtorAccountId');
          consent =
            decision === 'approve'
              ? authoriseConsent(state, consentId, {
                  ...(psuId ? { psuId } : {}),
                  ...(customerId ? { customerId } : {}),
                  ...(debtorAccountId ? { debtorAccountId } : {}),
                })
              : rejectConsent(state, consentId);
        } catch (err) {
          if (err instanceof SandboxActionError) return fail(err.status, err.message);
          throw err;
        }
        if (redirect) {
          redirect.searchParams.set('consent_id', consent.consentId);
          redirect.searchParams.set('decision', decision === 'approve' ? 'approved' : 'rejected');
          const st = field(req, 'state');
          if (st) redirect.searchParams.set('state', st);
          return { status: 303, headers: { location: redirect.toString(), 'cache-control': 'no-store' } };
        }
        if (wantsJson) return { status: 200, body: renderConsent(state, consent, req.baseUrl) };
        return page(
          decision === 'approve' ? 'Payment approved' : 'Payment rejected',
          `<p>You ${decision === 'approve' ? 'approved' : 'rejected'} the payment. You can close this page.</p>`,
        );
      },
    },
  ];
}
