import { describe, expect, it } from 'vitest';
import { DEV_ID_HASH_SECRET } from '../../lib/config.ts';
import { isId } from '../../lib/ids.ts';
import { createIdentityService } from '../../subgraphs/identity/domain/service.ts';
import { kycCheckId, overallKycStatus, summariseKyc } from '../../subgraphs/identity/domain/kyc.ts';
import type { InboxEvent, ListFilter, ReplayResult, ReplaySelector } from '../../lib/webhooks/index.ts';
import { principalOf } from '../support/customers.ts';
import type {
  CustomerModel,
  KycCheckStatus,
  KycResult,
  ProviderKycCheck,
} from '../../subgraphs/identity/domain/model.ts';
import type { IdentityLoaders, KycWebhookInbox } from '../../subgraphs/identity/domain/ports.ts';
import { ALICE, BEN, customerPrincipal, fixtureUuid, staffPrincipal } from './helpers.ts';

const check = (
  status: KycCheckStatus,
  result: KycResult | null,
  createdAt: string,
  key = createdAt,
): ProviderKycCheck => ({
  providerCheckId: fixtureUuid(key),
  status,
  result,
  createdAt: new Date(createdAt),
});

/** The customer use cases never touch the webhook inbox: any use of it fails the test. */
const unusedInbox: KycWebhookInbox = {
  list: () => Promise.reject(new Error('the inbox was read')),
  replay: () => Promise.reject(new Error('the inbox was replayed')),
};

describe('KYC summary', () => {
  it('derives the overall status from the latest check', () => {
    expect(overallKycStatus(undefined)).toBe('NOT_STARTED');
    expect(overallKycStatus({ status: 'IN_PROGRESS', result: null })).toBe('IN_PROGRESS');
    expect(overallKycStatus({ status: 'PAUSED', result: null })).toBe('IN_PROGRESS');
    expect(overallKycStatus({ status: 'REOPENED', result: 'CONSIDER' })).toBe('IN_PROGRESS');
    expect(overallKycStatus({ status: 'AWAITING_APPLICANT', result: null })).toBe('AWAITING_APPLICANT');
    expect(overallKycStatus({ status: 'COMPLETE', result: 'CLEAR' })).toBe('APPROVED');
    expect(overallKycStatus({ status: 'COMPLETE', result: 'CONSIDER' })).toBe('REVIEW_REQUIRED');
    expect(overallKycStatus({ status: 'COMPLETE', result: 'UNIDENTIFIED' })).toBe('REVIEW_REQUIRED');
    expect(overallKycStatus({ status: 'COMPLETE', result: null })).toBe('REVIEW_REQUIRED');
    expect(overallKycStatus({ status: 'WITHDRAWN', result: null })).toBe('WITHDRAWN');
  });

  it('orders checks newest first whatever order the provider lists them in', () => {
    const summary = summariseKyc(
      [
        check('COMPLETE', 'CONSIDER', '2026-01-01T00:00:00Z'),
        check('COMPLETE', 'CLEAR', '2026-03-01T00:00:00Z'),
        check('WITHDRAWN', null, '2025-12-01T00:00:00Z'),
      ],
      DEV_ID_HASH_SECRET,
    );
    expect(summary.status).toBe('APPROVED');
    expect(summary.startedAt?.toISOString()).toBe('2026-03-01T00:00:00.000Z');
    expect(summary.completedAt).toBeNull();
    expect(summary.checks.map((c) => c.createdAt.toISOString())).toEqual([
      '2026-03-01T00:00:00.000Z',
      '2026-01-01T00:00:00.000Z',
      '2025-12-01T00:00:00.000Z',
    ]);
  });

  it('is NOT_STARTED without checks', () => {
    expect(summariseKyc([], DEV_ID_HASH_SECRET)).toEqual({
      status: 'NOT_STARTED',
      startedAt: null,
      completedAt: null,
      checks: [],
    });
  });

  it('gives checks opaque, stable kyc_ ids that do not reveal the provider id', () => {
    const c = check('COMPLETE', 'CLEAR', '2026-03-01T00:00:00Z');
    const [a] = summariseKyc([c], DEV_ID_HASH_SECRET).checks;
    const [b] = summariseKyc([c], DEV_ID_HASH_SECRET).checks;
    const [other] = summariseKyc([c], 'another-secret-of-at-least-32-characters!!').checks;
    expect(isId(a!.id, 'kyc')).toBe(true);
    expect(a!.id).toBe(b!.id);
    expect(other!.id).not.toBe(a!.id);
    expect(a!.id).not.toContain(c.providerCheckId.slice(0, 8));
  });
});

