import type { Database, Queryable } from '../../../lib/database.ts';
import { bankAccountId, derivedId } from '../../../lib/ids.ts';
import type { Seed, SeedInstitution } from '../../../lib/seed.ts';
import { actor, MAX_CONSENT_MS, type ConsentModel, type ConsentStatus } from '../domain/model.ts';
import { insertEvent, writeConsent } from './repository.ts';

/**
 * Sandbox seed of the platform-owned consent records, derived from the seed data (SEED_FILE,
 * lib/seed.ts). Applied only when SEED_FILE is set (never in production), idempotently: clients and consents are
 * inserted with ON CONFLICT DO NOTHING under stable ids, and a consent's accounts and events are written only
 * by the transaction that inserted the consent, so restarts and replicas starting together
 * never duplicate anything. Times are relative to the first start (a persistent PGLITE_DIR
 * keeps its original timeline, so the seeded AUTHORISED consent eventually expires, as a real
 * one would).
 */

const DAY = 24 * 60 * 60 * 1000;
const MINUTE = 60 * 1000;

/** Stable ids of the seeded consents, so tests and docs can name them. */
export const SANDBOX_CONSENT_IDS = {
  aliceBudgetlyAuthorised: derivedId('cns', 'sandbox-consents', 'alice', 'budgetly', 'authorised'),
  aliceTaxpalRevoked: derivedId('cns', 'sandbox-consents', 'alice', 'taxpal', 'revoked'),
  benBudgetlyAwaiting: derivedId('cns', 'sandbox-consents', 'ben', 'budgetly', 'awaiting'),
  claraBudgetlyExpired: derivedId('cns', 'sandbox-consents', 'clara', 'budgetly', 'expired'),
} as const;

function customerId(seed: Seed, displayName: string): string {
  const customer = seed.customers.find((c) => c.displayName === displayName);
  if (!customer) throw new Error(`the seed has no customer ${displayName}`);
  return customer.customerId;
}

function accountOf(
  seed: Seed,
  displayName: string,
  institution: SeedInstitution,
  index: number,
  secret: string,
): string {
  const account = seed.customers.find((c) => c.displayName === displayName)?.banks[institution]?.accounts[index];
  if (!account) throw new Error(`the seed has no ${institution} account #${index} for ${displayName}`);
  return bankAccountId(secret, institution, account.bankAccountId);
}

/** A consent of the sandbox world with the evidence trail that led to its status. */
interface SeedConsent extends ConsentModel {
  events: { status: ConsentStatus; at: Date; actor: string }[];
}

