import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GraphQLError } from 'graphql';
import { newId } from '../../lib/ids.ts';
import type { Principal } from '../../lib/principal.ts';
import {
  createConsentService,
  DEFAULT_MAX_PENDING_PER_CLIENT,
  type Caller,
  type ConsentService,
} from '../../subgraphs/consents/domain/service.ts';
import type { ConsentRepository } from '../../subgraphs/consents/domain/ports.ts';
import { createConsentRepository } from '../../subgraphs/consents/storage/repository.ts';
import {
  ALICE,
  BACKENDS,
  BEN,
  DAY,
  SECOND,
  T0,
  at,
  openTestDatabase,
  principal,
  type TestDatabase,
} from './helpers.ts';

async function codeOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return (err as GraphQLError).extensions?.code ?? (err as Error).message;
  }
  return 'no error';
}

describe.each(BACKENDS)('consent lifecycle service on %s', (backend) => {
  let t: TestDatabase;
  let repo: ConsentRepository;
  let service: ConsentService;
  const caller = (p: Principal | null, now = T0, requestId = 'req-1'): Caller => ({ principal: p, requestId, now });
  const budgetlyForAlice = caller(principal.thirdParty(ALICE, 'budgetly'));
  const alice = (now = T0) => caller(principal.firstParty(ALICE), now, 'req-alice');

  beforeAll(async () => {
    t = await openTestDatabase(backend);
    repo = createConsentRepository(t.db);
    // These tests leave many of budgetly's requests to Alice pending on purpose; the cap on
    // pending requests has its own suite below.
    service = createConsentService(repo, { maxPendingPerClient: 100 });
  });
  afterAll(async () => {
    await t?.dispose();
  });

  const requested = (expiresAt?: Date) =>
    service.requestConsent(budgetlyForAlice, { permissions: ['TRANSACTIONS', 'ACCOUNTS', 'TRANSACTIONS'], expiresAt });

  describe('requestConsent', () => {
    it('a third-party client acting for a customer creates an AWAITING_AUTHORISATION consent', async () => {
      const c = await requested();
      expect(c).toMatchObject({
        customerId: ALICE,
        clientId: 'budgetly',
        status: 'AWAITING_AUTHORISATION',
        permissions: ['ACCOUNTS', 'TRANSACTIONS'],
        accountIds: [],
        createdAt: T0,
        expiresAt: at(90 * DAY),
      });
      expect(c.id).toMatch(/^cns_[a-z2-7]{26}$/);
      expect(await repo.findEvents([c.id])).toEqual([
        { consentId: c.id, status: 'AWAITING_AUTHORISATION', at: T0, actor: 'client:budgetly', requestId: 'req-1' },
      ]);
    });

    it('is refused for anyone but a registered third-party client acting for a customer', async () => {
      const input = { permissions: ['ACCOUNTS' as const] };
      expect(await codeOf(service.requestConsent(caller(principal.firstParty(ALICE)), input))).toBe('FORBIDDEN');
      expect(await codeOf(service.requestConsent(caller(principal.staff()), input))).toBe('FORBIDDEN');
      expect(
        await codeOf(service.requestConsent(caller({ customerId: null, clientId: 'budgetly', scopes: [] }), input)),
      ).toBe('FORBIDDEN');
      expect(await codeOf(service.requestConsent(caller(principal.thirdParty(ALICE, 'rogue-app')), input))).toBe(
        'FORBIDDEN',
      );
      expect(
        await codeOf(service.requestConsent(caller({ customerId: ALICE, clientId: 'reconciler', scopes: [] }), input)),
      ).toBe('FORBIDDEN');
      expect(await codeOf(service.requestConsent(caller(null), input))).toBe('UNAUTHENTICATED');
    });

    it('validates permissions and expiry', async () => {
      expect(await codeOf(service.requestConsent(budgetlyForAlice, { permissions: [] }))).toBe('BAD_USER_INPUT');
      expect(await codeOf(requested(at(90 * DAY + SECOND)))).toBe('BAD_USER_INPUT');
      expect(await codeOf(requested(at(-SECOND)))).toBe('BAD_USER_INPUT');
      expect((await requested(at(7 * DAY))).expiresAt).toEqual(at(7 * DAY));
    });
  });

  describe('authoriseConsent', () => {
    it('the customer authorises through a first-party app, choosing accounts', async () => {
      const c = await requested();
      const [a1, a2] = [newId('acc'), newId('acc')];
      const authorised = await service.authoriseConsent(alice(at(SECOND)), { id: c.id, accountIds: [a1, a2, a1] });
      expect(authorised).toMatchObject({ status: 'AUTHORISED', authorisedAt: at(SECOND), accountIds: [a1, a2].sort() });
      const events = await repo.findEvents([c.id]);
      expect(events.at(-1)).toEqual({
        consentId: c.id,
        status: 'AUTHORISED',
        at: at(SECOND),
        actor: `customer:${ALICE}`,
        requestId: 'req-alice',
      });
      // A second authorisation is a conflict, and changes nothing.
      expect(await codeOf(service.authoriseConsent(alice(at(2 * SECOND)), { id: c.id, accountIds: [a1] }))).toBe(
        'CONFLICT',
      );
      expect((await repo.findConsentsByIds([c.id]))[0]!.accountIds).toEqual([a1, a2].sort());
    });

    it('only the customer through a first-party app may authorise', async () => {
      const c = await requested();
      const input = { id: c.id, accountIds: [newId('acc')] };
      expect(await codeOf(service.authoriseConsent(budgetlyForAlice, input))).toBe('FORBIDDEN');
      expect(await codeOf(service.authoriseConsent(caller(principal.staff()), input))).toBe('FORBIDDEN');
      expect(await codeOf(service.authoriseConsent(caller(null), input))).toBe('UNAUTHENTICATED');
      expect((await repo.findConsentsByIds([c.id]))[0]!.status).toBe('AWAITING_AUTHORISATION');
    });

    it("another customer's consent, a malformed id and an unknown id all read as NOT_FOUND", async () => {
      const c = await requested();
      const input = (id: string) => ({ id, accountIds: [newId('acc')] });
      expect(await codeOf(service.authoriseConsent(caller(principal.firstParty(BEN)), input(c.id)))).toBe('NOT_FOUND');
      expect(await codeOf(service.authoriseConsent(alice(), input('cns_nope')))).toBe('NOT_FOUND');
      expect(await codeOf(service.authoriseConsent(alice(), input(newId('cns'))))).toBe('NOT_FOUND');
      expect(await codeOf(service.rejectConsent(caller(principal.firstParty(BEN)), c.id))).toBe('NOT_FOUND');
      expect(await codeOf(service.revokeConsent(caller(principal.firstParty(BEN)), c.id))).toBe('NOT_FOUND');
    });

    it('requires valid account ids, at least one for account permissions', async () => {
      const c = await requested();
      expect(await codeOf(service.authoriseConsent(alice(), { id: c.id, accountIds: [] }))).toBe('BAD_USER_INPUT');
      expect(await codeOf(service.authoriseConsent(alice(), { id: c.id, accountIds: ['22289'] }))).toBe(
        'BAD_USER_INPUT',
      );
      expect((await repo.findConsentsByIds([c.id]))[0]!.status).toBe('AWAITING_AUTHORISATION');
    });

    it('a request past its expiry can no longer be authorised', async () => {
      const c = await requested(at(DAY));
      expect(await codeOf(service.authoriseConsent(alice(at(DAY)), { id: c.id, accountIds: [newId('acc')] }))).toBe(
        'CONFLICT',
      );
    });
  });

  describe('rejectConsent', () => {
    it('rejects only from AWAITING_AUTHORISATION', async () => {
      const c = await requested();
      const rejected = await service.rejectConsent(alice(at(SECOND)), c.id);
      expect(rejected).toMatchObject({ status: 'REJECTED', rejectedAt: at(SECOND), accountIds: [] });
      expect(await codeOf(service.rejectConsent(alice(), c.id))).toBe('CONFLICT');
      expect(await codeOf(service.authoriseConsent(alice(), { id: c.id, accountIds: [newId('acc')] }))).toBe(
        'CONFLICT',
      );
      expect(await codeOf(service.revokeConsent(alice(), c.id))).toBe('CONFLICT');

      const authorised = await requested();
      await service.authoriseConsent(alice(), { id: authorised.id, accountIds: [newId('acc')] });
      expect(await codeOf(service.rejectConsent(alice(), authorised.id))).toBe('CONFLICT');
    });
  });

  describe('revokeConsent', () => {
    it('revokes an AUTHORISED consent; revoking again returns it unchanged', async () => {
      const c = await requested();
      await service.authoriseConsent(alice(at(SECOND)), { id: c.id, accountIds: [newId('acc')] });
      const revoked = await service.revokeConsent(alice(at(2 * SECOND)), c.id);
      expect(revoked).toMatchObject({ status: 'REVOKED', revokedAt: at(2 * SECOND) });
      const again = await service.revokeConsent(alice(at(3 * SECOND)), c.id);
      expect(again).toEqual(revoked);
      expect((await repo.findEvents([c.id])).map((e) => e.status)).toEqual([
        'AWAITING_AUTHORISATION',
        'AUTHORISED',
        'REVOKED',
      ]);
    });

    it('refuses to revoke a consent that is awaiting authorisation or has expired', async () => {
      const pending = await requested();
      expect(await codeOf(service.revokeConsent(alice(), pending.id))).toBe('CONFLICT');
      const c = await requested(at(DAY));
      await service.authoriseConsent(alice(), { id: c.id, accountIds: [newId('acc')] });
      const err = await service.revokeConsent(alice(at(DAY)), c.id).catch((e: GraphQLError) => e);
      expect(err).toMatchObject({ message: expect.stringMatching(/EXPIRED/), extensions: { code: 'CONFLICT' } });
    });

    it('only the customer through a first-party app may revoke', async () => {
      const c = await requested();
      await service.authoriseConsent(alice(), { id: c.id, accountIds: [newId('acc')] });
      expect(await codeOf(service.revokeConsent(budgetlyForAlice, c.id))).toBe('FORBIDDEN');
      expect((await repo.findConsentsByIds([c.id]))[0]!.status).toBe('AUTHORISED');
    });
  });
});

