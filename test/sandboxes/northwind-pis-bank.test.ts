import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { closeServer, listen } from '../../lib/http-server.ts';
import { createLogger } from '../../lib/logger.ts';
import { createTestClock, startSandboxes, type RunningSandboxes } from '../../sandboxes/index.ts';
import { PLATFORM_PARTNER_CREDENTIALS, SANDBOX_CUSTOMERS } from '../../sandboxes/manifest.ts';
import { SECOND_MS } from '../../sandboxes/lib/clock.ts';

/**
 * The sandbox bank's payment side as the platform meets it: the consent's authorisation page,
 * x-idempotency-key, faults that lose the answer of a created payment, signed webhooks with
 * retries, duplicates and reordering, and the daily settlement report with seeded breaks.
 * (Works with or without the partner specs; test/contract/northwind-pis.test.ts validates against them.)
 */
const T0 = '2026-11-23T12:00:00.000Z';
const clock = createTestClock(T0);
const logger = createLogger('pis-bank-test', 'silent');
const alice = SANDBOX_CUSTOMERS[0]!;
const PIS = '/open-banking/v4.0/pisp';
const SECRET = `whsec_${randomBytes(32).toString('base64')}`;
const PREVIOUS = `whsec_${randomBytes(32).toString('base64')}`;

let sandboxes: RunningSandboxes;
let bank: string;
/** A receiver standing in for the payments subgraph: records deliveries, answers what `answer` says. */
const received: Array<{ headers: IncomingMessage['headers']; body: string }> = [];
let answer = 200;
let receiverUrl: string;
const receiver = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
    res.writeHead(answer).end();
  });
});

beforeAll(async () => {
  receiverUrl = `${(await listen(receiver, 0, '127.0.0.1')).url}/webhooks/northwind`;
  sandboxes = await startSandboxes({
    ports: 0,
    logger,
    now: clock.now,
    northwind: { webhooks: { url: receiverUrl, secrets: [SECRET, PREVIOUS], pumpIntervalMs: 0, maxAttempts: 3 } },
  });
  bank = sandboxes.urls.northwind;
});
afterAll(async () => {
  await sandboxes?.close();
  await closeServer(receiver);
});
beforeEach(() => {
  clock.set(T0);
  sandboxes.reset();
  received.length = 0;
  answer = 200;
});

const jws = () =>
  `${Buffer.from(JSON.stringify({ alg: 'PS256', kid: 'k1', crit: [] })).toString('base64url')}..${randomBytes(16).toString('base64url')}`;
const writeHeaders = (key: string) => ({
  authorization: `Bearer ${PLATFORM_PARTNER_CREDENTIALS.northwindPisToken}`,
  'x-idempotency-key': key,
  'x-jws-signature': jws(),
  'content-type': 'application/json',
});
const initiation = (amount = '25.50', e2e = `E2E-${randomBytes(4).toString('hex')}`) => ({
  InstructionIdentification: `INSTR-${e2e}`.slice(0, 35),
  EndToEndIdentification: e2e,
  LocalInstrument: 'UK.OBIE.FPS',
  InstructedAmount: { Amount: amount, Currency: 'GBP' },
  CreditorAccount: {
    SchemeName: 'UK.OBIE.SortCodeAccountNumber',
    Identification: '40400411223344',
    Name: 'Canal View',
  },
  RemittanceInformation: { Unstructured: ['Invoice <42>'] },
});
const key = () => `key-${randomBytes(8).toString('hex')}`;

async function createConsent(amount?: string) {
  const body = { Data: { Initiation: initiation(amount) }, Risk: { PaymentContextCode: 'TransferToThirdParty' } };
  const res = await fetch(`${bank}${PIS}/domestic-payment-consents`, {
    method: 'POST',
    headers: writeHeaders(key()),
    body: JSON.stringify(body),
  });
  expect(res.status).toBe(201);
  const json = (await res.json()) as { Data: { ConsentId: string } };
  return { body, consentId: json.Data.ConsentId, authorisationUrl: res.headers.get('x-sandbox-authorisation-url') };
}

