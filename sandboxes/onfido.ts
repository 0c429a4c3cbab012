import { randomUUID } from 'node:crypto';
import type { Logger } from '../lib/logger.ts';
import { PLATFORM_PARTNER_CREDENTIALS, SANDBOX_CUSTOMERS, SANDBOX_SEED, type SandboxCustomer } from './manifest.ts';
import { MINUTE, SECOND_MS, systemClock, type Now } from './lib/clock.ts';
import { optionalPartnerSpec, type Violation } from './lib/openapi.ts';
import { createPrng } from './lib/prng.ts';
import {
  breakSchema,
  header,
  startSandboxServer,
  type Dialect,
  type Route,
  type SandboxReply,
  type SandboxRequest,
  type SandboxServer,
} from './lib/server.ts';
import { onfidoSigner, startPump, webhookAdminRoutes, WebhookOutbox, type Delivery } from './lib/webhooks.ts';

/**
 * Onfido API v3.6 sandbox (identity verification), base path /v3.6:
 *   GET  /v3.6/applicants/{applicant_id}      POST /v3.6/applicants
 *   GET  /v3.6/checks?applicant_id=           POST /v3.6/checks
 *   GET  /v3.6/checks/{check_id}
 *   GET  /v3.6/reports?check_id=              GET  /v3.6/reports/{report_id}
 *
 * Auth: `Authorization: Token token=<PLATFORM_PARTNER_CREDENTIALS.onfidoApiToken>`; missing or
 * wrong -> 401 `{ error: { type: 'authorization_error', message } }`. Unknown ids -> 404
 * `resource_not_found`; spec violations (bad UUID, missing applicant_id...) -> 422
 * `validation_error` with `fields`; invalid JSON -> 400 `bad_request`.
 *
 * Seeded from the manifest (one applicant per customer with a kycApplicantId; its latest check
 * reflects kycOutcome):
 *   clear              check complete / result clear; reports document + facial_similarity_photo complete/clear
 *   consider           check complete / result consider; document complete/consider (sub_result
 *                      caution), facial complete/clear
 *   in_progress        check in_progress, no result; document complete/clear, facial awaiting_approval
 *   awaiting_applicant check awaiting_applicant (form_uri set), no result; reports awaiting_data
 *   null (no applicant) nothing: GET /applicants/{id} of an unknown id -> 404
 * Checks created through POST /v3.6/checks start in_progress (reports awaiting_approval) and
 * complete `checkCompletionMs` (default 30 s) later on the sandbox clock, result clear, or
 * consider when the applicant's last name is "Consider" (Onfido's sandbox convention).
 *
 * Webhooks (when configured: `webhooks.url` + `webhooks.token`, or later `webhooks.configure`):
 * Onfido's format, `{ "payload": { "resource_type", "action", "object": { "id", "status",
 * "started_at_iso8601" | "completed_at_iso8601", "href" } } }`, signed with X-SHA2-Signature (hex
 * HMAC-SHA256 of the raw body under the webhook token; no id, no timestamp). A check created through
 * POST /v3.6/checks sends check.started at once; when the sandbox clock reaches its completion, one
 * report.completed per report and then check.completed (all stamped with the completion time).
 * Seeded checks send nothing. Delivery (sandboxes/lib/webhooks.ts): retried with backoff on the
 * sandbox clock (5 s, 20 s, 80 s...) until a 2xx or `maxAttempts`; test hooks duplicate and
 * reorder deliveries (`webhooks.duplicateNext`, `reorderNext`, or POST /sandbox/webhooks/...).
 */
export interface OnfidoOptions {
  port: number;
  host?: string;
  logger: Logger;
  now?: Now;
  seed?: number;
  checkCompletionMs?: number;
  adminRoutes?: boolean;
  /** Where check and report events go (X-SHA2-Signature); settable later with webhooks.configure. */
  webhooks?: OnfidoWebhookConfig;
}

export interface OnfidoWebhookConfig {
  /** Receiver URL (the identity subgraph's /webhooks/onfido); undefined: no events. */
  url?: string | undefined;
  /** The webhook token the events are signed with (Onfido shows it once, when the webhook is registered). */
  token?: string | undefined;
  /** Attempts per event before it is given up (default 6); retries back off 5 s, 20 s, 80 s... on the sandbox clock. */
  maxAttempts?: number;
  /** Real-time interval of the pump that queues due events and sends due attempts (default 500 ms; 0: only flush()). */
  pumpIntervalMs?: number;
}

