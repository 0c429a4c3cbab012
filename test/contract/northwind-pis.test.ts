import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { PLATFORM_PARTNER_CREDENTIALS, SANDBOX_CUSTOMERS } from '../../sandboxes/manifest.ts';
import { SECOND_MS } from '../../sandboxes/lib/clock.ts';
import { loadPartnerSpec, type LoadedSpec } from '../../sandboxes/lib/openapi.ts';
import { describeWithSpecs } from '../support/partner-specs.ts';
import type { RunningSandboxes, TestClock } from '../../sandboxes/index.ts';
import { caller, fakeJwsSignature, startAll, T0, uuid } from './helpers.ts';

// Validating the sandbox against the partner's published spec is the point of this file: without the spec it is
// skipped.
const describeSpecs = describeWithSpecs(['obie-pis', 'obie-ais']);
let spec: LoadedSpec;
let aisSpec: LoadedSpec;
const PIS = '/open-banking/v4.0/pisp';
const alice = SANDBOX_CUSTOMERS[0]!;

let sandboxes: RunningSandboxes;
let clock: TestClock;
let call: ReturnType<typeof caller>;

beforeAll(async () => {
  spec = loadPartnerSpec('obie-pis');
  aisSpec = loadPartnerSpec('obie-ais');
  ({ sandboxes, clock } = await startAll());
  call = caller(sandboxes.urls.northwind, spec);
});
afterAll(async () => {
  await sandboxes.close();
});
beforeEach(() => {
  clock.set(T0);
});

const headers = (key = uuid().slice(0, 36)) => ({
  authorization: `Bearer ${PLATFORM_PARTNER_CREDENTIALS.northwindPisToken}`,
  'x-idempotency-key': key,
  'x-jws-signature': fakeJwsSignature(),
  'x-fapi-interaction-id': uuid(),
});
const readHeaders = () => ({
  authorization: `Bearer ${PLATFORM_PARTNER_CREDENTIALS.northwindPisToken}`,
  'x-fapi-interaction-id': uuid(),
});

function consentBody(amount = '25.50', e2e = `E2E-${uuid().slice(0, 8)}`) {
  return {
    Data: {
      Initiation: {
        InstructionIdentification: `INSTR-${e2e}`.slice(0, 35),
        EndToEndIdentification: e2e,
        LocalInstrument: 'UK.OBIE.FPS',
        InstructedAmount: { Amount: amount, Currency: 'GBP' },
        CreditorAccount: {
          SchemeName: 'UK.OBIE.SortCodeAccountNumber',
          Identification: '40400411223344',
          Name: 'Canal View Properties',
        },
        RemittanceInformation: { Unstructured: ['Invoice 2026-118'] },
      },
    },
    Risk: { PaymentContextCode: 'TransferToThirdParty' },
  };
}

async function authorisedConsent(amount?: string) {
  const body = consentBody(amount);
  const created = await call(`${PIS}/domestic-payment-consents`, { method: 'POST', headers: headers(), body });
  expect(created.status).toBe(201);
  const consentId = created.body.Data.ConsentId as string;
  const res = await fetch(`${sandboxes.urls.northwind}/sandbox/domestic-payment-consents/${consentId}/authorise`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ customerId: alice.customerId, debtorAccountId: '22289' }),
  });
  expect(res.status).toBe(200);
  return { consentId, body };
}

const paymentBody = (consentId: string, consent: ReturnType<typeof consentBody>) => ({
  Data: { ConsentId: consentId, Initiation: consent.Data.Initiation },
  Risk: consent.Risk,
});

