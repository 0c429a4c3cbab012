import type { GraphQLError } from 'graphql';
import { graphqlRuntime } from './graphql-runtime.ts';
import type { Keyv } from 'keyv';
import { INTERNAL_AUTH_HEADER, signInternalContext } from '../../lib/internal-auth.ts';
import type { Logger } from '../../lib/logger.ts';
import { createHttpClient, type HttpClient } from '../../lib/http-client.ts';
import type { DependencyClients } from '../../lib/resilience-clients.ts';
import { bounded } from '../../lib/resilience.ts';
import { currentRequestContext } from '../../lib/request-context.ts';
import { SpanKind, traceparentOf, withSpan } from '../../lib/tracing.ts';
import type { Principal } from '../../lib/principal.ts';
import { STAFF_SCOPES, type CallerKind } from './policy.ts';

/**
 * Who the caller is, for the policy: the kind of caller and, when a rule needs it, the
 * customer's own account ids. Both come from the platform's own services through signed internal
 * requests (the same envelope the executor uses), under operation names starting with
 * `GatewayAuthz` so that metrics and tests can tell them from data requests.
 *
 * Client kind: a principal without a customer is `staff` when it holds a staff scope
 * (STAFF_SCOPES in policy.ts: audit:read, webhooks:read, webhooks:replay), otherwise `machine`. A
 * principal with a customer is `customer` when its client is
 * FIRST_PARTY and `thirdParty` when it is THIRD_PARTY, as recorded in the client registry (the
 * consents subgraph's `clientApp(id) { kind }`). The registry answer is cached in the shared
 * cache (CLIENT_KIND_TTL_MS): a client's kind changes only by re-registration. An unknown client,
 * or one the registry does not list as FIRST_PARTY/THIRD_PARTY, is `null`: it gets nothing.
 * A lookup that fails denies (throws), it never guesses a kind.
 */
export type ResolvedKind = CallerKind | null;

export const CLIENT_KIND_TTL_MS = 60_000;

export interface CallerDirectory {
  kindOf(principal: Principal, requestId: string): Promise<ResolvedKind>;
  /** The account ids of the principal's customer (accounts subgraph, as that principal). */
  ownedAccountIds(principal: Principal, requestId: string): Promise<Set<string>>;
  /** The account of a transaction, as the principal sees it (null when the principal cannot see the transaction). */
  transactionAccountId(principal: Principal, requestId: string, transactionId: string): Promise<string | null>;
  /**
   * The debtor account of each payment, as the principal sees it, in the order of `paymentIds`
   * (null for a payment the principal cannot see, or that does not exist). One request to the
   * payments subgraph for all ids (`_entities` on Payment, signed as the principal).
   */
  paymentDebtorAccountIds(
    principal: Principal,
    requestId: string,
    paymentIds: readonly string[],
  ): Promise<(string | null)[]>;
  /** The client a consent is granted to, as the principal sees it (null when the principal cannot see the consent). */
  consentClientId(principal: Principal, requestId: string, consentId: string): Promise<string | null>;
}

export interface CallerDirectoryOptions {
  /** Subgraph name → URL (at least consents, accounts and payments). */
  subgraphUrls: Record<string, string>;
  internalSecret: string;
  timeoutMs: number;
  cache: Keyv;
  logger: Logger;
  /** The gateway's one resilient client per subgraph (lib/resilience-clients.ts); absent: clients of its own. */
  clients?: DependencyClients;
}

export function authzUnavailable(what: string): GraphQLError {
  return new graphqlRuntime.GraphQLError(
    `Access cannot be checked right now (${what}), so it is refused; retry later`,
    {
      extensions: { code: 'SERVICE_UNAVAILABLE', service: 'authorization' },
    },
  );
}

export function staticKind(principal: Principal): ResolvedKind | undefined {
  if (principal.customerId !== null) return undefined;
  return principal.scopes.some((s) => (STAFF_SCOPES as readonly string[]).includes(s)) ? 'staff' : 'machine';
}

