import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEV_ID_HASH_SECRET } from '../../lib/config.ts';
import { bankAccountId, isId } from '../../lib/ids.ts';
import type { RunningServer } from '../../lib/http-server.ts';
import { loadPaymentsConfig } from '../../subgraphs/payments/config.ts';
import { startPaymentsSubgraph } from '../../subgraphs/payments/server.ts';
import { sandboxPayments } from '../../subgraphs/payments/storage/seed.ts';
import {
  ALICE,
  BEN,
  CLARA,
  NOW,
  customerPrincipal,
  graphql,
  machinePrincipal,
  SANDBOX_SEED,
  SANDBOX_SEED_FILE,
  silentLogger,
} from './helpers.ts';

const PAGE = /* GraphQL */ `
  query Page($first: Int, $after: String, $filter: PaymentFilter) {
    _entities(representations: [{ __typename: "Customer", id: "${ALICE}" }]) {
      ... on Customer {
        payments(first: $first, after: $after, filter: $filter) {
          edges { cursor node { id status createdAt } }
          pageInfo { hasNextPage endCursor }
        }
      }
    }
  }
`;

const PAYMENT = /* GraphQL */ `
  query Payment($id: ID!) {
    payment(id: $id) {
      id
      status
      amount {
        amount
        currency
      }
      debtorAccount {
        id
      }
      creditor {
        name
        maskedIdentifier
        identification {
          scheme
          value
        }
      }
      reference
      statusReason
      createdAt
      updatedAt
      settledAt
      statusHistory {
        status
        at
        reason
      }
    }
  }
`;

const seeded = sandboxPayments(SANDBOX_SEED, { idSecret: DEV_ID_HASH_SECRET, now: NOW });
const alices = seeded.filter((p) => p.customerId === ALICE);
const bens = seeded.filter((p) => p.customerId === BEN);

