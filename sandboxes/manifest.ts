/**
 * The sandbox world: who exists, which bank and KYC identities belong to whom, and which
 * client applications are registered. Every sandbox and every subgraph's sandbox seed reads
 * this one file, so the platform's own records (bank connections, KYC links, consents,
 * payments) line up with what the partner sandboxes serve. In production none of this is
 * used: bank connections come from real consent journeys and clients from registration.
 *
 * Partner-side details (account numbers, balances, thousands of transactions) are generated
 * deterministically by each sandbox from SANDBOX_SEED and these identities.
 */
import { DAY, HOUR, MINUTE } from './lib/clock.ts';

export const SANDBOX_SEED = 20261123;

export type Institution = 'northwind' | 'rheinbank';

export interface SandboxBankAccount {
  /** The bank's own account id (OBIE AccountId / Berlin Group resourceId). Never shown to clients. */
  bankAccountId: string;
  currency: 'GBP' | 'EUR';
  kind: 'current' | 'savings' | 'credit-card';
  name: string;
  /** Rough number of transactions the sandbox generates for the account. */
  transactionCount: number;
}

export interface SandboxCustomer {
  customerId: string;
  displayName: string;
  email: string;
  phone: string;
  createdAt: string;
  /** Applicant at the Onfido-style KYC sandbox; null when KYC was never started. */
  kycApplicantId: string | null;
  /** The outcome the KYC sandbox reports for this applicant's latest check. */
  kycOutcome: 'clear' | 'consider' | 'in_progress' | 'awaiting_applicant' | null;
  /** Verified identity the KYC provider holds for the applicant. */
  legal: {
    givenName: string;
    familyName: string;
    dateOfBirth: string;
    address: { buildingNumber: string; street: string; town: string; postcode: string; country: string };
  } | null;
  /** Connections to the sandbox banks. */
  banks: {
    /** OBIE bank: the PSU's authorised account-access-consent and the access token bound to it. */
    northwind?: { psuId: string; consentId: string; accessToken: string; accounts: SandboxBankAccount[] };
    /** Berlin Group bank: the PSU's valid AIS consent (Consent-ID header) and the bank's access token. */
    rheinbank?: { psuId: string; consentId: string; accessToken: string; accounts: SandboxBankAccount[] };
  };
}