export function createCallerDirectory(opts: CallerDirectoryOptions): CallerDirectory {
  const log = opts.logger.child({ component: 'caller-directory' });
  /** Process-local memo in front of the shared cache (same TTL): the kind is read on most requests. */
  const local = new Map<string, { kind: string; until: number }>();
  // The gateway's one client per subgraph (breaker, bulkhead, figures shared with the executor's calls).
  const own = new Map<string, HttpClient>();
  const clientOf = (subgraph: string, url: string): HttpClient =>
    opts.clients?.client(subgraph, url) ??
    own.get(url) ??
    own
      .set(
        url,
        createHttpClient({
          name: `subgraph:${subgraph}`,
          baseUrl: url,
          timeoutMs: opts.timeoutMs,
          logger: opts.logger,
          service: 'gateway',
        }),
      )
      .get(url)!;

  async function internalQuery(
    subgraph: string,
    principal: Principal,
    requestId: string,
    operationName: string,
    query: string,
    variables: Record<string, unknown>,
  ): Promise<unknown> {
    const url = opts.subgraphUrls[subgraph];
    if (!url) throw authzUnavailable(`no ${subgraph} subgraph`);
    const attributes = {
      'http.request.method': 'POST',
      'peer.service': subgraph,
      'graphql.operation.name': operationName,
    };
    return withSpan(
      `POST subgraph:${subgraph}`,
      { kind: SpanKind.CLIENT, service: 'gateway', attributes },
      async (span) => {
        // The subgraph's span continues this lookup's, as for the executor's calls.
        const traceparent = span ? traceparentOf(span) : currentRequestContext()?.traceparent;
        try {
          const body = JSON.stringify({ operationName, query, variables });
          // Lookups are reads: retried within the request deadline; never answered from an old copy.
          const res = await clientOf(subgraph, url).request({
            method: 'POST',
            path: '',
            operation: operationName,
            headers: {
              'content-type': 'application/json',
              accept: 'application/json',
              [INTERNAL_AUTH_HEADER]: await signInternalContext(
                opts.internalSecret,
                subgraph,
                principal,
                requestId,
                body,
              ),
              ...(requestId ? { 'x-request-id': requestId } : {}),
              ...(traceparent ? { traceparent } : {}),
            },
            body,
            idempotent: true,
            trace: false,
          });
          const answer = res.body as { data?: unknown; errors?: { message: string }[] } | null;
          if (res.status !== 200 || !answer || answer.errors?.length || !answer.data)
            throw new Error(`HTTP ${res.status}: ${answer?.errors?.map((e) => e.message).join('; ') ?? 'no data'}`);
          return answer.data;
        } catch (err) {
          log.error({ subgraph, operationName, err: (err as Error).message }, 'authorization lookup failed; denying');
          throw authzUnavailable(`${subgraph} lookup failed`);
        }
      },
    );
  }

  return {
    async kindOf(principal, requestId) {
      const fixed = staticKind(principal);
      if (fixed !== undefined) return fixed;
      const key = `kind:${encodeURIComponent(principal.clientId)}`;
      const memo = local.get(key);
      const fresh = memo !== undefined && memo.until > Date.now();
      let kind: unknown = fresh ? memo.kind : undefined;
      if (typeof kind !== 'string') {
        try {
          // Bounded: a Redis that is down or reconnecting costs at most this long, then the registry answers.
          kind = await bounded(opts.cache.get(key), 250, 'client kind cache read');
        } catch {
          kind = undefined;
        }
      }
      if (typeof kind !== 'string') {
        const data = (await internalQuery(
          'consents',
          principal,
          requestId,
          'GatewayAuthzClientKind',
          'query GatewayAuthzClientKind($id: ID!) { clientApp(id: $id) { kind } }',
          { id: principal.clientId },
        )) as {
          clientApp: { kind: string } | null;
        };
        kind = data.clientApp?.kind ?? 'NONE';
        try {
          await bounded(opts.cache.set(key, kind, CLIENT_KIND_TTL_MS), 250, 'client kind cache write');
        } catch (err) {
          log.warn({ err: (err as Error).message }, 'cannot cache client kind');
        }
      }
      // Memoised again once the memo has expired (it used to be set only once, so after the first
      // minute every request read the shared cache).
      if (typeof kind === 'string' && !fresh) local.set(key, { kind, until: Date.now() + CLIENT_KIND_TTL_MS });
      return kind === 'FIRST_PARTY' ? 'customer' : kind === 'THIRD_PARTY' ? 'thirdParty' : null;
    },

    async ownedAccountIds(principal, requestId) {
      if (principal.customerId === null) return new Set();
      const data = (await internalQuery(
        'accounts',
        principal,
        requestId,
        'GatewayAuthzOwnedAccounts',
        'query GatewayAuthzOwnedAccounts($r: [_Any!]!) { _entities(representations: $r) { ... on Customer { accounts { id } } } }',
        { r: [{ __typename: 'Customer', id: principal.customerId }] },
      )) as { _entities: ({ accounts?: { id: string }[] } | null)[] };
      return new Set((data._entities[0]?.accounts ?? []).map((a) => a.id));
    },

    async transactionAccountId(principal, requestId, transactionId) {
      const data = (await internalQuery(
        'accounts',
        principal,
        requestId,
        'GatewayAuthzTransactionAccount',
        'query GatewayAuthzTransactionAccount($id: ID!) { transaction(id: $id) { account { id } } }',
        { id: transactionId },
      )) as {
        transaction: { account: { id: string } | null } | null;
      };
      return data.transaction?.account?.id ?? null;
    },

    async paymentDebtorAccountIds(principal, requestId, paymentIds) {
      if (paymentIds.length === 0) return [];
      if (principal.customerId === null) return paymentIds.map(() => null);
      const data = (await internalQuery(
        'payments',
        principal,
        requestId,
        'GatewayAuthzPaymentDebtors',
        'query GatewayAuthzPaymentDebtors($r: [_Any!]!) { _entities(representations: $r) { ... on Payment { id debtorAccount { id } } } }',
        { r: paymentIds.map((id) => ({ __typename: 'Payment', id })) },
      )) as { _entities?: unknown };
      // Fail closed on anything but one answer per asked id.
      const entities = data._entities;
      if (!Array.isArray(entities) || entities.length !== paymentIds.length) {
        log.error(
          { operationName: 'GatewayAuthzPaymentDebtors', asked: paymentIds.length },
          'payments lookup answered with an unexpected shape; denying',
        );
        throw authzUnavailable('payments lookup failed');
      }
      return entities.map((e: unknown, i) => {
        const entity = e as { id?: unknown; debtorAccount?: { id?: unknown } | null } | null;
        // An entity of another id than the one asked for, or without a debtor account, is not an answer.
        if (!entity || entity.id !== paymentIds[i]) return null;
        const accountId = entity.debtorAccount?.id;
        return typeof accountId === 'string' && accountId.length > 0 ? accountId : null;
      });
    },

    async consentClientId(principal, requestId, consentId) {
      const data = (await internalQuery(
        'consents',
        principal,
        requestId,
        'GatewayAuthzConsentClient',
        'query GatewayAuthzConsentClient($id: ID!) { consent(id: $id) { client { id } } }',
        { id: consentId },
      )) as {
        consent: { client: { id: string } } | null;
      };
      return data.consent?.client.id ?? null;
    },
  };
}