describe('payments subgraph', () => {
  let server: RunningServer;

  beforeAll(async () => {
    server = await startPaymentsSubgraph(
      loadPaymentsConfig({ PAYMENTS_PORT: '0', LOG_LEVEL: 'silent', SEED_FILE: SANDBOX_SEED_FILE }),
      {
        logger: silentLogger,
        now: () => NOW,
      },
    );
  });
  afterAll(async () => {
    await server?.close();
  });

  const page = async (variables: Record<string, unknown>, customerId = ALICE) => {
    const res = await graphql(server.url, PAGE, { principal: customerPrincipal(customerId), variables });
    return { ...res, payments: res.data?._entities?.[0]?.payments };
  };

  it("lists Alice's payments newest first, 20 by default", async () => {
    const { payments, errors } = await page({});
    expect(errors).toBeUndefined();
    const expected = [...alices].sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime());
    expect(payments.edges.map((e: any) => e.node.id)).toEqual(expected.map((p) => p.id));
    expect(payments.pageInfo.hasNextPage).toBe(false);
    expect(payments.edges[0].node.status).toBe('AWAITING_AUTHORISATION');
  });

  it('pages through with cursors, without gaps or repeats', async () => {
    const ids: string[] = [];
    let after: string | null = null;
    let pages = 0;
    for (;;) {
      const { payments } = await page({ first: 5, after });
      ids.push(...payments.edges.map((e: any) => e.node.id));
      pages++;
      if (!payments.pageInfo.hasNextPage) break;
      after = payments.pageInfo.endCursor;
    }
    expect(pages).toBe(Math.ceil(alices.length / 5));
    expect(new Set(ids).size).toBe(alices.length);
  });

  it('filters by status and inclusive dates', async () => {
    const settled = await page({ filter: { status: ['SETTLED', 'REFUNDED'] } });
    expect(settled.payments.edges.map((e: any) => e.node.status).sort()).toEqual(
      alices
        .filter((p) => ['SETTLED', 'REFUNDED'].includes(p.status))
        .map((p) => p.status)
        .sort(),
    );
    const today = NOW.toISOString().slice(0, 10);
    const recent = await page({ filter: { from: today, to: today } });
    expect(recent.payments.edges.map((e: any) => e.node.id).sort()).toEqual(
      alices
        .filter((p) => p.createdAt.toISOString().slice(0, 10) === today)
        .map((p) => p.id)
        .sort(),
    );
    expect(recent.payments.edges.length).toBeGreaterThan(0);
  });

  it('refuses page sizes over 100 and forged cursors as bad input', async () => {
    const big = await page({ first: 101 });
    expect(big.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const forged = await page({ after: 'eyJ0IjoieCJ9' });
    expect(forged.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('shows a payment with its amount, debtor account, creditor and full history', async () => {
    const refunded = alices.find((p) => p.status === 'REFUNDED')!;
    const res = await graphql(server.url, PAYMENT, {
      principal: customerPrincipal(ALICE),
      variables: { id: refunded.id },
    });
    expect(res.errors).toBeUndefined();
    expect(res.data?.payment).toEqual({
      id: refunded.id,
      status: 'REFUNDED',
      amount: { amount: refunded.amount, currency: 'GBP' },
      debtorAccount: { id: bankAccountId(DEV_ID_HASH_SECRET, 'northwind', '22289') },
      creditor: {
        name: refunded.creditor.name,
        maskedIdentifier: `••••${refunded.creditor.identification.slice(-4)}`,
        identification: { scheme: refunded.creditor.scheme, value: refunded.creditor.identification },
      },
      reference: refunded.reference,
      statusReason: refunded.statusReason,
      createdAt: refunded.createdAt.toISOString(),
      updatedAt: refunded.updatedAt.toISOString(),
      settledAt: refunded.settledAt!.toISOString(),
      statusHistory: refunded.history.map((h) => ({ status: h.status, at: h.at.toISOString(), reason: h.reason })),
    });
    expect(res.data?.payment.statusHistory.map((h: any) => h.status)).toEqual([
      'CREATED',
      'AWAITING_AUTHORISATION',
      'AUTHORISED',
      'PENDING',
      'ACCEPTED',
      'SETTLED',
      'REFUNDED',
    ]);
    expect(isId(res.data?.payment.debtorAccount.id, 'acc')).toBe(true);
  });

  it('never exposes the bank identifiers of a payment', async () => {
    const res = await graphql(server.url, PAYMENT, {
      principal: customerPrincipal(ALICE),
      variables: { id: alices[0]!.id },
    });
    expect(JSON.stringify(res.data)).not.toMatch(/sbx-|northwind/);
  });

  it("lets Ben read only his own payments: Alice's behave like ids that do not exist", async () => {
    const own = await graphql(server.url, PAYMENT, {
      principal: customerPrincipal(BEN),
      variables: { id: bens[0]!.id },
    });
    expect(own.data?.payment?.id).toBe(bens[0]!.id);
    for (const id of [alices[0]!.id, 'pay_aaaaaaaaaaaaaaaaaaaaaaaaaa', 'junk']) {
      const res = await graphql(server.url, PAYMENT, { principal: customerPrincipal(BEN), variables: { id } });
      expect({ data: res.data, errors: res.errors }).toEqual({ data: { payment: null }, errors: undefined });
    }
  });

  it("applies the same rule to entity references: Ben gets nothing of Alice's, just an empty list", async () => {
    const q =
      'query($reps: [_Any!]!) { _entities(representations: $reps) { ... on Payment { id status } ... on Customer { id payments { edges { node { id } } } } } }';
    const reps = [
      { __typename: 'Payment', id: alices[0]!.id },
      { __typename: 'Payment', id: bens[0]!.id },
      { __typename: 'Customer', id: ALICE },
    ];
    const res = await graphql(server.url, q, { principal: customerPrincipal(BEN), variables: { reps } });
    expect(res.errors).toBeUndefined();
    expect(res.data?._entities).toEqual([
      null,
      { id: bens[0]!.id, status: bens[0]!.status },
      { id: ALICE, payments: { edges: [] } },
    ]);

    const aliceAsBen = await page({}, BEN);
    expect(aliceAsBen.errors).toBeUndefined();
    expect(aliceAsBen.payments).toEqual({ edges: [], pageInfo: { hasNextPage: false, endCursor: null } });
  });

  it('shows a third party only payments from the accounts its consent covers, with exact paging', async () => {
    const debtor = alices[0]!.debtorAccountId;
    const thirdParty = (accounts: string[] | undefined) => ({
      ...customerPrincipal(ALICE),
      clientId: 'taxpal',
      consentedAccounts: accounts ? { PAYMENTS_INITIATION: accounts } : { ACCOUNTS: [debtor] },
    });
    const list = async (accounts: string[] | undefined, variables: Record<string, unknown>) =>
      (await graphql(server.url, PAGE, { principal: thirdParty(accounts), variables })).data?._entities?.[0]?.payments;

    const expected = alices.filter((p) => p.debtorAccountId === debtor).length;
    const seen: string[] = [];
    let after: string | null = null;
    do {
      const pageOf: {
        edges: { node: { id: string } }[];
        pageInfo: { hasNextPage: boolean; endCursor: string | null };
      } = await list([debtor], { first: 4, after });
      seen.push(...pageOf.edges.map((e) => e.node.id));
      after = pageOf.pageInfo.hasNextPage ? pageOf.pageInfo.endCursor : null;
    } while (after);
    expect(seen).toHaveLength(expected);

    const elsewhere = 'acc_aaaaaaaaaaaaaaaaaaaaaaaaaa';
    expect((await list([elsewhere], { first: 4 })).edges).toEqual([]);
    // A consent without PAYMENTS_INITIATION covers no payment at all.
    expect((await list(undefined, { first: 4 })).edges).toEqual([]);
    const byId = await graphql(server.url, PAYMENT, {
      principal: thirdParty([elsewhere]),
      variables: { id: alices[0]!.id },
    });
    expect(byId.data?.payment).toBeNull();
  });

  it('gives a customer without payments an empty connection', async () => {
    const q = `{ _entities(representations: [{ __typename: "Customer", id: "${CLARA}" }]) { ... on Customer { payments { edges { cursor } pageInfo { hasNextPage endCursor } } } } }`;
    const res = await graphql(server.url, q, { principal: customerPrincipal(CLARA) });
    expect(res.data?._entities).toEqual([
      { payments: { edges: [], pageInfo: { hasNextPage: false, endCursor: null } } },
    ]);
  });

  it('shows nothing customer-scoped to machine clients for now', async () => {
    const res = await graphql(server.url, PAYMENT, { principal: machinePrincipal, variables: { id: alices[0]!.id } });
    expect(res.data).toEqual({ payment: null });
  });

  it('refuses requests that the gateway did not sign', async () => {
    const res = await graphql(server.url, PAYMENT, { signed: false, variables: { id: alices[0]!.id } });
    expect(res.status).toBe(401);
    expect(res.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });
});
