import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../lib/config.ts';
import {
  loadPartnerSpec,
  loadSpec,
  optionalPartnerSpec,
  PARTNER_SPEC_FILES,
  PartnerSpecMissingError,
  partnerSpecPath,
  partnerSpecsDir,
  partnerSpecsNotice,
  partnerSpecsProblem,
  partnerSpecsStatus,
} from '../../sandboxes/lib/openapi.ts';
import { OBIE_AIS_BASE, OBIE_PIS_BASE } from '../../sandboxes/northwind/dialect.ts';
import { ONFIDO_API_BASE } from '../../sandboxes/onfido.ts';
import { BERLIN_GROUP_BASE } from '../../sandboxes/rheinbank.ts';
import { describeWithSpecs, lazyPartnerSpec } from '../support/partner-specs.ts';

// Where the specs are looked for, and what happens without them, holds in a bare clone too.
describe('locating the partner specs (PARTNER_SPECS_DIR)', () => {
  const scratch = mkdtempSync(path.join(tmpdir(), 'partner-specs-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));
  const folderWith = (name: string, files: string[]) => {
    const dir = path.join(scratch, name);
    mkdirSync(dir, { recursive: true });
    for (const file of files) writeFileSync(path.join(dir, file), '{}');
    return dir;
  };
  const all = Object.values(PARTNER_SPEC_FILES);

  it('are looked for beside the repository (../shared/partner-specs) unless PARTNER_SPECS_DIR says where', () => {
    expect(partnerSpecsDir({})).toBe(path.resolve(process.cwd(), '..', 'shared', 'partner-specs'));
    expect(partnerSpecsDir({ PARTNER_SPECS_DIR: '/srv/specs' })).toBe('/srv/specs');
    expect(partnerSpecPath('obie-ais', { PARTNER_SPECS_DIR: '/srv/specs' })).toBe(
      '/srv/specs/obie-account-info-4.0.json',
    );
  });

  it('are optional in the default place: a notice says what is skipped and how to switch it on', () => {
    const status = partnerSpecsStatus({ PARTNER_SPECS_DIR: undefined });
    const empty = {
      ...status,
      dir: path.join(scratch, 'nothing-here'),
      present: [],
      missing: [...Object.keys(PARTNER_SPEC_FILES)] as typeof status.missing,
    };
    expect(partnerSpecsProblem(empty)).toBeUndefined();
    const notice = partnerSpecsNotice(empty)!;
    expect(notice.split('\n')).toHaveLength(1);
    expect(notice).toContain(path.join(scratch, 'nothing-here'));
    for (const file of all) expect(notice).toContain(file);
    expect(notice).toMatch(/do not validate .* contract tests .* skipped; to switch both on, set PARTNER_SPECS_DIR/);
  });

  it('count file by file, so a partial folder validates what it has', () => {
    const dir = folderWith('partial', [PARTNER_SPEC_FILES.onfido]);
    const status = partnerSpecsStatus({ PARTNER_SPECS_DIR: dir });
    expect(status).toMatchObject({ dir, explicit: true, present: ['onfido'] });
    expect(status.missing.sort()).toEqual(['berlin-group', 'obie-ais', 'obie-pis']);
    expect(partnerSpecsNotice(partnerSpecsStatus({ PARTNER_SPECS_DIR: folderWith('complete', all) }))).toBeUndefined();
  });

  it('are a configuration error when PARTNER_SPECS_DIR is set and lacks one: one line naming the variable, the folder and the files', () => {
    const dir = folderWith('lacking', [PARTNER_SPEC_FILES['obie-ais']]);
    const problem = partnerSpecsProblem(partnerSpecsStatus({ PARTNER_SPECS_DIR: dir }))!;
    expect(problem).toMatch(/^PARTNER_SPECS_DIR: /);
    expect(problem).toContain(JSON.stringify(dir));
    expect(problem).toContain(PARTNER_SPEC_FILES['berlin-group']);
    expect(problem).not.toContain(PARTNER_SPEC_FILES['obie-ais']);
    expect(problem.split('\n')).toHaveLength(1);

    const before = process.env.PARTNER_SPECS_DIR;
    process.env.PARTNER_SPECS_DIR = dir;
    try {
      expect(() => optionalPartnerSpec('onfido')).toThrow(ConfigError);
      process.env.PARTNER_SPECS_DIR = path.join(scratch, 'does-not-exist');
      expect(() => loadPartnerSpec('onfido')).toThrow(PartnerSpecMissingError);
      expect(() => loadPartnerSpec('onfido')).toThrow(/PARTNER_SPECS_DIR/);
    } finally {
      if (before === undefined) delete process.env.PARTNER_SPECS_DIR;
      else process.env.PARTNER_SPECS_DIR = before;
    }
  });
});

const describeSpecs = describeWithSpecs(['obie-ais', 'obie-pis', 'berlin-group', 'onfido']);

describeSpecs('spec files', () => {
  it('load JSON and YAML, and accept a bare file name', () => {
    expect(loadSpec('onfido-3.6.json').title).toMatch(/Onfido/);
    expect(loadPartnerSpec('berlin-group').title).toMatch(/NextGenPSD2/);
  });
});

describeSpecs('path matching and base paths', () => {
  const ais = lazyPartnerSpec('obie-ais');
  const bg = lazyPartnerSpec('berlin-group');
  const onfido = lazyPartnerSpec('onfido');

  it('requires a relative server URL as prefix (OBIE)', () => {
    expect(ais.basePath).toBe('/open-banking/v4.0/aisp');
    expect(ais.matchOperation('GET', '/open-banking/v4.0/aisp/accounts/22289/transactions')).toMatchObject({
      operationId: 'GetAccountsAccountIdTransactions',
      specPath: '/accounts/{AccountId}/transactions',
      params: { AccountId: '22289' },
    });
    expect(ais.matchOperation('GET', '/accounts/22289')).toBeUndefined();
    expect(ais.validateRequest({ method: 'GET', path: '/accounts' })[0]).toMatch(/no operation/);
  });

  it('treats an absolute (example host) server path as optional (Berlin Group, Onfido)', () => {
    expect(bg.matchOperation('GET', '/v1/accounts')?.operationId).toBe('getAccountList');
    expect(bg.matchOperation('GET', '/psd2/v1/accounts')?.operationId).toBe('getAccountList');
    expect(onfido.matchOperation('GET', '/v3.6/checks/0b9a8c7d-6e5f-4a3b-9c2d-1e0f9a8b7c6d')).toMatchObject({
      operationId: 'find_check',
      template: '/v3.6/checks/{check_id}',
    });
  });

  it("are the sandboxes' own base paths, which fault matching uses whether or not the spec is loaded", () => {
    expect(ais.basePath).toBe(OBIE_AIS_BASE);
    expect(loadPartnerSpec('obie-pis').basePath).toBe(OBIE_PIS_BASE);
    expect(bg.basePath).toBe(BERLIN_GROUP_BASE);
    expect(onfido.basePath).toBe(ONFIDO_API_BASE);
  });

  it('can be forced to a required base path', () => {
    const forced = loadSpec(partnerSpecPath('berlin-group'), { basePath: '/psd2' });
    expect(forced.matchOperation('GET', '/v1/accounts')).toBeUndefined();
    expect(forced.matchOperation('GET', '/psd2/v1/accounts')).toBeDefined();
  });

  it('reports a wrong method distinctly', () => {
    expect(ais.validateRequest({ method: 'DELETE', path: '/open-banking/v4.0/aisp/accounts' })[0]).toMatch(
      /not allowed/,
    );
  });
});

describeSpecs('validateRequest', () => {
  const ais = lazyPartnerSpec('obie-ais');
  const pis = lazyPartnerSpec('obie-pis');
  const bg = lazyPartnerSpec('berlin-group');
  const onfido = lazyPartnerSpec('onfido');

  it('accepts a conforming request', () => {
    expect(
      ais.validateRequest({
        method: 'GET',
        path: '/open-banking/v4.0/aisp/accounts',
        headers: { Authorization: 'Bearer x', 'x-fapi-auth-date': 'Sun, 10 Sep 2017 19:43:31 UTC' },
      }),
    ).toEqual([]);
  });

  it('checks required headers case-insensitively, header patterns and security', () => {
    const v = ais.validateRequest({
      method: 'GET',
      path: '/open-banking/v4.0/aisp/accounts',
      headers: { 'x-fapi-auth-date': 'yesterday' },
    });
    expect(v).toContain('header Authorization is required');
    expect(v.some((m) => m.startsWith('header x-fapi-auth-date: must match pattern'))).toBe(true);
    expect(v.some((m) => m.startsWith('credentials required'))).toBe(true);
  });

  it('checks query parameters with type coercion, formats and enums', () => {
    const v = bg.validateRequest({
      method: 'GET',
      path: '/v1/accounts/a1/transactions',
      query: { bookingStatus: 'everything', pageIndex: 'two', dateFrom: '2026-13-01' },
      headers: { 'X-Request-ID': 'not-a-uuid', 'Consent-ID': 'c' },
    });
    expect(v).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^query parameter bookingStatus: must be one of/),
        'query parameter pageIndex: must be integer',
        'query parameter dateFrom: must match format "date"',
        'header X-Request-ID: must match format "uuid"',
      ]),
    );
    expect(
      bg.validateRequest({
        method: 'GET',
        path: '/v1/accounts/a1/transactions',
        query: new URLSearchParams('bookingStatus=both&pageIndex=2&withBalance=true'),
        headers: { 'x-request-id': '99391c7e-ad88-49ec-a2ad-99ddcb1f7721', 'consent-id': 'c' },
      }),
    ).toEqual([]);
  });

  it('checks the JSON body (required, additionalProperties, max lengths) and header limits', () => {
    const v = pis.validateRequest({
      method: 'POST',
      path: '/open-banking/v4.0/pisp/domestic-payment-consents',
      headers: {
        authorization: 'Bearer t',
        'x-idempotency-key': 'k'.repeat(41),
        'x-jws-signature': 'a..b',
        'content-type': 'application/json',
      },
      body: {
        Data: {
          Initiation: {
            InstructionIdentification: 'x'.repeat(36),
            EndToEndIdentification: 'e',
            InstructedAmount: { Amount: 10, Currency: 'GBP' },
            Surprise: true,
          },
        },
        Risk: {},
      },
    });
    expect(v).toEqual(
      expect.arrayContaining([
        'header x-idempotency-key: must NOT have more than 40 characters',
        'body /Data/Initiation/InstructionIdentification: must NOT have more than 35 characters',
        'body /Data/Initiation/InstructedAmount/Amount: must be string',
        'body /Data/Initiation/CreditorAccount: is required',
        'body /Data/Initiation/Surprise: is not allowed (additionalProperties: false)',
      ]),
    );
  });

  it('reports a body that is not JSON and a missing required body', () => {
    const headers = {
      authorization: 'Bearer t',
      'x-idempotency-key': 'k',
      'x-jws-signature': 'a..b',
      'content-type': 'application/json',
    };
    expect(
      pis.validateRequest({
        method: 'POST',
        path: '/open-banking/v4.0/pisp/domestic-payments',
        headers,
        body: '{"Data":',
      }),
    ).toContain('body: request body is not valid JSON');
    expect(
      onfido.validateRequest({ method: 'POST', path: '/v3.6/applicants', headers: { authorization: 'Token token=x' } }),
    ).toContain('body: request body is required');
  });

  it('accepts any of several security schemes (Onfido Token or OAuth2)', () => {
    expect(
      onfido.validateRequest({
        method: 'GET',
        path: '/v3.6/checks',
        query: { applicant_id: '0b9a8c7d-6e5f-4a3b-9c2d-1e0f9a8b7c6d' },
        headers: { authorization: 'Token token=abc' },
      }),
    ).toEqual([]);
    expect(
      onfido.validateRequest({
        method: 'GET',
        path: '/v3.6/checks',
        query: { applicant_id: '0b9a8c7d-6e5f-4a3b-9c2d-1e0f9a8b7c6d' },
      }),
    ).toEqual(['credentials required (Token or OAuth2ClientCredentials)']);
  });
});

