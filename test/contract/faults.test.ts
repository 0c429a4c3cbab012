import { afterAll, afterEach, beforeAll, expect, it, vi } from 'vitest';
import { PLATFORM_PARTNER_CREDENTIALS, SANDBOX_CUSTOMERS } from '../../sandboxes/manifest.ts';
import { loadPartnerSpec } from '../../sandboxes/lib/openapi.ts';
import { startSandboxes, type RunningSandboxes } from '../../sandboxes/index.ts';
import { describeWithSpecs } from '../support/partner-specs.ts';
import { waitBudget } from '../support/time.ts';
import { caller, readJson, silentLogger, startAll, uuid } from './helpers.ts';

// Every answer here, faulted or not, is judged against the partners' published specs: without them the file is skipped.
const describeSpecs = describeWithSpecs(['obie-ais', 'berlin-group', 'onfido']);
const alice = SANDBOX_CUSTOMERS[0]!;
const ACCOUNTS = '/open-banking/v4.0/aisp/accounts';
const nwHeaders = { authorization: `Bearer ${alice.banks.northwind!.accessToken}` };
const rbHeaders = () => ({
  authorization: `Bearer ${alice.banks.rheinbank!.accessToken}`,
  'consent-id': alice.banks.rheinbank!.consentId,
  'x-request-id': uuid(),
});
const onfidoHeaders = { authorization: `Token token=${PLATFORM_PARTNER_CREDENTIALS.onfidoApiToken}` };

let sandboxes: RunningSandboxes;
let nw: ReturnType<typeof caller>;
let rb: ReturnType<typeof caller>;
let onfido: ReturnType<typeof caller>;

beforeAll(async () => {
  ({ sandboxes } = await startAll());
  nw = caller(sandboxes.urls.northwind, loadPartnerSpec('obie-ais'));
  rb = caller(sandboxes.urls.rheinbank, loadPartnerSpec('berlin-group'));
  onfido = caller(sandboxes.urls.onfido, loadPartnerSpec('onfido'));
});
afterAll(async () => {
  await sandboxes.close();
});
afterEach(() => {
  sandboxes.reset();
});