describeSpecs('domestic payment consents', () => {
  it('are created AWAU, signed, and authorised through the sandbox PSU journey', async () => {
    const created = await call(`${PIS}/domestic-payment-consents`, {
      method: 'POST',
      headers: headers(),
      body: consentBody(),
    });
    expect(created.status).toBe(201);
    expect(created.violations).toEqual([]);
    expect(created.headers.get('x-jws-signature')).toMatch(/^[\w-]+\.\.[\w-]+$/);
    expect(created.body.Data).toMatchObject({ Status: 'AWAU', CreationDateTime: T0 });
    const id = created.body.Data.ConsentId;
    expect(created.body.Links.Self).toBe(`${sandboxes.urls.northwind}${PIS}/domestic-payment-consents/${id}`);

    const authorised = await fetch(`${sandboxes.urls.northwind}/sandbox/domestic-payment-consents/${id}/authorise`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ psuId: alice.banks.northwind!.psuId }),
    });
    expect(authorised.status).toBe(200);
    const read = await call(`${PIS}/domestic-payment-consents/${id}`, { headers: readHeaders() });
    expect(read.violations).toEqual([]);
    expect(read.body.Data).toMatchObject({
      Status: 'AUTH',
      Debtor: { SchemeName: 'UK.OBIE.SortCodeAccountNumber', Name: 'ALICE CARTER' },
    });

    const again = await fetch(`${sandboxes.urls.northwind}/sandbox/domestic-payment-consents/${id}/authorise`, {
      method: 'POST',
    });
    expect(again.status).toBe(409);
  });

  it('can be rejected by the PSU; unknown consents are 400 U011', async () => {
    const created = await call(`${PIS}/domestic-payment-consents`, {
      method: 'POST',
      headers: headers(),
      body: consentBody(),
    });
    sandboxes.northwind.rejectPaymentConsent(created.body.Data.ConsentId);
    expect(
      (await call(`${PIS}/domestic-payment-consents/${created.body.Data.ConsentId}`, { headers: readHeaders() })).body
        .Data.Status,
    ).toBe('RJCT');
    const unknown = await call(`${PIS}/domestic-payment-consents/PDC-nope`, { headers: readHeaders() });
    expect(unknown.status).toBe(400);
    expect(unknown.body.Errors[0].ErrorCode).toBe('U011');
    expect(unknown.violations).toEqual([]);
  });

  it('refuse non-GBP amounts and too many decimals', async () => {
    const eur = consentBody();
    eur.Data.Initiation.InstructedAmount.Currency = 'EUR';
    const r1 = await call(`${PIS}/domestic-payment-consents`, { method: 'POST', headers: headers(), body: eur });
    expect(r1.body.Errors[0]).toMatchObject({ ErrorCode: 'U023', Path: 'Data.Initiation.InstructedAmount.Currency' });
    const r2 = await call(`${PIS}/domestic-payment-consents`, {
      method: 'POST',
      headers: headers(),
      body: consentBody('10.005'),
    });
    expect(r2.status).toBe(400);
    expect(r2.body.Errors[0].ErrorCode).toBe('U002');
    expect([r1.violations, r2.violations]).toEqual([[], []]);
  });
});

