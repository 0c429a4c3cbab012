import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GraphQLError } from 'graphql';
import { newId } from '../../lib/ids.ts';
import type { ConsentRepository } from '../../subgraphs/consents/domain/ports.ts';
import { createConsentService, type Caller, type ConsentService } from '../../subgraphs/consents/domain/service.ts';
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
  const customer = (requestId: string): Caller => ({ principal: principal.firstParty(ALICE), requestId, now: at(SECOND) });

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
      codes: results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => (r.reason as GraphQLError).extensions?.code ?? (r.reason as Error).message),
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
    const outcome = await settle(choices.map((accountIds, i) => service.authoriseConsent(customer(`req-${i}`), { id: c.id, accountIds })));
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
      const results = await Promise.all(Array.from({ length: 6 }, (_, i) => service.revokeConsent(customer(`req-revoke-${i}`), c.id)));
      expect(new Set(results.map((r) => r.status))).toEqual(new Set(['REVOKED']));
      expect((await repo.findEvents([c.id])).map((e) => e.status)).toEqual(['AWAITING_AUTHORISATION', 'AUTHORISED', 'REVOKED']);
    }
  });

  it('a transition blocked on another transaction\'s row lock re-checks the status after it commits and loses', async () => {
    const c = await service.requestConsent(thirdParty, { permissions: ['ACCOUNTS'] });
    let rejectResult: Promise<unknown> | undefined;
    await t.db.transaction(async (tx) => {
      await tx.query(`UPDATE consents SET status = 'AUTHORISED', authorised_at = $2 WHERE id = $1 AND status = 'AWAITING_AUTHORISATION'`, [c.id, at(SECOND)]);
      rejectResult = repo.transition({ consentId: c.id, customerId: ALICE, from: 'AWAITING_AUTHORISATION', to: 'REJECTED', at: at(SECOND), actor: `customer:${ALICE}`, requestId: 'req-blocked' });
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
      await Promise.allSettled([service.revokeConsent({ ...customer('req-revoke'), now: at(DAY - 1) }, c.id), repo.recordDueExpiries(at(DAY))]);
      const [stored] = await repo.findConsentsByIds([c.id]);
      const events = await repo.findEvents([c.id]);
      expect(['REVOKED', 'EXPIRED']).toContain(stored!.status);
      expect(events.map((e) => e.status)).toEqual(['AWAITING_AUTHORISATION', 'AUTHORISED', stored!.status]);
    }
  });
});
