import { readFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RunningPlatform } from '../../scripts/platform.ts';
import { ALICE, BEN, CLARA, FIRST_PARTY_SCOPES } from '../support/customers.ts';
import {
  askGateway,
  PLATFORM_START_BUDGET,
  startFallbackPlatform,
  staleServes,
  untilLive,
  type StaleMarkedAnswer,
} from '../support/fallback-platform.ts';

/**
 * One bank down (issue 11): a customer still sees that bank's accounts, balances and transactions
 * as last read, marked (Account.asOf, TransactionConnection.asOf, extensions.stale naming the bank),
 * while the other bank's data stays live; only to the principal they were read for; never after a
 * third party's consent is revoked; never from an off-contract payload. Through the whole platform
 * with the sandboxes' fault injection; the last known values live in the accounts subgraph
 * (subgraphs/accounts/partners/last-known-values.ts).
 */
const DASHBOARD = readFileSync(new URL('../operations/dashboard.graphql', import.meta.url), 'utf8');
const ACCOUNTS_PAGE = `{ me { unavailableInstitutions { id } accounts { id name asOf institution { id }
  balances { type amount { amount currency } asOf }
  transactions(first: 5) { asOf edges { node { id amount { amount } } } } } } }`;

interface Account {
  id: string;
  name: string;
  asOf: string;
  institution: { id: string };
  balances: { type: string; amount: { amount: string; currency: string }; asOf: string }[] | null;
  transactions: { asOf: string; edges: { node: { id: string; amount: { amount: string } } }[] } | null;
}
interface Answer extends StaleMarkedAnswer {
  data?: { me?: { unavailableInstitutions: { id: string }[]; accounts: Account[] } | null } | null;
}

let platform: RunningPlatform;

beforeAll(async () => {
  platform = await startFallbackPlatform('NORTHWIND', 'bank-fallback');
}, PLATFORM_START_BUDGET);

afterAll(async () => {
  await platform?.close();
});

afterEach(() => {
  platform.sandboxes.northwind.faults.clear();
  platform.sandboxes.rheinbank.faults.clear();
});

const tokenOf = (customerId: string, clientId = 'web-app', scopes?: string[]) =>
  platform.sandboxes.auth.mint({ customerId, clientId, ...(scopes ? { scopes } : {}) });
const ask = (token: string, query = ACCOUNTS_PAGE, variables: Record<string, unknown> = {}) =>
  askGateway<Answer>(platform, token, query, variables);
const northwindDown = () => platform.sandboxes.northwind.faults.inject({ status: 503 });
/** Waits until the accounts subgraph has kept what the last live answer read (it keeps without delaying the answer). */
const settle = () => new Promise((r) => setTimeout(r, 50));
/** Reads live for `token` once Northwind answers again, then lets the accounts subgraph keep what it read. */
async function readLive(token: string, query = ACCOUNTS_PAGE): Promise<Answer> {
  const answer = await untilLive(
    () => ask(token, query),
    (a) => expect(a.data?.me?.unavailableInstitutions ?? []).toEqual([]),
  );
  await settle();
  return answer;
}
const ids = (list: { id: string }[] | undefined) => (list ?? []).map((i) => i.id);

