import { describe, expect, it } from 'vitest';
import { DEV_ID_HASH_SECRET } from '../../lib/config.ts';
import { isId } from '../../lib/ids.ts';
import { createIdentityService } from '../../subgraphs/identity/domain/service.ts';
import { overallKycStatus, summariseKyc } from '../../subgraphs/identity/domain/kyc.ts';
import type {
  CustomerModel,
  KycCheckStatus,
  KycResult,
  ProviderKycCheck,
} from '../../subgraphs/identity/domain/model.ts';
import type { IdentityLoaders } from '../../subgraphs/identity/domain/ports.ts';
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
    createIdentityService({ principal, loaders, idSecret: DEV_ID_HASH_SECRET });

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
    expect(await createIdentityService({ principal: null, loaders, idSecret: DEV_ID_HASH_SECRET }).me()).toBeNull();
  });

  it('does not ask the KYC provider about customers who never started KYC', async () => {
    const ben = customers[BEN]!;
    const benService = service(customerPrincipal(BEN));
    expect(await benService.kyc(ben)).toMatchObject({ status: 'NOT_STARTED', checks: [] });
    expect(await benService.verifiedIdentity(ben)).toBeNull();
    expect((await service().kyc(customers[ALICE]!)).status).toBe('IN_PROGRESS');
  });
});
