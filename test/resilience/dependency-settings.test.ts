import { spawn } from 'node:child_process';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadGatewayConfig } from '../../gateway/config.ts';
import { openSharedCache, type SharedCache } from '../../lib/cache.ts';
import { ConfigError } from '../../lib/config.ts';
import { DependencyUnavailableError } from '../../lib/http-client.ts';
import { closeServer, listen } from '../../lib/http-server.ts';
import { createLogger, type Logger } from '../../lib/logger.ts';
import { gatewaySubgraphClients } from '../../lib/resilience-clients.ts';
import {
  dependencySettingsOf,
  PARTNER_DEFAULTS,
  SUBGRAPH_DEFAULTS,
  subgraphSettingsOf,
  unknownSubgraphOverrides,
} from '../../lib/resilience-config.ts';
import { loadAccountsConfig } from '../../subgraphs/accounts/config.ts';
import { createNorthwindAdapter } from '../../subgraphs/accounts/partners/northwind/client.ts';
import { loadIdentityConfig } from '../../subgraphs/identity/config.ts';
import { createOnfidoClient } from '../../subgraphs/identity/partners/onfido/client.ts';
import { loadPaymentsConfig, NORTHWIND_PIS_DEFAULTS } from '../../subgraphs/payments/config.ts';
import { createNorthwindPis } from '../../subgraphs/payments/partners/northwind/client.ts';
import type { BankConnection } from '../../subgraphs/accounts/domain/model.ts';
import type { PaymentOrder } from '../../subgraphs/payments/domain/ports.ts';
import { scaled } from '../support/time.ts';

/**
 * Every dependency's timeout, retries, bulkhead and breaker come from its variables (issue 11):
 * <PARTNER>_* in the subgraphs, SUBGRAPH_* and SUBGRAPH_<NAME>_* at the gateway. Parsing first
 * (defaults, overrides, one line per bad value), then one live client per kind of dependency built
 * from a configuration the way its server builds it, showing that an override takes effect.
 */