export function sandboxConsents(seed: Seed, idHashSecret: string, now: Date): SeedConsent[] {
  const ago = (ms: number) => new Date(now.getTime() - ms);
  const alice = customerId(seed, 'Alice');
  const ben = customerId(seed, 'Ben');
  const clara = customerId(seed, 'Clara');

  const aliceBudgetlyCreated = ago(14 * DAY);
  const aliceBudgetlyAuthorised = new Date(aliceBudgetlyCreated.getTime() + 4 * MINUTE);
  const aliceTaxpalCreated = ago(60 * DAY);
  const aliceTaxpalAuthorised = new Date(aliceTaxpalCreated.getTime() + 2 * MINUTE);
  const aliceTaxpalRevoked = ago(21 * DAY);
  const benCreated = ago(2 * 60 * MINUTE);
  const claraCreated = ago(120 * DAY);
  const claraAuthorised = new Date(claraCreated.getTime() + 7 * MINUTE);
  const claraExpires = new Date(claraCreated.getTime() + MAX_CONSENT_MS);

  return [
    {
      id: SANDBOX_CONSENT_IDS.aliceBudgetlyAuthorised,
      customerId: alice,
      clientId: 'budgetly',
      status: 'AUTHORISED',
      permissions: ['ACCOUNTS', 'BALANCES', 'TRANSACTIONS'],
      accountIds: [accountOf(seed, 'Alice', 'northwind', 0, idHashSecret)],
      createdAt: aliceBudgetlyCreated,
      expiresAt: new Date(aliceBudgetlyCreated.getTime() + MAX_CONSENT_MS),
      authorisedAt: aliceBudgetlyAuthorised,
      rejectedAt: null,
      revokedAt: null,
      events: [
        { status: 'AWAITING_AUTHORISATION', at: aliceBudgetlyCreated, actor: actor.client('budgetly') },
        { status: 'AUTHORISED', at: aliceBudgetlyAuthorised, actor: actor.customer(alice) },
      ],
    },
    {
      id: SANDBOX_CONSENT_IDS.aliceTaxpalRevoked,
      customerId: alice,
      clientId: 'taxpal',
      status: 'REVOKED',
      permissions: ['ACCOUNTS', 'TRANSACTIONS', 'IDENTITY'],
      accountIds: [
        accountOf(seed, 'Alice', 'northwind', 0, idHashSecret),
        accountOf(seed, 'Alice', 'rheinbank', 0, idHashSecret),
      ],
      createdAt: aliceTaxpalCreated,
      expiresAt: new Date(aliceTaxpalCreated.getTime() + MAX_CONSENT_MS),
      authorisedAt: aliceTaxpalAuthorised,
      rejectedAt: null,
      revokedAt: aliceTaxpalRevoked,
      events: [
        { status: 'AWAITING_AUTHORISATION', at: aliceTaxpalCreated, actor: actor.client('taxpal') },
        { status: 'AUTHORISED', at: aliceTaxpalAuthorised, actor: actor.customer(alice) },
        { status: 'REVOKED', at: aliceTaxpalRevoked, actor: actor.customer(alice) },
      ],
    },
    {
      id: SANDBOX_CONSENT_IDS.benBudgetlyAwaiting,
      customerId: ben,
      clientId: 'budgetly',
      status: 'AWAITING_AUTHORISATION',
      permissions: ['ACCOUNTS', 'BALANCES'],
      accountIds: [],
      createdAt: benCreated,
      expiresAt: new Date(benCreated.getTime() + MAX_CONSENT_MS),
      authorisedAt: null,
      rejectedAt: null,
      revokedAt: null,
      events: [{ status: 'AWAITING_AUTHORISATION', at: benCreated, actor: actor.client('budgetly') }],
    },
    {
      id: SANDBOX_CONSENT_IDS.claraBudgetlyExpired,
      customerId: clara,
      clientId: 'budgetly',
      status: 'EXPIRED',
      permissions: ['ACCOUNTS', 'BALANCES', 'TRANSACTIONS'],
      accountIds: [accountOf(seed, 'Clara', 'rheinbank', 0, idHashSecret)],
      createdAt: claraCreated,
      expiresAt: claraExpires,
      authorisedAt: claraAuthorised,
      rejectedAt: null,
      revokedAt: null,
      events: [
        { status: 'AWAITING_AUTHORISATION', at: claraCreated, actor: actor.client('budgetly') },
        { status: 'AUTHORISED', at: claraAuthorised, actor: actor.customer(clara) },
        { status: 'EXPIRED', at: claraExpires, actor: actor.system },
      ],
    },
  ];
}

/** Registers the seed's client apps. Every profile needs a client registry; only the sandbox takes it from the seed. */
export async function seedClients(db: Queryable, seed: Seed): Promise<void> {
  for (const client of seed.clients) {
    await db.query(`INSERT INTO client_apps (id, name, kind) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING`, [
      client.clientId,
      client.name,
      client.kind,
    ]);
  }
}

/** Writes the seed's client apps and consents (what is already there is left alone). */
export async function applySeed(db: Database, seed: Seed, opts: { idHashSecret: string; now: Date }): Promise<void> {
  await seedClients(db, seed);
  for (const consent of sandboxConsents(seed, opts.idHashSecret, opts.now)) {
    await db.transaction(async (tx) => {
      if (!(await writeConsent(tx, consent, { ifAbsent: true }))) return;
      for (const event of consent.events) {
        await insertEvent(tx, {
          consentId: consent.id,
          status: event.status,
          at: event.at,
          actor: event.actor,
          requestId: null,
        });
      }
    });
  }
}
