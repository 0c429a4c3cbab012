import type { JsonWebKey } from 'node:crypto';
import type { Logger } from '../../lib/logger.ts';
import { SANDBOX_SEED } from '../manifest.ts';
import { SECOND_MS, systemClock, type Now } from '../lib/clock.ts';
import { createJwsSigner } from '../lib/jws.ts';
import { createLedgerStore, type LedgerStore } from '../lib/ledger.ts';
import { optionalPartnerSpec } from '../lib/openapi.ts';
import { startSandboxServer, type SandboxServer } from '../lib/server.ts';
import { northwindAisRoutes, type AisConsentStatus, type NorthwindAisState } from './ais.ts';
import { OBIE_AIS_BASE, OBIE_PIS_BASE, northwindDialect } from './dialect.ts';
import {
  authoriseConsent,
  northwindPisRoutes,
  rejectConsent,
  renderConsent,
  type DomesticPayment,
  type DomesticPaymentConsent,
  type NorthwindPisState,
  type PisTimings,
} from './pis.ts';

/**
 * Northwind: an Open Banking UK 4.0 bank (Account and Transaction API + Payment Initiation API).
 * See ais.ts and pis.ts for the routes and exactly how data is encoded.
 */
export interface NorthwindOptions {
  port: number;
  host?: string;
  logger: Logger;
  now?: Now;
  /** Defaults to SANDBOX_SEED from the manifest. */
  seed?: number;
  /** Time the generated history ends at (its "today"); defaults to now() at start. */
  anchor?: Date;
  /** Transactions per page (default 100). */
  pageSize?: number;
  /** Payment status timings (default settlement 10 s, credited 60 s after creation). */
  paymentTimings?: Partial<PisTimings>;
  /** Enables /__sandbox/* and /sandbox/* helper routes (default true). */
  adminRoutes?: boolean;
}

export interface RunningNorthwind extends SandboxServer {
  basePaths: { ais: string; pis: string };
  ledger: LedgerStore;
  /** The PSU authorises a payment consent at the bank (what POST /sandbox/.../authorise does). */
  authorisePaymentConsent(
    consentId: string,
    who?: { customerId?: string; psuId?: string; debtorAccountId?: string },
  ): Record<string, unknown>;
  rejectPaymentConsent(consentId: string): Record<string, unknown>;
  paymentConsents(): DomesticPaymentConsent[];
  payments(): DomesticPayment[];
  /** Changes the status of a PSU's account-access-consent (non-AUTH -> AIS calls answer 403 U028). */
  setAccountAccessConsentStatus(psuId: string, status: AisConsentStatus): void;
  /** Makes an AIS access token unknown (-> 401), e.g. to exercise token refresh handling. */
  revokeAccessToken(token: string): void;
  /** Public key of the x-jws-signature on answers. */
  signingJwk: JsonWebKey;
}

export async function startNorthwind(options: NorthwindOptions): Promise<RunningNorthwind> {
  const now = options.now ?? systemClock;
  const seed = options.seed ?? SANDBOX_SEED;
  const ledger = createLedgerStore('northwind', { seed, anchor: options.anchor ?? now() });
  const signer = createJwsSigner('northwind-sandbox-1');
  const ais: NorthwindAisState = {
    seed,
    ledger,
    pageSize: options.pageSize ?? 100,
    spec: optionalPartnerSpec('obie-ais'),
    consentStatus: new Map(),
    revokedTokens: new Set(),
  };
  const pis: NorthwindPisState = {
    seed,
    ledger,
    spec: optionalPartnerSpec('obie-pis'),
    timings: {
      settlementMs: options.paymentTimings?.settlementMs ?? 10 * SECOND_MS,
      creditedMs: options.paymentTimings?.creditedMs ?? 60 * SECOND_MS,
    },
    now,
    consents: new Map(),
    payments: new Map(),
    idempotency: new Map(),
  };
  if (pis.timings.creditedMs <= pis.timings.settlementMs)
    throw new RangeError('paymentTimings.creditedMs must be greater than settlementMs');

  const server = await startSandboxServer({
    name: 'northwind',
    port: options.port,
    ...(options.host ? { host: options.host } : {}),
    logger: options.logger,
    now,
    routes: [
      ...northwindAisRoutes(ais).map((r) => ({ basePath: OBIE_AIS_BASE, ...r })),
      ...northwindPisRoutes(pis).map((r) => ({ basePath: OBIE_PIS_BASE, ...r })),
    ],
    dialect: northwindDialect(signer),
    ...(options.adminRoutes !== undefined ? { adminRoutes: options.adminRoutes } : {}),
  });

  return {
    ...server,
    basePaths: { ais: OBIE_AIS_BASE, pis: OBIE_PIS_BASE },
    ledger,
    authorisePaymentConsent: (consentId, who) => renderConsent(pis, authoriseConsent(pis, consentId, who), server.url),
    rejectPaymentConsent: (consentId) => renderConsent(pis, rejectConsent(pis, consentId), server.url),
    paymentConsents: () => [...pis.consents.values()],
    payments: () => [...pis.payments.values()],
    setAccountAccessConsentStatus: (psuId, status) => {
      ais.consentStatus.set(psuId, status);
    },
    revokeAccessToken: (token) => {
      ais.revokedTokens.add(token);
    },
    signingJwk: signer.publicJwk,
  };
}