export const SANDBOX_CUSTOMERS: SandboxCustomer[] = [
  {
    customerId: 'cus_u57fz5zj7ojayz6np3d6x6kon4',
    displayName: 'Alice',
    email: 'alice.carter@example.com',
    phone: '+447700900123',
    createdAt: '2024-03-14T09:30:00.000Z',
    kycApplicantId: '6f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f',
    kycOutcome: 'clear',
    legal: {
      givenName: 'Alice',
      familyName: 'Carter',
      dateOfBirth: '1988-07-21',
      address: { buildingNumber: '12', street: 'Chapel Road', town: 'London', postcode: 'N1 7GU', country: 'GBR' },
    },
    banks: {
      northwind: {
        psuId: 'nw-psu-1001',
        consentId: 'aac-7f3e9a10-0001',
        accessToken: 'nw-at-alice-6b1d0c3f9e2a4d5b8c7e',
        accounts: [
          {
            bankAccountId: '22289',
            currency: 'GBP',
            kind: 'current',
            name: 'Everyday Current',
            transactionCount: 2400,
          },
          { bankAccountId: '22290', currency: 'GBP', kind: 'savings', name: 'Rainy Day Saver', transactionCount: 120 },
          {
            bankAccountId: '22291',
            currency: 'GBP',
            kind: 'credit-card',
            name: 'Northwind Card',
            transactionCount: 600,
          },
        ],
      },
      rheinbank: {
        psuId: 'PSU-ALICE-7781',
        consentId: 'rb-consent-a1f0c9e2d8',
        accessToken: 'rb-at-alice-3c9f1e7a2b6d4f08',
        accounts: [
          {
            bankAccountId: '3dc3d5b3-7023-4848-9853-f5400a64e80f',
            currency: 'EUR',
            kind: 'current',
            name: 'Girokonto',
            transactionCount: 900,
          },
        ],
      },
    },
  },
  {
    customerId: 'cus_dlmblpad2mvahd62midhwuwg7j',
    displayName: 'Ben',
    email: 'ben.okafor@example.com',
    phone: '+447700900456',
    createdAt: '2025-01-08T14:05:00.000Z',
    kycApplicantId: '0b9a8c7d-6e5f-4a3b-9c2d-1e0f9a8b7c6d',
    kycOutcome: 'consider',
    legal: {
      givenName: 'Benjamin',
      familyName: 'Okafor',
      dateOfBirth: '1979-02-03',
      address: { buildingNumber: '4', street: 'Mill Lane', town: 'Leeds', postcode: 'LS1 4AB', country: 'GBR' },
    },
    banks: {
      northwind: {
        psuId: 'nw-psu-1002',
        consentId: 'aac-7f3e9a10-0002',
        accessToken: 'nw-at-ben-9d2e4f6a8b0c1d3e5f70',
        accounts: [
          { bankAccountId: '31044', currency: 'GBP', kind: 'current', name: 'Current Account', transactionCount: 1500 },
        ],
      },
    },
  },
  {
    customerId: 'cus_nhmbjwhl2n4f6c7hq5m2tv5mjg',
    displayName: 'Clara',
    email: 'clara.weber@example.de',
    phone: '+4915112345678',
    createdAt: '2025-06-30T08:00:00.000Z',
    kycApplicantId: '5e4d3c2b-1a09-4f8e-8d7c-6b5a4f3e2d1c',
    kycOutcome: 'in_progress',
    legal: {
      givenName: 'Clara',
      familyName: 'Weber',
      dateOfBirth: '1995-11-30',
      address: { buildingNumber: '8', street: 'Schillerstraße', town: 'Berlin', postcode: '10625', country: 'DEU' },
    },
    banks: {
      rheinbank: {
        psuId: 'PSU-CLARA-2290',
        consentId: 'rb-consent-c7b2e4a9f1',
        accessToken: 'rb-at-clara-8e2d6b4f0a9c1e37',
        accounts: [
          {
            bankAccountId: '8a2f6c1e-93d4-4b57-a0e8-2c6f1d9b7e43',
            currency: 'EUR',
            kind: 'current',
            name: 'Girokonto',
            transactionCount: 1100,
          },
          {
            bankAccountId: 'c41e7b92-5d3a-4f68-9b1c-7e2a0d5f8c36',
            currency: 'EUR',
            kind: 'savings',
            name: 'Tagesgeld',
            transactionCount: 60,
          },
        ],
      },
    },
  },
  {
    customerId: 'cus_spq3jpaalyvsxrc5cszoboegou',
    displayName: 'Dev',
    email: 'dev.patel@example.com',
    phone: '+447700900789',
    createdAt: '2026-10-02T17:45:00.000Z',
    kycApplicantId: null,
    kycOutcome: null,
    legal: null,
    banks: {},
  },
];

export interface SandboxClient {
  clientId: string;
  name: string;
  kind: 'FIRST_PARTY' | 'THIRD_PARTY' | 'STAFF' | 'MACHINE';
  /** Secret for the client_credentials grant at the sandbox authorization server. */
  clientSecret: string;
  /** Scopes the client may be granted. */
  allowedScopes: string[];
}

const CUSTOMER_SCOPES = [
  'accounts:read',
  'balances:read',
  'transactions:read',
  'payments:read',
  'payments:write',
  'identity:read',
  'pii:read',
  'consents:read',
  'consents:write',
];

export const SANDBOX_CLIENTS: SandboxClient[] = [
  {
    clientId: 'web-app',
    name: 'Platform web app',
    kind: 'FIRST_PARTY',
    clientSecret: 'sandbox-secret-web-app-0c6b2f9e',
    allowedScopes: CUSTOMER_SCOPES,
  },
  {
    clientId: 'mobile-app',
    name: 'Platform mobile app',
    kind: 'FIRST_PARTY',
    clientSecret: 'sandbox-secret-mobile-app-4e1a7d3c',
    allowedScopes: CUSTOMER_SCOPES,
  },
  {
    clientId: 'budgetly',
    name: 'Budgetly',
    kind: 'THIRD_PARTY',
    clientSecret: 'sandbox-secret-budgetly-9a2c5e8f',
    allowedScopes: ['accounts:read', 'balances:read', 'transactions:read', 'consents:read', 'consents:write'],
  },
  {
    clientId: 'taxpal',
    name: 'TaxPal',
    kind: 'THIRD_PARTY',
    clientSecret: 'sandbox-secret-taxpal-1f7b3d6a',
    allowedScopes: [
      'accounts:read',
      'transactions:read',
      'identity:read',
      'pii:read',
      'consents:read',
      'consents:write',
      'payments:read',
      'payments:write',
    ],
  },
  {
    clientId: 'ops-console',
    name: 'Operations console',
    kind: 'STAFF',
    clientSecret: 'sandbox-secret-ops-console-5d8e2a4b',
    allowedScopes: [
      'accounts:read',
      'balances:read',
      'transactions:read',
      'payments:read',
      'identity:read',
      'consents:read',
      'audit:read',
      // The operators' webhook inbox: listing, and replaying (which changes state, so it is not part of audit:read).
      'webhooks:read',
      'webhooks:replay',
    ],
  },
  {
    clientId: 'reconciler',
    name: 'Payments reconciler',
    kind: 'MACHINE',
    clientSecret: 'sandbox-secret-reconciler-7c0e9b1d',
    allowedScopes: ['payments:read'],
  },
];