async function approve(consentId: string) {
  const res = await fetch(`${bank}/sandbox/pis/authorise/${consentId}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ decision: 'approve', customerId: alice.customerId, debtorAccountId: '22289' }),
  });
  expect(res.status).toBe(200);
}

const submit = (consent: Awaited<ReturnType<typeof createConsent>>, idempotencyKey: string, body?: unknown) =>
  fetch(`${bank}${PIS}/domestic-payments`, {
    method: 'POST',
    headers: writeHeaders(idempotencyKey),
    body: JSON.stringify(
      body ?? {
        Data: { ConsentId: consent.consentId, Initiation: consent.body.Data.Initiation },
        Risk: consent.body.Risk,
      },
    ),
  });

describe('strong customer authentication at the bank', () => {
  it('serves an Approve/Reject page at the advertised URL; a form post approves and redirects back with state', async () => {
    const consent = await createConsent();
    expect(consent.authorisationUrl).toBe(`${bank}/sandbox/pis/authorise/${consent.consentId}`);
    const pageUrl = `${consent.authorisationUrl}?redirect_uri=${encodeURIComponent('https://app.example/back')}&state=s-1`;
    const page = await fetch(pageUrl);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    const html = await page.text();
    expect(html).toContain('25.50 GBP');
    expect(html).toContain('Invoice &lt;42&gt;');
    expect(html).toMatch(/<button type="submit" name="decision" value="approve">Approve<\/button>/);
    expect(html).toMatch(/name="redirect_uri" value="https:\/\/app.example\/back"/);

    const form = new URLSearchParams({
      decision: 'approve',
      psuId: alice.banks.northwind!.psuId,
      redirect_uri: 'https://app.example/back',
      state: 's-1',
    });
    const posted = await fetch(consent.authorisationUrl!, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: form.toString(),
      redirect: 'manual',
    });
    expect(posted.status).toBe(303);
    expect(posted.headers.get('location')).toBe(
      `https://app.example/back?consent_id=${consent.consentId}&decision=approved&state=s-1`,
    );
    const read = await fetch(`${bank}${PIS}/domestic-payment-consents/${consent.consentId}`, {
      headers: { authorization: `Bearer ${PLATFORM_PARTNER_CREDENTIALS.northwindPisToken}` },
    });
    expect(((await read.json()) as { Data: { Status: string } }).Data.Status).toBe('AUTH');
    expect(read.headers.get('x-sandbox-authorisation-url')).toBeNull();
    // Decided once: the page and a second decision say so.
    expect((await fetch(consent.authorisationUrl!)).status).toBe(409);
  });

  it('a rejection over HTTP makes the consent unusable for a payment', async () => {
    const consent = await createConsent();
    const res = await fetch(consent.authorisationUrl!, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ decision: 'reject' }),
    });
    expect(((await res.json()) as { Data: { Status: string } }).Data.Status).toBe('RJCT');
    const payment = await submit(consent, key());
    expect(payment.status).toBe(400);
    expect(((await payment.json()) as { Errors: Array<{ ErrorCode: string }> }).Errors[0]!.ErrorCode).toBe('U009');
  });
});

describe('x-idempotency-key on domestic payments', () => {
  it('the same key and body replay the one payment; a changed body under the key changes nothing', async () => {
    const consent = await createConsent();
    await approve(consent.consentId);
    const k = key();
    const first = (await (await submit(consent, k)).json()) as { Data: { DomesticPaymentId: string } };
    const again = await submit(consent, k);
    expect(again.status).toBe(201);
    expect(((await again.json()) as typeof first).Data.DomesticPaymentId).toBe(first.Data.DomesticPaymentId);
    const changed = await submit(consent, k, {
      Data: {
        ConsentId: consent.consentId,
        Initiation: { ...consent.body.Data.Initiation, InstructedAmount: { Amount: '99.00', Currency: 'GBP' } },
      },
      Risk: consent.body.Risk,
    });
    expect(changed.status).toBe(400);
    expect(((await changed.json()) as { Errors: Array<{ Path: string }> }).Errors[0]!.Path).toBe('x-idempotency-key');
    expect(sandboxes.northwind.payments().filter((p) => p.consentId === consent.consentId)).toHaveLength(1);
  });

  it('refuses a key over 40 characters', async () => {
    const consent = await createConsent();
    await approve(consent.consentId);
    for (const bad of ['k'.repeat(41), `${'x'.repeat(40)}y`]) {
      const res = await submit(consent, bad);
      expect(res.status).toBe(400);
    }
    expect(sandboxes.northwind.payments().filter((p) => p.consentId === consent.consentId)).toHaveLength(0);
  });
});

