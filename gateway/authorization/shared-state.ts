/**
 * Everything the platform shares between requests, and what it is keyed by. The rule of the
 * house (DESIGN.md): nothing computed for one principal is handed to another, so each entry is
 * either per request or keyed by everything its answer depends on. The list is part of the
 * reviewer's document (docs/permissions.md, `npm run shield:audit -- --write`); a new cache,
 * memo, DataLoader, batch or deduplication belongs here in the same change, with its key, and a
 * test with overlapping requests from different callers (test/gateway/concurrency.test.ts).
 */
export interface SharedState {
  what: string;
  where: string;
  /** 'per request' or 'shared' (between requests). */
  scope: 'per request' | 'shared';
  /** What the entry is keyed by, and why that is everything the answer depends on. */
  key: string;
}

export const SHARED_STATE: readonly SharedState[] = [
  {
    what: 'Batching of subgraph calls',
    where: 'gateway/executor.ts (`batch: true`, @graphql-tools/batch-execute)',
    scope: 'per request',
    key: "batchers are keyed by the request's context object, so only delegations of one gateway request are merged; a subgraph call without that context is refused (gateway/subgraph-fetch.ts)",
  },
  {
    what: 'In-flight subgraph query sharing',
    where: 'gateway/subgraph-fetch.ts (SUBGRAPH_REQUEST_SHARING, default `principal`)',
    scope: 'shared',
    key: "subgraph URL + the canonical signed principal (customer, client, scopes, consented accounts) + the exact body; queries only, never mutations. @graphql-tools/executor-http's own deduplication (URL and body only) is off",
  },
  {
    what: 'Active consents of a third party',
    where: 'gateway/authorization/consents.ts (shared cache namespace `consents`, memory or Redis)',
    scope: 'shared',
    key: '(customer id, client id): the consents subgraph answers exactly the consents of that customer granted to that client; TTL CONSENT_CACHE_TTL_MS (at most 1 s), deleted on every replica after a consent mutation',
  },
  {
    what: 'Client kind (FIRST_PARTY / THIRD_PARTY)',
    where: 'gateway/authorization/caller.ts (shared cache namespace `client-kinds` and an in-process memo)',
    scope: 'shared',
    key: 'client id: `clientApp(id) { kind }` is public registry data that the consents subgraph answers the same to every caller (the reader in subgraphs/consents/domain/service.ts); TTL 60 s',
  },
  {
    what: 'DPoP proof replay tracking',
    where: 'gateway/dpop.ts (shared cache `claimOnce`, Redis SET NX when REDIS_URL is set)',
    scope: 'shared',
    key: 'SHA-256 of (key thumbprint, jti): a proof may be used once by anyone, on any replica',
  },
  {
    what: 'JWKS of the authorization server',
    where: 'gateway/authentication.ts (jose createRemoteJWKSet)',
    scope: 'shared',
    key: 'none needed: public keys, the same for every caller',
  },
  {
    what: 'Parsed and validated documents, persisted queries',
    where: 'Apollo Server (document store, APQ cache)',
    scope: 'shared',
    key: 'the document text (APQ: its SHA-256, verified against the text); parsing and validation do not depend on the caller, authorization runs per request after them',
  },
  {
    what: 'Authorization state: caller kind, consents, own accounts, payment debtors (DataLoader)',
    where: 'gateway/authorization/engine.ts, consents.ts `forRequest`',
    scope: 'per request',
    key: "created for one request's context and principal",
  },
  {
    what: 'Ownership ledger (defence in depth)',
    where: 'gateway/authorization/ownership.ts, lib/ownership.ts',
    scope: 'per request',
    key: "the owners stamped on one request's subgraph answers; an object of another customer is refused and counted in security_events_total",
  },
  {
    what: 'Subgraph DataLoaders',
    where: "subgraphs/*/loaders.ts (created in each subgraph's context)",
    scope: 'per request',
    key: "one set per subgraph request, bound to the principal of the gateway's signed context",
  },
];
