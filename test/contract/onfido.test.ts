import { afterAll, beforeAll, expect, it } from 'vitest';
import { PLATFORM_PARTNER_CREDENTIALS, SANDBOX_CUSTOMERS } from '../../sandboxes/manifest.ts';
import { SECOND_MS } from '../../sandboxes/lib/clock.ts';
import { loadPartnerSpec, type LoadedSpec } from '../../sandboxes/lib/openapi.ts';
import { describeWithSpecs } from '../support/partner-specs.ts';
import type { RunningSandboxes, TestClock } from '../../sandboxes/index.ts';
import { caller, startAll } from './helpers.ts';

// Validating the sandbox against the partner's published spec is the point of this file: without the spec it is
// skipped.
const describeSpecs = describeWithSpecs(['onfido']);
let spec: LoadedSpec;
const headers = { authorization: `Token token=${PLATFORM_PARTNER_CREDENTIALS.onfidoApiToken}` };

let sandboxes: RunningSandboxes;
let clock: TestClock;
let call: ReturnType<typeof caller>;

beforeAll(async () => {
  spec = loadPartnerSpec('onfido');
  ({ sandboxes, clock } = await startAll());
  call = caller(sandboxes.urls.onfido, spec);
});
afterAll(async () => {
  await sandboxes.close();
});

const EXPECTED = {
  clear: {
    status: 'complete',
    result: 'clear',
    reports: [
      ['document', 'complete', 'clear'],
      ['facial_similarity_photo', 'complete', 'clear'],
    ],
  },
  consider: {
    status: 'complete',
    result: 'consider',
    reports: [
      ['document', 'complete', 'consider'],
      ['facial_similarity_photo', 'complete', 'clear'],
    ],
  },
  in_progress: {
    status: 'in_progress',
    result: undefined,
    reports: [
      ['document', 'complete', 'clear'],
      ['facial_similarity_photo', 'awaiting_approval', undefined],
    ],
  },
  awaiting_applicant: {
    status: 'awaiting_applicant',
    result: undefined,
    reports: [
      ['document', 'awaiting_data', undefined],
      ['facial_similarity_photo', 'awaiting_data', undefined],
    ],
  },
} as const;

describeSpecs('every seeded applicant conforms to Onfido v3.6 and reflects the manifest outcome', () => {
  for (const customer of SANDBOX_CUSTOMERS.filter((c) => c.kycApplicantId)) {
    it(`${customer.displayName} (${customer.kycOutcome})`, async () => {
      const id = customer.kycApplicantId!;
      const applicant = await call(`/v3.6/applicants/${id}`, { headers });
      expect(applicant.violations).toEqual([]);
      expect(applicant.body).toMatchObject({
        id,
        first_name: customer.legal!.givenName,
        last_name: customer.legal!.familyName,
        dob: customer.legal!.dateOfBirth,
        address: { postcode: customer.legal!.address.postcode, country: customer.legal!.address.country },
      });

      const checks = await call(`/v3.6/checks?applicant_id=${id}`, { headers });
      expect(checks.violations).toEqual([]);
      const expected = EXPECTED[customer.kycOutcome!];
      expect(checks.body.checks).toHaveLength(1);
      const check = checks.body.checks[0];
      expect(check.status).toBe(expected.status);
      expect(check.result).toBe(expected.result);

      const one = await call(`/v3.6/checks/${check.id}`, { headers });
      expect(one.violations).toEqual([]);
      expect(one.body).toEqual(check);

      const reports = await call(`/v3.6/reports?check_id=${check.id}`, { headers });
      expect(reports.violations).toEqual([]);
      expect(
        reports.body.reports.map((r: { name: string; status: string; result?: string }) => [
          r.name,
          r.status,
          r.result,
        ]),
      ).toEqual(expected.reports);
      for (const r of reports.body.reports) {
        const single = await call(`/v3.6/reports/${r.id}`, { headers });
        expect(single.violations).toEqual([]);
        expect(single.body).toEqual(r);
      }
    });
  }

  it('has no applicant for a customer who never started KYC', () => {
    expect(sandboxes.onfido.applicantIds().sort()).toEqual(
      SANDBOX_CUSTOMERS.flatMap((c) => (c.kycApplicantId ? [c.kycApplicantId] : [])).sort(),
    );
  });
});

describeSpecs('creating applicants and checks', () => {
  it('runs a new check from in_progress to complete over the clock (last name "Consider" -> consider)', async () => {
    for (const [lastName, result] of [
      ['Okoro', 'clear'],
      ['Consider', 'consider'],
    ] as const) {
      const applicant = await call('/v3.6/applicants', {
        method: 'POST',
        headers,
        body: {
          first_name: 'Test',
          last_name: lastName,
          dob: '1990-01-02',
          address: { postcode: 'N1 1AA', country: 'GBR' },
        },
      });
      expect(applicant.status).toBe(201);
      expect(applicant.violations).toEqual([]);
      const created = await call('/v3.6/checks', {
        method: 'POST',
        headers,
        body: { applicant_id: applicant.body.id, report_names: ['document', 'facial_similarity_photo'] },
      });
      expect(created.status).toBe(201);
      expect(created.violations).toEqual([]);
      expect(created.body).toMatchObject({ status: 'in_progress', applicant_id: applicant.body.id });
      const reports = await call(`/v3.6/reports?check_id=${created.body.id}`, { headers });
      expect(reports.body.reports.map((r: { status: string }) => r.status)).toEqual([
        'awaiting_approval',
        'awaiting_approval',
      ]);
      const start = clock.now();
      clock.advance(30 * SECOND_MS);
      try {
        const done = await call(`/v3.6/checks/${created.body.id}`, { headers });
        expect(done.body).toMatchObject({ status: 'complete', result });
        const final = await call(`/v3.6/reports?check_id=${created.body.id}`, { headers });
        expect(final.violations).toEqual([]);
        expect(
          final.body.reports.every(
            (r: { status: string; result: string }) => r.status === 'complete' && r.result === result,
          ),
        ).toBe(true);
      } finally {
        clock.set(start);
      }
    }
  });
});

describeSpecs('errors', () => {
  it('401 authorization_error without or with a wrong token', async () => {
    const id = SANDBOX_CUSTOMERS[0]!.kycApplicantId!;
    for (const h of [
      {} as Record<string, string>,
      { authorization: 'Token token=wrong' },
      { authorization: `Bearer ${PLATFORM_PARTNER_CREDENTIALS.onfidoApiToken}` },
    ]) {
      const res = await call(`/v3.6/applicants/${id}`, { headers: h });
      expect(res.status).toBe(401);
      expect(res.body.error.type).toBe('authorization_error');
      expect(res.violations).toEqual([]);
    }
  });

  it('404 resource_not_found for unknown ids, 422 validation_error for malformed ones', async () => {
    const missing = await call('/v3.6/checks/11111111-2222-4333-8444-555555555555', { headers });
    expect(missing.status).toBe(404);
    expect(missing.body.error.type).toBe('resource_not_found');
    const malformed = await call('/v3.6/checks?applicant_id=not-a-uuid', { headers });
    expect(malformed.status).toBe(422);
    expect(malformed.body.error).toMatchObject({
      type: 'validation_error',
      fields: { applicant_id: [expect.stringMatching(/uuid/)] },
    });
    const noName = await call('/v3.6/applicants', { method: 'POST', headers, body: { first_name: 'Only' } });
    expect(noName.status).toBe(422);
    expect(Object.keys(noName.body.error.fields)).toContain('last_name');
    for (const r of [missing, malformed, noName]) expect(r.violations).toEqual([]);
  });
});