describeSpecs('domestic payments', () => {
  it('progress ACSP -> ACSC -> ACCC over the clock and show up on the debtor account', async () => {
    const { consentId, body } = await authorisedConsent('12.34');
    const created = await call(`${PIS}/domestic-payments`, {
      method: 'POST',
      headers: headers(),
      body: paymentBody(consentId, body),
    });
    expect(created.status).toBe(201);
    expect(created.violations).toEqual([]);
    const id = created.body.Data.DomesticPaymentId as string;
    expect(created.body.Data).toMatchObject({ ConsentId: consentId, Status: 'ACSP', Initiation: body.Data.Initiation });
    expect(
      (await call(`${PIS}/domestic-payment-consents/${consentId}`, { headers: readHeaders() })).body.Data.Status,
    ).toBe('COND');

    const status = async () => (await call(`${PIS}/domestic-payments/${id}`, { headers: readHeaders() })).body.Data;
    const ais = caller(sandboxes.urls.northwind, aisSpec);
    const onAccount = async () => {
      const page = await ais(`${'/open-banking/v4.0/aisp'}/accounts/22289/transactions`, {
        headers: { authorization: `Bearer ${alice.banks.northwind!.accessToken}` },
      });
      expect(page.violations).toEqual([]);
      return page.body.Data.Transaction.find(
        (t: { SupplementaryData?: { DomesticPaymentId?: string } }) => t.SupplementaryData?.DomesticPaymentId === id,
      );
    };
    expect(await onAccount()).toMatchObject({
      Status: 'PDNG',
      Amount: { Amount: '12.34', Currency: 'GBP' },
      CreditDebitIndicator: 'Debit',
      TransactionReference: body.Data.Initiation.EndToEndIdentification,
      ProprietaryBankTransactionCode: { Code: 'PAYMENT' },
    });

    clock.advance(10 * SECOND_MS);
    expect(await status()).toMatchObject({
      Status: 'ACSC',
      StatusUpdateDateTime: new Date(Date.parse(T0) + 10 * SECOND_MS).toISOString(),
    });
    expect((await onAccount()).Status).toBe('BOOK');
    clock.advance(50 * SECOND_MS);
    expect((await status()).Status).toBe('ACCC');

    const details = await call(`${PIS}/domestic-payments/${id}/payment-details`, { headers: readHeaders() });
    expect(details.violations).toEqual([]);
    expect(details.body.Data.PaymentStatus[0]).toMatchObject({
      Status: 'ACCC',
      StatusDetail: { Status: 'ACCC', LocalInstrument: 'UK.OBIE.FPS' },
    });
  });

  it('is rejected (RJCT, AM04) at settlement when the debtor cannot cover it', async () => {
    const { consentId, body } = await authorisedConsent('250000.00');
    const created = await call(`${PIS}/domestic-payments`, {
      method: 'POST',
      headers: headers(),
      body: paymentBody(consentId, body),
    });
    expect(created.body.Data.Status).toBe('ACSP');
    clock.advance(11 * SECOND_MS);
    const read = await call(`${PIS}/domestic-payments/${created.body.Data.DomesticPaymentId}`, {
      headers: readHeaders(),
    });
    expect(read.violations).toEqual([]);
    expect(read.body.Data).toMatchObject({ Status: 'RJCT', StatusReason: [{ StatusReasonCode: 'AM04' }] });
  });

  it('honour x-idempotency-key: a retry returns the same payment; a changed body is refused and changes nothing', async () => {
    const { consentId, body } = await authorisedConsent('5.00');
    const key = `idem-${uuid()}`.slice(0, 40);
    const h = headers(key);
    const before = sandboxes.northwind.payments().length;
    const first = await call(`${PIS}/domestic-payments`, {
      method: 'POST',
      headers: h,
      body: paymentBody(consentId, body),
    });
    const retry = await call(`${PIS}/domestic-payments`, {
      method: 'POST',
      headers: { ...h, 'x-fapi-interaction-id': uuid() },
      body: paymentBody(consentId, body),
    });
    expect([first.status, retry.status]).toEqual([201, 201]);
    expect(retry.body.Data.DomesticPaymentId).toBe(first.body.Data.DomesticPaymentId);
    expect(sandboxes.northwind.payments().length).toBe(before + 1);
    const entries = sandboxes.northwind.ledger
      .get('22289')!
      .entries()
      .filter((e) => e.paymentId === first.body.Data.DomesticPaymentId);
    expect(entries).toHaveLength(1);

    const changed = paymentBody(consentId, body);
    changed.Data.Initiation = { ...changed.Data.Initiation, InstructedAmount: { Amount: '500.00', Currency: 'GBP' } };
    const refused = await call(`${PIS}/domestic-payments`, { method: 'POST', headers: h, body: changed });
    expect(refused.status).toBe(400);
    expect(refused.body.Errors[0]).toMatchObject({ ErrorCode: 'U002', Path: 'x-idempotency-key' });
    expect(refused.violations).toEqual([]);
    expect(sandboxes.northwind.payments().length).toBe(before + 1);

    // A new key for the consumed consent is a second payment attempt: refused.
    const second = await call(`${PIS}/domestic-payments`, {
      method: 'POST',
      headers: headers(),
      body: paymentBody(consentId, body),
    });
    expect(second.status).toBe(400);
    expect(second.body.Errors[0]).toMatchObject({ ErrorCode: 'U009' });

    // After 24 hours the key is forgotten.
    clock.advance(24 * 3600 * SECOND_MS + 1);
    const late = await call(`${PIS}/domestic-payments`, {
      method: 'POST',
      headers: h,
      body: paymentBody(consentId, body),
    });
    expect(late.body.Errors[0].ErrorCode).toBe('U009');
  });

  it('idempotent consent creation returns the original consent', async () => {
    const h = headers('consent-key-1');
    const body = consentBody();
    const a = await call(`${PIS}/domestic-payment-consents`, { method: 'POST', headers: h, body });
    const b = await call(`${PIS}/domestic-payment-consents`, { method: 'POST', headers: h, body });
    expect(b.status).toBe(201);
    expect(b.body.Data.ConsentId).toBe(a.body.Data.ConsentId);
  });

  it('refuse unauthorised consents and initiations that differ from the consent', async () => {
    const created = await call(`${PIS}/domestic-payment-consents`, {
      method: 'POST',
      headers: headers(),
      body: consentBody(),
    });
    const awau = await call(`${PIS}/domestic-payments`, {
      method: 'POST',
      headers: headers(),
      body: paymentBody(created.body.Data.ConsentId, consentBody()),
    });
    expect(awau.body.Errors[0].ErrorCode).toBe('U009');
    const { consentId, body } = await authorisedConsent();
    const tampered = paymentBody(consentId, body);
    tampered.Data.Initiation = {
      ...tampered.Data.Initiation,
      CreditorAccount: { ...tampered.Data.Initiation.CreditorAccount, Identification: '40400499999999' },
    };
    const mismatch = await call(`${PIS}/domestic-payments`, { method: 'POST', headers: headers(), body: tampered });
    expect(mismatch.body.Errors[0]).toMatchObject({ ErrorCode: 'U008', Path: 'Data.Initiation' });
    const missing = await call(`${PIS}/domestic-payments`, {
      method: 'POST',
      headers: headers(),
      body: paymentBody('PDC-unknown', body),
    });
    expect(missing.body.Errors[0]).toMatchObject({ ErrorCode: 'U011', Path: 'Data.ConsentId' });
    for (const r of [awau, mismatch, missing]) expect(r.violations).toEqual([]);
  });
});

