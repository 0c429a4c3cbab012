import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { gql, type GraphQLResult } from '../gateway/helpers.ts';
import { scaled } from '../support/time.ts';
import {
  alice,
  ben,
  CANCEL,
  INITIATE,
  northwindAccount,
  PAYMENT,
  paymentInput,
  startPaymentsStack,
  type PaymentsStack,
} from './stack.ts';

/**
 * Payment initiation through the gateway, two layers of idempotency, on TWO gateway replicas
 * sharing the database (the real PostgreSQL with DATABASE_URL, and Redis with REDIS_URL) in front
 * of one payments subgraph and the Northwind sandbox. "Payments at the bank" are the payment
 * orders (domestic-payment-consents) the sandbox holds for a payment id, and the domestic
 * payments it executed.
 */
let stack: PaymentsStack;
let failNextCommit = 0;

beforeAll(async () => {
  stack = await startPaymentsStack({
    gateways: 2,
    // A ledger whose commit of the bank's answer fails on demand: the process "died" between the bank call and its own
    // commit.
    wrapLedger: (ledger) => ({
      ...ledger,
      transition: async (u) => {
        if (failNextCommit > 0 && u.to === 'AWAITING_AUTHORISATION') {
          failNextCommit -= 1;
          throw new Error('simulated crash before the commit');
        }
        return ledger.transition(u);
      },
    }),
  });
}, scaled(120_000));

afterAll(async () => {
  await stack?.close();
});

beforeEach(() => stack.sandboxes.reset());

type Payment = { id: string; status: string; authorisationUrl: string | null };
const newKey = () => `pay-${randomUUID()}`;
const consentsFor = (paymentId: string) =>
  stack.sandboxes.northwind
    .paymentConsents()
    .filter((c) => c.request.Data.Initiation.EndToEndIdentification === paymentId);
const consentsWithReference = (reference: string) =>
  stack.sandboxes.northwind
    .paymentConsents()
    .filter((c) => c.request.Data.Initiation.RemittanceInformation?.Unstructured?.[0] === reference);
const paymentOf = (r: GraphQLResult) => r.body.data?.initiatePayment as Payment | undefined;
const codeOf = (r: GraphQLResult) => r.body.errors?.[0]?.extensions?.code;
const initiate = async (
  g: number,
  token: string,
  input: Record<string, unknown>,
  headers: Record<string, string> = {},
) => gql(stack.gateways[g]!.url, INITIATE, { token, variables: { input }, headers });

/** Sends `n` requests with one key spread over both replicas; checks every answer is the payment or IN_USE. */
async function storm(n: number, key: string, reference: string) {
  const token = await stack.token();
  const results = await Promise.all(
    Array.from({ length: n }, (_, i) => initiate(i % 2, token, paymentInput(key, { reference }))),
  );
  const ok = results.filter((r) => r.status === 200 && !r.body.errors);
  const inUse = results.filter((r) => codeOf(r) === 'IDEMPOTENCY_KEY_IN_USE');
  const other = results.filter((r) => !ok.includes(r) && !inUse.includes(r));
  expect(other.map((r) => r.body.errors)).toEqual([]);
  for (const r of inUse) expect(r.status).toBe(409);
  const ids = new Set(ok.map((r) => paymentOf(r)!.id));
  expect(ids.size).toBe(1);
  const [id] = [...ids];
  // Every retry after the storm converges on the same payment too.
  const retry = await initiate(0, token, paymentInput(key, { reference }));
  expect(paymentOf(retry)!.id).toBe(id);
  return { id: id!, ok: ok.length, inUse: inUse.length, sent: n + 1 };
}

