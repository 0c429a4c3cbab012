import { ConfigError } from '../lib/config.ts';
import { DEFAULT_SANDBOX_PORTS, type SandboxName } from './config.ts';
import type { Logger } from '../lib/logger.ts';
import { SANDBOX_SEED } from './manifest.ts';
import { startAuthServer, type RunningAuthServer } from './auth-server.ts';
import { systemClock, type Now } from './lib/clock.ts';
import {
  partnerSpecsNotice,
  partnerSpecsProblem,
  partnerSpecsStatus,
  type PartnerSpecsStatus,
} from './lib/partner-specs.ts';
import { startNorthwind, type RunningNorthwind } from './northwind/index.ts';
import { startOnfido, type RunningOnfido } from './onfido.ts';
import { startRheinbank, type RunningRheinbank } from './rheinbank.ts';

/**
 * Starts every partner sandbox: the OAuth authorization server, Northwind (OBIE 4.0 bank),
 * Rheinbank (Berlin Group bank) and Onfido (KYC). `npm start` and the integration tests use it;
 * `sandboxes/main.ts` runs it standalone.
 *
 *   const sandboxes = await startSandboxes({ ports: 0, logger, now: clock.now });
 *   sandboxes.urls.northwind  // http://127.0.0.1:<port> (server root; OBIE paths under /open-banking/v4.0/{aisp,pisp})
 *   await sandboxes.close();
 */
export { DEFAULT_SANDBOX_PORTS, type SandboxName } from './config.ts';

export interface SandboxesOptions {
  /** Port per sandbox (0 = any free port), or one number for all (use 0). Defaults: 4100-4103. */
  ports?: number | Partial<Record<SandboxName, number>>;
  host?: string;
  logger: Logger;
  now?: Now;
  /** Defaults to SANDBOX_SEED from the manifest. */
  seed?: number;
  /** Enables the /__sandbox/* admin routes and sandbox-only helpers (default true). */
  adminRoutes?: boolean;
  auth?: { issuer?: string; audience?: string; tokenTtlSeconds?: number };
  northwind?: {
    pageSize?: number;
    paymentTimings?: { settlementMs?: number; creditedMs?: number };
    /**
     * Payment and consent events to the platform (Standard Webhooks); also settable later:
     * northwind.webhooks.configure.
     */
    webhooks?: import('./northwind/index.ts').NorthwindWebhookConfig;
  };
  rheinbank?: { pageSize?: number };
  onfido?: {
    checkCompletionMs?: number;
    /** Check and report events to the platform (X-SHA2-Signature); also settable later: onfido.webhooks.configure. */
    webhooks?: import('./onfido.ts').OnfidoWebhookConfig;
  };
}

export interface SandboxUrls {
  /** Authorization server root = token issuer (unless auth.issuer overrides it). */
  auth: string;
  /** Server roots. */
  northwind: string;
  rheinbank: string;
  onfido: string;
  /** API bases, for convenience. */
  northwindAis: string;
  northwindPis: string;
  rheinbankPsd2: string;
  onfidoApi: string;
  jwks: string;
}

export interface RunningSandboxes {
  auth: RunningAuthServer;
  northwind: RunningNorthwind;
  rheinbank: RunningRheinbank;
  onfido: RunningOnfido;
  urls: SandboxUrls;
  /** Which partner specs were found (PARTNER_SPECS_DIR): their exchanges are validated; the others are not. */
  partnerSpecs: PartnerSpecsStatus;
  /** Clears injected faults and recorded requests on every sandbox. */
  reset(): void;
  close(): Promise<void>;
}

export async function startSandboxes(options: SandboxesOptions): Promise<RunningSandboxes> {
  const now = options.now ?? systemClock;
  const seed = options.seed ?? SANDBOX_SEED;
  const port = (name: SandboxName): number =>
    typeof options.ports === 'number' ? options.ports : (options.ports?.[name] ?? DEFAULT_SANDBOX_PORTS[name]);
  const common = {
    logger: options.logger,
    now,
    ...(options.host ? { host: options.host } : {}),
    ...(options.adminRoutes !== undefined ? { adminRoutes: options.adminRoutes } : {}),
  };
  // One anchor for both banks, so their histories end at the same instant.
  const anchor = now();
  // The partners' specs switch on the validation of every exchange. Without them the sandboxes
  // still answer (a bare clone works) and say once what is skipped; an explicit
  // PARTNER_SPECS_DIR that lacks one is a mistake to report, not to run around.
  const partnerSpecs = partnerSpecsStatus();
  const specsProblem = partnerSpecsProblem(partnerSpecs);
  if (specsProblem) throw new ConfigError([specsProblem]);
  const specsNotice = partnerSpecsNotice(partnerSpecs);
  if (specsNotice)
    options.logger.warn({ partnerSpecsDir: partnerSpecs.dir, missing: partnerSpecs.missing }, specsNotice);

  const started: Array<{ close(): Promise<void> }> = [];
  const track = <T extends { close(): Promise<void> }>(p: Promise<T>): Promise<T> =>
    p.then((s) => {
      started.push(s);
      return s;
    });
  try {
    const [auth, northwind, rheinbank, onfido] = await Promise.all([
      track(startAuthServer({ ...common, port: port('auth'), ...options.auth })),
      track(startNorthwind({ ...common, port: port('northwind'), seed, anchor, ...options.northwind })),
      track(startRheinbank({ ...common, port: port('rheinbank'), seed, anchor, ...options.rheinbank })),
      track(startOnfido({ ...common, port: port('onfido'), seed, ...options.onfido })),
    ]);
    const all = [auth, northwind, rheinbank, onfido];
    return {
      auth,
      northwind,
      rheinbank,
      onfido,
      partnerSpecs,
      urls: {
        auth: auth.issuer,
        northwind: northwind.url,
        rheinbank: rheinbank.url,
        onfido: onfido.url,
        northwindAis: `${northwind.url}${northwind.basePaths.ais}`,
        northwindPis: `${northwind.url}${northwind.basePaths.pis}`,
        rheinbankPsd2: `${rheinbank.url}${rheinbank.basePath}`,
        onfidoApi: `${onfido.url}${onfido.basePath}`,
        jwks: auth.jwksUrl,
      },
      reset() {
        for (const s of all) {
          s.faults.clear();
          s.requests.clear();
        }
      },
      async close() {
        await Promise.all(all.map((s) => s.close()));
      },
    };
  } catch (err) {
    await Promise.allSettled(started.map((s) => s.close()));
    throw err;
  }
}

export { createTestClock, systemClock, type Now, type TestClock } from './lib/clock.ts';
export {
  generateSigningKey,
  signAccessToken,
  DEFAULT_AUDIENCE,
  type MintOptions,
  type SigningKey,
  type TokenClaims,
} from './auth-server.ts';
export {
  loadPartnerSpec,
  loadSpec,
  optionalPartnerSpec,
  partnerSpecsStatus,
  type LoadedSpec,
  type PartnerSpecsStatus,
} from './lib/openapi.ts';
export type { FaultSpec, MalformedKind } from './lib/faults.ts';
export type { RecordedRequest } from './lib/server.ts';