describeSpecs('PIS request checks', () => {
  it('need the PIS token (401 without body otherwise)', async () => {
    const res = await call(`${PIS}/domestic-payment-consents`, {
      method: 'POST',
      headers: { ...headers(), authorization: `Bearer ${alice.banks.northwind!.accessToken}` },
      body: consentBody(),
    });
    expect(res.status).toBe(401);
    expect(res.text).toBe('');
    expect(res.violations).toEqual([]);
  });

  it('need x-idempotency-key (<= 40 chars) and a detached x-jws-signature', async () => {
    const { 'x-idempotency-key': _key, ...noKey } = headers();
    const r1 = await call(`${PIS}/domestic-payment-consents`, { method: 'POST', headers: noKey, body: consentBody() });
    expect(r1.body.Errors).toContainEqual(expect.objectContaining({ ErrorCode: 'U007', Path: 'x-idempotency-key' }));
    const r2 = await call(`${PIS}/domestic-payment-consents`, {
      method: 'POST',
      headers: headers('k'.repeat(41)),
      body: consentBody(),
    });
    expect(r2.body.Errors[0]).toMatchObject({ ErrorCode: 'U006', Path: 'x-idempotency-key' });
    const { 'x-jws-signature': _sig, ...noSig } = headers();
    const r3 = await call(`${PIS}/domestic-payment-consents`, { method: 'POST', headers: noSig, body: consentBody() });
    expect(r3.body.Errors[0]).toMatchObject({ ErrorCode: 'U019', Path: 'x-jws-signature' });
    const r4 = await call(`${PIS}/domestic-payment-consents`, {
      method: 'POST',
      headers: { ...headers(), 'x-jws-signature': 'not.a.detached-jws' },
      body: consentBody(),
    });
    expect(r4.body.Errors[0].ErrorCode).toBe('U018');
    const noKid = `${Buffer.from(JSON.stringify({ alg: 'PS256' })).toString('base64url')}..c2ln`;
    const r5 = await call(`${PIS}/domestic-payment-consents`, {
      method: 'POST',
      headers: { ...headers(), 'x-jws-signature': noKid },
      body: consentBody(),
    });
    expect(r5.body.Errors[0]).toMatchObject({ ErrorCode: 'U017', Path: 'kid' });
    for (const r of [r1, r2, r3, r4, r5]) {
      expect(r.status).toBe(400);
      expect(r.violations).toEqual([]);
      expect(r.headers.get('x-jws-signature')).toBeTruthy();
    }
  });

  it('validate the body against OBWriteDomesticConsent4', async () => {
    const body = consentBody();
    const { CreditorAccount: _c, ...initiation } = body.Data.Initiation;
    const res = await call(`${PIS}/domestic-payment-consents`, {
      method: 'POST',
      headers: headers(),
      body: { ...body, Data: { Initiation: initiation } },
    });
    expect(res.status).toBe(400);
    expect(res.body.Errors).toContainEqual(
      expect.objectContaining({ ErrorCode: 'U004', Path: 'Data.Initiation.CreditorAccount' }),
    );
    const notJson = await call(`${PIS}/domestic-payment-consents`, {
      method: 'POST',
      headers: { ...headers(), 'content-type': 'application/json' },
      body: '{"Data":',
    });
    expect(notJson.body.Errors[0].ErrorCode).toBe('U010');
  });
});
