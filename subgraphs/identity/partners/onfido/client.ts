import { PartnerError } from '../../../../lib/errors.ts';
import { createHttpClient, type HttpClient, type HttpResponse } from '../../../../lib/http-client.ts';
import type { Logger } from '../../../../lib/logger.ts';
import type { DependencyProtections } from '../../../../lib/resilience-config.ts';
import type { KycCheckLookup, KycProvider } from '../../domain/ports.ts';
import { mapApplicant, mapCheck, mapChecks, mapReports, PARTNER } from './mapping.ts';

/**
 * The Onfido API v3.6 adapter: the four read operations the platform uses, through the shared
 * resilient HTTP client (timeout, retries for GETs, circuit breaker, metrics under "onfido"),
 * authenticated with the platform's API token, validated and mapped on the way in.
 */
export const ONFIDO_BASE_PATH = '/v3.6';

export interface OnfidoClientOptions {
  /** Server root, e.g. http://127.0.0.1:4103 (ONFIDO_URL); the spec's base path is appended. */
  url: string;
  /** ONFIDO_API_TOKEN; undefined (sandbox profile only) sends no credentials. */
  apiToken: string | undefined;
  timeoutMs: number;
  /** Retries, bulkhead and breaker (the ONFIDO_* variables); unset: lib/http-client.ts's defaults. */
  protections?: DependencyProtections;
  logger: Logger;
  /** Extra attempts for failed GETs, over protections.retries (tests); default 2. */
  retries?: number;
}

export interface OnfidoClient extends KycProvider, KycCheckLookup {
  state(): 'closed' | 'open' | 'half-open';
  shutdown(): void;
}

const UUID = /^[0-9a-f]{8}-(?:[0-9a-f]{4}-){3}[0-9a-f]{12}$/i;

export function createOnfidoClient(opts: OnfidoClientOptions): OnfidoClient {
  const http: HttpClient = createHttpClient({
    name: PARTNER,
    baseUrl: `${opts.url.replace(/\/+$/, '')}${ONFIDO_BASE_PATH}`,
    ...opts.protections,
    timeoutMs: opts.timeoutMs,
    logger: opts.logger,
    ...(opts.retries === undefined ? {} : { retries: opts.retries }),
  });
  const log = opts.logger.child({ partner: PARTNER });
  const headers: Record<string, string> = opts.apiToken ? { authorization: `Token token=${opts.apiToken}` } : {};

  /** Refuses to send an id the spec would reject (format: uuid): that is our data bug, not Onfido's. */
  const checkUuid = (value: string, what: string) => {
    if (!UUID.test(value)) throw new Error(`stored ${what} is not a UUID; refusing to call onfido with it`);
  };

  /** Non-2xx answers other than the 404s each operation handles: the partner is not usable right now. */
  const failure = (operation: string, res: HttpResponse): PartnerError => {
    const reason =
      res.status === 401 || res.status === 403 ? "rejected the platform's API token" : `answered HTTP ${res.status}`;
    return new PartnerError(PARTNER, 'unavailable', `${operation} ${reason}`, { status: res.status });
  };

  const get = async (operation: string, path: string, query?: Record<string, string>) => {
    try {
      return await http.request({ method: 'GET', path, operation, headers, ...(query ? { query } : {}) });
    } catch (err) {
      if (err instanceof PartnerError && err.kind === 'contract')
        log.warn({ operation, err: err.message }, 'onfido contract violation');
      throw err;
    }
  };

  const mapped = <T>(operation: string, fn: () => T): T => {
    try {
      return fn();
    } catch (err) {
      if (err instanceof PartnerError) log.warn({ operation, err: err.message }, 'onfido contract violation');
      throw err;
    }
  };

  return {
    async getApplicant(applicantId) {
      checkUuid(applicantId, 'applicant id');
      const res = await get('find_applicant', `/applicants/${encodeURIComponent(applicantId)}`);
      if (res.status === 404) {
        log.warn(
          { operation: 'find_applicant' },
          'onfido does not know a stored applicant; treating the identity as unverified',
        );
        return null;
      }
      if (res.status !== 200) throw failure('find_applicant', res);
      return mapped('find_applicant', () => mapApplicant(res.body, applicantId));
    },
    async listChecks(applicantId) {
      checkUuid(applicantId, 'applicant id');
      const res = await get('list_checks', '/checks', { applicant_id: applicantId });
      if (res.status === 404) {
        log.warn({ operation: 'list_checks' }, 'onfido does not know a stored applicant; treating KYC as not started');
        return [];
      }
      if (res.status !== 200) throw failure('list_checks', res);
      return mapped('list_checks', () => mapChecks(res.body, applicantId));
    },
    async getCheck(checkId) {
      checkUuid(checkId, 'check id');
      const res = await get('find_check', `/checks/${encodeURIComponent(checkId)}`);
      if (res.status === 404) return null;
      if (res.status !== 200) throw failure('find_check', res);
      return mapped('find_check', () => mapCheck(res.body, checkId));
    },
    async listReports(checkId) {
      checkUuid(checkId, 'check id');
      const res = await get('list_reports', '/reports', { check_id: checkId });
      if (res.status === 404) {
        log.warn({ operation: 'list_reports' }, 'onfido lists no reports for a check it returned');
        return [];
      }
      if (res.status !== 200) throw failure('list_reports', res);
      return mapped('list_reports', () => mapReports(res.body, checkId));
    },
    state: () => http.state(),
    shutdown: () => http.shutdown(),
  };
}