describe('identity service ownership', () => {
  const customers: Record<string, CustomerModel> = {
    [ALICE]: {
      id: ALICE,
      displayName: 'Alice',
      email: 'a@example.com',
      phone: null,
      createdAt: new Date('2024-03-14T09:30:00Z'),
      kycApplicantId: fixtureUuid('alice'),
    },
    [BEN]: {
      id: BEN,
      displayName: 'Ben',
      email: null,
      phone: null,
      createdAt: new Date('2025-01-08T14:05:00Z'),
      kycApplicantId: null,
    },
  };
  const loaded: string[] = [];
  const loaders: IdentityLoaders = {
    customers: { load: async (id) => (loaded.push(id), customers[id] ?? null) },
    applicants: {
      load: async () => ({
        legalName: { givenName: 'Alice', familyName: 'Carter' },
        dateOfBirth: '1988-07-21',
        address: null,
      }),
    },
    checks: { load: async () => [check('IN_PROGRESS', null, '2026-01-01T00:00:00Z')] },
    reports: { load: async () => [] },
  };
  const service = (principal = customerPrincipal(ALICE)) =>
    createIdentityService({ principal, loaders, idSecret: DEV_ID_HASH_SECRET, webhookInbox: unusedInbox });

  it('gives a customer principal its own customer, by me, by id and by reference', async () => {
    expect((await service().me())?.id).toBe(ALICE);
    expect((await service().customer(ALICE))?.id).toBe(ALICE);
    expect((await service().customerReference(ALICE))?.id).toBe(ALICE);
  });

  it("treats someone else's id exactly like a non-existent or malformed one, without looking it up", async () => {
    loaded.length = 0;
    expect(await service().customer(BEN)).toBeNull();
    expect(await service().customerReference(BEN)).toBeNull();
    expect(await service().customer('cus_aaaaaaaaaaaaaaaaaaaaaaaaaa')).toBeNull();
    expect(await service().customer("cus_' OR 1=1 --")).toBeNull();
    expect(loaded).toEqual([]);
  });

  it('shows nothing to principals without a customer', async () => {
    expect(await service(staffPrincipal).me()).toBeNull();
    expect(await service(staffPrincipal).customer(ALICE)).toBeNull();
    expect(
      await createIdentityService({
        principal: null,
        loaders,
        idSecret: DEV_ID_HASH_SECRET,
        webhookInbox: unusedInbox,
      }).me(),
    ).toBeNull();
  });

  it('does not ask the KYC provider about customers who never started KYC', async () => {
    const ben = customers[BEN]!;
    const benService = service(customerPrincipal(BEN));
    expect(await benService.kyc(ben)).toMatchObject({ status: 'NOT_STARTED', checks: [] });
    expect(await benService.verifiedIdentity(ben)).toBeNull();
    expect((await service().kyc(customers[ALICE]!)).status).toBe('IN_PROGRESS');
  });
});

