import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PartnerError } from '../../lib/errors.ts';
import { createOnfidoClient, type OnfidoClient } from '../../subgraphs/identity/partners/onfido/client.ts';
import { fixtureUuid, silentLogger, startFakeOnfido, unusedUrl, type FakeOnfido } from './helpers.ts';

const ALICE_APPLICANT = '6f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f';
const UNKNOWN_APPLICANT = fixtureUuid('nobody');

async function partnerError(p: Promise<unknown>): Promise<PartnerError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(PartnerError);
  expect((err as PartnerError).partner).toBe('onfido');
  return err as PartnerError;
}

describe('Onfido client against a spec-valid Onfido', () => {
  let onfido: FakeOnfido;
  let client: OnfidoClient;

  beforeAll(async () => {
    onfido = await startFakeOnfido();
    client = createOnfidoClient({
      url: onfido.url,
      apiToken: 'api_sandbox.onfido-platform-token-2f8d1c7e',
      timeoutMs: 2000,
      logger: silentLogger,
      retries: 0,
    });
  });
  afterAll(async () => {
    client.shutdown();
    await onfido.close();
  });
  afterEach(() => {
    onfido.calls.length = 0;
    for (const p of ['/v3.6/applicants', '/v3.6/checks', '/v3.6/reports']) onfido.override(p, null);
  });

  it('reads the verified identity under the spec base path with the platform token', async () => {
    const identity = await client.getApplicant(ALICE_APPLICANT);
    expect(identity?.legalName).toEqual({ givenName: 'Alice', familyName: 'Carter' });
    expect(identity?.address?.country).toBe('GBR');
    expect(onfido.calls).toEqual([`GET /v3.6/applicants/${ALICE_APPLICANT}`]);
  });

  it('lists checks and their reports', async () => {
    const checks = await client.listChecks(ALICE_APPLICANT);
    expect(checks).toHaveLength(1);
    expect(checks[0]).toMatchObject({ status: 'COMPLETE', result: 'CLEAR' });
    const reports = await client.listReports(checks[0]!.providerCheckId);
    expect(reports.map((r) => r.kind)).toEqual(['DOCUMENT', 'FACIAL_SIMILARITY', 'WATCHLIST']);
    expect(onfido.calls[0]).toBe(`GET /v3.6/checks?applicant_id=${ALICE_APPLICANT}`);
  });

  it('treats an applicant Onfido does not know as unverified rather than failing', async () => {
    expect(await client.getApplicant(UNKNOWN_APPLICANT)).toBeNull();
    expect(await client.listChecks(UNKNOWN_APPLICANT)).toEqual([]);
  });

  it('reports a body that is not JSON as a contract violation by onfido', async () => {
    onfido.override('/v3.6/applicants', { status: 200, body: '{"id": "6f1c2d3e-' });
    const err = await partnerError(client.getApplicant(ALICE_APPLICANT));
    expect(err.kind).toBe('contract');
    expect(err.toGraphQLError().extensions).toMatchObject({ code: 'PARTNER_CONTRACT_VIOLATION', partner: 'onfido' });
  });

  it('reports a spec-violating payload as a contract violation by onfido', async () => {
    onfido.override('/v3.6/checks', {
      status: 200,
      body: JSON.stringify({
        checks: [
          {
            id: fixtureUuid('c'),
            applicant_id: ALICE_APPLICANT,
            status: 'approved',
            created_at: '2026-01-01T00:00:00Z',
          },
        ],
      }),
    });
    const err = await partnerError(client.listChecks(ALICE_APPLICANT));
    expect(err.kind).toBe('contract');
    expect(err.message).toMatch(/list_checks.*status/);
  });

  it('reports a rejected token and server errors as onfido being unavailable', async () => {
    onfido.override('/v3.6/applicants', {
      status: 401,
      body: JSON.stringify({ error: { type: 'authorization_error', message: 'nope' } }),
    });
    const rejected = await partnerError(client.getApplicant(ALICE_APPLICANT));
    expect(rejected.kind).toBe('unavailable');
    expect(rejected.message).toMatch(/API token/);

    onfido.override('/v3.6/checks', { status: 503, body: JSON.stringify({ error: { type: 'service_unavailable' } }) });
    const down = await partnerError(client.listChecks(ALICE_APPLICANT));
    expect(down.kind).toBe('unavailable');
    expect(down.toGraphQLError().extensions).toMatchObject({ code: 'PARTNER_UNAVAILABLE', partner: 'onfido' });
  });

  it('reports an unreachable Onfido as unavailable', async () => {
    const offline = createOnfidoClient({
      url: await unusedUrl(),
      apiToken: 't',
      timeoutMs: 1000,
      logger: silentLogger,
      retries: 0,
    });
    try {
      expect((await partnerError(offline.getApplicant(ALICE_APPLICANT))).kind).toBe('unavailable');
    } finally {
      offline.shutdown();
    }
  });
});