describe('initiatePayment through two gateway replicas', () => {
  it('answers AWAITING_AUTHORISATION with the bank SCA page, creditor and amount as asked', async () => {
    const res = await initiate(0, await stack.token(), paymentInput(newKey()));
    expect(res.body.errors).toBeUndefined();
    const p = paymentOf(res)!;
    expect(p).toMatchObject({
      id: expect.stringMatching(/^pay_[a-z2-7]{26}$/),
      status: 'AWAITING_AUTHORISATION',
      amount: { amount: '12.50', currency: 'GBP' },
      reference: 'PIZZA',
      creditor: { name: 'Sam Ellis', maskedIdentifier: '••••4455' },
    });
    const [consent] = consentsFor(p.id);
    expect(consent?.status).toBe('AWAU');
    expect(p.authorisationUrl).toContain(encodeURIComponent(consent!.consentId));
    expect(consent!.request.Data.Initiation).toMatchObject({
      InstructedAmount: { Amount: '12.50', Currency: 'GBP' },
      CreditorAccount: { SchemeName: 'UK.OBIE.SortCodeAccountNumber', Identification: '77110022334455' },
    });
    // The partner's request was valid per its published spec (when the specs are present).
    expect(stack.sandboxes.northwind.requests.list({ violations: true })).toEqual([]);
  });

  it('100 concurrent requests with one key over two replicas: exactly one payment at the bank', async () => {
    const reference = `STORM ${Math.floor(Math.random() * 1e6)}`.slice(0, 18);
    const { id, ok, inUse, sent } = await storm(100, newKey(), reference);
    expect(ok + inUse).toBe(100);
    expect(consentsWithReference(reference)).toHaveLength(1);
    expect(consentsFor(id)).toHaveLength(1);
    console.info(
      `concurrency: ${sent} requests sent, ${ok} answered with the payment, ${inUse} IDEMPOTENCY_KEY_IN_USE, payments at the bank: ${consentsWithReference(reference).length}`,
    );
  });

  it('the same with the bank failing the first attempts (5xx, and an answer lost after the order was taken): still one', async () => {
    stack.sandboxes.northwind.faults.inject({
      method: 'POST',
      path: /domestic-payment-consents$/,
      status: 503,
      times: 2,
    });
    stack.sandboxes.northwind.faults.inject({
      method: 'POST',
      path: /domestic-payment-consents$/,
      status: 500,
      afterHandler: true,
      times: 1,
    });
    const reference = `FLAKY ${Math.floor(Math.random() * 1e6)}`.slice(0, 18);
    const { id } = await storm(50, newKey(), reference);
    expect(consentsWithReference(reference)).toHaveLength(1);
    expect(consentsFor(id)).toHaveLength(1);
  });

  it('the same with the bank timing out after taking the order: the retry under the same bank key converges', async () => {
    stack.sandboxes.northwind.faults.inject({
      method: 'POST',
      path: /domestic-payment-consents$/,
      hang: true,
      afterHandler: true,
      times: 1,
    });
    const reference = `SLOW ${Math.floor(Math.random() * 1e6)}`.slice(0, 18);
    const { id } = await storm(30, newKey(), reference);
    expect(consentsWithReference(reference)).toHaveLength(1);
    expect(consentsFor(id)).toHaveLength(1);
  });

  it('a crash between the bank call and the ledger commit: the retry converges on the one payment, with the right status', async () => {
    const key = newKey();
    const token = await stack.token();
    failNextCommit = 1;
    const first = await initiate(0, token, paymentInput(key, { reference: 'CRASH' }));
    expect(codeOf(first)).toBe('INTERNAL_SERVER_ERROR');
    const retry = await initiate(1, token, paymentInput(key, { reference: 'CRASH' }));
    expect(retry.body.errors).toBeUndefined();
    const p = paymentOf(retry)!;
    expect(p.status).toBe('AWAITING_AUTHORISATION');
    // The bank was called twice (once before the crash), under one key: one order.
    expect(consentsFor(p.id)).toHaveLength(1);
    expect(p.authorisationUrl).toContain(encodeURIComponent(consentsFor(p.id)[0]!.consentId));
  });

  it('the same key with another amount: IDEMPOTENCY_KEY_REUSED, and nothing reaches the bank', async () => {
    const key = newKey();
    const token = await stack.token();
    const first = await initiate(0, token, paymentInput(key));
    expect(first.body.errors).toBeUndefined();
    const before = stack.sandboxes.northwind.requests.list().length;
    const consentsBefore = stack.sandboxes.northwind.paymentConsents().length;
    for (const g of [0, 1]) {
      const other = await initiate(g, token, paymentInput(key, { amount: { amount: '13.50', currency: 'GBP' } }));
      expect(other.status).toBe(422);
      expect(codeOf(other)).toBe('IDEMPOTENCY_KEY_REUSED');
    }
    expect(stack.sandboxes.northwind.requests.list().length).toBe(before);
    expect(stack.sandboxes.northwind.paymentConsents().length).toBe(consentsBefore);
  });

  it('a replay returns the stored answer marked as a replay; the Idempotency-Key header works too', async () => {
    const key = newKey();
    const token = await stack.token();
    const first = await initiate(0, token, paymentInput(undefined), { 'idempotency-key': key });
    expect(first.body.errors).toBeUndefined();
    const again = await initiate(1, token, paymentInput(undefined), { 'idempotency-key': key });
    expect(again.body.data).toEqual(first.body.data);
    expect((again.body as { extensions?: unknown }).extensions).toEqual({ idempotency: { replayed: true } });
    const missing = await initiate(0, token, paymentInput(undefined));
    expect(missing.status).toBe(400);
    expect(codeOf(missing)).toBe('IDEMPOTENCY_KEY_REQUIRED');
  });

  it('bypassing the gateway, the ledger still refuses a second payment for one (client, customer, key)', async () => {
    const key = newKey();
    const { graphql } = await import('./helpers.ts');
    const { principalOf } = await import('../support/customers.ts');
    const principal = principalOf(alice.customerId, ['payments:write', 'payments:read'], 'web-app');
    const query = `mutation($input: InitiatePaymentInput!) { initiatePayment(input: $input) { id status } }`;
    const results = await Promise.all(
      Array.from({ length: 10 }, () =>
        graphql(stack.payments.url, query, {
          principal,
          variables: { input: paymentInput(key, { reference: 'DIRECT' }) },
        }),
      ),
    );
    const ids = new Set(results.map((r) => (r.data?.initiatePayment as { id: string } | undefined)?.id));
    expect(results.map((r) => r.errors)).toEqual(results.map(() => undefined));
    expect(ids.size).toBe(1);
    expect(consentsFor([...ids][0]!)).toHaveLength(1);
    const reused = await graphql(stack.payments.url, query, {
      principal,
      variables: { input: paymentInput(key, { reference: 'OTHER' }) },
    });
    expect(reused.errors?.[0]?.extensions?.code).toBe('IDEMPOTENCY_KEY_REUSED');
  });
});

