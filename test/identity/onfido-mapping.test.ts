import { describe, expect, it } from 'vitest';
import { PartnerError } from '../../lib/errors.ts';
import { ONFIDO_COUNTRY_CODES } from '../../subgraphs/identity/partners/onfido/country-codes.ts';
import {
  mapAddress,
  mapApplicant,
  mapChecks,
  mapReports,
  reportKind,
} from '../../subgraphs/identity/partners/onfido/mapping.ts';
import {
  CHECK_RESULTS,
  CHECK_STATUSES,
  REPORT_NAMES,
  REPORT_RESULTS,
  REPORT_STATUSES,
} from '../../subgraphs/identity/partners/onfido/schemas.ts';
import { describeWithSpecs } from '../support/partner-specs.ts';
import { fixtureUuid, onfidoSpecDocument, reportSpecErrors, sandboxOnfidoFixtures, specErrors } from './helpers.ts';

const APPLICANT = '6f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f';
const CHECK = fixtureUuid('check');

function contractError(fn: () => unknown): PartnerError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(PartnerError);
    const e = err as PartnerError;
    expect(e.partner).toBe('onfido');
    expect(e.kind).toBe('contract');
    expect(e.toGraphQLError().extensions).toMatchObject({ code: 'PARTNER_CONTRACT_VIOLATION', partner: 'onfido' });
    return e;
  }
  throw new Error('expected a contract violation');
}

const applicant = (overrides: Record<string, unknown> = {}) => ({
  id: APPLICANT,
  first_name: 'Alice',
  last_name: 'Carter',
  dob: '1988-07-21',
  address: { building_number: '12', street: 'Chapel Road', town: 'London', postcode: 'N1 7GU', country: 'GBR' },
  ...overrides,
});
const check = (overrides: Record<string, unknown> = {}) => ({
  id: CHECK,
  applicant_id: APPLICANT,
  created_at: '2026-10-01T10:00:00Z',
  status: 'complete',
  result: 'clear',
  ...overrides,
});
const report = (overrides: Record<string, unknown> = {}) => ({
  id: fixtureUuid(`r:${JSON.stringify(overrides)}`),
  check_id: CHECK,
  name: 'document',
  status: 'complete',
  result: 'clear',
  ...overrides,
});

// Needs the partner's published spec (PARTNER_SPECS_DIR); the mapping tests below do not.
describeWithSpecs(['onfido'])('the fixtures and schemas follow the Onfido v3.6 spec', () => {
  it('every fixture the tests serve is valid against the spec', () => {
    const f = sandboxOnfidoFixtures();
    for (const a of f.applicants.values()) expect(specErrors('applicant', a)).toEqual([]);
    for (const checks of f.checks.values()) expect(specErrors('Checks_list', { checks })).toEqual([]);
    for (const reports of f.reports.values())
      for (const r of reports) expect(reportSpecErrors(r as { name: string })).toEqual([]);
    expect(specErrors('applicant', applicant())).toEqual([]);
    expect(specErrors('check', check())).toEqual([]);
    expect(reportSpecErrors(report())).toEqual([]);
  });

  it('uses exactly the spec enums and country codes', () => {
    const s = onfidoSpecDocument().components.schemas;
    expect([...ONFIDO_COUNTRY_CODES]).toEqual(s.country_codes?.enum);
    expect([...CHECK_STATUSES].sort()).toEqual([...s.check_status!.enum!].sort());
    expect([...REPORT_STATUSES].sort()).toEqual([...s.report_status!.enum!].sort());
    expect([...REPORT_RESULTS].sort()).toEqual([...s.report_result!.enum!].sort());
    expect([...REPORT_NAMES].sort()).toEqual([...s.report_name!.enum!].sort());
    expect([...CHECK_RESULTS]).toEqual(['clear', 'consider']);
  });
});