describe('a bank down: its last known values, marked, for the principal they were read for', () => {
  it('serves the bank’s accounts, balances and transactions as last read, with asOf and extensions.stale; the other bank stays live', async () => {
    const alice = await tokenOf(ALICE);
    const live = await readLive(alice);
    const liveNorthwind = live.data!.me!.accounts.filter((a) => a.institution.id === 'northwind');
    expect(liveNorthwind.length).toBe(3);
    await settle();

    const before = await staleServes('accounts', 'northwind');
    northwindDown();
    const servedAt = Date.now();
    const stale = await ask(alice);
    expect(stale.errors).toBeUndefined();
    const me = stale.data!.me!;
    expect(me.unavailableInstitutions).toEqual([]);
    const staleNorthwind = me.accounts.filter((a) => a.institution.id === 'northwind');
    // The same accounts, balances and transactions as last read...
    expect(staleNorthwind.map(({ asOf: _a, transactions, ...rest }) => ({ ...rest, tx: transactions?.edges }))).toEqual(
      liveNorthwind.map(({ asOf: _a, transactions, ...rest }) => ({ ...rest, tx: transactions?.edges })),
    );
    // ...each saying when it was read (before this request), the transactions page too.
    for (const a of staleNorthwind) {
      expect(Date.parse(a.asOf)).toBeLessThan(servedAt);
      expect(Date.parse(a.transactions!.asOf)).toBeLessThan(servedAt);
    }
    // The other bank answered live, and is not listed as stale.
    const rheinbank = me.accounts.filter((a) => a.institution.id === 'rheinbank');
    expect(rheinbank.length).toBe(1);
    expect(Date.parse(rheinbank[0]!.asOf)).toBeGreaterThanOrEqual(servedAt - 1000);
    const marks = stale.extensions?.stale ?? [];
    expect(marks.length).toBeGreaterThan(0);
    expect(new Set(marks.map((m) => m.source))).toEqual(new Set(['northwind']));
    const index = me.accounts.findIndex((a) => a.institution.id === 'northwind');
    expect(marks.map((m) => m.path)).toEqual(
      expect.arrayContaining([
        `me.accounts.${index}`,
        `me.accounts.${index}.balances`,
        `me.accounts.${index}.transactions`,
      ]),
    );
    for (const m of marks) expect(Date.parse(m.asOf)).toBeLessThan(servedAt);
    expect(marks.some((m) => m.path.startsWith(`me.accounts.${me.accounts.indexOf(rheinbank[0]!)}`))).toBe(false);
    expect(await staleServes('accounts', 'northwind')).toBeGreaterThan(before);
  });

  it('overlapping customers and apps: nothing read for one principal is served to another', async () => {
    const aliceWeb = await tokenOf(ALICE);
    const aliceMobile = await tokenOf(ALICE, 'mobile-app');
    const ben = await tokenOf(BEN);
    // Alice on the web app and Ben read live now; Alice's mobile app never reads.
    await Promise.all([readLive(aliceWeb), readLive(ben)]);
    northwindDown();
    const [web, mobile, benAnswer, clara] = await Promise.all([
      ask(aliceWeb),
      ask(aliceMobile),
      ask(ben),
      ask(await tokenOf(CLARA)),
    ]);
    // Alice's web app and Ben: each their own last known values.
    expect(web.data!.me!.accounts.filter((a) => a.institution.id === 'northwind')).toHaveLength(3);
    const benAccounts = benAnswer.data!.me!.accounts;
    expect(benAccounts.map((a) => a.name)).toEqual(['Current Account']);
    expect(benAnswer.extensions?.stale?.every((m) => m.source === 'northwind')).toBe(true);
    const aliceIds = new Set(web.data!.me!.accounts.map((a) => a.id));
    expect(benAccounts.some((a) => aliceIds.has(a.id))).toBe(false);
    // Alice's mobile app never read Northwind: nothing kept for it, so the bank is named as unavailable.
    expect(ids(mobile.data!.me!.unavailableInstitutions)).toEqual(['northwind']);
    expect(mobile.data!.me!.accounts.every((a) => a.institution.id === 'rheinbank')).toBe(true);
    expect(mobile.extensions?.stale).toBeUndefined();
    // Clara (Rheinbank only) is untouched.
    expect(clara.errors).toBeUndefined();
    expect(clara.extensions?.stale).toBeUndefined();
  });

  it('a third party under consent gets its own last known values, and nothing once the consent is revoked', async () => {
    const web = await tokenOf(ALICE, 'web-app', FIRST_PARTY_SCOPES);
    const own = await readLive(
      web,
      '{ me { unavailableInstitutions { id } accounts { id institution { id } } consents { id status client { id } } } }',
    );
    const northwindIds = own.data!.me!.accounts.filter((a) => a.institution.id === 'northwind').map((a) => a.id);
    // Only the consent granted here may cover Budgetly: any seeded one is revoked first.
    const seeded = (
      own.data!.me as unknown as { consents: { id: string; status: string; client: { id: string } }[] }
    ).consents.filter((c) => c.client.id === 'budgetly' && c.status === 'AUTHORISED');
    const revoke = async (id: string) => {
      const r = await ask(web, 'mutation($id: ID!) { revokeConsent(id: $id) { status } }', { id });
      expect(r.errors).toBeUndefined();
    };
    for (const c of seeded) await revoke(c.id);
    const budgetlyAdmin = await tokenOf(ALICE, 'budgetly', ['consents:read', 'consents:write']);
    const requested = await ask(
      budgetlyAdmin,
      'mutation { requestConsent(input: { permissions: [ACCOUNTS, BALANCES, TRANSACTIONS] }) { id } }',
    );
    const consentId = (requested.data as unknown as { requestConsent: { id: string } }).requestConsent.id;
    const authorised = await ask(
      web,
      'mutation($id: ID!, $a: [ID!]!) { authoriseConsent(input: { id: $id, accountIds: $a }) { status } }',
      { id: consentId, a: northwindIds },
    );
    expect(authorised.errors).toBeUndefined();

    const budgetly = await tokenOf(ALICE, 'budgetly', ['accounts:read', 'balances:read', 'transactions:read']);
    const query =
      '{ me { unavailableInstitutions { id } accounts { id asOf institution { id } balances { type amount { amount } } } } }';
    const live = await readLive(budgetly, query);
    expect(live.data!.me!.accounts.map((a) => a.id).sort()).toEqual([...northwindIds].sort());

    northwindDown();
    const stale = await ask(budgetly, query);
    expect(stale.errors).toBeUndefined();
    expect(stale.data!.me!.accounts.map((a) => a.id).sort()).toEqual([...northwindIds].sort());
    expect(stale.extensions?.stale?.length).toBeGreaterThan(0);

    await revoke(consentId);
    const after = await ask(budgetly, query);
    // No consent: no account data at all, live or last known.
    expect(after.data?.me?.accounts ?? []).toEqual([]);
    expect(JSON.stringify(after)).not.toContain(northwindIds[0]);
    expect(after.extensions?.stale).toBeUndefined();
  });

  it('an off-contract payload is an error naming the bank, never answered from the last known values', async () => {
    const alice = await tokenOf(ALICE);
    await readLive(alice);
    platform.sandboxes.northwind.faults.inject({ malformed: 'schema-violation' });
    const answer = await ask(alice);
    expect(answer.extensions?.stale).toBeUndefined();
    const named =
      (answer.errors ?? []).some((e) => e.extensions?.partner === 'northwind') ||
      ids(answer.data?.me?.unavailableInstitutions).includes('northwind');
    expect(named).toBe(true);
  });

  it('with nothing kept, the dashboard names the bank that is down and shows the rest', async () => {
    const benOnMobile = await tokenOf(BEN, 'mobile-app');
    const before = await staleServes('accounts', 'northwind');
    northwindDown();
    const answer = await ask(benOnMobile, DASHBOARD, { transactions: 3 });
    expect(ids(answer.data?.me?.unavailableInstitutions)).toEqual(['northwind']);
    expect(answer.extensions?.stale).toBeUndefined();
    // Nothing was served from what other principals (Ben on the web app) had kept.
    expect(await staleServes('accounts', 'northwind')).toBe(before);
  });
});
