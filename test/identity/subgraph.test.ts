import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isId } from '../../lib/ids.ts';
import type { RunningServer } from '../../lib/http-server.ts';
import { INTERNAL_AUTH_HEADER, signInternalContext } from '../../lib/internal-auth.ts';
import { DEV_INTERNAL_SECRET } from '../../lib/config.ts';
import { loadIdentityConfig } from '../../subgraphs/identity/config.ts';
import { startIdentitySubgraph } from '../../subgraphs/identity/server.ts';
import { PLATFORM_PARTNER_CREDENTIALS } from '../../sandboxes/manifest.ts';
import { SANDBOX_SEED_FILE } from '../support/seed.ts';
import {
  ALICE,
  BEN,
  CLARA,
  DEV,
  customerPrincipal,
  graphql,
  silentLogger,
  staffPrincipal,
  startFakeOnfido,
  unusedUrl,
  type FakeOnfido,
} from './helpers.ts';

const PROFILE = /* GraphQL */ `
  query Profile {
    me {
      id
      displayName
      email
      phone
      createdAt
      legalName {
        givenName
        familyName
      }
      dateOfBirth
      address {
        buildingNumber
        street
        town
        postcode
        country
      }
      kyc {
        status
        startedAt
        completedAt
        checks {
          id
          status
          result
          createdAt
          reports {
            kind
            status
            result
          }
        }
      }
    }
  }
`;

async function start(onfidoUrl: string): Promise<RunningServer> {
  return startIdentitySubgraph(
    loadIdentityConfig({
      IDENTITY_PORT: '0',
      ONFIDO_URL: onfidoUrl,
      ONFIDO_API_TOKEN: PLATFORM_PARTNER_CREDENTIALS.onfidoApiToken,
      SEED_FILE: SANDBOX_SEED_FILE,
      LOG_LEVEL: 'silent',
    }),
    {
      logger: silentLogger,
    },
  );
}