describe('what may be debited', () => {
  it("another customer's account is refused exactly like an account that does not exist", async () => {
    const token = await stack.token();
    const foreign = await initiate(0, token, paymentInput(newKey(), { debtorAccountId: northwindAccount(ben).id }));
    const missing = await initiate(
      0,
      token,
      paymentInput(newKey(), { debtorAccountId: 'acc_aaaaaaaaaaaaaaaaaaaaaaaaaa' }),
    );
    for (const r of [foreign, missing]) {
      expect(codeOf(r)).toBe('NOT_FOUND');
      expect(r.body.data).toBeNull();
    }
    expect(foreign.body.errors![0]!.message).toBe(missing.body.errors![0]!.message);
  });

  it('customers initiating concurrently with one key each get their own payment', async () => {
    const key = newKey();
    const [a, b] = await Promise.all([
      initiate(0, await stack.token(alice.customerId), paymentInput(key)),
      initiate(1, await stack.token(ben.customerId), paymentInput(key, { debtorAccountId: northwindAccount(ben).id })),
    ]);
    expect(a.body.errors).toBeUndefined();
    expect(b.body.errors).toBeUndefined();
    expect(paymentOf(a)!.id).not.toBe(paymentOf(b)!.id);
    const readByBen = await gql(stack.gateways[0]!.url, PAYMENT, {
      token: await stack.token(ben.customerId),
      variables: { id: paymentOf(a)!.id },
    });
    expect(readByBen.body.data).toEqual({ payment: null });
  });

  it('a third party without a PAYMENTS_INITIATION consent is refused before anything runs', async () => {
    const res = await initiate(0, await stack.token(alice.customerId, 'taxpal'), paymentInput(newKey()));
    expect(codeOf(res)).toBe('FORBIDDEN');
  });

  it('bad creditors and amounts are BAD_USER_INPUT naming the field', async () => {
    const token = await stack.token();
    const cases: [Record<string, unknown>, string][] = [
      [{ creditor: { name: 'X', iban: 'GB00NWBK60161331926819' } }, 'creditor.iban'],
      [{ creditor: { name: 'X', sortCode: '12345', accountNumber: '12345678' } }, 'creditor.sortCode'],
      [{ creditor: { name: 'X', sortCode: '123456', accountNumber: '1234567' } }, 'creditor.accountNumber'],
      [{ creditor: { name: 'X' } }, 'creditor'],
      [{ amount: { amount: '0.00', currency: 'GBP' } }, 'amount.amount'],
      [{ amount: { amount: '1.001', currency: 'GBP' } }, 'amount.amount'],
      [{ amount: { amount: '1.00', currency: 'EUR' } }, 'amount.currency'],
      [{ reference: 'x'.repeat(19) }, 'reference'],
    ];
    for (const [overrides, field] of cases) {
      const res = await initiate(0, token, paymentInput(newKey(), overrides));
      expect(codeOf(res), field).toBe('BAD_USER_INPUT');
      expect(res.body.errors?.[0]?.extensions?.field, JSON.stringify(overrides)).toBe(field);
    }
    const iban = await initiate(
      0,
      token,
      paymentInput(newKey(), { creditor: { name: 'Gadget Store', iban: 'GB29 NWBK 6016 1331 9268 19' } }),
    );
    expect(iban.body.errors).toBeUndefined();
  });
});