describe.each(BACKENDS)('pending consent requests are capped per (client, customer) on %s', (backend) => {
  let t: TestDatabase;
  let repo: ConsentRepository;
  let service: ConsentService;

  beforeAll(async () => {
    t = await openTestDatabase(backend);
    repo = createConsentRepository(t.db);
    service = createConsentService(repo); // the default cap, CONSENTS_MAX_PENDING_PER_CLIENT's default
  });
  afterAll(async () => {
    await t?.dispose();
  });

  /** Each test has a customer of its own, so no test sees another's requests. */
  const newCustomer = () => newId('cus');
  const ask = (customerId: string, now = T0, clientId = 'budgetly', expiresAt?: Date) =>
    service.requestConsent(
      { principal: principal.thirdParty(customerId, clientId), requestId: 'req-ask', now },
      { permissions: ['ACCOUNTS'], expiresAt },
    );
  const customerApp = (customerId: string, now = T0): Caller => ({
    principal: principal.firstParty(customerId),
    requestId: 'req-decide',
    now,
  });
  const stored = async (customerId: string) =>
    (await repo.findConsentsByCustomers([customerId])).filter((c) => c.status === 'AWAITING_AUTHORISATION');
  const fill = async (customerId: string, now = T0, expiresAt?: Date) => {
    const made = [];
    for (let i = 0; i < DEFAULT_MAX_PENDING_PER_CLIENT; i++)
      made.push(await ask(customerId, now, 'budgetly', expiresAt));
    return made;
  };

  it(`accepts ${DEFAULT_MAX_PENDING_PER_CLIENT} by default and refuses the next with CONSENT_REQUEST_LIMIT_EXCEEDED, writing nothing`, async () => {
    expect(DEFAULT_MAX_PENDING_PER_CLIENT).toBe(5);
    const customer = newCustomer();
    await fill(customer);
    const err = await ask(customer).catch((e: GraphQLError) => e);
    expect(err).toMatchObject({
      extensions: { code: 'CONSENT_REQUEST_LIMIT_EXCEEDED', maxPending: 5 },
      message: expect.stringMatching(/5 consent requests/),
    });
    expect(await stored(customer)).toHaveLength(5);
    const events = await repo.findEvents((await repo.findConsentsByCustomers([customer])).map((c) => c.id));
    expect(events).toHaveLength(5);
  });

  it('counts per client and per customer: another client of the customer, and the client for another customer, are not held up', async () => {
    const customer = newCustomer();
    await fill(customer);
    expect(await codeOf(ask(customer))).toBe('CONSENT_REQUEST_LIMIT_EXCEEDED');
    expect((await ask(customer, T0, 'taxpal')).clientId).toBe('taxpal');
    const other = newCustomer();
    expect((await ask(other)).customerId).toBe(other);
  });

  it('a request that was rejected or authorised no longer counts', async () => {
    const customer = newCustomer();
    const [first, second] = await fill(customer);
    expect(await codeOf(ask(customer))).toBe('CONSENT_REQUEST_LIMIT_EXCEEDED');
    await service.rejectConsent(customerApp(customer), first!.id);
    await ask(customer);
    expect(await codeOf(ask(customer))).toBe('CONSENT_REQUEST_LIMIT_EXCEEDED');
    await service.authoriseConsent(customerApp(customer), { id: second!.id, accountIds: [newId('acc')] });
    await ask(customer);
    expect(await codeOf(ask(customer))).toBe('CONSENT_REQUEST_LIMIT_EXCEEDED');
    // Revoking an authorised consent frees nothing more: only pending requests count.
    await service.revokeConsent(customerApp(customer), second!.id);
    expect(await codeOf(ask(customer))).toBe('CONSENT_REQUEST_LIMIT_EXCEEDED');
  });

  it('a request past its expiry no longer counts, from the exact expiry instant, before any sweep records it', async () => {
    const customer = newCustomer();
    await fill(customer, T0, at(DAY));
    expect(await codeOf(ask(customer, at(DAY - 1)))).toBe('CONSENT_REQUEST_LIMIT_EXCEEDED');
    expect((await ask(customer, at(DAY))).status).toBe('AWAITING_AUTHORISATION');
    expect(await repo.findConsentsByCustomers([customer])).toHaveLength(6);
  });

  it('the cap is configurable and must be a positive integer', async () => {
    const strict = createConsentService(repo, { maxPendingPerClient: 1 });
    const customer = newCustomer();
    const as = { principal: principal.thirdParty(customer, 'budgetly'), requestId: 'req-strict', now: T0 };
    await strict.requestConsent(as, { permissions: ['IDENTITY'] });
    expect(await codeOf(strict.requestConsent(as, { permissions: ['IDENTITY'] }))).toBe(
      'CONSENT_REQUEST_LIMIT_EXCEEDED',
    );
    for (const bad of [0, -1, 1.5, Number.NaN])
      expect(() => createConsentService(repo, { maxPendingPerClient: bad }), String(bad)).toThrow(RangeError);
  });
});