describe('identity subgraph', () => {
  let onfido: FakeOnfido;
  let server: RunningServer;

  beforeAll(async () => {
    onfido = await startFakeOnfido();
    server = await start(onfido.url);
  });
  afterAll(async () => {
    await server?.close();
    await onfido?.close();
  });

  const as = (customerId: string) => customerPrincipal(customerId);

  it('gives Alice her profile, her KYC-verified identity and her KYC from Onfido, with one Onfido call per resource', async () => {
    onfido.calls.length = 0;
    const res = await graphql(server.url, PROFILE, { principal: as(ALICE) });
    expect(res.errors).toBeUndefined();
    const me = res.data?.me as Record<string, any>;
    expect(me).toMatchObject({
      id: ALICE,
      displayName: 'Alice',
      email: 'alice.carter@example.com',
      phone: '+447700900123',
      createdAt: '2024-03-14T09:30:00.000Z',
      legalName: { givenName: 'Alice', familyName: 'Carter' },
      dateOfBirth: '1988-07-21',
      address: { buildingNumber: '12', street: 'Chapel Road', town: 'London', postcode: 'N1 7GU', country: 'GBR' },
      kyc: { status: 'APPROVED', startedAt: '2024-03-14T09:40:00.000Z', completedAt: null },
    });
    expect(me.kyc.checks).toHaveLength(1);
    expect(isId(me.kyc.checks[0].id, 'kyc')).toBe(true);
    expect(me.kyc.checks[0]).toMatchObject({ status: 'COMPLETE', result: 'CLEAR' });
    expect(me.kyc.checks[0].reports).toEqual([
      { kind: 'DOCUMENT', status: 'COMPLETE', result: 'CLEAR' },
      { kind: 'FACIAL_SIMILARITY', status: 'COMPLETE', result: 'CLEAR' },
      { kind: 'WATCHLIST', status: 'COMPLETE', result: 'CLEAR' },
    ]);
    // legalName, dateOfBirth and address share one applicant call.
    expect(onfido.calls.filter((c) => c.includes('/applicants/'))).toHaveLength(1);
    expect(onfido.calls.filter((c) => c.includes('/checks'))).toHaveLength(1);
    expect(onfido.calls.filter((c) => c.includes('/reports'))).toHaveLength(1);
  });

  it('never exposes Onfido identifiers', async () => {
    const res = await graphql(server.url, PROFILE, { principal: as(ALICE) });
    expect(JSON.stringify(res.data)).not.toMatch(/[0-9a-f]{8}-[0-9a-f]{4}-/);
  });

  it('keeps kyc check ids stable across requests', async () => {
    const q = '{ me { kyc { checks { id } } } }';
    const a = await graphql(server.url, q, { principal: as(ALICE) });
    const b = await graphql(server.url, q, { principal: as(ALICE) });
    expect(a.data).toEqual(b.data);
  });

  it("summarises Ben's KYC from his latest check and lists older checks after it", async () => {
    const res = await graphql(
      server.url,
      '{ me { legalName { givenName } kyc { status checks { status result reports { kind result } } } } }',
      { principal: as(BEN) },
    );
    expect(res.errors).toBeUndefined();
    expect(res.data?.me).toEqual({
      legalName: { givenName: 'Benjamin' },
      kyc: {
        status: 'REVIEW_REQUIRED',
        checks: [
          {
            status: 'COMPLETE',
            result: 'CONSIDER',
            reports: [
              { kind: 'DOCUMENT', result: 'CLEAR' },
              { kind: 'WATCHLIST', result: 'CONSIDER' },
              { kind: 'PROOF_OF_ADDRESS', result: 'UNIDENTIFIED' },
            ],
          },
          { status: 'WITHDRAWN', result: null, reports: [{ kind: 'DOCUMENT', result: null }] },
        ],
      },
    });
  });

  it('shows a running check as IN_PROGRESS and a customer without an applicant as NOT_STARTED without calling Onfido', async () => {
    const clara = await graphql(server.url, '{ me { kyc { status checks { reports { kind status } } } } }', {
      principal: as(CLARA),
    });
    expect(clara.data?.me).toEqual({
      kyc: {
        status: 'IN_PROGRESS',
        checks: [
          {
            reports: [
              { kind: 'DOCUMENT', status: 'AWAITING_DATA' },
              { kind: 'IDENTITY', status: 'AWAITING_APPROVAL' },
            ],
          },
        ],
      },
    });

    onfido.calls.length = 0;
    const dev = await graphql(
      server.url,
      '{ me { displayName legalName { givenName } dateOfBirth address { town } kyc { status startedAt checks { id } } } }',
      { principal: as(DEV) },
    );
    expect(dev.data?.me).toEqual({
      displayName: 'Dev',
      legalName: null,
      dateOfBirth: null,
      address: null,
      kyc: { status: 'NOT_STARTED', startedAt: null, checks: [] },
    });
    expect(onfido.calls).toEqual([]);
  });

  it("lets Ben read only himself: Alice's id behaves like an id that does not exist", async () => {
    const q = 'query($id: ID!) { customer(id: $id) { id displayName } }';
    expect((await graphql(server.url, q, { principal: as(BEN), variables: { id: BEN } })).data).toEqual({
      customer: { id: BEN, displayName: 'Ben' },
    });
    const alice = await graphql(server.url, q, { principal: as(BEN), variables: { id: ALICE } });
    const missing = await graphql(server.url, q, {
      principal: as(BEN),
      variables: { id: 'cus_aaaaaaaaaaaaaaaaaaaaaaaaaa' },
    });
    const junk = await graphql(server.url, q, { principal: as(BEN), variables: { id: 'not-an-id' } });
    for (const r of [alice, missing, junk])
      expect({ data: r.data, errors: r.errors }).toEqual({ data: { customer: null }, errors: undefined });
  });

  it('applies the same rule to entity references from other subgraphs', async () => {
    const q =
      'query($reps: [_Any!]!) { _entities(representations: $reps) { ... on Customer { id displayName kyc { status } } } }';
    const reps = [
      { __typename: 'Customer', id: BEN },
      { __typename: 'Customer', id: ALICE },
    ];
    const res = await graphql(server.url, q, { principal: as(BEN), variables: { reps } });
    expect(res.errors).toBeUndefined();
    expect(res.data?._entities).toEqual([{ id: BEN, displayName: 'Ben', kyc: { status: 'REVIEW_REQUIRED' } }, null]);
  });

  it('shows no customer to callers that do not act for a customer', async () => {
    const res = await graphql(server.url, 'query($id: ID!) { me { id } customer(id: $id) { id } }', {
      principal: staffPrincipal,
      variables: { id: ALICE },
    });
    expect(res.data).toEqual({ me: null, customer: null });
    const anonymous = await graphql(server.url, '{ me { id } }', { principal: null });
    expect(anonymous.data).toEqual({ me: null });
  });

  it('refuses requests that the gateway did not sign', async () => {
    const unsigned = await graphql(server.url, '{ me { id } }', { signed: false });
    expect(unsigned.status).toBe(401);
    expect(unsigned.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');

    const body = JSON.stringify({ query: '{ me { id } }' });
    const forged = await fetch(server.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        [INTERNAL_AUTH_HEADER]: await signInternalContext(
          'a-secret-that-is-not-the-gateways-0000000',
          'identity',
          customerPrincipal(ALICE),
          'r',
          body,
        ),
      },
      body,
    });
    expect(forged.status).toBe(401);

    const otherAudience = await graphql(server.url, '{ me { id } }', { principal: as(ALICE), audience: 'payments' });
    expect(otherAudience.status).toBe(401);
  });

  it('refuses a valid gateway token replayed with another body', async () => {
    const signedFor = JSON.stringify({ query: '{ me { id } }' });
    const token = await signInternalContext(DEV_INTERNAL_SECRET, 'identity', customerPrincipal(ALICE), 'r', signedFor);
    const send = (body: string) =>
      fetch(server.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', [INTERNAL_AUTH_HEADER]: token },
        body,
      });
    const original = await send(signedFor);
    expect(original.status).toBe(200);
    expect(((await original.json()) as { data: unknown }).data).toEqual({ me: { id: ALICE } });
    const replayed = await send(JSON.stringify({ query: '{ me { id email phone dateOfBirth } }' }));
    expect(replayed.status).toBe(401);
    const body = (await replayed.json()) as { data?: unknown; errors: { extensions: { code: string } }[] };
    expect(body.data).toBeUndefined();
    expect(body.errors[0]!.extensions.code).toBe('UNAUTHENTICATED');
  });

  it('reports an Onfido contract violation on the KYC fields only', async () => {
    onfido.override('/v3.6/checks', {
      status: 200,
      body: JSON.stringify({ checks: [{ id: 'nope', status: 'approved' }] }),
    });
    try {
      const res = await graphql(server.url, '{ me { displayName legalName { givenName } kyc { status } } }', {
        principal: as(ALICE),
      });
      expect(res.data?.me).toEqual({ displayName: 'Alice', legalName: { givenName: 'Alice' }, kyc: null });
      expect(res.errors).toHaveLength(1);
      expect(res.errors?.[0]).toMatchObject({
        path: ['me', 'kyc'],
        extensions: { code: 'PARTNER_CONTRACT_VIOLATION', partner: 'onfido' },
      });
    } finally {
      onfido.override('/v3.6/checks', null);
    }
  });

  it('is ready when its database answers', async () => {
    const ready = await fetch(server.url.replace('/graphql', '/readyz'));
    expect(ready.status).toBe(200);
  });
});

