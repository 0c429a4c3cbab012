import { randomUUID } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createTestClock } from '../../sandboxes/lib/clock.ts';
import { gql } from '../gateway/helpers.ts';
import {
  alice,
  INITIATE,
  newWebhookSecret,
  PAYMENT,
  paymentInput,
  startPaymentsStack,
  type PaymentsStack,
} from '../payments/stack.ts';
import { scaled, waitBudget } from '../support/time.ts';

/**
 * Money movement end to end, through the gateway: initiate, the customer approves at the bank's
 * SCA page (over HTTP, as the browser form would), the bank's signed webhooks (Standard Webhooks)
 * land in the payments subgraph's inbox and move the payment on: AUTHORISED (consent event) ->
 * submitted -> ACCEPTED -> SETTLED (payment events, as the sandbox clock passes settlement). The
 * poller is not involved here (its interval is an hour): webhooks alone drive it. Also the
 * receiver's refusals (bad signature, stale timestamp), duplicates and out-of-order delivery.
 */
const clock = createTestClock(new Date());
const secret = newWebhookSecret();
let stack: PaymentsStack;

beforeAll(async () => {
  stack = await startPaymentsStack({ now: clock.now, webhookSecret: secret });
}, scaled(120_000));

afterAll(async () => {
  await stack?.close();
});

const webhookUrl = () => stack.payments.url.replace(/\/graphql$/, '/webhooks/northwind');
type Payment = { id: string; status: string; authorisationUrl: string; settledAt: string | null };

async function initiate(reference: string): Promise<Payment> {
  const res = await gql(stack.gateways[0]!.url, INITIATE, {
    token: await stack.token(),
    variables: { input: paymentInput(`e2e-${randomUUID()}`, { reference }) },
  });
  expect(res.body.errors).toBeUndefined();
  return res.body.data!.initiatePayment as Payment;
}

async function read(id: string) {
  const res = await gql(stack.gateways[0]!.url, PAYMENT, { token: await stack.token(), variables: { id } });
  return res.body.data!.payment as { status: string; settledAt: string | null; statusHistory: { status: string }[] };
}

/** The customer approves at the bank: the SCA page's form, posted over HTTP. */
async function approve(p: Payment) {
  const res = await fetch(p.authorisationUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams({ decision: 'approve', customerId: alice.customerId }).toString(),
  });
  expect(res.status).toBe(200);
}

async function settle() {
  clock.advance(11_000);
  await stack.sandboxes.northwind.webhooks.flush();
}

describe('a payment end to end through the gateway', () => {
  it('initiate, approve at the bank, webhooks: SETTLED', async () => {
    const p = await initiate('E2E');
    expect(p.status).toBe('AWAITING_AUTHORISATION');
    // The SCA page is the bank's, for this payment.
    const page = await fetch(p.authorisationUrl);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('12.50');
    await approve(p);
    await stack.sandboxes.northwind.webhooks.flush();
    // The consent event authorises it; the subgraph submits it to the bank (one payment there).
    await vi.waitFor(async () => expect((await read(p.id)).status).toBe('ACCEPTED'), waitBudget(10_000));
    await settle();
    await vi.waitFor(async () => expect((await read(p.id)).status).toBe('SETTLED'), waitBudget(10_000));
    const final = await read(p.id);
    expect(final.settledAt).not.toBeNull();
    expect(final.statusHistory.map((h) => h.status)).toEqual([
      'CREATED',
      'AWAITING_AUTHORISATION',
      'AUTHORISED',
      'ACCEPTED',
      'SETTLED',
    ]);
    expect(
      stack.sandboxes.northwind.payments().filter((x) => x.initiation.EndToEndIdentification === p.id),
    ).toHaveLength(1);
    // Every delivery was taken (2xx) by the receiver.
    const deliveries = stack.sandboxes.northwind.webhooks.deliveries();
    expect(deliveries.filter((d) => d.state !== 'delivered')).toEqual([]);
  });

  it('duplicate and out-of-order deliveries: applied once each, never backwards', async () => {
    const p = await initiate('REORDER');
    await approve(p);
    await stack.sandboxes.northwind.webhooks.flush();
    await vi.waitFor(async () => expect((await read(p.id)).status).toBe('ACCEPTED'), waitBudget(10_000));
    // ACSC and ACCC become due together; delivered newest first, and each twice.
    stack.sandboxes.northwind.webhooks.reorderNext(2);
    stack.sandboxes.northwind.webhooks.duplicateNext(2);
    clock.advance(61_000);
    await stack.sandboxes.northwind.webhooks.flush();
    await vi.waitFor(async () => expect((await read(p.id)).status).toBe('SETTLED'), waitBudget(10_000));
    await stack.payments.webhooks!.runOnce();
    const history = (await read(p.id)).statusHistory.map((h) => h.status);
    expect(history.filter((s) => s === 'SETTLED')).toHaveLength(1);
    expect(history.at(-1)).toBe('SETTLED');
  });

  it('refuses a bad signature and a stale timestamp, storing nothing', async () => {
    const body = JSON.stringify({
      type: 'payment-consent.status_changed',
      data: { ConsentId: 'x', Status: 'AUTH', StatusUpdateDateTime: new Date().toISOString(), Sequence: 1 },
    });
    const id = `msg_${randomUUID()}`;
    const signer = new Webhook(newWebhookSecret());
    const wrong = await fetch(webhookUrl(), {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'webhook-id': id,
        'webhook-timestamp': String(Math.floor(Date.now() / 1000)),
        'webhook-signature': signer.sign(id, new Date(), body),
      },
      body,
    });
    expect(wrong.status).toBe(401);
    const stale = new Date(Date.now() - 10 * 60_000);
    const old = await fetch(webhookUrl(), {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'webhook-id': id,
        'webhook-timestamp': String(Math.floor(stale.getTime() / 1000)),
        'webhook-signature': new Webhook(secret).sign(id, stale, body),
      },
      body,
    });
    expect(old.status).toBe(401);
    const missing = await fetch(webhookUrl(), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    expect(missing.status).toBe(400);
  });
});