describe('faults on the payment routes', () => {
  it('a created payment whose answer is lost (reset, 5xx after commit, unreadable body) is replayed by its key', async () => {
    for (const fault of [
      { reset: true, afterHandler: true },
      { status: 504, afterHandler: true },
      { malformed: 'invalid-json' as const },
    ]) {
      const consent = await createConsent();
      await approve(consent.consentId);
      sandboxes.northwind.faults.inject({ method: 'POST', path: '/domestic-payments', times: 1, ...fault });
      const k = key();
      const lost = await submit(consent, k).then(
        async (r) => ({ status: r.status, text: await r.text() }),
        (err: Error) => ({ status: 0, text: err.message }),
      );
      if (fault.reset) expect(lost.status).toBe(0);
      else if (fault.status) expect(lost.status).toBe(504);
      else expect(() => JSON.parse(lost.text)).toThrow();
      const created = sandboxes.northwind.payments().filter((p) => p.consentId === consent.consentId);
      expect(created).toHaveLength(1);
      const retry = await submit(consent, k);
      expect(retry.status).toBe(201);
      expect(((await retry.json()) as { Data: { DomesticPaymentId: string } }).Data.DomesticPaymentId).toBe(
        created[0]!.paymentId,
      );
    }
  });

  it('a 5xx before the bank acts creates nothing; the retry with the same key creates the payment once', async () => {
    const consent = await createConsent();
    await approve(consent.consentId);
    sandboxes.northwind.faults.inject({ method: 'POST', path: '/domestic-payments', status: 503, times: 2 });
    const k = key();
    expect((await submit(consent, k)).status).toBe(503);
    expect((await submit(consent, k)).status).toBe(503);
    expect(sandboxes.northwind.payments().filter((p) => p.consentId === consent.consentId)).toHaveLength(0);
    expect((await submit(consent, k)).status).toBe(201);
    expect((await submit(consent, k)).status).toBe(201);
    expect(sandboxes.northwind.payments().filter((p) => p.consentId === consent.consentId)).toHaveLength(1);
  });
});

type PaymentEvent = {
  type: string;
  data: { DomesticPaymentId: string; ConsentId: string; Status: string; Sequence: number };
};
const events = () =>
  received.map((r) => ({ id: r.headers['webhook-id'] as string, event: JSON.parse(r.body) as PaymentEvent }));

describe('webhooks', () => {
  async function pay(amount?: string) {
    const consent = await createConsent(amount);
    await approve(consent.consentId);
    const res = await submit(consent, key());
    return ((await res.json()) as { Data: { DomesticPaymentId: string } }).Data.DomesticPaymentId;
  }

  it('signs per Standard Webhooks with both secrets while rotating, and sends ACSP, ACSC, ACCC in sequence as the clock moves', async () => {
    const paymentId = await pay();
    await sandboxes.northwind.webhooks.flush();
    clock.advance(11 * SECOND_MS);
    await sandboxes.northwind.webhooks.flush();
    clock.advance(60 * SECOND_MS);
    await sandboxes.northwind.webhooks.flush();
    const mine = events().filter(
      (e) => e.event.type === 'payment.status_changed' && e.event.data.DomesticPaymentId === paymentId,
    );
    expect(mine.map((e) => [e.event.data.Status, e.event.data.Sequence])).toEqual([
      ['ACSP', 1],
      ['ACSC', 2],
      ['ACCC', 3],
    ]);
    expect(mine[0]!.id).toBe(`msg_${paymentId}_1`);
    const consentEvent = events().find((e) => e.event.type === 'payment-consent.status_changed');
    expect(consentEvent?.event.data).toMatchObject({ Status: 'AUTH', Sequence: 2 });
    for (const r of received) {
      const headers = r.headers as Record<string, string>;
      expect(headers['webhook-signature']!.split(' ')).toHaveLength(2);
      // Either secret alone verifies: a receiver before or after the rotation accepts the delivery.
      expect(() => new Webhook(SECRET).verify(r.body, headers)).not.toThrow();
      expect(() => new Webhook(PREVIOUS).verify(r.body, headers)).not.toThrow();
    }
  });

  it('retries with backoff on the sandbox clock until a 2xx, and gives up after maxAttempts', async () => {
    answer = 500;
    const paymentId = await pay();
    await sandboxes.northwind.webhooks.flush();
    const delivery = () => sandboxes.northwind.webhooks.deliveries().find((d) => d.id === `msg_${paymentId}_1`)!;
    expect(delivery()).toMatchObject({ state: 'pending', attempts: [{ status: 500 }] });
    await sandboxes.northwind.webhooks.flush();
    expect(delivery().attempts).toHaveLength(1);
    clock.advance(5 * SECOND_MS);
    answer = 200;
    await sandboxes.northwind.webhooks.flush();
    expect(delivery()).toMatchObject({ state: 'delivered', attempts: [{ status: 500 }, { status: 200 }] });

    answer = 503;
    const other = await pay();
    for (let i = 0; i < 5; i++) {
      await sandboxes.northwind.webhooks.flush();
      clock.advance(10 * 60 * SECOND_MS);
    }
    const failed = sandboxes.northwind.webhooks.deliveries().find((d) => d.id === `msg_${other}_1`)!;
    expect(failed.state).toBe('failed');
    expect(failed.attempts).toHaveLength(3);
    // Over HTTP too, for tests in other processes.
    const listed = (await (await fetch(`${bank}/sandbox/webhooks`)).json()) as {
      deliveries: Array<{ id: string; state: string }>;
    };
    expect(listed.deliveries.find((d) => d.id === `msg_${other}_1`)?.state).toBe('failed');
  });

  it('test hooks force duplicate and out-of-order delivery', async () => {
    const paymentId = await pay();
    await sandboxes.northwind.webhooks.flush();
    received.length = 0;
    sandboxes.northwind.webhooks.duplicateNext(1);
    expect(
      (
        await fetch(`${bank}/sandbox/webhooks/reorder`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: '{"count":2}',
        })
      ).status,
    ).toBe(204);
    clock.advance(61 * SECOND_MS);
    await sandboxes.northwind.webhooks.flush();
    const seen = events().filter((e) => e.event.data.DomesticPaymentId === paymentId);
    // ACSC (duplicated) and ACCC were queued together; delivered newest first.
    expect(seen.map((e) => e.event.data.Sequence)).toEqual([3, 2, 2]);
    expect(seen[1]!.id).toBe(seen[2]!.id);
  });
});

