import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { loadGatewayConfig } from '../../gateway/config.ts';
import { startGateway, type RunningGateway } from '../../gateway/server.ts';
import { DEV_ID_HASH_SECRET } from '../../lib/config.ts';
import { bankAccountId } from '../../lib/ids.ts';
import type { RunningServer } from '../../lib/http-server.ts';
import { createLogger } from '../../lib/logger.ts';
import { startSandboxes, type RunningSandboxes } from '../../sandboxes/index.ts';
import { PLATFORM_PARTNER_CREDENTIALS, SANDBOX_CUSTOMERS } from '../../sandboxes/manifest.ts';
import { loadConsentsConfig } from '../../subgraphs/consents/config.ts';
import { startConsentsSubgraph } from '../../subgraphs/consents/server.ts';
import { loadPaymentsConfig } from '../../subgraphs/payments/config.ts';
import type { PaymentsLedger } from '../../subgraphs/payments/domain/ports.ts';
import { startPaymentsSubgraph, type RunningPaymentsSubgraph } from '../../subgraphs/payments/server.ts';
import { SANDBOX_SEED_FILE } from '../support/seed.ts';

/**
 * The money-movement stack of the payments tests: the partner sandboxes, the consents subgraph
 * (the client registry the gateway asks for a caller's kind), the payments subgraph and N gateway
 * replicas. With DATABASE_URL every service uses a PostgreSQL database of its own made for the run
 * (dropped at close), so replicas share exactly what production replicas share (the idempotency
 * records, the ledger) and nothing with other test files; REDIS_URL, when set, is the gateways'
 * shared cache. Without DATABASE_URL: one in-memory PGlite for all (one process).
 * The accounts and identity subgraphs are not started (payment tests never select their fields).
 */
export const DATABASE_URL = process.env.DATABASE_URL;
export const REDIS_URL = process.env.REDIS_URL;
export const logger = createLogger('payments-stack', 'silent');
const UNREACHABLE = 'http://127.0.0.1:9/graphql';

export const alice = SANDBOX_CUSTOMERS.find((c) => c.displayName === 'Alice')!;
export const ben = SANDBOX_CUSTOMERS.find((c) => c.displayName === 'Ben')!;
/** A customer's Northwind GBP current account, as the platform's account id and the bank's. */
export function northwindAccount(customer = alice): { id: string; bankAccountId: string } {
  const a = customer.banks.northwind!.accounts.find((x) => x.kind === 'current' && x.currency === 'GBP')!;
  return { id: bankAccountId(DEV_ID_HASH_SECRET, 'northwind', a.bankAccountId), bankAccountId: a.bankAccountId };
}

export interface PaymentsStack {
  sandboxes: RunningSandboxes;
  payments: RunningPaymentsSubgraph;
  gateways: RunningGateway[];
  /** The database URL the services use (a fresh PostgreSQL database), or undefined for PGlite. */
  databaseUrl: string | undefined;
  token(customerId?: string, clientId?: string, scopes?: string[]): Promise<string>;
  /** An operator's token (ops-console: staff with payments:read and audit:read). */
  staffToken(): Promise<string>;
  close(): Promise<void>;
}

export interface StackOptions {
  gateways?: number;
  now?: () => Date;
  wrapLedger?: (ledger: PaymentsLedger) => PaymentsLedger;
  paymentsEnv?: Record<string, string>;
  /** A Standard Webhooks secret shared by the sandbox bank (sender) and the payments subgraph (receiver). */
  webhookSecret?: string;
}

/** A fresh Standard Webhooks secret: whsec_ + base64 of 32 random bytes. */
export const newWebhookSecret = () => `whsec_${randomBytes(32).toString('base64')}`;

