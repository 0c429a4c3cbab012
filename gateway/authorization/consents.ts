import DataLoader from 'dataloader';
import { GraphQLError } from 'graphql';
import type { Keyv } from 'keyv';
import { z } from 'zod';
import { INTERNAL_AUTH_HEADER, signInternalContext } from '../../lib/internal-auth.ts';
import type { Logger } from '../../lib/logger.ts';
import {
  createHttpClient,
  DependencyUnavailableError,
  type HttpClient,
  type HttpResponse,
} from '../../lib/http-client.ts';
import type { DependencyClients } from '../../lib/resilience-clients.ts';
import { bounded } from '../../lib/resilience.ts';
import { currentRequestContext } from '../../lib/request-context.ts';
import { SpanKind, traceparentOf, withSpan } from '../../lib/tracing.ts';
import {
  CONSENT_PERMISSIONS,
  CONSENT_STATUSES,
  consentGrants,
  consentInForce,
  type ConsentPermission,
  type ConsentStatus,
} from '../../lib/consent.ts';
import type { Principal } from '../../lib/principal.ts';

/**
 * Consent lookup for the gateway's authorization rules.
 *
 * A third-party client reads a customer's data only under a consent that is AUTHORISED, not
 * expired, grants the permission a field needs and covers the account. This module answers
 * "which consents does this caller hold right now", with three properties the rules rely on:
 *
 * - Once per request: `forRequest()` returns a per-request view backed by a DataLoader, so
 *   however many fields (and objects) ask, the consents subgraph is called at most once per
 *   request, and concurrent asks within the request share that one call.
 * - Briefly shared: answers are cached in the shared cache (keyv: memory, or Redis when
 *   REDIS_URL is set) under a key holding both the customer id and the client id, for `ttlMs`
 *   (CONSENT_CACHE_TTL_MS, default 500 ms, at most 1000 ms). A revocation therefore bites within
 *   one second on every replica even if nobody invalidates, and at once when the gateway that
 *   performed the consent mutation calls `invalidate()` (the entry is deleted from the shared
 *   cache, so every replica refetches on its next request). A load that was already in flight
 *   on another replica when the entry was deleted may write its (older) answer back; that entry
 *   too lives at most `ttlMs`, so the one-second bound still holds.
 * - Fail closed: if the consents cannot be loaded (subgraph down, timeout, refusal, a response
 *   of the wrong shape), `active()` and `grants()` reject with a GraphQLError whose
 *   extensions.code is SERVICE_UNAVAILABLE (extensions.service = 'consents'). They never
 *   resolve to "allowed" on failure; a rule that awaits them and lets the error propagate (or
 *   maps it to a denial) denies. A broken cache read is treated as a miss (the subgraph is the
 *   source of truth); a broken cache write is logged and ignored.
 *
 * What a consent grants is decided by lib/consent.ts (`consentGrants`), the same function the
 * consents subgraph uses, evaluated at every call against `now()`: a consent whose `expiresAt`
 * is at or before `now()` never grants anything, even when it was AUTHORISED when it was fetched
 * and is still cached. `grants(permission)` without an account is the caller-level question
 * (some consent in force grants the permission on at least one account, or grants IDENTITY);
 * `grants(permission, accountId)` is the per-object one.
 */

export type { ConsentPermission } from '../../lib/consent.ts';

export interface ActiveConsent {
  id: string;
  /** AUTHORISED when fetched; kept so that lib/consent.ts decides on the status itself. */
  status: ConsentStatus;
  permissions: ConsentPermission[];
  accountIds: string[];
  expiresAt: string /* ISO */;
}

/**
 * Per-request view: loads the principal's AUTHORISED, unexpired consents once per request (DataLoader;
 * batched/deduped), through the shared cache.
 */
