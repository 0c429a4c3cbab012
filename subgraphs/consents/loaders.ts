import DataLoader from 'dataloader';
import type { ClientAppModel, ConsentModel, ConsentEventModel } from './domain/model.ts';
import type { ConsentReadPort, ConsentRepository } from './domain/ports.ts';

/**
 * Per-request DataLoaders: consents by id and by customer, their events, and client apps, each
 * fetched with one query per batch however many entity references or nested fields a gateway
 * request resolves. Created per request, so nothing is cached across callers.
 */
export interface ConsentLoaders extends ConsentReadPort {
  consentById: DataLoader<string, ConsentModel | null>;
  consentsByCustomer: DataLoader<string, ConsentModel[]>;
  eventsByConsent: DataLoader<string, ConsentEventModel[]>;
  clientById: DataLoader<string, ClientAppModel | null>;
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const group = groups.get(k);
    if (group) group.push(item);
    else groups.set(k, [item]);
  }
  return groups;
}

export function createConsentLoaders(repo: ConsentRepository): ConsentLoaders {
  const consentById = new DataLoader<string, ConsentModel | null>(async (ids) => {
    const byId = new Map((await repo.findConsentsByIds(ids)).map((c) => [c.id, c]));
    return ids.map((id) => byId.get(id) ?? null);
  });
  const consentsByCustomer = new DataLoader<string, ConsentModel[]>(async (customerIds) => {
    const consents = await repo.findConsentsByCustomers(customerIds);
    for (const consent of consents) consentById.prime(consent.id, consent);
    const groups = groupBy(consents, (c) => c.customerId);
    return customerIds.map((id) => groups.get(id) ?? []);
  });
  const eventsByConsent = new DataLoader<string, ConsentEventModel[]>(async (consentIds) => {
    const groups = groupBy(await repo.findEvents(consentIds), (e) => e.consentId);
    return consentIds.map((id) => groups.get(id) ?? []);
  });
  const clientById = new DataLoader<string, ClientAppModel | null>(async (ids) => {
    const byId = new Map((await repo.findClients(ids)).map((c) => [c.id, c]));
    return ids.map((id) => byId.get(id) ?? null);
  });

  return {
    consentById,
    consentsByCustomer,
    eventsByConsent,
    clientById,
    consent: (id) => consentById.load(id),
    consentsOfCustomer: (customerId) => consentsByCustomer.load(customerId),
    events: (consentId) => eventsByConsent.load(consentId),
    client: (id) => clientById.load(id),
    forget(consentId) {
      consentById.clear(consentId);
      eventsByConsent.clear(consentId);
      consentsByCustomer.clearAll();
    },
  };
}
