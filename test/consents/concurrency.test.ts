import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GraphQLError } from 'graphql';
import { newId } from '../../lib/ids.ts';
import type { ConsentRepository } from '../../subgraphs/consents/domain/ports.ts';
import {
  createConsentService,
  DEFAULT_MAX_PENDING_PER_CLIENT,
  type Caller,
  type ConsentService,
} from '../../subgraphs/consents/domain/service.ts';
import { createConsentRepository } from '../../subgraphs/consents/storage/repository.ts';
import { ALICE, DATABASE_URL, DAY, SECOND, T0, at, openTestDatabase, principal, type TestDatabase } from './helpers.ts';

/**
 * PGlite has a single connection and serialises everything, so it cannot show that two
 * concurrent transitions never both win; these tests run on the real PostgreSQL only.
 */
const title = DATABASE_URL
  ? 'concurrent consent transitions on PostgreSQL'
  : 'concurrent consent transitions on PostgreSQL — SKIPPED: DATABASE_URL is not set (e.g. DATABASE_URL=postgres://postgres@127.0.0.1:5432/test)';

if (!DATABASE_URL) console.warn(`[consents] ${title}`);

describe.skipIf(!DATABASE_URL)(title, () => {
  let t: TestDatabase;
  let repo: ConsentRepository;
  let service: ConsentService;
  const thirdParty: Caller = { principal: principal.thirdParty(ALICE, 'budgetly'), requestId: 'req-request', now: T0 };
  const customer = (requestId: string): Caller => ({
    principal: principal.firstParty(ALICE),
    requestId,
    now: at(SECOND),
  });

  beforeAll(async () => {
    t = await openTestDatabase('postgres', { poolSize: 12 });
    repo = createConsentRepository(t.db);
    service = createConsentService(repo);
  });
  afterAll(async () => {
    await t?.dispose();
  });

  const settle = (promises: Promise<unknown>[]) =>
    Promise.allSettled(promises).then((results) => ({
      won: results.filter((r) => r.status === 'fulfilled').length,
      codes: results
        .filter((r): r is PromiseRejectedResult => r.status === 'rejected')
        .map((r) => (r.reason as GraphQLError).extensions?.code ?? (r.reason as Error).message),
    }));

  it('authorise racing reject: exactly one wins, the other gets CONFLICT, one event is written', async () => {
    for (let round = 0; round < 15; round++) {
      const c = await service.requestConsent(thirdParty, { permissions: ['ACCOUNTS'] });
      const outcome = await settle([
        service.authoriseConsent(customer('req-authorise'), { id: c.id, accountIds: [newId('acc')] }),
        service.rejectConsent(customer('req-reject'), c.id),
      ]);
      expect(outcome).toEqual({ won: 1, codes: ['CONFLICT'] });
      const [stored] = await repo.findConsentsByIds([c.id]);
      const events = await repo.findEvents([c.id]);
      expect(events.map((e) => e.status)).toEqual(['AWAITING_AUTHORISATION', stored!.status]);
      // A rejected consent never keeps accounts from a losing authorisation.
      if (stored!.status === 'REJECTED') expect(stored!.accountIds).toEqual([]);
    }
  });

  it('many concurrent authorisations: exactly one applies its accounts', async () => {
    const c = await service.requestConsent(thirdParty, { permissions: ['BALANCES'] });
    const choices = Array.from({ length: 8 }, () => [newId('acc')]);
    const outcome = await settle(
      choices.map((accountIds, i) => service.authoriseConsent(customer(`req-${i}`), { id: c.id, accountIds })),
    );
    expect(outcome.won).toBe(1);
    expect(outcome.codes).toEqual(Array(7).fill('CONFLICT'));
    const [stored] = await repo.findConsentsByIds([c.id]);
    expect(choices.map((a) => a[0])).toContain(stored!.accountIds[0]);
    expect(stored!.accountIds).toHaveLength(1);
    expect((await repo.findEvents([c.id])).filter((e) => e.status === 'AUTHORISED')).toHaveLength(1);
  });

  it('concurrent revokes: all return the REVOKED consent, exactly one REVOKED event is recorded', async () => {
    for (let round = 0; round < 10; round++) {
      const c = await service.requestConsent(thirdParty, { permissions: ['TRANSACTIONS'] });
      await service.authoriseConsent(customer('req-authorise'), { id: c.id, accountIds: [newId('acc')] });
      const results = await Promise.all(
        Array.from({ length: 6 }, (_, i) => service.revokeConsent(customer(`req-revoke-${i}`), c.id)),
      );
      expect(new Set(results.map((r) => r.status))).toEqual(new Set(['REVOKED']));
      expect((await repo.findEvents([c.id])).map((e) => e.status)).toEqual([
        'AWAITING_AUTHORISATION',
        'AUTHORISED',
        'REVOKED',
      ]);
    }
  });

  it("a transition blocked on another transaction's row lock re-checks the status after it commits and loses", async () => {
    const c = await service.requestConsent(thirdParty, { permissions: ['ACCOUNTS'] });
    let rejectResult: Promise<unknown> | undefined;
    await t.db.transaction(async (tx) => {
      await tx.query(
        `UPDATE consents SET status = 'AUTHORISED', authorised_at = $2 WHERE id = $1 AND status = 'AWAITING_AUTHORISATION'`,
        [c.id, at(SECOND)],
      );
      rejectResult = repo.transition({
        consentId: c.id,
        customerId: ALICE,
        from: 'AWAITING_AUTHORISATION',
        to: 'REJECTED',
        at: at(SECOND),
        actor: `customer:${ALICE}`,
        requestId: 'req-blocked',
      });
      // Wait until the competing UPDATE is actually blocked on this transaction's row lock.
      for (;;) {
        const [row] = await t.db.query<{ waiting: number }>(
          `SELECT count(*)::int AS waiting FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'UPDATE consents SET status = $4%'`,
        );
        if (row!.waiting > 0) break;
        await new Promise((r) => setTimeout(r, 10));
      }
    });
    expect(await rejectResult).toBeNull();
    const [stored] = await repo.findConsentsByIds([c.id]);
    expect(stored!.status).toBe('AUTHORISED');
    expect((await repo.findEvents([c.id])).map((e) => e.status)).toEqual(['AWAITING_AUTHORISATION']);
  });

  it('the expiry sweep racing a revoke records exactly one outcome', async () => {
    for (let round = 0; round < 10; round++) {
      const c = await service.requestConsent(thirdParty, { permissions: ['ACCOUNTS'], expiresAt: at(DAY) });
      await service.authoriseConsent(customer('req-authorise'), { id: c.id, accountIds: [newId('acc')] });
      // The revoking replica's clock is just before expiry, the sweeping replica's just after.
      await Promise.allSettled([
        service.revokeConsent({ ...customer('req-revoke'), now: at(DAY - 1) }, c.id),
        repo.recordDueExpiries(at(DAY)),
      ]);
      const [stored] = await repo.findConsentsByIds([c.id]);
      const events = await repo.findEvents([c.id]);
      expect(['REVOKED', 'EXPIRED']).toContain(stored!.status);
      expect(events.map((e) => e.status)).toEqual(['AWAITING_AUTHORISATION', 'AUTHORISED', stored!.status]);
    }
  });

  describe('the cap on pending consent requests', () => {
    const CAP = DEFAULT_MAX_PENDING_PER_CLIENT;
    const asClient = (customerId: string, i: number): Caller => ({
      principal: principal.thirdParty(customerId, 'budgetly'),
      requestId: `req-ask-${i}`,
      now: T0,
    });
    const pendingOf = async (customerId: string) => {
      const [row] = await t.db.query<{ pending: number }>(
        `SELECT count(*)::int AS pending FROM consents WHERE customer_id = $1 AND client_id = 'budgetly' AND status = 'AWAITING_AUTHORISATION'`,
        [customerId],
      );
      return row!.pending;
    };
    /** Counts the pair's pending requests over and over while `work` runs; returns the highest count seen. */
    async function watchPending(customerIds: string[], work: Promise<unknown>): Promise<number> {
      let done = false;
      let highest = 0;
      const watcher = (async () => {
        while (!done) for (const id of customerIds) highest = Math.max(highest, await pendingOf(id));
      })();
      try {
        await work;
      } finally {
        done = true;
        await watcher;
      }
      return highest;
    }

    it(`40 concurrent requestConsent per (client, customer), two customers at once, six rounds: exactly ${CAP} created for each, the rest refused, writing nothing`, async () => {
      expect(CAP).toBe(5);
      for (let round = 0; round < 6; round++) {
        const [a, b] = [newId('cus'), newId('cus')];
        // Two customers at once: the lock is per pair, so each pair gets exactly its own cap.
        const racing = [a, b].flatMap((customerId) =>
          Array.from({ length: 40 }, (_, i) =>
            service.requestConsent(asClient(customerId, i), { permissions: ['ACCOUNTS'] }),
          ),
        );
        const outcome = settle(racing);
        const highest = await watchPending([a, b], outcome);
        const { won, codes } = await outcome;
        expect(won).toBe(2 * CAP);
        expect(codes).toEqual(Array(80 - 2 * CAP).fill('CONSENT_REQUEST_LIMIT_EXCEEDED'));
        expect(highest).toBeLessThanOrEqual(CAP);
        expect([await pendingOf(a), await pendingOf(b)]).toEqual([CAP, CAP]);
        const all = await repo.findConsentsByCustomers([a, b]);
        expect(all).toHaveLength(2 * CAP);
        expect(await repo.findEvents(all.map((c) => c.id))).toHaveLength(2 * CAP);
      }
    });

    it("requests racing the customer's rejections never push the pending count above the cap", async () => {
      const customer = newId('cus');
      const first = await Promise.all(
        Array.from({ length: CAP }, (_, i) =>
          service.requestConsent(asClient(customer, i), { permissions: ['BALANCES'] }),
        ),
      );
      // The customer rejects every pending request while the client keeps asking: each rejection
      // frees one slot, and the requests may take the freed slots, never more.
      const work = Promise.allSettled([
        ...first.map((c) =>
          service.rejectConsent(
            { principal: principal.firstParty(customer), requestId: 'req-reject', now: at(SECOND) },
            c.id,
          ),
        ),
        ...Array.from({ length: 30 }, (_, i) =>
          service.requestConsent(asClient(customer, 100 + i), { permissions: ['BALANCES'] }),
        ),
      ]);
      const highest = await watchPending([customer], work);
      const results = await work;
      const created = results.slice(CAP).filter((r) => r.status === 'fulfilled').length;
      const refused = results
        .slice(CAP)
        .filter((r) => r.status === 'rejected')
        .map((r) => ((r as PromiseRejectedResult).reason as GraphQLError).extensions?.code);
      expect(results.slice(0, CAP).every((r) => r.status === 'fulfilled')).toBe(true);
      expect(highest).toBeLessThanOrEqual(CAP);
      // Every first request was rejected, so what is pending now is exactly what the race created.
      expect(await pendingOf(customer)).toBe(created);
      expect(refused).toEqual(Array(30 - created).fill('CONSENT_REQUEST_LIMIT_EXCEEDED'));
    });
  });
});