/** Sandbox OAuth client the platform itself uses at the banks and the KYC provider. */
export const PLATFORM_PARTNER_CREDENTIALS = {
  /** Onfido API token (Authorization: Token token=...). */
  onfidoApiToken: 'api_sandbox.onfido-platform-token-2f8d1c7e',
  /** OBIE PIS client credentials access token at northwind. */
  northwindPisToken: 'nw-pis-platform-5a3e8c1f7b2d9e04',
};

export function sandboxCustomer(customerId: string): SandboxCustomer | undefined {
  return SANDBOX_CUSTOMERS.find((c) => c.customerId === customerId);
}

/**
 * The seeded payments: what Alice and Ben paid from their Northwind current accounts over the
 * last four months, one entry each, walking the whole lifecycle. sandboxes/seed.ts turns every
 * entry into both sides of the same payment, so they agree by construction: the sandbox bank's
 * own records (a domestic payment consent and, once submitted, a domestic payment with its status
 * history and settlement time: the `northwind` part of seed.json, loaded by the bank at start)
 * and the platform ledger's row with the bank's ids (the `payments` part, which the payments
 * subgraph seeds from SEED_FILE). Times are relative to the seed anchor (lib/seed.ts seedAnchor:
 * the start of the hour the platform starts in), so the history is always the months before
 * "now"; the bank's API cannot create payments in the past, which is why they are loaded.
 */
export type SandboxPaymentOutcome =
  | 'SETTLED'
  | 'REFUNDED'
  | 'REJECTED'
  | 'FAILED'
  | 'CANCELLED'
  | 'ACCEPTED'
  | 'PENDING'
  | 'UNKNOWN'
  | 'AWAITING_AUTHORISATION';

export interface SandboxPayment {
  customerId: string;
  /** The debtor: one of the customer's Northwind accounts (bankAccountId). */
  debtorBankAccountId: string;
  creditor: { name: string; scheme: 'SORT_CODE_ACCOUNT_NUMBER' | 'IBAN'; identification: string };
  /** GBP, two decimals. */
  amount: string;
  /** The remittance reference (UK Faster Payments: at most 18 characters), or null. */
  reference: string | null;
  /** How long before the seed anchor the customer asked for it (ms); seed.ts adds a little jitter. */
  ago: number;
  /**
   * Where the payment stands at the anchor (sandboxes/seed.ts walks the lifecycle to it):
   * SETTLED, REFUNDED (settled, then refunded by the creditor), REJECTED (the bank refused it for
   * insufficient funds, AM04), FAILED (the bank blocked it after accepting it), CANCELLED (by the
   * customer before authorising), ACCEPTED or PENDING (settlement in process at the bank),
   * UNKNOWN (the bank created the payment but its answer to the submission was lost; the ledger
   * learns it by asking again under the same idempotency key), AWAITING_AUTHORISATION.
   */
  outcome: SandboxPaymentOutcome;
}

const CREDITORS = {
  landlord: { name: 'Harbour Lettings Ltd', scheme: 'SORT_CODE_ACCOUNT_NUMBER', identification: '20000055779911' },
  water: { name: 'Thames Valley Water', scheme: 'SORT_CODE_ACCOUNT_NUMBER', identification: '40051231548877' },
  gadgets: { name: 'Gadget Store UK', scheme: 'IBAN', identification: 'GB29NWBK60161331926819' },
  cottage: { name: 'Cornish Cottages', scheme: 'SORT_CODE_ACCOUNT_NUMBER', identification: '30964712345678' },
  carHire: { name: 'Car Hire Direct', scheme: 'SORT_CODE_ACCOUNT_NUMBER', identification: '11223344556677' },
  friend: { name: 'Sam Ellis', scheme: 'SORT_CODE_ACCOUNT_NUMBER', identification: '77110022334455' },
  energy: { name: 'Bright Energy', scheme: 'IBAN', identification: 'GB82WEST12345698765432' },
  council: { name: 'Leeds City Council', scheme: 'SORT_CODE_ACCOUNT_NUMBER', identification: '52100987654321' },
  gym: { name: 'Northside Gym', scheme: 'SORT_CODE_ACCOUNT_NUMBER', identification: '09012712345612' },
} satisfies Record<string, SandboxPayment['creditor']>;