describe('applicant -> verified identity', () => {
  it('maps legal name, date of birth and address', () => {
    expect(mapApplicant(applicant(), APPLICANT)).toEqual({
      legalName: { givenName: 'Alice', familyName: 'Carter' },
      dateOfBirth: '1988-07-21',
      address: { buildingNumber: '12', street: 'Chapel Road', town: 'London', postcode: 'N1 7GU', country: 'GBR' },
    });
  });

  it('leaves out what Onfido does not have (absent or null) instead of inventing it', () => {
    expect(mapApplicant({ id: APPLICANT, first_name: 'Alice', last_name: null, dob: null }, APPLICANT)).toEqual({
      legalName: null,
      dateOfBirth: null,
      address: null,
    });
  });

  it('maps the Onfido address variants onto PostalAddress', () => {
    expect(
      mapAddress({
        flat_number: '3',
        building_name: 'Rose Court',
        street: 'High Street',
        sub_street: 'Old Town',
        town: 'Bath',
        postcode: 'BA1 1AA',
        country: 'GBR',
      }),
    ).toEqual({
      buildingNumber: 'Flat 3, Rose Court',
      street: 'High Street, Old Town',
      town: 'Bath',
      postcode: 'BA1 1AA',
      country: 'GBR',
    });
    expect(mapAddress({ town: 'Berlin', postcode: '10625', country: 'DEU' })).toEqual({
      buildingNumber: null,
      street: null,
      town: 'Berlin',
      postcode: '10625',
      country: 'DEU',
    });
    // The canonical address needs a town: none is better than a wrong one.
    expect(mapAddress({ street: 'Somewhere', postcode: 'X1', country: 'GBR' })).toBeNull();
  });

  it('refuses contract violations, naming onfido and the field', () => {
    expect(contractError(() => mapApplicant(applicant({ dob: '21/07/1988' }), APPLICANT)).message).toMatch(
      /find_applicant.*dob/,
    );
    expect(
      contractError(() =>
        mapApplicant(applicant({ address: { town: 'London', postcode: 'N1', country: 'UK' } }), APPLICANT),
      ).message,
    ).toMatch(/address\.country/);
    expect(
      contractError(() => mapApplicant(applicant({ address: { town: 'London', country: 'GBR' } }), APPLICANT)).message,
    ).toMatch(/address\.postcode/);
    expect(contractError(() => mapApplicant(applicant({ id: 'not-a-uuid' }), APPLICANT)).message).toMatch(/id/);
    expect(contractError(() => mapApplicant(applicant({ first_name: 42 }), APPLICANT)).message).toMatch(/first_name/);
    contractError(() => mapApplicant('<html>oops</html>', APPLICANT));
    contractError(() => mapApplicant(null, APPLICANT));
  });

  it('refuses another applicant than the one asked for', () => {
    expect(
      contractError(() => mapApplicant(applicant({ id: fixtureUuid('someone-else') }), APPLICANT)).message,
    ).toMatch(/different applicant/);
  });

  it('never puts personal data into the error message', () => {
    const e = contractError(() =>
      mapApplicant(applicant({ dob: 'born 21 July 1988', last_name: 'Carter{}' }), APPLICANT),
    );
    expect(e.message).not.toMatch(/Carter|1988/);
  });
});