export interface RunningOnfido extends SandboxServer {
  basePath: string;
  applicantIds(): string[];
  /** Creates a check for an applicant, as POST /v3.6/checks does (tests); returns its id. */
  createCheck(applicantId: string): string;
  webhooks: {
    /** Points the events at a receiver (e.g. once the identity subgraph's port is known). */
    configure(config: { url: string | undefined; token: string | undefined }): void;
    /** Queues the events the sandbox clock has reached and sends every attempt due now; resolves when done. */
    flush(): Promise<void>;
    deliveries(): Delivery[];
    /** Test hooks: deliver each of the next n events twice; hold the next n and deliver them newest first. */
    duplicateNext(count: number): void;
    reorderNext(count: number): void;
  };
}

/** The Onfido spec's server path. */
export const ONFIDO_API_BASE = '/v3.6';
const BASE = ONFIDO_API_BASE;

type ReportName = 'document' | 'facial_similarity_photo';

interface ApplicantRecord {
  id: string;
  createdAt: Date;
  body: Record<string, unknown>;
  lastName: string;
}

interface ReportRecord {
  id: string;
  name: ReportName;
  checkId: string;
  createdAt: Date;
  /** Fixed state for seeded reports; live ones derive it from the check's completion time. */
  fixed?: { status: string; result?: string; subResult?: string };
}

interface CheckRecord {
  id: string;
  applicantId: string;
  createdAt: Date;
  reportIds: string[];
  fixed?: { status: string; result?: string; formUri?: string };
  /** Live checks complete at this time with this result. */
  completesAt?: Date;
  finalResult?: 'clear' | 'consider';
  /** Live checks: their completion events were queued. */
  completionQueued?: boolean;
}

function onfidoError(status: number, type: string, message: string, fields?: Record<string, unknown>): SandboxReply {
  return { status, body: { error: { type, message, ...(fields ? { fields } : {}) } } };
}