const ALICE = { customerId: 'cus_u57fz5zj7ojayz6np3d6x6kon4', debtorBankAccountId: '22289' };
const BEN = { customerId: 'cus_dlmblpad2mvahd62midhwuwg7j', debtorBankAccountId: '31044' };
const { landlord, water, gadgets, cottage, carHire, friend, energy, council, gym } = CREDITORS;

export const SANDBOX_PAYMENTS: SandboxPayment[] = [
  { ...ALICE, outcome: 'SETTLED', ago: 118 * DAY, creditor: landlord, amount: '950.00', reference: 'RENT FLAT 3 AUG' },
  { ...ALICE, outcome: 'SETTLED', ago: 101 * DAY, creditor: water, amount: '42.17', reference: 'WTR 88213004' },
  { ...ALICE, outcome: 'REFUNDED', ago: 87 * DAY, creditor: gadgets, amount: '249.99', reference: 'ORDER 55120' },
  { ...ALICE, outcome: 'SETTLED', ago: 88 * DAY, creditor: landlord, amount: '950.00', reference: 'RENT FLAT 3 SEP' },
  { ...ALICE, outcome: 'REJECTED', ago: 71 * DAY, creditor: cottage, amount: '1200.00', reference: 'BOOKING CC-4471' },
  { ...ALICE, outcome: 'CANCELLED', ago: 63 * DAY, creditor: carHire, amount: '180.00', reference: 'HIRE 20931' },
  { ...ALICE, outcome: 'SETTLED', ago: 58 * DAY, creditor: landlord, amount: '950.00', reference: 'RENT FLAT 3 OCT' },
  { ...ALICE, outcome: 'FAILED', ago: 44 * DAY, creditor: friend, amount: '60.00', reference: 'CONCERT TICKETS' },
  { ...ALICE, outcome: 'SETTLED', ago: 28 * DAY, creditor: landlord, amount: '950.00', reference: 'RENT FLAT 3 NOV' },
  { ...ALICE, outcome: 'ACCEPTED', ago: 2 * DAY, creditor: energy, amount: '86.40', reference: 'ACC 7781-22' },
  { ...ALICE, outcome: 'PENDING', ago: 5 * HOUR, creditor: friend, amount: '25.50', reference: 'PIZZA' },
  { ...ALICE, outcome: 'UNKNOWN', ago: 3 * HOUR, creditor: gadgets, amount: '19.99', reference: 'ORDER 55871' },
  {
    ...ALICE,
    outcome: 'AWAITING_AUTHORISATION',
    ago: 20 * MINUTE,
    creditor: water,
    amount: '42.17',
    reference: 'WTR 88213004',
  },
  { ...BEN, outcome: 'SETTLED', ago: 110 * DAY, creditor: council, amount: '168.00', reference: 'CTAX 4410092' },
  { ...BEN, outcome: 'SETTLED', ago: 80 * DAY, creditor: council, amount: '168.00', reference: 'CTAX 4410092' },
  { ...BEN, outcome: 'CANCELLED', ago: 66 * DAY, creditor: gym, amount: '35.00', reference: 'MEMBER 1182' },
  { ...BEN, outcome: 'REFUNDED', ago: 52 * DAY, creditor: gadgets, amount: '74.95', reference: 'ORDER 60231' },
  { ...BEN, outcome: 'SETTLED', ago: 49 * DAY, creditor: council, amount: '168.00', reference: 'CTAX 4410092' },
  { ...BEN, outcome: 'REJECTED', ago: 30 * DAY, creditor: cottage, amount: '640.00', reference: 'BOOKING CC-5120' },
  { ...BEN, outcome: 'FAILED', ago: 12 * DAY, creditor: friend, amount: '15.00', reference: null },
  { ...BEN, outcome: 'ACCEPTED', ago: 1 * DAY, creditor: council, amount: '168.00', reference: 'CTAX 4410092' },
  { ...BEN, outcome: 'UNKNOWN', ago: 90 * MINUTE, creditor: energy, amount: '51.20', reference: 'ACC 9920-01' },
  {
    ...BEN,
    outcome: 'AWAITING_AUTHORISATION',
    ago: 10 * MINUTE,
    creditor: gym,
    amount: '35.00',
    reference: 'MEMBER 1182',
  },
];