describe('checks -> canonical checks', () => {
  it('normalises every status and result', () => {
    const statuses = {
      in_progress: 'IN_PROGRESS',
      awaiting_applicant: 'AWAITING_APPLICANT',
      complete: 'COMPLETE',
      withdrawn: 'WITHDRAWN',
      paused: 'PAUSED',
      reopened: 'REOPENED',
    };
    for (const [onfido, canonical] of Object.entries(statuses)) {
      const [mapped] = mapChecks({ checks: [check({ status: onfido, result: undefined })] }, APPLICANT);
      expect(mapped?.status).toBe(canonical);
      expect(mapped?.result).toBeNull();
    }
    expect(mapChecks({ checks: [check({ result: 'consider' })] }, APPLICANT)[0]?.result).toBe('CONSIDER');
    expect(mapChecks({ checks: [check({ result: null })] }, APPLICANT)[0]?.result).toBeNull();
  });

  it('normalises creation times with offsets to the same instant', () => {
    const [c] = mapChecks({ checks: [check({ created_at: '2026-10-01T12:00:00+02:00' })] }, APPLICANT);
    expect(c?.createdAt.toISOString()).toBe('2026-10-01T10:00:00.000Z');
    expect(c?.providerCheckId).toBe(CHECK);
  });

  it('refuses unknown statuses, local times, missing fields the platform needs and foreign checks', () => {
    expect(contractError(() => mapChecks({ checks: [check({ status: 'approved' })] }, APPLICANT)).message).toMatch(
      /checks\.0\.status/,
    );
    expect(contractError(() => mapChecks({ checks: [check({ result: 'unidentified' })] }, APPLICANT)).message).toMatch(
      /checks\.0\.result/,
    );
    expect(
      contractError(() => mapChecks({ checks: [check({ created_at: '2026-10-01T10:00:00' })] }, APPLICANT)).message,
    ).toMatch(/created_at/);
    expect(contractError(() => mapChecks({ checks: [check({ status: undefined })] }, APPLICANT)).message).toMatch(
      /status is missing/,
    );
    expect(contractError(() => mapChecks({ checks: [check({ created_at: undefined })] }, APPLICANT)).message).toMatch(
      /created_at is missing/,
    );
    expect(
      contractError(() => mapChecks({ checks: [check({ applicant_id: fixtureUuid('x') })] }, APPLICANT)).message,
    ).toMatch(/another applicant/);
    expect(contractError(() => mapChecks({ check: [] }, APPLICANT)).message).toMatch(/checks/);
    expect(contractError(() => mapChecks([], APPLICANT)).message).toMatch(/list_checks/);
  });
});

describe('reports -> canonical reports', () => {
  it('groups report names into kinds', () => {
    expect(reportKind('document_with_address_information')).toBe('DOCUMENT');
    expect(reportKind('facial_similarity_motion')).toBe('FACIAL_SIMILARITY');
    expect(reportKind('watchlist_peps_only')).toBe('WATCHLIST');
    expect(reportKind('identity_enhanced')).toBe('IDENTITY');
    expect(reportKind('proof_of_address')).toBe('PROOF_OF_ADDRESS');
    expect(reportKind('device_intelligence')).toBe('OTHER');
    for (const name of REPORT_NAMES) expect(reportKind(name)).toBeTruthy();
  });

  it('normalises statuses and results', () => {
    const reports = mapReports(
      {
        reports: [
          report({ name: 'document', status: 'complete', result: 'clear' }),
          report({ name: 'watchlist_aml', status: 'complete', result: 'consider' }),
          report({ name: 'proof_of_address', status: 'complete', result: 'unidentified' }),
          report({ name: 'facial_similarity_video', status: 'awaiting_data', result: undefined }),
          report({ name: 'identity_enhanced', status: 'awaiting_approval', result: null }),
          report({ name: 'known_faces', status: 'cancelled', result: undefined }),
          report({ name: 'watchlist_standard', status: 'withdrawn', result: undefined }),
        ],
      },
      CHECK,
    );
    expect(reports).toEqual([
      { kind: 'DOCUMENT', status: 'COMPLETE', result: 'CLEAR' },
      { kind: 'WATCHLIST', status: 'COMPLETE', result: 'CONSIDER' },
      { kind: 'PROOF_OF_ADDRESS', status: 'COMPLETE', result: 'UNIDENTIFIED' },
      { kind: 'FACIAL_SIMILARITY', status: 'AWAITING_DATA', result: null },
      { kind: 'IDENTITY', status: 'AWAITING_APPROVAL', result: null },
      { kind: 'OTHER', status: 'CANCELLED', result: null },
      { kind: 'WATCHLIST', status: 'WITHDRAWN', result: null },
    ]);
  });

  it('refuses unknown names and statuses, and reports of another check', () => {
    expect(contractError(() => mapReports({ reports: [report({ name: 'selfie' })] }, CHECK)).message).toMatch(
      /reports\.0\.name/,
    );
    expect(contractError(() => mapReports({ reports: [report({ status: 'done' })] }, CHECK)).message).toMatch(
      /reports\.0\.status/,
    );
    expect(contractError(() => mapReports({ reports: [report({ status: undefined })] }, CHECK)).message).toMatch(
      /status is missing/,
    );
    expect(
      contractError(() => mapReports({ reports: [report({ check_id: fixtureUuid('other') })] }, CHECK)).message,
    ).toMatch(/another check/);
  });
});
