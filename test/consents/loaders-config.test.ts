import { describe, expect, it } from 'vitest';
import { ConfigError, DEV_ID_HASH_SECRET } from '../../lib/config.ts';
import { newId } from '../../lib/ids.ts';
import { loadConsentsConfig } from '../../subgraphs/consents/config.ts';
import { createConsentReader } from '../../subgraphs/consents/domain/service.ts';
import type { ConsentModel } from '../../subgraphs/consents/domain/model.ts';
import type { ConsentRepository } from '../../subgraphs/consents/domain/ports.ts';
import { createConsentLoaders } from '../../subgraphs/consents/loaders.ts';
import { ALICE, BEN, DAY, T0, at, principal } from './helpers.ts';

function consent(customerId: string, clientId = 'budgetly'): ConsentModel {
  return {
    id: newId('cns'),
    customerId,
    clientId,
    status: 'AWAITING_AUTHORISATION',
    permissions: ['ACCOUNTS'],
    accountIds: [],
    createdAt: T0,
    expiresAt: at(DAY),
    authorisedAt: null,
    rejectedAt: null,
    revokedAt: null,
  };
}

function fakeRepo(consents: ConsentModel[]) {
  const calls: string[] = [];
  const repo: ConsentRepository = {
    findClients: async (ids) => {
      calls.push(`clients:${ids.length}`);
      return [
        { id: 'web-app', name: 'Web', kind: 'FIRST_PARTY' as const },
        { id: 'budgetly', name: 'Budgetly', kind: 'THIRD_PARTY' as const },
      ].filter((c) => ids.includes(c.id));
    },
    findConsentsByIds: async (ids) => {
      calls.push(`byId:${ids.length}`);
      return consents.filter((c) => ids.includes(c.id));
    },
    findConsentsByCustomers: async (ids) => {
      calls.push(`byCustomer:${ids.length}`);
      return consents.filter((c) => ids.includes(c.customerId));
    },
    findEvents: async (ids) => {
      calls.push(`events:${ids.length}`);
      return [];
    },
    findActiveConsents: async () => [],
    createConsent: async (c) => c,
    createConsentRequest: async (c) => c,
    transition: async () => null,
    recordDueExpiries: async () => 0,
  };
  return { repo, calls };
}

describe('per-request loaders', () => {
  it('batch consent lookups by id and by customer into one query each, and filter what the caller may not see', async () => {
    const mine = [consent(ALICE), consent(ALICE)];
    const bens = consent(BEN);
    const { repo, calls } = fakeRepo([...mine, bens]);
    const reader = createConsentReader(createConsentLoaders(repo), principal.firstParty(ALICE), T0);

    const found = await Promise.all([...mine, bens].map((c) => reader.consent(c.id)));
    expect(found.map((c) => c?.id ?? null)).toEqual([mine[0]!.id, mine[1]!.id, null]);
    expect(calls).toEqual(['clients:1', 'byId:3']);

    const lists = await Promise.all([
      reader.customerConsents(ALICE),
      reader.customerConsents(ALICE),
      reader.customerConsents(BEN),
    ]);
    expect(lists.map((l) => l.length)).toEqual([2, 2, 0]);
    expect(calls.filter((c) => c.startsWith('byCustomer'))).toEqual(['byCustomer:1']);

    await Promise.all(mine.map((c) => reader.history(c)));
    expect(calls.filter((c) => c.startsWith('events'))).toEqual(['events:2']);
  });

  it('looks nothing up for a caller who may see no consents', async () => {
    const { repo, calls } = fakeRepo([consent(ALICE)]);
    const reader = createConsentReader(createConsentLoaders(repo), principal.staff(), T0);
    expect(await reader.customerConsents(ALICE)).toEqual([]);
    expect(await reader.consent(newId('cns'))).toBeNull();
    expect(calls.every((c) => c.startsWith('clients'))).toBe(true);
  });
});

describe('loadConsentsConfig', () => {
  it('has safe local defaults', () => {
    const config = loadConsentsConfig({});
    expect(config).toMatchObject({
      CONSENTS_PORT: 4004,
      HOST: '127.0.0.1',
      PROFILE: 'sandbox',
      PGLITE_DIR: 'memory://',
      ID_HASH_SECRET: DEV_ID_HASH_SECRET,
      CONSENTS_EXPIRY_SWEEP_MS: 60_000,
      CONSENTS_MAX_PENDING_PER_CLIENT: 5,
    });
    expect(config.DATABASE_URL).toBeUndefined();
  });

  it('the production profile refuses the public development secrets, naming the variables', () => {
    try {
      loadConsentsConfig({ PROFILE: 'production' });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const problems = (err as ConfigError).problems.join('\n');
      expect(problems).toMatch(/INTERNAL_AUTH_SECRET/);
      expect(problems).toMatch(/ID_HASH_SECRET/);
    }
    expect(() =>
      loadConsentsConfig({
        PROFILE: 'production',
        INTERNAL_AUTH_SECRET: 'p'.repeat(40),
        ID_HASH_SECRET: 'q'.repeat(40),
      }),
    ).not.toThrow();
  });

  it('names a bad value', () => {
    expect(() => loadConsentsConfig({ CONSENTS_PORT: 'eighty' })).toThrow(/CONSENTS_PORT/);
    expect(() => loadConsentsConfig({ DATABASE_URL: 'mysql://x' })).toThrow(/DATABASE_URL/);
    for (const bad of ['0', '-1', '2.5', 'many', '101'])
      expect(() => loadConsentsConfig({ CONSENTS_MAX_PENDING_PER_CLIENT: bad }), bad).toThrow(
        /CONSENTS_MAX_PENDING_PER_CLIENT/,
      );
    expect(loadConsentsConfig({ CONSENTS_MAX_PENDING_PER_CLIENT: '2' }).CONSENTS_MAX_PENDING_PER_CLIENT).toBe(2);
  });
});