export const onfidoDialect: Dialect = {
  invalidRequest(violations: Violation[]) {
    if (violations.some((v) => v.in === 'security'))
      return onfidoError(401, 'authorization_error', 'Authorization error: please re-check your credentials');
    if (violations.some((v) => v.keyword === 'json'))
      return onfidoError(400, 'bad_request', 'Invalid JSON in the request body');
    const fields: Record<string, string[]> = {};
    for (const v of violations) {
      const key = (v.name ?? v.in).replace(/^\//, '').replace(/\//g, '.') || v.in;
      (fields[key] ??= []).push(v.message);
    }
    return onfidoError(422, 'validation_error', 'There was a validation error on this request', fields);
  },
  failure(status) {
    if (status === 429) return onfidoError(429, 'rate_limit', 'Rate limit exceeded. Please try again later');
    if (status >= 500) return onfidoError(status, 'internal_server_error', 'There was an internal error on our side');
    return onfidoError(status, 'bad_request', `Request failed (HTTP ${status})`);
  },
  notFound(req, methodNotAllowed) {
    return methodNotAllowed
      ? onfidoError(405, 'method_not_allowed', `${req.method} is not allowed on ${req.path}`)
      : onfidoError(404, 'resource_not_found', 'The requested resource could not be found');
  },
  schemaViolation: breakSchema,
  finalizeHeaders(req) {
    return { 'x-request-id': req.requestId };
  },
};

function seedApplicants(seed: number): {
  applicants: Map<string, ApplicantRecord>;
  checks: Map<string, CheckRecord>;
  reports: Map<string, ReportRecord>;
} {
  const applicants = new Map<string, ApplicantRecord>();
  const checks = new Map<string, CheckRecord>();
  const reports = new Map<string, ReportRecord>();
  for (const customer of SANDBOX_CUSTOMERS) {
    if (!customer.kycApplicantId) continue;
    const createdAt = new Date(new Date(customer.createdAt).getTime() + 10 * MINUTE);
    applicants.set(customer.kycApplicantId, {
      id: customer.kycApplicantId,
      createdAt,
      body: applicantBody(customer),
      lastName: customer.legal?.familyName ?? '',
    });
    if (!customer.kycOutcome) continue;
    const p = createPrng(seed, 'onfido-check', customer.kycApplicantId);
    const check: CheckRecord = {
      id: p.uuid(),
      applicantId: customer.kycApplicantId,
      createdAt: new Date(createdAt.getTime() + 5 * MINUTE),
      reportIds: [],
    };
    const report = (name: ReportName, fixed: ReportRecord['fixed']) => {
      const r: ReportRecord = {
        id: p.uuid(),
        name,
        checkId: check.id,
        createdAt: check.createdAt,
        ...(fixed ? { fixed } : {}),
      };
      reports.set(r.id, r);
      check.reportIds.push(r.id);
    };
    switch (customer.kycOutcome) {
      case 'clear':
        check.fixed = { status: 'complete', result: 'clear' };
        report('document', { status: 'complete', result: 'clear', subResult: 'clear' });
        report('facial_similarity_photo', { status: 'complete', result: 'clear' });
        break;
      case 'consider':
        check.fixed = { status: 'complete', result: 'consider' };
        report('document', { status: 'complete', result: 'consider', subResult: 'caution' });
        report('facial_similarity_photo', { status: 'complete', result: 'clear' });
        break;
      case 'in_progress':
        check.fixed = { status: 'in_progress' };
        report('document', { status: 'complete', result: 'clear', subResult: 'clear' });
        report('facial_similarity_photo', { status: 'awaiting_approval' });
        break;
      case 'awaiting_applicant':
        check.fixed = { status: 'awaiting_applicant', formUri: `https://id.onfido.com/sandbox/${check.id}` };
        report('document', { status: 'awaiting_data' });
        report('facial_similarity_photo', { status: 'awaiting_data' });
        break;
    }
    checks.set(check.id, check);
  }
  return { applicants, checks, reports };
}

function applicantBody(customer: SandboxCustomer): Record<string, unknown> {
  const legal = customer.legal;
  return {
    first_name: legal?.givenName ?? customer.displayName,
    last_name: legal?.familyName ?? customer.displayName,
    email: customer.email,
    phone_number: customer.phone,
    ...(legal
      ? {
          dob: legal.dateOfBirth,
          address: {
            building_number: legal.address.buildingNumber,
            street: legal.address.street,
            town: legal.address.town,
            postcode: legal.address.postcode,
            country: legal.address.country,
          },
        }
      : {}),
  };
}

export async function startOnfido(options: OnfidoOptions): Promise<RunningOnfido> {
  const now = options.now ?? systemClock;
  const seed = options.seed ?? SANDBOX_SEED;
  const completionMs = options.checkCompletionMs ?? 30 * SECOND_MS;
  const spec = optionalPartnerSpec('onfido');
  const { applicants, checks, reports } = seedApplicants(seed);

  const authorised = (req: SandboxRequest): SandboxReply | undefined => {
    const m = /^Token\s+token="?([^"\s]+)"?\s*$/i.exec(header(req, 'authorization') ?? '');
    return m && m[1] === PLATFORM_PARTNER_CREDENTIALS.onfidoApiToken
      ? undefined
      : onfidoError(401, 'authorization_error', 'Authorization error: please re-check your credentials');
  };

  const renderApplicant = (a: ApplicantRecord) => ({
    id: a.id,
    created_at: a.createdAt.toISOString(),
    href: `${BASE}/applicants/${a.id}`,
    sandbox: true,
    ...a.body,
  });

  const checkState = (c: CheckRecord, at: Date): { status: string; result?: string; formUri?: string } => {
    if (c.fixed) return c.fixed;
    return c.completesAt && at >= c.completesAt
      ? { status: 'complete', result: c.finalResult ?? 'clear' }
      : { status: 'in_progress' };
  };
  const renderCheck = (c: CheckRecord, at: Date) => {
    const s = checkState(c, at);
    return {
      id: c.id,
      created_at: c.createdAt.toISOString(),
      href: `${BASE}/checks/${c.id}`,
      applicant_id: c.applicantId,
      status: s.status,
      ...(s.result ? { result: s.result } : {}),
      ...(s.formUri ? { form_uri: s.formUri } : {}),
      results_uri: `https://dashboard.onfido.com/checks/${c.id}`,
      report_ids: c.reportIds,
      tags: [],
      applicant_provides_data: s.status === 'awaiting_applicant',
      sandbox: true,
      paused: false,
      version: '3.6',
    };
  };
  const renderReport = (r: ReportRecord, at: Date) => {
    let state = r.fixed;
    if (!state) {
      const check = checks.get(r.checkId)!;
      const cs = checkState(check, at);
      state =
        cs.status === 'complete'
          ? {
              status: 'complete',
              result: cs.result!,
              ...(r.name === 'document' ? { subResult: cs.result === 'clear' ? 'clear' : 'caution' } : {}),
            }
          : { status: 'awaiting_approval' };
    }
    const docId = createPrng(seed, 'onfido-document', r.id).uuid();
    return {
      id: r.id,
      created_at: r.createdAt.toISOString(),
      href: `${BASE}/reports/${r.id}`,
      name: r.name,
      check_id: r.checkId,
      status: state.status,
      ...(state.result ? { result: state.result } : {}),
      ...(state.subResult ? { sub_result: state.subResult } : {}),
      documents: [{ id: docId }],
    };
  };

  // Webhooks: the outbox (sandboxes/lib/webhooks.ts) signs with the token and retries on the sandbox clock.
  const outbox = new WebhookOutbox({
    name: 'onfido',
    now,
    logger: options.logger,
    ...(options.webhooks?.maxAttempts ? { maxAttempts: options.webhooks.maxAttempts } : {}),
  });
  const configureWebhooks = (config: { url?: string | undefined; token?: string | undefined }) => {
    outbox.configure({
      url: config.url,
      signer: config.url && config.token ? onfidoSigner(config.token) : undefined,
    });
  };
  configureWebhooks(options.webhooks ?? {});
  /** Onfido's href is the resource's absolute API URL; the server's URL is known once it listens. */
  let serverUrl = '';
  const event = (
    resourceType: 'check' | 'report',
    action: string,
    id: string,
    status: string,
    times: { started_at_iso8601?: string; completed_at_iso8601?: string },
  ) => ({
    payload: {
      resource_type: resourceType,
      action,
      object: { id, status, ...times, href: `${serverUrl}${BASE}/${resourceType}s/${id}` },
    },
  });
  const createLiveCheck = (applicant: ApplicantRecord, names: readonly ReportName[], at: Date): CheckRecord => {
    const check: CheckRecord = {
      id: randomUUID(),
      applicantId: applicant.id,
      createdAt: at,
      reportIds: [],
      completesAt: new Date(at.getTime() + completionMs),
      finalResult: /consider/i.test(applicant.lastName) ? 'consider' : 'clear',
    };
    for (const name of names) {
      const r: ReportRecord = { id: randomUUID(), name, checkId: check.id, createdAt: at };
      reports.set(r.id, r);
      check.reportIds.push(r.id);
    }
    checks.set(check.id, check);
    outbox.enqueue(
      'check.started',
      event('check', 'check.started', check.id, 'in_progress', { started_at_iso8601: at.toISOString() }),
    );
    return check;
  };
  /** Queues the completion events of every live check the sandbox clock has completed (once per check). */
  const queueCompletions = () => {
    if (!outbox.enabled) return;
    const at = now();
    const due = [...checks.values()]
      .filter((c) => c.completesAt && !c.completionQueued && c.completesAt <= at)
      .sort((a, b) => a.completesAt!.getTime() - b.completesAt!.getTime());
    for (const c of due) {
      const completedAt = c.completesAt!.toISOString();
      for (const reportId of c.reportIds)
        outbox.enqueue(
          'report.completed',
          event('report', 'report.completed', reportId, 'complete', { completed_at_iso8601: completedAt }),
        );
      outbox.enqueue(
        'check.completed',
        event('check', 'check.completed', c.id, 'complete', { completed_at_iso8601: completedAt }),
      );
      c.completionQueued = true;
    }
  };
  const flush = async () => {
    queueCompletions();
    await outbox.deliverDue();
  };

  const route = (method: string, path: string, handler: (req: SandboxRequest) => SandboxReply): Route => ({
    method,
    path: `${BASE}${path}`,
    ...(spec ? { spec } : {}),
    basePath: BASE,
    handler: (req) => authorised(req) ?? handler(req),
  });

  const routes: Route[] = [
    route('GET', '/applicants/{applicant_id}', (req) => {
      const a = applicants.get(req.params.applicant_id ?? '');
      return a
        ? { status: 200, body: renderApplicant(a) }
        : onfidoError(404, 'resource_not_found', 'The requested applicant could not be found');
    }),
    route('POST', '/applicants', (req) => {
      const body = req.body as Record<string, unknown>;
      const a: ApplicantRecord = {
        id: randomUUID(),
        createdAt: req.now,
        body: { ...body },
        lastName: String(body.last_name ?? ''),
      };
      delete a.body.consents;
      delete a.body.location;
      applicants.set(a.id, a);
      return { status: 201, body: renderApplicant(a) };
    }),
    route('GET', '/checks', (req) => {
      const applicantId = req.query.get('applicant_id') ?? '';
      if (!applicants.has(applicantId))
        return onfidoError(404, 'resource_not_found', 'The requested applicant could not be found');
      const list = [...checks.values()]
        .filter((c) => c.applicantId === applicantId)
        .sort((x, y) => y.createdAt.getTime() - x.createdAt.getTime());
      return { status: 200, body: { checks: list.map((c) => renderCheck(c, req.now)) } };
    }),
    route('POST', '/checks', (req) => {
      const body = req.body as { applicant_id: string; report_names?: string[] };
      const applicant = applicants.get(body.applicant_id);
      if (!applicant)
        return onfidoError(422, 'validation_error', 'There was a validation error on this request', {
          applicant_id: ['applicant not found'],
        });
      const names = (body.report_names ?? ['document', 'facial_similarity_photo']).filter(
        (n): n is ReportName => n === 'document' || n === 'facial_similarity_photo',
      );
      if (names.length === 0)
        return onfidoError(422, 'validation_error', 'There was a validation error on this request', {
          report_names: ['the sandbox supports document and facial_similarity_photo'],
        });
      const check = createLiveCheck(applicant, names, req.now);
      return { status: 201, body: renderCheck(check, req.now) };
    }),
    route('GET', '/checks/{check_id}', (req) => {
      const c = checks.get(req.params.check_id ?? '');
      return c
        ? { status: 200, body: renderCheck(c, req.now) }
        : onfidoError(404, 'resource_not_found', 'The requested check could not be found');
    }),
    route('GET', '/reports', (req) => {
      const c = checks.get(req.query.get('check_id') ?? '');
      if (!c) return onfidoError(404, 'resource_not_found', 'The requested check could not be found');
      return { status: 200, body: { reports: c.reportIds.map((id) => renderReport(reports.get(id)!, req.now)) } };
    }),
    route('GET', '/reports/{report_id}', (req) => {
      const r = reports.get(req.params.report_id ?? '');
      return r
        ? { status: 200, body: renderReport(r, req.now) }
        : onfidoError(404, 'resource_not_found', 'The requested report could not be found');
    }),
  ];

  const server = await startSandboxServer({
    name: 'onfido',
    port: options.port,
    ...(options.host ? { host: options.host } : {}),
    logger: options.logger,
    now,
    routes: [...routes, ...webhookAdminRoutes(outbox, flush)],
    dialect: onfidoDialect,
    ...(options.adminRoutes !== undefined ? { adminRoutes: options.adminRoutes } : {}),
  });
  serverUrl = server.url;
  const pumpMs = options.webhooks?.pumpIntervalMs ?? 500;
  const pump = pumpMs > 0 ? startPump(flush, pumpMs, options.logger) : undefined;
  return {
    ...server,
    async close() {
      await pump?.stop();
      await server.close();
    },
    basePath: BASE,
    applicantIds: () => [...applicants.keys()],
    createCheck: (applicantId) => {
      const applicant = applicants.get(applicantId);
      if (!applicant) throw new RangeError(`no applicant ${applicantId}`);
      return createLiveCheck(applicant, ['document', 'facial_similarity_photo'], now()).id;
    },
    webhooks: {
      configure: configureWebhooks,
      flush,
      deliveries: () => outbox.deliveries(),
      duplicateNext: (n) => outbox.duplicateNext(n),
      reorderNext: (n) => outbox.reorderNext(n),
    },
  };
}