describe("the operators' webhook inbox use cases (decided again in the service)", () => {
  const noLoaders = {} as IdentityLoaders;
  const event = (over: Partial<InboxEvent>): InboxEvent => ({
    id: '7',
    source: 'onfido',
    eventId: 'sha256:ab',
    type: 'check.completed',
    aggregateId: `check:${fixtureUuid('c1')}`,
    sequence: null,
    occurredAt: null,
    receivedAt: new Date('2026-11-23T10:00:00.000Z'),
    status: 'dead',
    attempts: 8,
    lastError: 'onfido: unavailable (503)\n    at getCheck (client.ts:12:3)',
    result: null,
    appliedAt: null,
    nextAttemptAt: new Date('2026-11-23T11:00:00.000Z'),
    // The raw body may identify a person: it must never reach the operators' view.
    rawBody: '{"payload":{"object":{"applicant":"Alice Carter"}}}',
    headers: { 'x-sha2-signature': 'deadbeef' },
    ...over,
  });
  function inbox(events: InboxEvent[], replayed: Partial<ReplayResult> = {}) {
    const calls: { list: ListFilter[]; replay: ReplaySelector[] } = { list: [], replay: [] };
    const port: KycWebhookInbox = {
      list: async (filter) => (calls.list.push(filter), events),
      replay: async (selector) => (
        calls.replay.push(selector),
        { requeued: [], alreadyApplied: [], alreadyQueued: [], ...replayed }
      ),
    };
    return { port, calls };
  }
  const serviceAs = (principal: ReturnType<typeof principalOf> | null, port: KycWebhookInbox) =>
    createIdentityService({ principal, loaders: noLoaders, idSecret: DEV_ID_HASH_SECRET, webhookInbox: port });
  const code = (p: Promise<unknown>) =>
    p.then(
      () => 'no error',
      (e: { extensions?: { code?: string } }) => e.extensions?.code,
    );
  const reader = principalOf(null, ['webhooks:read'], 'ops-console');
  const replayer = principalOf(null, ['webhooks:replay'], 'ops-console');

  it('refuses customers, auditors, readers replaying and anonymous callers without reading the inbox', async () => {
    const { port, calls } = inbox([event({})]);
    const everyScope = ['identity:read', 'webhooks:read', 'webhooks:replay', 'audit:read'];
    for (const principal of [
      principalOf(ALICE, everyScope, 'web-app'),
      principalOf(ALICE, everyScope, 'budgetly'),
      principalOf(null, ['audit:read', 'identity:read'], 'ops-console'),
      staffPrincipal,
      null,
    ]) {
      expect(await code(serviceAs(principal, port).kycWebhookEvents({}))).toBe('FORBIDDEN');
      expect(await code(serviceAs(principal, port).replayKycWebhookEvents({ allFailed: true }))).toBe('FORBIDDEN');
    }
    expect(await code(serviceAs(reader, port).replayKycWebhookEvents({ allFailed: true }))).toBe('FORBIDDEN');
    expect(await code(serviceAs(replayer, port).kycWebhookEvents({}))).toBe('FORBIDDEN');
    expect(calls).toEqual({ list: [], replay: [] });
  });

  it('shows an operator each event without its body, with the first line of its error and the kyc_ check id', async () => {
    const failed = event({ id: '8', status: 'failed', attempts: 2, aggregateId: `check:${fixtureUuid('c2')}` });
    const report = event({ id: '9', status: 'applied', aggregateId: `report:${fixtureUuid('r1')}`, lastError: null });
    const { port, calls } = inbox([event({}), failed, report]);
    const page = await serviceAs(reader, port).kycWebhookEvents({ first: 2 });
    // The default: what needs an operator; one more row than the page, to know whether more follow.
    expect(calls.list).toEqual([{ statuses: ['failed', 'dead'], limit: 3 }]);
    expect(page.pageInfo.hasNextPage).toBe(true);
    expect(page.edges.map((e) => e.node)).toEqual([
      {
        id: '7',
        eventId: 'sha256:ab',
        partner: 'onfido',
        type: 'check.completed',
        checkId: kycCheckId(DEV_ID_HASH_SECRET, 'onfido', fixtureUuid('c1')),
        status: 'DEAD_LETTERED',
        attempts: 8,
        lastError: 'onfido: unavailable (503)',
        receivedAt: new Date('2026-11-23T10:00:00.000Z'),
        nextAttemptAt: null,
        appliedAt: null,
      },
      expect.objectContaining({ id: '8', status: 'FAILED', nextAttemptAt: failed.nextAttemptAt }),
    ]);
    expect(JSON.stringify(page)).not.toContain('Alice');
    // The cursor carries the position: the next page asks the inbox for what follows it.
    await serviceAs(reader, port).kycWebhookEvents({
      after: page.pageInfo.endCursor,
      filter: { status: ['APPLIED', 'PENDING'], receivedFrom: new Date('2026-11-23T00:00:00Z') },
    });
    expect(calls.list[1]).toEqual({
      statuses: ['applied', 'received'],
      from: new Date('2026-11-23T00:00:00Z'),
      after: { receivedAt: failed.receivedAt, id: '8' },
      limit: 21,
    });
    expect(
      (await serviceAs(reader, inbox([report]).port).kycWebhookEvents({ filter: { status: ['APPLIED'] } })).edges[0]!
        .node.checkId,
    ).toBeNull();
  });

  it('refuses bad list and replay arguments with BAD_USER_INPUT, and an unknown id with NOT_FOUND', async () => {
    const { port, calls } = inbox([]);
    const read = serviceAs(reader, port);
    const replay = serviceAs(replayer, port);
    expect(await code(read.kycWebhookEvents({ after: 'junk' }))).toBe('BAD_USER_INPUT');
    expect(await code(read.kycWebhookEvents({ first: 101 }))).toBe('BAD_USER_INPUT');
    expect(await code(read.kycWebhookEvents({ filter: { status: ['LOST'] } }))).toBe('BAD_USER_INPUT');
    const t = new Date('2026-11-23T10:00:00Z');
    expect(await code(read.kycWebhookEvents({ filter: { receivedFrom: t, receivedTo: t } }))).toBe('BAD_USER_INPUT');
    expect(await code(replay.replayKycWebhookEvents({}))).toBe('BAD_USER_INPUT');
    expect(await code(replay.replayKycWebhookEvents({ id: '1', allFailed: true }))).toBe('BAD_USER_INPUT');
    expect(await code(replay.replayKycWebhookEvents({ receivedFrom: t }))).toBe('BAD_USER_INPUT');
    expect(await code(replay.replayKycWebhookEvents({ receivedFrom: t, receivedTo: t }))).toBe('BAD_USER_INPUT');
    expect(calls).toEqual({ list: [], replay: [] });
    expect(await code(replay.replayKycWebhookEvents({ id: '404' }))).toBe('NOT_FOUND');
    expect(calls.replay).toEqual([{ id: '404' }]);
  });

  it('says what a replay did: requeued, already applied (a no-op) and already pending', async () => {
    const { port, calls } = inbox([], { requeued: ['1', '2'], alreadyApplied: ['3'], alreadyQueued: ['4'] });
    const from = new Date('2026-11-23T10:00:00Z');
    const to = new Date('2026-11-23T11:00:00Z');
    expect(await serviceAs(replayer, port).replayKycWebhookEvents({ receivedFrom: from, receivedTo: to })).toEqual({
      replayed: 2,
      replayedIds: ['1', '2'],
      alreadyApplied: 1,
      alreadyAppliedIds: ['3'],
      alreadyPending: 1,
      alreadyPendingIds: ['4'],
    });
    expect(calls.replay).toEqual([{ from, to }]);
  });
});
