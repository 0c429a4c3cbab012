import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEV_ID_HASH_SECRET } from '../../lib/config.ts';
import { bankAccountId, newId } from '../../lib/ids.ts';
import type { ConsentModel } from '../../subgraphs/consents/domain/model.ts';
import type { ConsentRepository } from '../../subgraphs/consents/domain/ports.ts';
import { createConsentRepository, findActiveConsents } from '../../subgraphs/consents/storage/repository.ts';
import { applySeed, SANDBOX_CONSENT_IDS } from '../../subgraphs/consents/storage/seed.ts';
import { SANDBOX_SEED } from '../support/seed.ts';
import { ALICE, BACKENDS, BEN, DAY, SECOND, T0, at, openTestDatabase, type TestDatabase } from './helpers.ts';

function awaiting(overrides: Partial<ConsentModel> = {}): ConsentModel {
  return {
    id: newId('cns'),
    customerId: ALICE,
    clientId: 'budgetly',
    status: 'AWAITING_AUTHORISATION',
    permissions: ['ACCOUNTS', 'TRANSACTIONS'],
    accountIds: [],
    createdAt: T0,
    expiresAt: at(30 * DAY),
    authorisedAt: null,
    rejectedAt: null,
    revokedAt: null,
    ...overrides,
  };
}

async function create(repo: ConsentRepository, c: ConsentModel): Promise<ConsentModel> {
  return repo.createConsent(c, {
    consentId: c.id,
    status: c.status,
    at: c.createdAt,
    actor: `client:${c.clientId}`,
    requestId: 'req-create',
  });
}