export interface RequestConsents {
  /**
   * All consents in force at `now` that the principal's client holds for the principal's customer ([] for
   * non-third-party principals).
   */
  active(): Promise<ActiveConsent[]>;
  /**
   * lib/consent.ts `consentGrants` at `now`: without `accountId`, whether the caller may reach
   * fields of `permission` at all; with it, whether a consent grants `permission` on that very
   * account. Passing `undefined` as the account is not the same as leaving it out: it is refused.
   */
  grants(permission: ConsentPermission, accountId?: string): Promise<boolean>;
}

export interface ConsentLookup {
  forRequest(principal: Principal | null, requestId: string): RequestConsents;
  /**
   * Drops the cached consents of (customerId, clientId) on every replica (shared cache). Called after a consent
   * mutation succeeds.
   */
  invalidate(customerId: string, clientId: string): Promise<void>;
}

/** Longest wait for one shared-cache call (Redis down or reconnecting: then no cache, not a stuck request). */
const CACHE_OP_TIMEOUT_MS = 250;

/** Default of CONSENT_CACHE_TTL_MS. */
export const CONSENT_CACHE_TTL_DEFAULT_MS = 500;
/** Upper bound of CONSENT_CACHE_TTL_MS: a revocation must stop access within one second on every replica. */
export const CONSENT_CACHE_TTL_MAX_MS = 1000;

/** Code of the error `active()` / `grants()` reject with when consents cannot be loaded. */
export const CONSENTS_UNAVAILABLE_CODE = 'SERVICE_UNAVAILABLE';

const activeConsentSchema = z.object({
  id: z.string().min(1),
  status: z.enum(CONSENT_STATUSES),
  permissions: z.array(z.enum(CONSENT_PERMISSIONS)),
  accountIds: z.array(z.string()),
  expiresAt: z.iso.datetime({ offset: true }),
});
const activeConsentsSchema = z.array(activeConsentSchema);

/** The error a consent check rejects with when the consents cannot be loaded: a denial, never an allowance. */
export function consentsUnavailable(): GraphQLError {
  return new GraphQLError(
    'Consents cannot be checked right now, so access that needs a consent is refused; retry later',
    {
      extensions: { code: CONSENTS_UNAVAILABLE_CODE, service: 'consents' },
    },
  );
}

/** True for the error of consentsUnavailable() (for rules that want to tell it from other failures). */
export function isConsentsUnavailable(err: unknown): boolean {
  return (
    err instanceof GraphQLError &&
    err.extensions.code === CONSENTS_UNAVAILABLE_CODE &&
    err.extensions.service === 'consents'
  );
}

/** Shared-cache key of (customer, client). Both ids are encoded so no id can forge another pair's key. */
export function consentCacheKey(customerId: string, clientId: string): string {
  return `active:${encodeURIComponent(customerId)}:${encodeURIComponent(clientId)}`;
}

const NONE: RequestConsents = {
  active: async () => [],
  grants: async () => false,
};

