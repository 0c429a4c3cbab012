import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../lib/http-server.ts';
import { PLATFORM_PARTNER_CREDENTIALS, SANDBOX_CUSTOMERS } from '../../sandboxes/manifest.ts';
import { SANDBOX_SEED_FILE } from '../support/seed.ts';
import { loadIdentityConfig } from '../../subgraphs/identity/config.ts';
import { startIdentitySubgraph } from '../../subgraphs/identity/server.ts';
import { customerPrincipal, graphql, silentLogger } from './helpers.ts';

/**
 * The identity subgraph against the KYC sandbox, which validates every request against the
 * Onfido spec: through sandboxes/index.ts (startSandboxes) when it exists, else the Onfido
 * sandbox alone (sandboxes/onfido.ts). Skipped while neither is built; the fake Onfido in
 * helpers.ts covers the same ground meanwhile.
 */
const INDEX = fileURLToPath(new URL('../../sandboxes/index.ts', import.meta.url));
const ONFIDO = fileURLToPath(new URL('../../sandboxes/onfido.ts', import.meta.url));

interface Sandboxes {
  urls: { onfido: string };
  close(): Promise<void>;
}

async function startKycSandbox(): Promise<Sandboxes> {
  if (existsSync(INDEX)) {
    const mod = (await import(INDEX)) as {
      startSandboxes(opts: { ports: Record<string, number>; logger: typeof silentLogger }): Promise<Sandboxes>;
    };
    return mod.startSandboxes({ ports: { auth: 0, northwind: 0, rheinbank: 0, onfido: 0 }, logger: silentLogger });
  }
  const mod = (await import(ONFIDO)) as {
    startOnfido(opts: { port: number; logger: typeof silentLogger }): Promise<{ url: string; close(): Promise<void> }>;
  };
  const onfido = await mod.startOnfido({ port: 0, logger: silentLogger });
  return { urls: { onfido: onfido.url }, close: () => onfido.close() };
}

const EXPECTED_STATUS = {
  clear: 'APPROVED',
  consider: 'REVIEW_REQUIRED',
  in_progress: 'IN_PROGRESS',
  awaiting_applicant: 'AWAITING_APPLICANT',
} as const;

describe.skipIf(!existsSync(INDEX) && !existsSync(ONFIDO))('identity subgraph against the Onfido sandbox', () => {
  let sandboxes: Sandboxes;
  let server: RunningServer;

  beforeAll(async () => {
    sandboxes = await startKycSandbox();
    server = await startIdentitySubgraph(
      loadIdentityConfig({
        IDENTITY_PORT: '0',
        ONFIDO_URL: sandboxes.urls.onfido,
        ONFIDO_API_TOKEN: PLATFORM_PARTNER_CREDENTIALS.onfidoApiToken,
        SEED_FILE: SANDBOX_SEED_FILE,
        LOG_LEVEL: 'silent',
      }),
      { logger: silentLogger },
    );
  });
  afterAll(async () => {
    await server?.close();
    await sandboxes?.close();
  });

  it.each(SANDBOX_CUSTOMERS.map((c) => [c.displayName, c] as const))(
    '%s sees the KYC outcome and verified identity the manifest describes',
    async (_name, customer) => {
      const res = await graphql(
        server.url,
        '{ me { id legalName { givenName familyName } dateOfBirth address { town postcode country } kyc { status checks { id status reports { kind status } } } } }',
        { principal: customerPrincipal(customer.customerId) },
      );
      expect(res.errors).toBeUndefined();
      const me = res.data?.me as Record<string, any>;
      expect(me.id).toBe(customer.customerId);
      expect(me.kyc.status).toBe(customer.kycOutcome ? EXPECTED_STATUS[customer.kycOutcome] : 'NOT_STARTED');
      expect(me.kyc.checks.length > 0).toBe(customer.kycOutcome !== null);
      for (const check of me.kyc.checks) {
        expect(check.id).toMatch(/^kyc_[a-z2-7]{26}$/);
        expect(check.reports.length).toBeGreaterThan(0);
      }
      if (customer.legal) {
        expect(me.legalName).toEqual({ givenName: customer.legal.givenName, familyName: customer.legal.familyName });
        expect(me.dateOfBirth).toBe(customer.legal.dateOfBirth);
        expect(me.address).toEqual({
          town: customer.legal.address.town,
          postcode: customer.legal.address.postcode,
          country: customer.legal.address.country,
        });
      } else {
        expect(me.legalName).toBeNull();
      }
    },
  );
});
