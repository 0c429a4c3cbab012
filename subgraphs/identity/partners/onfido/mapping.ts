import type { z } from 'zod';
import { PartnerError } from '../../../../lib/errors.ts';
import type {
  KycCheckStatus,
  KycReportKind,
  KycReportModel,
  KycReportStatus,
  KycResult,
  PostalAddressModel,
  ProviderKycCheck,
  VerifiedIdentity,
} from '../../domain/model.ts';
import type { KycCheckRecord } from '../../domain/ports.ts';
import {
  onfidoApplicant,
  onfidoCheck,
  onfidoChecksList,
  onfidoReportsList,
  type OnfidoAddress,
  type OnfidoCheck,
  type OnfidoReport,
} from './schemas.ts';

/**
 * Onfido v3.6 payloads -> the canonical identity model. Every payload is validated on the way
 * in; a violation throws PartnerError('onfido', 'contract', ...) naming the operation and the
 * offending paths (never the values, which are personal data).
 */
export const PARTNER = 'onfido';

function violation(operation: string, detail: string): PartnerError {
  return new PartnerError(PARTNER, 'contract', `${operation} response violates the Onfido v3.6 contract: ${detail}`);
}

function parse<S extends z.ZodType>(schema: S, body: unknown, operation: string): z.infer<S> {
  const result = schema.safeParse(body);
  if (!result.success) {
    const issues = result.error.issues.slice(0, 5).map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`);
    throw violation(operation, issues.join('; '));
  }
  return result.data;
}

const CHECK_STATUS: Record<NonNullable<OnfidoCheck['status']>, KycCheckStatus> = {
  in_progress: 'IN_PROGRESS',
  awaiting_applicant: 'AWAITING_APPLICANT',
  complete: 'COMPLETE',
  withdrawn: 'WITHDRAWN',
  paused: 'PAUSED',
  reopened: 'REOPENED',
};

const RESULT: Record<NonNullable<OnfidoReport['result']>, KycResult> = {
  clear: 'CLEAR',
  consider: 'CONSIDER',
  unidentified: 'UNIDENTIFIED',
};

const REPORT_STATUS: Record<NonNullable<OnfidoReport['status']>, KycReportStatus> = {
  awaiting_data: 'AWAITING_DATA',
  awaiting_approval: 'AWAITING_APPROVAL',
  cancelled: 'CANCELLED',
  complete: 'COMPLETE',
  withdrawn: 'WITHDRAWN',
};

/** Onfido report names grouped into the kinds the platform models. */
const REPORT_KIND: Record<OnfidoReport['name'], KycReportKind> = {
  document: 'DOCUMENT',
  document_video: 'DOCUMENT',
  document_video_with_address_information: 'DOCUMENT',
  document_with_address_information: 'DOCUMENT',
  document_with_driving_licence_information: 'DOCUMENT',
  document_with_driver_verification: 'DOCUMENT',
  us_driving_licence: 'DOCUMENT',
  facial_similarity_photo: 'FACIAL_SIMILARITY',
  facial_similarity_photo_fully_auto: 'FACIAL_SIMILARITY',
  facial_similarity_video: 'FACIAL_SIMILARITY',
  facial_similarity_motion: 'FACIAL_SIMILARITY',
  watchlist_aml: 'WATCHLIST',
  watchlist_enhanced: 'WATCHLIST',
  watchlist_standard: 'WATCHLIST',
  watchlist_peps_only: 'WATCHLIST',
  watchlist_sanctions_only: 'WATCHLIST',
  identity_enhanced: 'IDENTITY',
  india_pan: 'IDENTITY',
  proof_of_address: 'PROOF_OF_ADDRESS',
  known_faces: 'OTHER',
  device_intelligence: 'OTHER',
};

export function reportKind(name: OnfidoReport['name']): KycReportKind {
  return REPORT_KIND[name];
}

const present = (s: string | null | undefined): s is string => typeof s === 'string' && s.trim().length > 0;

/**
 * Onfido address -> PostalAddress. Building: the number, else the building name (with the flat
 * in front when there is one). Street: street and sub-street. The canonical address needs a
 * town; an Onfido address without one (spec-valid, rare) maps to null rather than inventing one.
 */
export function mapAddress(a: OnfidoAddress): PostalAddressModel | null {
  if (!present(a.town)) return null;
  const building = present(a.building_number) ? a.building_number : present(a.building_name) ? a.building_name : null;
  const flat = present(a.flat_number) ? `Flat ${a.flat_number.trim()}` : null;
  const buildingNumber = [flat, building?.trim() ?? null].filter(present).join(', ') || null;
  const street =
    [a.street, a.sub_street]
      .filter(present)
      .map((s) => s.trim())
      .join(', ') || null;
  return { buildingNumber, street, town: a.town.trim(), postcode: a.postcode.trim(), country: a.country };
}

/** GET /applicants/{applicant_id} -> the verified identity (legal name only when both parts are known). */
export function mapApplicant(body: unknown, applicantId: string): VerifiedIdentity {
  const applicant = parse(onfidoApplicant, body, 'find_applicant');
  if (applicant.id.toLowerCase() !== applicantId.toLowerCase())
    throw violation('find_applicant', 'returned a different applicant than requested');
  const legalName =
    present(applicant.first_name) && present(applicant.last_name)
      ? { givenName: applicant.first_name.trim(), familyName: applicant.last_name.trim() }
      : null;
  return {
    legalName,
    dateOfBirth: applicant.dob ?? null,
    address: applicant.address ? mapAddress(applicant.address) : null,
  };
}

/**
 * GET /checks?applicant_id= -> the applicant's checks. The platform needs a status and a
 * creation time for each check (optional in the spec); a check without them cannot be summarised
 * and is reported as a contract violation, as is a check of another applicant.
 */
export function mapChecks(body: unknown, applicantId: string): ProviderKycCheck[] {
  const { checks } = parse(onfidoChecksList, body, 'list_checks');
  return checks.map((c, i) => {
    if (c.applicant_id.toLowerCase() !== applicantId.toLowerCase())
      throw violation('list_checks', `checks.${i} belongs to another applicant`);
    if (!c.status) throw violation('list_checks', `checks.${i}.status is missing`);
    if (!c.created_at) throw violation('list_checks', `checks.${i}.created_at is missing`);
    return {
      providerCheckId: c.id,
      status: CHECK_STATUS[c.status],
      result: c.result ? RESULT[c.result] : null,
      createdAt: new Date(c.created_at),
    };
  });
}

/** GET /checks/{check_id} -> the check with its applicant (what a webhook's href points to). */
export function mapCheck(body: unknown, checkId: string): KycCheckRecord {
  const c = parse(onfidoCheck, body, 'find_check');
  if (c.id.toLowerCase() !== checkId.toLowerCase()) throw violation('find_check', 'returned a different check');
  if (!c.status) throw violation('find_check', 'status is missing');
  if (!c.created_at) throw violation('find_check', 'created_at is missing');
  return {
    providerCheckId: c.id,
    applicantId: c.applicant_id,
    status: CHECK_STATUS[c.status],
    result: c.result ? RESULT[c.result] : null,
    createdAt: new Date(c.created_at),
  };
}

/** GET /reports?check_id= -> the check's reports; each needs a status, and must belong to the check. */
export function mapReports(body: unknown, checkId: string): KycReportModel[] {
  const { reports } = parse(onfidoReportsList, body, 'list_reports');
  return reports.map((r, i) => {
    if (r.check_id && r.check_id.toLowerCase() !== checkId.toLowerCase())
      throw violation('list_reports', `reports.${i} belongs to another check`);
    if (!r.status) throw violation('list_reports', `reports.${i}.status is missing`);
    return { kind: REPORT_KIND[r.name], status: REPORT_STATUS[r.status], result: r.result ? RESULT[r.result] : null };
  });
}