export function createConsentLookup(opts: {
  /** Fetches active consents from the consents subgraph (signed internal context as that principal). */
  fetchActive: (principal: Principal, requestId: string) => Promise<ActiveConsent[]>;
  cache: Keyv; // from lib/cache.ts openSharedCache(...).store('consents')
  ttlMs: number; // CONSENT_CACHE_TTL_MS, default 500, max 1000 (revocation must bite within 1 s on every replica)
  now?: () => Date;
  logger: Logger;
}): ConsentLookup {
  const { fetchActive, cache, ttlMs, logger } = opts;
  if (!Number.isInteger(ttlMs) || ttlMs < 1 || ttlMs > CONSENT_CACHE_TTL_MAX_MS) {
    throw new RangeError(
      `consent cache TTL must be an integer between 1 and ${CONSENT_CACHE_TTL_MAX_MS} ms, got ${ttlMs}`,
    );
  }
  const now = opts.now ?? (() => new Date());
  const log = logger.child({ component: 'consent-lookup' });

  async function readCache(key: string): Promise<ActiveConsent[] | undefined> {
    let raw: unknown;
    try {
      // Bounded: a Redis that is down or reconnecting costs at most this long, then the subgraph answers.
      raw = await bounded(cache.get(key), CACHE_OP_TIMEOUT_MS, 'consent cache read');
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'consent cache read failed; loading from the consents subgraph');
      return undefined;
    }
    if (raw === undefined || raw === null) return undefined;
    const parsed = activeConsentsSchema.safeParse(raw);
    if (!parsed.success) {
      log.warn('consent cache entry has an unexpected shape; ignored');
      return undefined;
    }
    return parsed.data;
  }

  async function load(principal: Principal & { customerId: string }, requestId: string): Promise<ActiveConsent[]> {
    const key = consentCacheKey(principal.customerId, principal.clientId);
    const cached = await readCache(key);
    if (cached) return cached;
    let fresh: ActiveConsent[];
    try {
      fresh = await fetchActive(principal, requestId);
    } catch (err) {
      log.error(
        { err: (err as Error).message, clientId: principal.clientId },
        'cannot load consents; refusing consent-based access (fail closed)',
      );
      throw consentsUnavailable();
    }
    try {
      await bounded(cache.set(key, fresh, ttlMs), CACHE_OP_TIMEOUT_MS, 'consent cache write');
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'consent cache write failed');
    }
    return fresh;
  }

  return {
    forRequest(principal, requestId) {
      if (!principal || principal.customerId === null) return NONE;
      const caller = { ...principal, customerId: principal.customerId };
      // One key per request (the caller); the DataLoader dedups concurrent and repeated asks.
      // A failure is returned as the key's value (not thrown from the batch, which DataLoader
      // would un-cache), so it is kept for the rest of the request: a consents outage costs one
      // call per request, not one per field, and the whole request is denied consistently.
      const loader = new DataLoader<string, ActiveConsent[]>((keys) =>
        Promise.all(keys.map(() => load(caller, requestId).catch((err: unknown) => err as Error))),
      );
      const active = async (): Promise<ActiveConsent[]> => {
        const all = await loader.load('active');
        const at = now();
        return all.filter((c) => consentInForce(c, at));
      };
      return {
        active,
        // A rest parameter, so that "no account" (the caller-level question) is told apart from an
        // account id that is undefined, which consentGrants refuses.
        async grants(permission, ...account: [accountId?: string]) {
          const consents = await loader.load('active');
          const at = now();
          return consentGrants(consents, permission, account.length === 0 ? { at } : { accountId: account[0], at });
        },
      };
    },
    async invalidate(customerId, clientId) {
      await cache.delete(consentCacheKey(customerId, clientId));
    },
  };
}

const ACTIVE_CONSENTS_QUERY = /* GraphQL */ `
  query GatewayActiveConsents($r: [_Any!]!) {
    _entities(representations: $r) {
      ... on Customer {
        consents(status: [AUTHORISED]) {
          id
          status
          permissions
          expiresAt
          client {
            id
          }
          accounts {
            id
          }
        }
      }
    }
  }
`;

const subgraphResponseSchema = z.object({
  data: z
    .object({
      _entities: z.array(
        z
          .object({
            consents: z.array(
              z.object({
                id: z.string().min(1),
                status: z.enum(CONSENT_STATUSES),
                permissions: z.array(z.enum(CONSENT_PERMISSIONS)),
                expiresAt: z.iso.datetime({ offset: true }),
                client: z.object({ id: z.string() }),
                accounts: z.array(z.object({ id: z.string() })),
              }),
            ),
          })
          .nullable(),
      ),
    })
    .nullable()
    .optional(),
  errors: z.array(z.object({ message: z.string() }).loose()).optional(),
});

/**
 * Builds fetchActive against the consents subgraph URL with lib/internal-auth.ts signing.
 * The subgraph filters by the signed principal itself (a third-party client sees only the
 * consents granted to it); the result is filtered again here to AUTHORISED consents of exactly
 * the principal's client, so a first-party principal (who sees all of the customer's consents)
 * holds none. Any failure (network, timeout, non-200, GraphQL errors, a wrong shape) throws.
 */