describe.each(BACKENDS)('consent storage on %s', (backend) => {
  let t: TestDatabase;
  let repo: ConsentRepository;

  beforeAll(async () => {
    t = await openTestDatabase(backend);
    repo = createConsentRepository(t.db);
  });
  afterAll(async () => {
    await t?.dispose();
  });

  it('keeps the client registry with internal kinds', async () => {
    const clients = await repo.findClients(['web-app', 'budgetly', 'ops-console', 'reconciler', 'nobody']);
    expect(Object.fromEntries(clients.map((c) => [c.id, c.kind]))).toEqual({
      'web-app': 'FIRST_PARTY',
      budgetly: 'THIRD_PARTY',
      'ops-console': 'STAFF',
      reconciler: 'MACHINE',
    });
  });

  it('stores a consent and reads it back exactly, with its first event', async () => {
    const c = awaiting({ expiresAt: new Date('2026-12-01T08:30:15.123Z') });
    const created = await create(repo, c);
    expect(created).toEqual(c);
    const [read] = await repo.findConsentsByIds([c.id]);
    expect(read).toEqual(c);
    expect(await repo.findEvents([c.id])).toEqual([
      { consentId: c.id, status: 'AWAITING_AUTHORISATION', at: T0, actor: 'client:budgetly', requestId: 'req-create' },
    ]);
  });

  it('a transition applies only when customer, status and expiry all still hold', async () => {
    const c = await create(repo, awaiting());
    const acc = [newId('acc'), newId('acc')].sort();
    const base = {
      consentId: c.id,
      customerId: ALICE,
      from: 'AWAITING_AUTHORISATION' as const,
      to: 'AUTHORISED' as const,
      at: at(SECOND),
      actor: `customer:${ALICE}`,
      requestId: 'req-auth',
      accountIds: acc,
    };

    expect(await repo.transition({ ...base, customerId: BEN, actor: `customer:${BEN}` })).toBeNull();
    expect(await repo.transition({ ...base, from: 'AUTHORISED', to: 'REVOKED' })).toBeNull();
    expect(await repo.transition({ ...base, at: c.expiresAt })).toBeNull();
    expect((await repo.findEvents([c.id])).map((e) => e.status)).toEqual(['AWAITING_AUTHORISATION']);

    const authorised = await repo.transition(base);
    expect(authorised).toMatchObject({ status: 'AUTHORISED', authorisedAt: at(SECOND), accountIds: acc });
    // The same transition again no longer matches: the status moved on.
    expect(await repo.transition(base)).toBeNull();

    const revoked = await repo.transition({
      ...base,
      from: 'AUTHORISED',
      to: 'REVOKED',
      at: at(2 * SECOND),
      requestId: 'req-revoke',
      accountIds: undefined,
    });
    expect(revoked).toMatchObject({
      status: 'REVOKED',
      revokedAt: at(2 * SECOND),
      authorisedAt: at(SECOND),
      accountIds: acc,
    });
    expect((await repo.findEvents([c.id])).map((e) => [e.status, e.actor, e.requestId])).toEqual([
      ['AWAITING_AUTHORISATION', 'client:budgetly', 'req-create'],
      ['AUTHORISED', `customer:${ALICE}`, 'req-auth'],
      ['REVOKED', `customer:${ALICE}`, 'req-revoke'],
    ]);
  });

  it('consent events are append-only evidence', async () => {
    const c = await create(repo, awaiting());
    await expect(
      t.db.query(`UPDATE consent_events SET actor = 'system' WHERE consent_id = $1`, [c.id]),
    ).rejects.toThrow(/append-only/);
    await expect(t.db.query(`DELETE FROM consent_events WHERE consent_id = $1`, [c.id])).rejects.toThrow(/append-only/);
    await expect(t.db.query(`TRUNCATE consent_events CASCADE`)).rejects.toThrow(/append-only/);
    expect(await repo.findEvents([c.id])).toHaveLength(1);
  });

  it('the database refuses a consent that contradicts itself', async () => {
    await expect(create(repo, awaiting({ status: 'AUTHORISED' }))).rejects.toThrow();
    await expect(create(repo, awaiting({ permissions: [] }))).rejects.toThrow();
    await expect(create(repo, awaiting({ clientId: 'not-registered' }))).rejects.toThrow();
    await expect(create(repo, awaiting({ customerId: 'alice' }))).rejects.toThrow();
  });

  it('active consents of (customer, client): AUTHORISED and not past expiry only', async () => {
    const customer = newId('cus');
    const mk = async (clientId: string, expiresAt: Date, to?: 'AUTHORISED' | 'REJECTED') => {
      const c = await create(repo, awaiting({ customerId: customer, clientId, expiresAt }));
      if (to)
        await repo.transition({
          consentId: c.id,
          customerId: customer,
          from: 'AWAITING_AUTHORISATION',
          to,
          at: T0,
          actor: `customer:${customer}`,
          requestId: null,
          ...(to === 'AUTHORISED' ? { accountIds: [newId('acc')] } : {}),
        });
      return c.id;
    };
    const active = await mk('budgetly', at(DAY), 'AUTHORISED');
    const shortLived = await mk('budgetly', at(10 * SECOND), 'AUTHORISED');
    await mk('budgetly', at(DAY), 'REJECTED');
    await mk('budgetly', at(DAY));
    await mk('taxpal', at(DAY), 'AUTHORISED');

    expect((await findActiveConsents(t.db, customer, 'budgetly', at(SECOND))).map((c) => c.id).sort()).toEqual(
      [active, shortLived].sort(),
    );
    expect((await repo.findActiveConsents(customer, 'budgetly', at(10 * SECOND))).map((c) => c.id)).toEqual([active]);
    expect(await repo.findActiveConsents(customer, 'web-app', at(SECOND))).toEqual([]);
  });

  it("lists a customer's consents newest first", async () => {
    const customer = newId('cus');
    const older = await create(repo, awaiting({ customerId: customer, createdAt: at(-DAY) }));
    const newer = await create(repo, awaiting({ customerId: customer, createdAt: at(-SECOND) }));
    expect((await repo.findConsentsByCustomers([customer])).map((c) => c.id)).toEqual([newer.id, older.id]);
  });

  it('the expiry sweep records each due consent once, with a system event at the expiry instant', async () => {
    const customer = newId('cus');
    const authorised = await create(repo, awaiting({ customerId: customer, expiresAt: at(DAY) }));
    await repo.transition({
      consentId: authorised.id,
      customerId: customer,
      from: 'AWAITING_AUTHORISATION',
      to: 'AUTHORISED',
      at: T0,
      actor: `customer:${customer}`,
      requestId: null,
      accountIds: [newId('acc')],
    });
    const pending = await create(repo, awaiting({ customerId: customer, expiresAt: at(DAY + SECOND) }));
    const notDue = await create(repo, awaiting({ customerId: customer, expiresAt: at(90 * DAY) }));

    await repo.recordDueExpiries(at(DAY + SECOND));
    expect(await repo.recordDueExpiries(at(DAY + SECOND))).toBe(0);

    const byId = new Map(
      (await repo.findConsentsByIds([authorised.id, pending.id, notDue.id])).map((c) => [c.id, c.status]),
    );
    expect(Object.fromEntries(byId)).toEqual({
      [authorised.id]: 'EXPIRED',
      [pending.id]: 'EXPIRED',
      [notDue.id]: 'AWAITING_AUTHORISATION',
    });
    const events = await repo.findEvents([authorised.id]);
    expect(events.map((e) => [e.status, e.actor])).toEqual([
      ['AWAITING_AUTHORISATION', 'client:budgetly'],
      ['AUTHORISED', `customer:${customer}`],
      ['EXPIRED', 'system'],
    ]);
    expect(events[2]!.at).toEqual(at(DAY));
  });

  it('seeds the sandbox consents idempotently, with canonical account ids', async () => {
    await applySeed(t.db, SANDBOX_SEED, { idHashSecret: DEV_ID_HASH_SECRET, now: T0 });
    await applySeed(t.db, SANDBOX_SEED, { idHashSecret: DEV_ID_HASH_SECRET, now: at(DAY) });
    const ids = Object.values(SANDBOX_CONSENT_IDS);
    const seeded = await repo.findConsentsByIds(ids);
    expect(seeded).toHaveLength(ids.length);
    const byId = new Map(seeded.map((c) => [c.id, c]));
    const aliceBudgetly = byId.get(SANDBOX_CONSENT_IDS.aliceBudgetlyAuthorised)!;
    expect(aliceBudgetly).toMatchObject({
      customerId: ALICE,
      clientId: 'budgetly',
      status: 'AUTHORISED',
      permissions: ['ACCOUNTS', 'BALANCES', 'TRANSACTIONS'],
    });
    expect(aliceBudgetly.accountIds).toEqual([bankAccountId(DEV_ID_HASH_SECRET, 'northwind', '22289')]);
    expect(aliceBudgetly.expiresAt.getTime()).toBeGreaterThan(T0.getTime());
    expect(byId.get(SANDBOX_CONSENT_IDS.aliceTaxpalRevoked)!.status).toBe('REVOKED');
    expect(byId.get(SANDBOX_CONSENT_IDS.benBudgetlyAwaiting)!.status).toBe('AWAITING_AUTHORISATION');
    expect(byId.get(SANDBOX_CONSENT_IDS.claraBudgetlyExpired)!.status).toBe('EXPIRED');
    const events = await repo.findEvents(ids);
    // 2 + 3 + 1 + 3 events, written once although the seed ran twice.
    expect(events).toHaveLength(9);
    expect(events.filter((e) => e.consentId === SANDBOX_CONSENT_IDS.aliceTaxpalRevoked).map((e) => e.status)).toEqual([
      'AWAITING_AUTHORISATION',
      'AUTHORISED',
      'REVOKED',
    ]);
  });
});
