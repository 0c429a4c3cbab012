import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Ajv } from 'ajv';
import addFormatsImport from 'ajv-formats';
import { createLogger } from '../../lib/logger.ts';
import type { Principal } from '../../lib/principal.ts';
import { PartnerSpecMissingError, partnerSpecPath } from '../../sandboxes/lib/openapi.ts';
import { PLATFORM_PARTNER_CREDENTIALS, SANDBOX_CUSTOMERS, type SandboxCustomer } from '../../sandboxes/manifest.ts';
import { migrations } from '../../subgraphs/identity/storage/migrations.ts';
import { principalOf } from '../support/customers.ts';
import { openTestDatabase as openDatabase, type Backend, type TestDatabase } from '../support/database.ts';
import { callSubgraph, type SubgraphCallOptions, type SubgraphResult } from '../support/subgraph-client.ts';

export { ALICE, BEN, CLARA, DEV } from '../support/customers.ts';
export { BACKENDS, type TestDatabase } from '../support/database.ts';

export const silentLogger = createLogger('identity-test', 'silent');

export const customerPrincipal = (customerId: string): Principal =>
  principalOf(customerId, ['identity:read', 'pii:read']);
export const staffPrincipal: Principal = principalOf(null, ['identity:read'], 'ops-console');

/** A migrated identity database (PostgreSQL: its own schema, dropped by dispose()). */
export const openTestDatabase = (kind: Backend): Promise<TestDatabase> =>
  openDatabase(kind, { schema: 'identity', migrations });

// ---------------------------------------------------------------------------------------------
// The Onfido v3.6 contract, for checking that the fixtures below are spec-valid. The spec is the
// partner's published document (PARTNER_SPECS_DIR), absent from a bare clone: it is read on first
// use, and the tests that use it are skipped without it (test/support/partner-specs.ts).

type OnfidoSpecDocument = {
  components: { schemas: Record<string, { enum?: string[]; discriminator?: { mapping: Record<string, string> } }> };
};
let onfido: { document: OnfidoSpecDocument; ajv: Ajv } | undefined;

function onfidoContract(): { document: OnfidoSpecDocument; ajv: Ajv } {
  if (!onfido) {
    const file = partnerSpecPath('onfido');
    if (!existsSync(file)) throw new PartnerSpecMissingError('onfido', file);
    const document = JSON.parse(readFileSync(file, 'utf8')) as OnfidoSpecDocument;
    const addFormats = ((addFormatsImport as unknown as { default?: unknown }).default ?? addFormatsImport) as (
      ajv: Ajv,
    ) => Ajv;
    const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: true });
    addFormats(ajv);
    ajv.addSchema(document as object, 'onfido');
    onfido = { document, ajv };
  }
  return onfido;
}

/** The Onfido v3.6 OpenAPI document (throws PartnerSpecMissingError when it is not available). */
export const onfidoSpecDocument = (): OnfidoSpecDocument => onfidoContract().document;

/** Validates a payload against components.schemas.<name> of the spec; returns the errors (empty when valid). */
export function specErrors(name: string, payload: unknown): string[] {
  const validate = onfidoContract().ajv.getSchema(`onfido#/components/schemas/${name}`);
  if (!validate) throw new Error(`no schema ${name} in the Onfido spec`);
  return validate(payload) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
}

/** Reports are a oneOf over report kinds chosen by `name`; validate against the kind's own schema. */
export function reportSpecErrors(report: { name: string }): string[] {
  const ref = onfidoSpecDocument().components.schemas.report?.discriminator?.mapping[report.name];
  if (!ref) return [`unknown report name ${report.name}`];
  return specErrors(ref.split('/').at(-1)!, report);
}

// ---------------------------------------------------------------------------------------------
// Spec-valid Onfido fixtures for the sandbox customers (what the KYC sandbox is expected to serve).