export async function startPaymentsStack(opts: StackOptions = {}): Promise<PaymentsStack> {
  const closers: (() => Promise<unknown>)[] = [];
  const closeAll = async () => {
    for (const c of closers.reverse()) await c().catch(() => {});
  };
  try {
    let databaseUrl: string | undefined;
    if (DATABASE_URL) {
      const name = `h5b_payments_${randomBytes(5).toString('hex')}`;
      const admin = new pg.Client({ connectionString: DATABASE_URL });
      await admin.connect();
      await admin.query(`CREATE DATABASE ${name}`);
      await admin.end();
      const url = new URL(DATABASE_URL);
      url.pathname = `/${name}`;
      databaseUrl = url.toString();
      closers.push(async () => {
        const c = new pg.Client({ connectionString: DATABASE_URL });
        await c.connect();
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        await c.end();
      });
    }
    const db = databaseUrl
      ? { DATABASE_URL: databaseUrl }
      : { PGLITE_DIR: `memory://payments-stack-${randomBytes(4).toString('hex')}` };
    const now = opts.now;
    const sandboxes = await startSandboxes({ ports: 0, logger, ...(now ? { now } : {}) });
    closers.push(() => sandboxes.close());
    const consents = await startConsentsSubgraph(
      loadConsentsConfig({ CONSENTS_PORT: '0', SEED_FILE: SANDBOX_SEED_FILE, ...db }),
      { logger, ...(now ? { now } : {}) },
    );
    closers.push(() => (consents as RunningServer).close());
    const payments = await startPaymentsSubgraph(
      loadPaymentsConfig({
        PAYMENTS_PORT: '0',
        SEED_FILE: SANDBOX_SEED_FILE,
        NORTHWIND_URL: sandboxes.urls.northwind,
        NORTHWIND_PIS_TOKEN: PLATFORM_PARTNER_CREDENTIALS.northwindPisToken,
        NORTHWIND_TIMEOUT_MS: '1000',
        // Tests drive the poller themselves (payments.poller.runOnce()).
        PAYMENTS_POLL_INTERVAL_MS: '3600000',
        PAYMENTS_WEBHOOK_GRACE_MS: '0',
        ...db,
        ...(opts.webhookSecret ? { NORTHWIND_WEBHOOK_SECRET: opts.webhookSecret } : {}),
        ...opts.paymentsEnv,
      }),
      { logger, ...(now ? { now } : {}), ...(opts.wrapLedger ? { wrapLedger: opts.wrapLedger } : {}) },
    );
    closers.push(() => payments.close());
    if (opts.webhookSecret)
      sandboxes.northwind.webhooks.configure({
        url: payments.url.replace(/\/graphql$/, '/webhooks/northwind'),
        secrets: [opts.webhookSecret],
      });
    const gateways: RunningGateway[] = [];
    for (let i = 0; i < (opts.gateways ?? 1); i++) {
      const g = await startGateway(
        loadGatewayConfig({
          GATEWAY_PORT: '0',
          AUTH_ISSUER: sandboxes.urls.auth,
          AUTH_JWKS_URL: sandboxes.urls.jwks,
          PAYMENTS_SUBGRAPH_URL: payments.url,
          CONSENTS_SUBGRAPH_URL: consents.url,
          ACCOUNTS_SUBGRAPH_URL: UNREACHABLE,
          IDENTITY_SUBGRAPH_URL: UNREACHABLE,
          ...db,
          ...(REDIS_URL ? { REDIS_URL } : {}),
          IDEMPOTENCY_LEASE_MS: '5000',
        }),
        { logger, ...(now ? { now } : {}) },
      );
      gateways.push(g);
      closers.push(() => g.close());
    }
    return {
      sandboxes,
      payments,
      gateways,
      databaseUrl,
      token: (customerId = alice.customerId, clientId = 'web-app', scopes) =>
        sandboxes.auth.mint({ customerId, clientId, ...(scopes ? { scopes } : {}) }),
      staffToken: () => sandboxes.auth.mint({ clientId: 'ops-console' }),
      close: closeAll,
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}

export const INITIATE = `mutation Initiate($input: InitiatePaymentInput!) {
  initiatePayment(input: $input) { id status amount { amount currency } authorisationUrl reference creditor { name maskedIdentifier } }
}`;

export const CANCEL = `mutation Cancel($id: ID!, $key: String) { cancelPayment(id: $id, idempotencyKey: $key) { id status statusReason } }`;

export const PAYMENT = `query Payment($id: ID!) { payment(id: $id) { id status settledAt statusHistory { status } } }`;

export function paymentInput(key: string | undefined, overrides: Record<string, unknown> = {}) {
  return {
    ...(key === undefined ? {} : { idempotencyKey: key }),
    debtorAccountId: northwindAccount().id,
    creditor: { name: 'Sam Ellis', sortCode: '77-11-00', accountNumber: '22334455' },
    amount: { amount: '12.50', currency: 'GBP' },
    reference: 'PIZZA',
    ...overrides,
  };
}