describe('settlement report', () => {
  it("lists the day's settled and rejected payments in the bank's CSV, and carries the breaks a test seeds", async () => {
    const ids: string[] = [];
    for (const amount of ['10.00', '20.00', '30.00', '999999.00']) {
      const consent = await createConsent(amount);
      await approve(consent.consentId);
      ids.push(
        ((await (await submit(consent, key())).json()) as { Data: { DomesticPaymentId: string } }).Data
          .DomesticPaymentId,
      );
    }
    clock.advance(24 * 3600 * SECOND_MS);
    const date = T0.slice(0, 10);
    const get = () =>
      fetch(`${bank}/reports/settlement/${date}`, {
        headers: { authorization: `Bearer ${PLATFORM_PARTNER_CREDENTIALS.northwindPisToken}` },
      });
    const clean = await get();
    expect(clean.headers.get('content-type')).toMatch(/text\/csv/);
    expect(clean.headers.get('x-report-complete')).toBe('true');
    const lines = (await clean.text()).trimEnd().split('\r\n');
    expect(lines[0]).toBe('payment_id,end_to_end_id,instruction_id,amount,currency,status,settled_at');
    const rows = new Map(lines.slice(1).map((l) => [l.split(',')[0]!, l.split(',')]));
    for (const id of ids) expect(rows.has(id)).toBe(true);
    expect(rows.get(ids[0]!)!.slice(3, 6)).toEqual(['10.00', 'GBP', 'SETTLED']);
    expect(rows.get(ids[3]!)![5]).toBe('REJECTED');

    const post = (b: unknown) =>
      fetch(`${bank}/sandbox/settlement-reports/${date}/breaks`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(b),
      });
    expect((await post({ kind: 'missing_at_bank', paymentId: ids[0] })).status).toBe(201);
    expect((await post({ kind: 'amount_mismatch', paymentId: ids[1], amount: '21.00' })).status).toBe(201);
    expect((await post({ kind: 'status_mismatch', paymentId: ids[2], status: 'REJECTED' })).status).toBe(201);
    const extra = (await (await post({ kind: 'extra_at_bank', amount: '5.55' })).json()) as { paymentId: string };
    expect((await post({ kind: 'amount_mismatch', paymentId: 'nope', amount: '1.00' })).status).toBe(400);
    const broken = new Map(
      (await (await get()).text())
        .trimEnd()
        .split('\r\n')
        .slice(1)
        .map((l) => [l.split(',')[0]!, l.split(',')]),
    );
    expect(broken.has(ids[0]!)).toBe(false);
    expect(broken.get(ids[1]!)![3]).toBe('21.00');
    expect(broken.get(ids[2]!)![5]).toBe('REJECTED');
    expect(broken.get(extra.paymentId)![3]).toBe('5.55');
    expect((await fetch(`${bank}/reports/settlement/${date}`)).status).toBe(401);
    expect(
      (
        await fetch(`${bank}/reports/settlement/2027-13-45`, {
          headers: { authorization: `Bearer ${PLATFORM_PARTNER_CREDENTIALS.northwindPisToken}` },
        })
      ).status,
    ).toBe(400);
  });
});