describe('identity subgraph while Onfido is down', () => {
  let server: RunningServer;

  beforeAll(async () => {
    server = await start(await unusedUrl());
  });
  afterAll(async () => {
    await server?.close();
  });

  it('still serves the profile from its own table and fails only the KYC fields, naming onfido', async () => {
    const res = await graphql(
      server.url,
      '{ me { id displayName email phone createdAt legalName { givenName } dateOfBirth address { town } kyc { status } } }',
      { principal: customerPrincipal(ALICE) },
    );
    expect(res.status).toBe(200);
    expect(res.data?.me).toEqual({
      id: ALICE,
      displayName: 'Alice',
      email: 'alice.carter@example.com',
      phone: '+447700900123',
      createdAt: '2024-03-14T09:30:00.000Z',
      legalName: null,
      dateOfBirth: null,
      address: null,
      kyc: null,
    });
    const byPath = Object.fromEntries((res.errors ?? []).map((e) => [e.path?.join('.'), e.extensions]));
    expect(Object.keys(byPath).sort()).toEqual(['me.address', 'me.dateOfBirth', 'me.kyc', 'me.legalName']);
    for (const ext of Object.values(byPath)) expect(ext).toEqual({ code: 'PARTNER_UNAVAILABLE', partner: 'onfido' });
    expect(JSON.stringify(res.errors)).not.toMatch(/ECONNREFUSED|stack|127\.0\.0\.1/);
  });

  it('stays ready: an Onfido outage degrades fields, it does not take identity out of rotation', async () => {
    expect((await fetch(server.url.replace('/graphql', '/readyz'))).status).toBe(200);
  });
});