describe('after initiation: authorisation at the bank, submission, settlement, cancellation', () => {
  const authorise = async (paymentId: string) => {
    const consent = consentsFor(paymentId)[0]!;
    const res = await fetch(
      `${stack.sandboxes.urls.northwind}/sandbox/domestic-payment-consents/${consent.consentId}/authorise`,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ customerId: alice.customerId }),
      },
    );
    expect(res.status).toBe(200);
  };
  const statusOf = async (id: string) =>
    (
      (await gql(stack.gateways[0]!.url, PAYMENT, { token: await stack.token(), variables: { id } })).body.data
        ?.payment as { status: string } | null
    )?.status;

  it('once authorised, the poller submits it (one payment at the bank) and follows it', async () => {
    const p = paymentOf(await initiate(0, await stack.token(), paymentInput(newKey(), { reference: 'FOLLOW' })))!;
    await stack.payments.poller.runOnce();
    expect(await statusOf(p.id)).toBe('AWAITING_AUTHORISATION');
    await authorise(p.id);
    await stack.payments.poller.runOnce();
    expect(await statusOf(p.id)).toBe('ACCEPTED');
    await stack.payments.poller.runOnce();
    const executed = stack.sandboxes.northwind.payments().filter((x) => x.initiation.EndToEndIdentification === p.id);
    expect(executed).toHaveLength(1);
  });

  it('a submission whose answer never comes is UNKNOWN, then resolved under the same bank key, never a second payment', async () => {
    const p = paymentOf(await initiate(0, await stack.token(), paymentInput(newKey(), { reference: 'UNSURE' })))!;
    await authorise(p.id);
    // The bank takes the payment and every answer is lost (the client's retries included).
    stack.sandboxes.northwind.faults.inject({
      method: 'POST',
      path: /domestic-payments$/,
      status: 504,
      afterHandler: true,
      times: 10,
    });
    await stack.payments.poller.runOnce();
    expect(await statusOf(p.id)).toBe('UNKNOWN');
    stack.sandboxes.northwind.faults.clear();
    await stack.payments.poller.runOnce();
    expect(await statusOf(p.id)).toBe('ACCEPTED');
    const executed = stack.sandboxes.northwind.payments().filter((x) => x.initiation.EndToEndIdentification === p.id);
    expect(executed).toHaveLength(1);
  });

  it('a rejection at the bank makes it REJECTED', async () => {
    const p = paymentOf(await initiate(0, await stack.token(), paymentInput(newKey())))!;
    stack.sandboxes.northwind.rejectPaymentConsent(consentsFor(p.id)[0]!.consentId);
    await stack.payments.poller.runOnce();
    expect(await statusOf(p.id)).toBe('REJECTED');
  });

  it('cancels before authorisation (idempotently); refuses to cancel what the bank executed', async () => {
    const token = await stack.token();
    const p = paymentOf(await initiate(0, token, paymentInput(newKey())))!;
    const cancel = (key: string, g = 0) => gql(stack.gateways[g]!.url, CANCEL, { token, variables: { id: p.id, key } });
    const key = newKey();
    const c1 = await cancel(key);
    expect(c1.body.data?.cancelPayment).toMatchObject({ id: p.id, status: 'CANCELLED' });
    const c2 = await cancel(key, 1);
    expect(c2.body.data).toEqual(c1.body.data);
    // Authorised at the bank afterwards: never submitted.
    await authorise(p.id);
    await stack.payments.poller.runOnce();
    expect(await statusOf(p.id)).toBe('CANCELLED');
    expect(stack.sandboxes.northwind.payments().filter((x) => x.initiation.EndToEndIdentification === p.id)).toEqual(
      [],
    );

    const q = paymentOf(await initiate(0, token, paymentInput(newKey())))!;
    await authorise(q.id);
    await stack.payments.poller.runOnce();
    const late = await gql(stack.gateways[0]!.url, CANCEL, { token, variables: { id: q.id, key: newKey() } });
    expect(codeOf(late)).toBe('PAYMENT_TRANSITION_NOT_ALLOWED');
    // Someone else's payment: NOT_FOUND, like an unknown id.
    const foreign = await gql(stack.gateways[0]!.url, CANCEL, {
      token: await stack.token(ben.customerId),
      variables: { id: q.id, key: newKey() },
    });
    expect(codeOf(foreign)).toBe('NOT_FOUND');
  });
});