describeSpecs('validateResponse', () => {
  const ais = lazyPartnerSpec('obie-ais');
  const bg = lazyPartnerSpec('berlin-group');
  const onfido = lazyPartnerSpec('onfido');
  const accounts = '/open-banking/v4.0/aisp/accounts';

  it('validates the body for the status, incl. formats (OBIE links are absolute URIs)', () => {
    const ok = { Data: { Account: [{ AccountId: '1', Currency: 'GBP' }] }, Links: { Self: 'http://127.0.0.1/x' } };
    expect(ais.validateResponse({ method: 'GET', path: accounts, status: 200, body: ok })).toEqual([]);
    expect(
      ais.validateResponse({
        method: 'GET',
        path: accounts,
        status: 200,
        body: { ...ok, Links: { Self: '/relative' } },
      }),
    ).toEqual(['body /Links/Self: must match format "uri"']);
  });

  it('knows undocumented statuses and bodies where none is documented', () => {
    expect(ais.validateResponse({ method: 'GET', path: accounts, status: 418, body: {} })[0]).toMatch(
      /status 418 is not documented/,
    );
    expect(ais.validateResponse({ method: 'GET', path: accounts, status: 401 })).toEqual([]);
    expect(ais.validateResponse({ method: 'GET', path: accounts, status: 401, body: { error: 'x' } })[0]).toMatch(
      /no response body is documented/,
    );
    expect(ais.validateResponse({ method: 'GET', path: accounts, status: 200 })[0]).toMatch(/none was sent/);
  });

  it('checks required response headers when given', () => {
    expect(ais.validateResponse({ method: 'GET', path: accounts, status: 401, headers: {} })).toEqual([
      'header x-fapi-interaction-id is required in the response',
    ]);
  });

  it('parses raw text and reports invalid JSON', () => {
    expect(bg.validateResponse({ method: 'GET', path: '/v1/accounts', status: 200, body: '{"accounts": [' })).toEqual([
      'body: response body is not valid JSON',
    ]);
    expect(bg.validateResponse({ method: 'GET', path: '/v1/accounts', status: 200, body: '{"accounts": []}' })).toEqual(
      [],
    );
  });

  it('catches Berlin Group amounts sent as numbers', () => {
    const body = { balances: [{ balanceAmount: { currency: 'EUR', amount: 12.5 }, balanceType: 'closingBooked' }] };
    expect(bg.validateResponse({ method: 'GET', path: '/v1/accounts/x/balances', status: 200, body })).toEqual([
      'body /balances/0/balanceAmount/amount: must be string',
    ]);
  });

  it('decides the Onfido report union by its discriminator mapping', () => {
    const id = '0b9a8c7d-6e5f-4a3b-9c2d-1e0f9a8b7c6d';
    const document = {
      id,
      name: 'document',
      status: 'complete',
      result: 'clear',
      sub_result: 'clear',
      documents: [{ id }],
    };
    expect(
      onfido.validateResponse({ method: 'GET', path: '/v3.6/reports', status: 200, body: { reports: [document] } }),
    ).toEqual([]);
    expect(
      onfido.validateResponse({
        method: 'GET',
        path: '/v3.6/reports',
        status: 200,
        body: { reports: [{ ...document, name: 'palm_reading' }] },
      })[0],
    ).toMatch(/name: must be one of/);
    expect(
      onfido.validateResponse({
        method: 'GET',
        path: '/v3.6/reports',
        status: 200,
        body: { reports: [{ ...document, documents: [{}] }] },
      }),
    ).toContain('body /reports/0/documents/0/id: is required');
  });

  it('uses the default response and handles nullable (Onfido)', () => {
    expect(
      onfido.validateResponse({
        method: 'GET',
        path: '/v3.6/checks/x',
        status: 404,
        body: { error: { type: 'resource_not_found', message: 'gone' } },
      }),
    ).toEqual([]);
    const applicant = {
      id: '0b9a8c7d-6e5f-4a3b-9c2d-1e0f9a8b7c6d',
      first_name: 'A',
      last_name: 'B',
      address: { country: 'GBR', postcode: 'N1', line1: null },
    };
    expect(
      onfido.validateResponse({
        method: 'GET',
        path: `/v3.6/applicants/${applicant.id}`,
        status: 200,
        body: applicant,
      }),
    ).toEqual([]);
  });

  it('validates a named component schema', () => {
    expect(ais.validateSchema('OBActiveCurrencyAndAmount_SimpleType', '12.34')).toEqual([]);
    expect(ais.validateSchema('OBActiveCurrencyAndAmount_SimpleType', '-12.34')).toHaveLength(1);
  });
});