export function consentsSubgraphFetcher(opts: {
  url: string;
  internalSecret: string;
  timeoutMs: number;
  logger: Logger;
  /** The gateway's one resilient client per subgraph (lib/resilience-clients.ts); absent: one of its own. */
  clients?: DependencyClients;
}): (principal: Principal, requestId: string) => Promise<ActiveConsent[]> {
  const target = 'subgraph:consents';
  // The same client (breaker, bulkhead, figures) as the executor's calls to the consents subgraph.
  // No fallback: a consent is never answered from an old copy.
  const client: HttpClient =
    opts.clients?.client('consents', opts.url) ??
    createHttpClient({
      name: target,
      baseUrl: opts.url,
      timeoutMs: opts.timeoutMs,
      logger: opts.logger,
      service: 'gateway',
    });
  return async (principal, requestId) => {
    if (principal.customerId === null) return [];
    const attributes = {
      'http.request.method': 'POST',
      'peer.service': 'consents',
      'graphql.operation.name': 'GatewayActiveConsents',
    };
    return withSpan(`POST ${target}`, { kind: SpanKind.CLIENT, service: 'gateway', attributes }, async (span) => {
      const body = JSON.stringify({
        query: ACTIVE_CONSENTS_QUERY,
        variables: { r: [{ __typename: 'Customer', id: principal.customerId }] },
      });
      const headers: Record<string, string> = {
        'content-type': 'application/json',
        accept: 'application/json',
        [INTERNAL_AUTH_HEADER]: await signInternalContext(opts.internalSecret, 'consents', principal, requestId, body),
      };
      if (requestId) headers['x-request-id'] = requestId;
      // The consents subgraph's span continues this call's, as for the executor's calls.
      const traceparent = span ? traceparentOf(span) : currentRequestContext()?.traceparent;
      if (traceparent) headers.traceparent = traceparent;
      let res: HttpResponse;
      try {
        // A read: retried after a network error, timeout or 5xx within the request deadline.
        res = await client.request({
          method: 'POST',
          path: '',
          operation: 'Customer.consents',
          headers,
          body,
          idempotent: true,
          responseType: 'text',
          trace: false,
        });
      } catch (err) {
        const reason = err instanceof DependencyUnavailableError ? err.reason : 'error';
        throw new Error(
          reason === 'timeout' || reason === 'deadline'
            ? `consents subgraph gave no answer in time (${(err as Error).message})`
            : `consents subgraph unreachable: ${(err as Error).message}`,
          { cause: err },
        );
      }
      if (res.status !== 200) throw new Error(`consents subgraph answered HTTP ${res.status}`);
      let json: unknown;
      try {
        json = JSON.parse(res.text);
      } catch {
        throw new Error('consents subgraph answered with something that is not JSON');
      }
      const parsed = subgraphResponseSchema.safeParse(json);
      if (!parsed.success) {
        throw new Error(
          `consents subgraph response has an unexpected shape: ${parsed.error.issues[0]?.message ?? 'invalid'}`,
        );
      }
      if (parsed.data.errors?.length) {
        throw new Error(`consents subgraph returned errors: ${parsed.data.errors.map((e) => e.message).join('; ')}`);
      }
      const entities = parsed.data.data?._entities;
      if (!entities || entities.length !== 1) {
        throw new Error('consents subgraph response has no customer entity');
      }
      return (entities[0]?.consents ?? [])
        .filter((c) => c.status === 'AUTHORISED' && c.client.id === principal.clientId)
        .map((c) => ({
          id: c.id,
          status: c.status,
          permissions: c.permissions,
          accountIds: c.accounts.map((a) => a.id),
          expiresAt: c.expiresAt,
        }));
    });
  };
}