/** The one problem line a loader reports for `env` (fails the test if it accepts it). */
function problemsOf(load: (env: Record<string, string>) => unknown, env: Record<string, string>): readonly string[] {
  try {
    load(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error(`expected ${JSON.stringify(env)} to be refused`);
}

describe('dependency settings: configuration', () => {
  it('defaults are what the clients had before they were configurable', () => {
    expect(PARTNER_DEFAULTS).toEqual({
      timeoutMs: 3_000,
      retries: 2,
      bulkhead: { limit: 32, queue: 32 },
      breaker: { errorThresholdPercentage: 50, volumeThreshold: 10, windowSize: 50, resetTimeoutMs: 10_000 },
    });
    const accounts = loadAccountsConfig({});
    expect(dependencySettingsOf(accounts, 'NORTHWIND')).toEqual(PARTNER_DEFAULTS);
    expect(dependencySettingsOf(accounts, 'RHEINBANK')).toEqual(PARTNER_DEFAULTS);
    expect(dependencySettingsOf(loadIdentityConfig({}), 'ONFIDO')).toEqual(PARTNER_DEFAULTS);
    // Northwind's payment API kept its 3 retries.
    expect(dependencySettingsOf(loadPaymentsConfig({}), 'NORTHWIND_PIS')).toEqual({ ...PARTNER_DEFAULTS, retries: 3 });
    expect(NORTHWIND_PIS_DEFAULTS.retries).toBe(3);
    const gateway = loadGatewayConfig({});
    expect(SUBGRAPH_DEFAULTS).toEqual({
      timeoutMs: 10_000,
      retries: 1,
      bulkhead: { limit: 64, queue: 64 },
      breaker: { errorThresholdPercentage: 50, volumeThreshold: 10, windowSize: 50, resetTimeoutMs: 5_000 },
    });
    expect(subgraphSettingsOf(gateway, 'accounts')).toEqual(SUBGRAPH_DEFAULTS);
    expect(gateway.subgraphSettings).toEqual({});
  });

  it('reads every setting of a partner from its own variables, leaving the other partner alone', () => {
    const config = loadAccountsConfig({
      NORTHWIND_TIMEOUT_MS: '1500',
      NORTHWIND_RETRIES: '0',
      NORTHWIND_CONCURRENCY: '4',
      NORTHWIND_QUEUE: '0',
      NORTHWIND_BREAKER_THRESHOLD_PERCENT: '25',
      NORTHWIND_BREAKER_WINDOW: '20',
      NORTHWIND_BREAKER_MIN_CALLS: '5',
      NORTHWIND_BREAKER_HALF_OPEN_AFTER_MS: '30000',
    });
    expect(dependencySettingsOf(config, 'NORTHWIND')).toEqual({
      timeoutMs: 1_500,
      retries: 0,
      bulkhead: { limit: 4, queue: 0 },
      breaker: { errorThresholdPercentage: 25, volumeThreshold: 5, windowSize: 20, resetTimeoutMs: 30_000 },
    });
    expect(dependencySettingsOf(config, 'RHEINBANK')).toEqual(PARTNER_DEFAULTS);
  });

  it('payments: NORTHWIND_PIS_TIMEOUT_MS, else the earlier NORTHWIND_TIMEOUT_MS', () => {
    expect(loadPaymentsConfig({ NORTHWIND_TIMEOUT_MS: '1200' }).NORTHWIND_PIS_TIMEOUT_MS).toBe(1_200);
    expect(
      loadPaymentsConfig({ NORTHWIND_TIMEOUT_MS: '1200', NORTHWIND_PIS_TIMEOUT_MS: '800' }).NORTHWIND_PIS_TIMEOUT_MS,
    ).toBe(800);
    expect(dependencySettingsOf(loadPaymentsConfig({ NORTHWIND_PIS_RETRIES: '0' }), 'NORTHWIND_PIS').retries).toBe(0);
  });

  it('gateway: SUBGRAPH_* for every subgraph, SUBGRAPH_<NAME>_* over them for one', () => {
    const config = loadGatewayConfig({
      SUBGRAPH_RETRIES: '2',
      SUBGRAPH_ACCOUNTS_TIMEOUT_MS: '2500',
      SUBGRAPH_ACCOUNTS_CONCURRENCY: '8',
      SUBGRAPH_MY_GRAPH_BREAKER_HALF_OPEN_AFTER_MS: '1000',
      SUBGRAPH_PAYMENTS_QUEUE: '',
    });
    expect(config.subgraphSettings).toEqual({
      ACCOUNTS: { TIMEOUT_MS: 2_500, CONCURRENCY: 8 },
      MY_GRAPH: { BREAKER_HALF_OPEN_AFTER_MS: 1_000 },
    });
    expect(subgraphSettingsOf(config, 'accounts')).toEqual({
      ...SUBGRAPH_DEFAULTS,
      timeoutMs: 2_500,
      retries: 2,
      bulkhead: { limit: 8, queue: 64 },
    });
    expect(subgraphSettingsOf(config, 'payments')).toEqual({ ...SUBGRAPH_DEFAULTS, retries: 2 });
    expect(subgraphSettingsOf(config, 'my-graph').breaker.resetTimeoutMs).toBe(1_000);
    // An override naming no subgraph of the supergraph is reported (gateway/schema-source.ts warns).
    expect(unknownSubgraphOverrides(config, ['accounts', 'payments', 'identity', 'consents'])).toEqual([
      'SUBGRAPH_MY_GRAPH_BREAKER_HALF_OPEN_AFTER_MS',
    ]);
  });

  it('refuses a bad value with one line naming the variable, what it accepts and what it was', () => {
    expect(problemsOf(loadAccountsConfig, { NORTHWIND_CONCURRENCY: '0' })).toEqual([
      'NORTHWIND_CONCURRENCY: must be a whole number from 1 to 10000, got "0"',
    ]);
    expect(problemsOf(loadIdentityConfig, { ONFIDO_BREAKER_THRESHOLD_PERCENT: '150' })).toEqual([
      'ONFIDO_BREAKER_THRESHOLD_PERCENT: must be a whole number from 1 to 100, got "150"',
    ]);
    expect(problemsOf(loadPaymentsConfig, { NORTHWIND_PIS_RETRIES: 'lots' })).toEqual([
      'NORTHWIND_PIS_RETRIES: must be a whole number from 0 to 5, got "lots"',
    ]);
    expect(problemsOf(loadPaymentsConfig, { NORTHWIND_TIMEOUT_MS: '-1' })).toEqual([
      'NORTHWIND_TIMEOUT_MS: must be a whole number from 1 to 600000, got "-1"',
    ]);
    expect(problemsOf(loadGatewayConfig, { SUBGRAPH_BREAKER_HALF_OPEN_AFTER_MS: '10' })).toEqual([
      'SUBGRAPH_BREAKER_HALF_OPEN_AFTER_MS: must be a whole number from 100 to 600000, got "10"',
    ]);
    expect(problemsOf(loadGatewayConfig, { SUBGRAPH_ACCOUNTS_TIMEOUT_MS: '2.5s', SUBGRAPH_QUEUE: '-1' })).toEqual(
      expect.arrayContaining([
        'SUBGRAPH_ACCOUNTS_TIMEOUT_MS: must be a whole number from 1 to 600000, got "2.5s"',
        'SUBGRAPH_QUEUE: must be a whole number from 0 to 100000, got "-1"',
      ]),
    );
  });

  it('a process given a bad per-subgraph value stops with status 2 and that one line', async () => {
    const exit = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const proc = spawn(process.execPath, ['gateway/main.ts'], {
        env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'silent', GATEWAY_PORT: '0', SUBGRAPH_PAYMENTS_RETRIES: '9' },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      const stderr: string[] = [];
      proc.stderr!.on('data', (chunk: Buffer) => stderr.push(chunk.toString()));
      proc.once('exit', (code) => resolve({ code, stderr: stderr.join('') }));
    });
    expect(exit.code).toBe(2);
    expect(exit.stderr).toBe('gateway: SUBGRAPH_PAYMENTS_RETRIES: must be a whole number from 0 to 5, got "9"\n');
  }, 60_000);
});

// A partner or subgraph stand-in: each path answers as the test says; `held` answers wait for release().
type Responder = (req: IncomingMessage, res: ServerResponse) => void;
let behaviour: Record<string, Responder> = {};
let calls: string[] = [];
const held: ServerResponse[] = [];
const server = createServer((req, res) => {
  const path = (req.url ?? '').split('?')[0]!;
  calls.push(`${req.method} ${path}`);
  const respond = behaviour[`${req.method} ${path}`];
  if (respond) respond(req, res);
  else {
    res.writeHead(404);
    res.end();
  }
});
let url = '';
const json =
  (body: unknown, status = 200): Responder =>
  (_q, r) => {
    r.writeHead(status, { 'content-type': 'application/json' });
    r.end(JSON.stringify(body));
  };
const hold: Responder = (_q, r) => void held.push(r);
const release = () => {
  for (const r of held.splice(0)) {
    r.writeHead(200, { 'content-type': 'application/json' });
    r.end('{"data":{}}');
  }
};
const logger = createLogger('test', 'silent');

beforeAll(async () => {
  url = (await listen(server, 0, '127.0.0.1')).url.replace(/\/$/, '');
});
afterAll(async () => {
  release();
  await closeServer(server);
});
beforeEach(() => {
  release();
  behaviour = {};
  calls = [];
});

describe('dependency settings: an override takes effect on a live client', () => {
  it("a bank's bulkhead of 1 without a queue refuses the second concurrent call, and only that bank's", async () => {
    const accounts = loadAccountsConfig({ NORTHWIND_URL: url, NORTHWIND_CONCURRENCY: '1', NORTHWIND_QUEUE: '0' });
    const { timeoutMs, ...protections } = dependencySettingsOf(accounts, 'NORTHWIND');
    const northwind = createNorthwindAdapter({ baseUrl: accounts.NORTHWIND_URL, timeoutMs, protections, logger });
    behaviour['GET /open-banking/v4.0/aisp/accounts'] = hold;
    const connection: BankConnection = {
      id: 'conn-1',
      customerId: 'cus_test',
      institution: 'northwind',
      psuId: null,
      consentId: 'consent-1',
      accessToken: 'token',
    };
    const first = northwind.listAccounts(connection);
    await expect.poll(() => held.length, { timeout: scaled(5_000) }).toBe(1);
    const second = await northwind.listAccounts(connection).catch((err: unknown) => err);
    expect(second).toBeInstanceOf(DependencyUnavailableError);
    expect(second).toMatchObject({ partner: 'northwind', reason: 'bulkhead-full' });
    expect(northwind.http.load()).toMatchObject({ active: 1, limit: 1, queue: 0 });
    // The defaults would have let it through: 32 at once.
    expect(loadAccountsConfig({}).NORTHWIND_CONCURRENCY).toBe(32);
    release();
    await first.catch(() => undefined);
    expect(calls).toEqual(['GET /open-banking/v4.0/aisp/accounts']);
  });

  it("Onfido's breaker opens after the configured minimum of failed calls (the default needs 10)", async () => {
    const identity = loadIdentityConfig({
      ONFIDO_URL: url,
      ONFIDO_RETRIES: '0',
      ONFIDO_BREAKER_MIN_CALLS: '2',
      ONFIDO_BREAKER_WINDOW: '2',
    });
    const { timeoutMs, ...protections } = dependencySettingsOf(identity, 'ONFIDO');
    const onfido = createOnfidoClient({ url: identity.ONFIDO_URL, apiToken: 't', timeoutMs, protections, logger });
    behaviour['GET /v3.6/applicants/3f1c2a4e-8d8b-4a51-9a55-1f2c3d4e5f60'] = json({ error: 'down' }, 503);
    const applicant = '3f1c2a4e-8d8b-4a51-9a55-1f2c3d4e5f60';
    for (let i = 0; i < 2; i++) await expect(onfido.getApplicant(applicant)).rejects.toThrow();
    expect(onfido.state()).toBe('open');
    // Open: the third call fails fast without reaching Onfido; no retry was made either (ONFIDO_RETRIES=0).
    await expect(onfido.getApplicant(applicant)).rejects.toMatchObject({ reason: 'circuit-open' });
    expect(calls).toHaveLength(2);
    onfido.shutdown();
  });

  it('Northwind PIS: reads and the consent POST are retried as configured, the payment POST never', async () => {
    const payments = loadPaymentsConfig({ NORTHWIND_URL: url, NORTHWIND_PIS_RETRIES: '2' });
    const { timeoutMs, ...protections } = dependencySettingsOf(payments, 'NORTHWIND_PIS');
    const bank = createNorthwindPis({
      baseUrl: payments.NORTHWIND_URL,
      timeoutMs,
      protections,
      token: 'pis-token',
      signingKeyId: 'kid',
      authorisationUrlTemplate: 'https://bank.example/authorise/{ConsentId}',
      logger,
    });
    behaviour['GET /open-banking/v4.0/aisp/accounts/nw-acc-1'] = json({
      Data: {
        Account: [
          {
            AccountId: 'nw-acc-1',
            Account: [{ SchemeName: 'UK.OBIE.SortCodeAccountNumber', Identification: '11223344556677' }],
          },
        ],
      },
    });
    behaviour['POST /open-banking/v4.0/pisp/domestic-payment-consents'] = json({ Errors: [] }, 503);
    behaviour['POST /open-banking/v4.0/pisp/domestic-payments'] = json({ Errors: [] }, 503);
    behaviour['GET /open-banking/v4.0/pisp/domestic-payments/pmt-1'] = json({ Errors: [] }, 503);
    const order: PaymentOrder = {
      paymentId: 'pay_aaaaaaaaaaaaaaaaaaaaaaaaaa',
      amount: { amount: '12.50', currency: 'GBP' },
      creditor: { name: 'Sam Ellis', scheme: 'SORT_CODE_ACCOUNT_NUMBER', identification: '77110022334455' },
      reference: 'TEST',
      debtor: { bankAccountId: 'nw-acc-1', currency: 'GBP', accessToken: 'customer-token' },
    };
    const count = (call: string) => calls.filter((c) => c === call).length;

    await expect(bank.createConsent(order)).rejects.toMatchObject({ kind: 'unavailable' });
    expect(count('POST /open-banking/v4.0/pisp/domestic-payment-consents')).toBe(3);

    await expect(bank.submitPayment(order, 'consent-1')).rejects.toMatchObject({ kind: 'unavailable' });
    expect(count('POST /open-banking/v4.0/pisp/domestic-payments')).toBe(1);

    await expect(bank.payment('pmt-1')).rejects.toMatchObject({ kind: 'unavailable' });
    expect(count('GET /open-banking/v4.0/pisp/domestic-payments/pmt-1')).toBe(3);
  });

  describe('gateway', () => {
    let cache: SharedCache;
    beforeAll(async () => {
      cache = await openSharedCache({ logger, prefix: 'dependency-settings-test' });
    });
    afterAll(async () => {
      await cache.close();
    });

    it("a subgraph's own timeout cuts that subgraph's call, not another's", async () => {
      const config = loadGatewayConfig({
        SUBGRAPH_ACCOUNTS_TIMEOUT_MS: String(scaled(300)),
        SUBGRAPH_RETRIES: '0',
        FALLBACK_CACHE: 'off',
      });
      const clients = gatewaySubgraphClients(config, cache, logger);
      behaviour['POST /accounts'] = hold;
      behaviour['POST /payments'] = hold;
      const ask = (name: string) =>
        clients.client(name, `${url}/${name}`).request({ method: 'POST', path: '', operation: 'query', body: {} });
      const accounts = ask('accounts').catch((err: unknown) => err);
      let paymentsSettled = false;
      const payments = ask('payments').finally(() => (paymentsSettled = true));
      // Both calls are held by the subgraphs; accounts gives up after its own timeout ...
      expect(await accounts).toMatchObject({ partner: 'subgraph:accounts', reason: 'timeout' });
      // ... while payments (SUBGRAPH_TIMEOUT_MS, 10 s) is still waiting, and gets its answer once it comes.
      expect(paymentsSettled).toBe(false);
      expect(calls).toEqual(['POST /accounts', 'POST /payments']);
      release();
      expect((await payments).status).toBe(200);
    });

    it('an override naming no subgraph of the supergraph is warned about once', () => {
      const warnings: unknown[] = [];
      const capture: Logger = Object.assign(Object.create(logger) as Logger, {
        warn: (...args: unknown[]) => void warnings.push(args),
      });
      const config = loadGatewayConfig({ SUBGRAPH_INVENTORY_TIMEOUT_MS: '500', FALLBACK_CACHE: 'off' });
      const clients = gatewaySubgraphClients(config, cache, capture);
      clients.expect(['accounts', 'payments']);
      clients.expect(['accounts', 'payments']);
      expect(warnings).toEqual([
        [
          { variables: ['SUBGRAPH_INVENTORY_TIMEOUT_MS'], dependencies: ['accounts', 'payments'] },
          'settings name no dependency this service calls; ignored',
        ],
      ]);
      // A supergraph that has it: nothing to say.
      clients.expect(['accounts', 'inventory']);
      expect(warnings).toHaveLength(1);
    });
  });
});