describeSpecs('programmatic fault injection', () => {
  it('latency holds the answer back while other requests are answered, then sends the normal answer', async () => {
    // Ordering, not the clock: a request delayed by far longer than any test is still unanswered
    // after a later request to the same sandbox has been answered (closing the sandbox releases it).
    const own = await startAll();
    const ownNw = caller(own.sandboxes.urls.northwind, loadPartnerSpec('obie-ais'));
    try {
      own.sandboxes.northwind.faults.inject({ path: '/accounts', latencyMs: 600_000, times: 1 });
      let delayedSettled = false;
      const delayed = ownNw(ACCOUNTS, { headers: nwHeaders }).finally(() => {
        delayedSettled = true;
      });
      await vi.waitFor(() => expect(own.sandboxes.northwind.faults.list()).toEqual([]), waitBudget());
      const later = await ownNw(`${ACCOUNTS}/22289/balances`, { headers: nwHeaders });
      expect(later.status).toBe(200);
      expect(delayedSettled).toBe(false);
      await own.sandboxes.close();
      await expect(delayed).rejects.toThrow();
    } finally {
      await own.sandboxes.close();
    }

    sandboxes.northwind.faults.inject({ path: '/accounts', latencyMs: 1 });
    const res = await nw(ACCOUNTS, { headers: nwHeaders });
    expect(res.status).toBe(200);
    expect(res.violations).toEqual([]);
  });

  it('status answers with the partner error shape, then the route recovers (times)', async () => {
    sandboxes.northwind.faults.inject({ path: `${ACCOUNTS}/{AccountId}/balances`, status: 500, times: 2 });
    const r1 = await nw(`${ACCOUNTS}/22289/balances`, { headers: nwHeaders });
    const r2 = await nw(`${ACCOUNTS}/22289/balances`, { headers: nwHeaders });
    const r3 = await nw(`${ACCOUNTS}/22289/balances`, { headers: nwHeaders });
    expect([r1.status, r2.status, r3.status]).toEqual([500, 500, 200]);
    expect(r1.body.Errors[0].ErrorCode).toBe('U000');
    expect(r1.violations).toEqual([]);
    expect(r3.violations).toEqual([]);

    sandboxes.rheinbank.faults.inject({ path: /\/v1\/accounts$/, status: 503 });
    const bgDown = await rb('/v1/accounts', { headers: rbHeaders() });
    expect(bgDown.status).toBe(503);
    expect(bgDown.text).toBe('');
    expect(bgDown.violations).toEqual([]);

    sandboxes.onfido.faults.inject({ method: 'GET', status: 502 });
    const kycDown = await onfido(`/v3.6/applicants/${alice.kycApplicantId}`, { headers: onfidoHeaders });
    expect(kycDown.status).toBe(502);
    expect(kycDown.body.error.type).toBe('internal_server_error');
  });

  it('429 carries Retry-After (and the partner body where one is documented)', async () => {
    sandboxes.northwind.faults.inject({ path: ACCOUNTS, status: 429, retryAfterSeconds: 7 });
    const nwLimited = await nw(ACCOUNTS, { headers: nwHeaders });
    expect(nwLimited.status).toBe(429);
    expect(nwLimited.headers.get('retry-after')).toBe('7');
    expect(nwLimited.violations).toEqual([]);

    sandboxes.rheinbank.faults.inject({ path: '/v1/accounts', status: 429, retryAfterSeconds: 3 });
    const bgLimited = await rb('/v1/accounts', { headers: rbHeaders() });
    expect(bgLimited.headers.get('retry-after')).toBe('3');
    expect(bgLimited.body.tppMessages[0].code).toBe('ACCESS_EXCEEDED');
    expect(bgLimited.violations).toEqual([]);
  });

  it('hang never answers; the client gives up', async () => {
    sandboxes.rheinbank.faults.inject({ path: '/v1/accounts/{account-id}/transactions', hang: true, times: 1 });
    const giveUp = new AbortController();
    const pending = fetch(`${sandboxes.urls.rheinbank}/v1/accounts/x/transactions?bookingStatus=both`, {
      headers: rbHeaders(),
      signal: giveUp.signal,
    });
    await vi.waitFor(
      () => expect(sandboxes.rheinbank.requests.list().at(-1)).toMatchObject({ status: 0, fault: { hang: true } }),
      waitBudget(),
    );
    giveUp.abort();
    await expect(pending).rejects.toThrow();
  });

  it('malformed invalid-json sends truncated JSON', async () => {
    sandboxes.northwind.faults.inject({ path: ACCOUNTS, malformed: 'invalid-json' });
    const res = await nw(ACCOUNTS, { headers: nwHeaders });
    expect(res.status).toBe(200);
    expect(() => JSON.parse(res.text)).toThrow();
    expect(res.violations).toEqual(['body: response body is not valid JSON']);
  });

  it('malformed schema-violation sends valid JSON that breaks the spec', async () => {
    sandboxes.northwind.faults.inject({ path: `${ACCOUNTS}/{AccountId}/balances`, malformed: 'schema-violation' });
    const balances = await nw(`${ACCOUNTS}/22289/balances`, { headers: nwHeaders });
    expect(typeof balances.body.Data.Balance[0].Amount.Amount).toBe('number');
    expect(balances.violations).toEqual(['body /Data/Balance/0/Amount/Amount: must be string']);

    sandboxes.rheinbank.faults.inject({ path: '/v1/accounts', malformed: 'schema-violation' });
    const accounts = await rb('/v1/accounts', { headers: rbHeaders() });
    expect(accounts.status).toBe(200);
    expect(accounts.violations.length).toBeGreaterThan(0);

    sandboxes.onfido.faults.inject({ path: '/v3.6/checks', malformed: 'schema-violation' });
    const checks = await onfido(`/v3.6/checks?applicant_id=${alice.kycApplicantId}`, { headers: onfidoHeaders });
    expect(checks.violations.length).toBeGreaterThan(0);
  });

  it('matches by method and leaves other routes alone', async () => {
    sandboxes.northwind.faults.inject({ method: 'POST', status: 503 });
    expect((await nw(ACCOUNTS, { headers: nwHeaders })).status).toBe(200);
    const pis = await fetch(`${sandboxes.urls.northwind}/open-banking/v4.0/pisp/domestic-payment-consents`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(pis.status).toBe(503);
    expect((await fetch(`${sandboxes.urls.northwind}/healthz`)).status).toBe(200);
  });
});

describeSpecs('fault injection and request log over HTTP (/__sandbox)', () => {
  it('injects, lists and clears faults', async () => {
    const admin = `${sandboxes.urls.rheinbank}/__sandbox`;
    const created = await fetch(`${admin}/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ pathRegex: '^/v1/accounts$', status: 503, times: 1 }),
    });
    expect(created.status).toBe(201);
    const fault = await readJson(created);
    expect(fault).toMatchObject({ id: expect.any(String), status: 503, times: 1 });
    expect((await readJson(await fetch(`${admin}/faults`))).faults).toHaveLength(1);
    expect((await rb('/v1/accounts', { headers: rbHeaders() })).status).toBe(503);
    expect((await rb('/v1/accounts', { headers: rbHeaders() })).status).toBe(200);

    await fetch(`${admin}/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ path: '/v1/accounts', latencyMs: 1 }),
    });
    expect((await fetch(`${admin}/faults`, { method: 'DELETE' })).status).toBe(204);
    expect((await readJson(await fetch(`${admin}/faults`))).faults).toEqual([]);

    const bad = await fetch(`${admin}/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ status: 200 }),
    });
    expect(bad.status).toBe(400);
  });

  it('lists recorded requests, with spec violations, and masks credentials', async () => {
    const admin = `${sandboxes.urls.northwind}/__sandbox`;
    await fetch(`${admin}/requests`, { method: 'DELETE' });
    await nw(ACCOUNTS, { headers: nwHeaders });
    await nw(ACCOUNTS, { headers: {} });
    const all = (await readJson(await fetch(`${admin}/requests`))).requests;
    expect(all).toHaveLength(2);
    expect(all[0]).toMatchObject({
      method: 'GET',
      path: ACCOUNTS,
      route: ACCOUNTS,
      operationId: 'GetAccounts',
      status: 200,
      violations: [],
      responseViolations: [],
    });
    expect(all[0].headers.authorization).toMatch(/^Bearer …/);
    expect(JSON.stringify(all)).not.toContain(alice.banks.northwind!.accessToken);
    const bad = (await readJson(await fetch(`${admin}/requests?violations=true`))).requests;
    expect(bad).toHaveLength(1);
    expect(bad[0].violations).toContain('header Authorization is required');
  });
});

describeSpecs('lifecycle', () => {
  it('releases hanging requests when the sandbox closes', async () => {
    const own = await startAll();
    own.sandboxes.onfido.faults.inject({ hang: true });
    const pending = fetch(`${own.sandboxes.urls.onfido}/v3.6/applicants/${alice.kycApplicantId}`, {
      headers: onfidoHeaders,
    });
    // The hang is recorded when it starts: from then on the request is held by the sandbox.
    await vi.waitFor(
      () => expect(own.sandboxes.onfido.requests.list().at(-1)).toMatchObject({ fault: { hang: true } }),
      waitBudget(),
    );
    // close() must not wait for the hanging answer (it never comes): if it did, this test would time out.
    await own.sandboxes.close();
    await expect(pending).rejects.toThrow();
  });

  it('has no admin routes outside sandbox mode', async () => {
    const prod = await startSandboxes({ ports: 0, logger: silentLogger, adminRoutes: false });
    try {
      expect((await fetch(`${prod.urls.northwind}/__sandbox/faults`)).status).toBe(404);
      expect(
        (
          await fetch(`${prod.urls.auth}/sandbox/tokens`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: '{}',
          })
        ).status,
      ).toBe(404);
      expect(
        (await fetch(`${prod.urls.northwind}/sandbox/domestic-payment-consents/x/authorise`, { method: 'POST' }))
          .status,
      ).toBe(404);
    } finally {
      await prod.close();
    }
  });
});
