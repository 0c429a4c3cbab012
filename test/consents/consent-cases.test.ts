import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../lib/ids.ts';
import {
  ACCOUNT_PERMISSIONS,
  CONSENT_PERMISSIONS,
  type ConsentPermission,
} from '../../subgraphs/consents/domain/model.ts';
import { consentGrants, grantedAccountIds } from '../../subgraphs/consents/domain/rules.ts';
import {
  createConsentReader,
  createConsentService,
  type ConsentService,
} from '../../subgraphs/consents/domain/service.ts';
import type { ConsentRepository } from '../../subgraphs/consents/domain/ports.ts';
import { createConsentLoaders } from '../../subgraphs/consents/loaders.ts';
import { createConsentRepository } from '../../subgraphs/consents/storage/repository.ts';
import {
  CASE_CLIENT,
  CONSENT_CASES,
  caseAt,
  gridOf,
  storedConsents,
  type ConsentCase,
} from '../support/consent-cases.ts';
import { BACKENDS, openTestDatabase, principal, type TestDatabase } from './helpers.ts';

/**
 * The consents subgraph's side of the shared table (test/support/consent-cases.ts): the case's
 * consents are stored, read back the two ways this subgraph serves them (the domain's
 * activeConsents, and the third party's own Customer.consents(status: [AUTHORISED]), which is what
 * the gateway's consent lookup asks for), and judged by the domain's consentGrants. The gateway's
 * side runs the same table in test/gateway/consents-lookup.test.ts.
 */
describe.each(BACKENDS)('the shared table of consent cases, against the consents subgraph on %s', (backend) => {
  let t: TestDatabase;
  let repo: ConsentRepository;
  let service: ConsentService;
  const customers = new Map<ConsentCase, string>();

  beforeAll(async () => {
    t = await openTestDatabase(backend);
    repo = createConsentRepository(t.db);
    service = createConsentService(repo);
    for (const consentCase of CONSENT_CASES) {
      const customer = newId('cus');
      customers.set(consentCase, customer);
      for (const { consent, event } of storedConsents(consentCase, customer)) await repo.createConsent(consent, event);
    }
  });
  afterAll(async () => {
    await t?.dispose();
  });

  /** Each grid question answered from `consents` by the domain's consentGrants. */
  const answers = (consentCase: ConsentCase, consents: Parameters<typeof consentGrants>[0]) => {
    const at = caseAt(consentCase);
    return gridOf(consentCase).map((q) => [
      q.question,
      consentGrants(consents, q.permission, q.accountId === undefined ? { at } : { accountId: q.accountId, at }),
    ]);
  };
  const expected = (consentCase: ConsentCase) => gridOf(consentCase).map((q) => [q.question, q.expected]);

  describe.each(CONSENT_CASES)('$name', (consentCase) => {
    it('activeConsents (storage selects, lib/consent.ts decides) answers the grid as the table says', async () => {
      const active = await service.activeConsents(customers.get(consentCase)!, CASE_CLIENT, caseAt(consentCase));
      expect(answers(consentCase, active)).toEqual(expected(consentCase));
    });

    it("the client's own AUTHORISED consents, as the gateway reads them, answer the grid as the table says", async () => {
      const customer = customers.get(consentCase)!;
      const reader = createConsentReader(
        createConsentLoaders(repo),
        principal.thirdParty(customer, CASE_CLIENT),
        caseAt(consentCase),
      );
      const visible = await reader.customerConsents(customer, ['AUTHORISED']);
      expect(visible.every((c) => c.clientId === CASE_CLIENT)).toBe(true);
      expect(answers(consentCase, visible)).toEqual(expected(consentCase));
    });

    it('grantedAccountIds over the stored consents gives exactly the accounts the table grants', async () => {
      const all = await repo.findConsentsByCustomers([customers.get(consentCase)!]);
      const mine = all.filter((c) => c.clientId === CASE_CLIENT);
      for (const permission of CONSENT_PERMISSIONS) {
        const granted = [...new Set(mine.flatMap((c) => grantedAccountIds(c, permission, caseAt(consentCase))))].sort();
        const accountScoped = (ACCOUNT_PERMISSIONS as readonly ConsentPermission[]).includes(permission);
        const accounts = gridOf(consentCase).filter(
          (q) => accountScoped && q.permission === permission && q.accountId !== undefined && q.expected,
        );
        expect(granted, permission).toEqual(accounts.map((q) => q.accountId).sort());
      }
    });
  });

  it("the database's CHECK on stored permissions accepts every permission of lib/consent.ts (a new enum value needs a migration) and nothing else", async () => {
    const everyPermission: ConsentCase = {
      name: 'every permission',
      consents: [
        { status: 'AWAITING_AUTHORISATION', permissions: [...CONSENT_PERMISSIONS], accounts: [], expiresIn: 1000 },
      ],
      grants: [],
    };
    const [{ consent: every, event }] = storedConsents(everyPermission, newId('cus')) as [
      ReturnType<typeof storedConsents>[number],
    ];
    expect((await repo.createConsent(every, event)).permissions).toEqual([...CONSENT_PERMISSIONS]);
    const odd = { ...every, id: newId('cns'), permissions: ['EVERYTHING' as ConsentPermission] };
    await expect(repo.createConsent(odd, { ...event, consentId: odd.id })).rejects.toThrow(/check constraint/i);
  });
});
