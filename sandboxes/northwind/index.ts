import type { JsonWebKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Logger } from '../../lib/logger.ts';
import { seedAnchor } from '../../lib/seed.ts';
import { SANDBOX_SEED } from '../manifest.ts';
import { SANDBOX_SEED_FILE } from '../seed.ts';
import { SECOND_MS, systemClock, type Now } from '../lib/clock.ts';
import { createJwsSigner } from '../lib/jws.ts';
import { createLedgerStore, type LedgerStore } from '../lib/ledger.ts';
import { optionalPartnerSpec } from '../lib/openapi.ts';
import { startSandboxServer, type SandboxServer } from '../lib/server.ts';
import {
  standardWebhooksSigner,
  startPump,
  webhookAdminRoutes,
  WebhookOutbox,
  type Delivery,
} from '../lib/webhooks.ts';
import { queueConsentEvent, queuePaymentEvents } from './events.ts';
import { authorisationUrl, scaRoutes } from './sca.ts';
import {
  settlementCsv,
  settlementRoutes,
  settlementRows,
  type SettlementBreak,
  type SettlementRow,
} from './settlement.ts';
import { northwindAisRoutes, type AisConsentStatus, type NorthwindAisState } from './ais.ts';
import { loadSeededPayments, parseSeededRecords, type NorthwindSeededRecords } from './seeded.ts';
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
  /** Where payment and consent events go (Standard Webhooks); settable later with webhooks.configure. */
  webhooks?: NorthwindWebhookConfig;
  /**
   * The seeded world's payments, loaded at start as the bank's own records (seeded.ts), placed
   * relative to the anchor's hour (lib/seed.ts seedAnchor). Default: those of the published seed,
   * sandboxes/seed.json, which the payments subgraph seeds its ledger from; null: none.
   */
  seededPayments?: NorthwindSeededRecords | null;
}

/** The bank's records in the published seed (sandboxes/seed.json), the file the subgraphs read as SEED_FILE. */
export function publishedSeededPayments(file = SANDBOX_SEED_FILE): NorthwindSeededRecords {
  return parseSeededRecords(JSON.parse(readFileSync(file, 'utf8')));
}

export interface NorthwindWebhookConfig {
  /** Receiver URL (the payments subgraph's webhook route); undefined: no events. */
  url?: string | undefined;
  /** whsec_ secrets, current first; during a rotation also the previous one (each delivery carries both signatures). */
  secrets?: readonly string[];
  /** Attempts per event before it is given up (default 6); retries back off 5 s, 20 s, 80 s... on the sandbox clock. */
  maxAttempts?: number;
  /** Real-time interval of the pump that queues due events and sends due attempts (default 500 ms; 0: only flush()). */
  pumpIntervalMs?: number;
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
  /** The PSU's authorisation page of a consent (what x-sandbox-authorisation-url says). */
  authorisationUrl(consentId: string): string;
  webhooks: {
    /** Points the events at a receiver (e.g. once the payments subgraph's port is known). */
    configure(config: { url: string | undefined; secrets: readonly string[] }): void;
    /** Queues the events the sandbox clock has reached and sends every attempt due now; resolves when done. */
    flush(): Promise<void>;
    deliveries(): Delivery[];
    /** Test hooks: deliver each of the next n events twice; hold the next n and deliver them newest first. */
    duplicateNext(count: number): void;
    reorderNext(count: number): void;
  };
  settlement: {
    rows(date: string): SettlementRow[];
    csv(date: string): string;
    addBreak(date: string, brk: SettlementBreak): void;
    clearBreaks(date?: string): void;
  };
}

export async function startNorthwind(options: NorthwindOptions): Promise<RunningNorthwind> {
  const now = options.now ?? systemClock;
  const seed = options.seed ?? SANDBOX_SEED;
  const anchor = options.anchor ?? now();
  const ledger = createLedgerStore('northwind', { seed, anchor });
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
    eventsQueued: new Map(),
    settlementBreaks: new Map(),
    extraRows: 0,
    scaEnabled: options.adminRoutes ?? true,
  };
  const outbox = new WebhookOutbox({
    name: 'northwind',
    now,
    logger: options.logger,
    ...(options.webhooks?.maxAttempts ? { maxAttempts: options.webhooks.maxAttempts } : {}),
  });
  const configureWebhooks = (config: { url?: string | undefined; secrets?: readonly string[] | undefined }) => {
    const secrets = config.secrets ?? [];
    outbox.configure({
      url: config.url,
      signer: config.url && secrets.length > 0 ? standardWebhooksSigner(secrets) : undefined,
    });
  };
  configureWebhooks(options.webhooks ?? {});
  pis.onConsentDecision = (consent) => queueConsentEvent(pis, outbox, consent);
  pis.onPaymentCreated = () => queuePaymentEvents(pis, outbox);
  const flush = async () => {
    queuePaymentEvents(pis, outbox);
    await outbox.deliverDue();
  };
  if (pis.timings.creditedMs <= pis.timings.settlementMs)
    throw new RangeError('paymentTimings.creditedMs must be greater than settlementMs');
  // Before the server listens and before any webhook hook can see them: loading announces nothing.
  const seeded = options.seededPayments === undefined ? publishedSeededPayments() : options.seededPayments;
  if (seeded) {
    const loaded = loadSeededPayments(pis, seeded, seedAnchor(anchor));
    options.logger.debug(loaded, 'northwind: seeded payments loaded');
  }

  const server = await startSandboxServer({
    name: 'northwind',
    port: options.port,
    ...(options.host ? { host: options.host } : {}),
    logger: options.logger,
    now,
    routes: [
      ...northwindAisRoutes(ais).map((r) => ({ basePath: OBIE_AIS_BASE, ...r })),
      ...northwindPisRoutes(pis).map((r) => ({ basePath: OBIE_PIS_BASE, ...r })),
      ...scaRoutes(pis),
      ...settlementRoutes(pis),
      ...webhookAdminRoutes(outbox, flush),
    ],
    dialect: northwindDialect(signer),
    ...(options.adminRoutes !== undefined ? { adminRoutes: options.adminRoutes } : {}),
  });

  const pumpMs = options.webhooks?.pumpIntervalMs ?? 500;
  const pump = pumpMs > 0 ? startPump(flush, pumpMs, options.logger) : undefined;

  return {
    ...server,
    async close() {
      await pump?.stop();
      await server.close();
    },
    authorisationUrl: (consentId) => authorisationUrl(server.url, consentId),
    webhooks: {
      configure: configureWebhooks,
      flush,
      deliveries: () => outbox.deliveries(),
      duplicateNext: (n) => outbox.duplicateNext(n),
      reorderNext: (n) => outbox.reorderNext(n),
    },
    settlement: {
      rows: (date) => settlementRows(pis, date),
      csv: (date) => settlementCsv(settlementRows(pis, date)),
      addBreak: (date, brk) => {
        pis.settlementBreaks.set(date, [...(pis.settlementBreaks.get(date) ?? []), brk]);
      },
      clearBreaks: (date) => {
        if (date) pis.settlementBreaks.delete(date);
        else pis.settlementBreaks.clear();
      },
    },
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