/** Deterministic UUID-shaped ids for fixtures. */
export function fixtureUuid(seed: string): string {
  let h = 0x811c9dc5;
  const hex: string[] = [];
  for (let round = 0; hex.join('').length < 32; round++) {
    for (const ch of `${seed}:${round}`) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193) >>> 0;
    hex.push(h.toString(16).padStart(8, '0'));
  }
  const s = hex.join('').slice(0, 32);
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-4${s.slice(13, 16)}-a${s.slice(17, 20)}-${s.slice(20, 32)}`;
}

export interface OnfidoFixtures {
  applicants: Map<string, Record<string, unknown>>;
  checks: Map<string, Record<string, unknown>[]>;
  reports: Map<string, Record<string, unknown>[]>;
}

function applicantOf(c: SandboxCustomer): Record<string, unknown> {
  const legal = c.legal!;
  return {
    id: c.kycApplicantId,
    created_at: '2024-03-14T09:35:00Z',
    href: `/v3.6/applicants/${c.kycApplicantId}`,
    sandbox: true,
    first_name: legal.givenName,
    last_name: legal.familyName,
    dob: legal.dateOfBirth,
    email: c.email,
    address: {
      building_number: legal.address.buildingNumber,
      street: legal.address.street,
      town: legal.address.town,
      postcode: legal.address.postcode,
      country: legal.address.country,
    },
  };
}

function check(
  applicantId: string,
  key: string,
  createdAt: string,
  status: string,
  result?: string,
): Record<string, unknown> {
  const id = fixtureUuid(`check:${key}`);
  return {
    id,
    applicant_id: applicantId,
    created_at: createdAt,
    href: `/v3.6/checks/${id}`,
    status,
    ...(result ? { result } : {}),
    tags: [],
    sandbox: true,
    version: '3.6',
  };
}

function report(checkId: string, name: string, status: string, result?: string): Record<string, unknown> {
  const id = fixtureUuid(`report:${checkId}:${name}`);
  return {
    id,
    check_id: checkId,
    name,
    status,
    ...(result ? { result } : {}),
    created_at: '2026-10-01T10:00:05Z',
    href: `/v3.6/reports/${id}`,
  };
}

/**
 * Alice: one complete+clear check. Ben: an older withdrawn check and a complete+consider one
 * (watchlist hit). Clara: a check in progress. Dev: no applicant.
 */
export function sandboxOnfidoFixtures(): OnfidoFixtures {
  const f: OnfidoFixtures = { applicants: new Map(), checks: new Map(), reports: new Map() };
  for (const c of SANDBOX_CUSTOMERS) {
    if (!c.kycApplicantId || !c.legal) continue;
    f.applicants.set(c.kycApplicantId, applicantOf(c));
    const checks: Record<string, unknown>[] = [];
    if (c.kycOutcome === 'clear') {
      const k = check(c.kycApplicantId, `${c.customerId}:1`, '2024-03-14T09:40:00Z', 'complete', 'clear');
      checks.push(k);
      f.reports.set(k.id as string, [
        report(k.id as string, 'document', 'complete', 'clear'),
        report(k.id as string, 'facial_similarity_photo', 'complete', 'clear'),
        report(k.id as string, 'watchlist_standard', 'complete', 'clear'),
      ]);
    } else if (c.kycOutcome === 'consider') {
      const old = check(c.kycApplicantId, `${c.customerId}:1`, '2025-01-08T14:10:00Z', 'withdrawn');
      const latest = check(c.kycApplicantId, `${c.customerId}:2`, '2025-01-09T08:00:00Z', 'complete', 'consider');
      checks.push(old, latest);
      f.reports.set(old.id as string, [report(old.id as string, 'document', 'withdrawn')]);
      f.reports.set(latest.id as string, [
        report(latest.id as string, 'document', 'complete', 'clear'),
        report(latest.id as string, 'watchlist_aml', 'complete', 'consider'),
        report(latest.id as string, 'proof_of_address', 'complete', 'unidentified'),
      ]);
    } else if (c.kycOutcome === 'in_progress') {
      const k = check(c.kycApplicantId, `${c.customerId}:1`, '2025-06-30T08:05:00Z', 'in_progress');
      checks.push(k);
      f.reports.set(k.id as string, [
        report(k.id as string, 'document', 'awaiting_data'),
        report(k.id as string, 'identity_enhanced', 'awaiting_approval'),
      ]);
    }
    f.checks.set(c.kycApplicantId, checks);
  }
  return f;
}

// ---------------------------------------------------------------------------------------------
// A local Onfido stand-in serving the fixtures, for when the partner sandboxes are not available.

export interface FakeOnfido {
  url: string;
  /** Requests received: "GET /v3.6/checks?applicant_id=..." */
  calls: string[];
  /** Replace the body of the next answers for a path prefix (raw string sent as is). */
  override(pathPrefix: string, answer: { status: number; body: string } | null): void;
  close(): Promise<void>;
}

export async function startFakeOnfido(
  fixtures: OnfidoFixtures = sandboxOnfidoFixtures(),
  token = PLATFORM_PARTNER_CREDENTIALS.onfidoApiToken,
): Promise<FakeOnfido> {
  const calls: string[] = [];
  const overrides = new Map<string, { status: number; body: string }>();
  const send = (res: import('node:http').ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(typeof body === 'string' ? body : JSON.stringify(body));
  };
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    calls.push(`${req.method} ${url.pathname}${url.search}`);
    for (const [prefix, answer] of overrides) {
      if (url.pathname.startsWith(prefix)) return send(res, answer.status, answer.body);
    }
    if (req.headers.authorization !== `Token token=${token}`)
      return send(res, 401, { error: { type: 'authorization_error', message: 'Authorization error' } });
    const notFound = () =>
      send(res, 404, { error: { type: 'resource_not_found', message: 'The resource could not be found.' } });
    const applicant = /^\/v3\.6\/applicants\/([^/]+)$/.exec(url.pathname);
    if (applicant) {
      const a = fixtures.applicants.get(applicant[1]!);
      return a ? send(res, 200, a) : notFound();
    }
    if (url.pathname === '/v3.6/checks') {
      const id = url.searchParams.get('applicant_id') ?? '';
      return fixtures.applicants.has(id) ? send(res, 200, { checks: fixtures.checks.get(id) ?? [] }) : notFound();
    }
    if (url.pathname === '/v3.6/reports') {
      const id = url.searchParams.get('check_id') ?? '';
      const reports = fixtures.reports.get(id);
      return reports ? send(res, 200, { reports }) : notFound();
    }
    return notFound();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    override(prefix, answer) {
      if (answer) overrides.set(prefix, answer);
      else overrides.delete(prefix);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A URL where nothing listens: Onfido "down". */
export async function unusedUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

// ---------------------------------------------------------------------------------------------
// Calling a subgraph the way the gateway does.

/** Calls the identity subgraph (or, with `audience`, signs the context for another one). */
export const graphql = (
  url: string,
  query: string,
  opts: SubgraphCallOptions = {},
): Promise<SubgraphResult<Record<string, unknown>>> => callSubgraph(url, 'identity', query, opts);
