import { z } from 'zod';
import { ONFIDO_COUNTRY_CODES } from './country-codes.ts';

/**
 * The parts of the Onfido API v3.6 contract (onfido-3.6.json) that the platform reads, as zod
 * schemas. Enums and patterns are the spec's; fields the platform does not read are allowed and
 * ignored (OpenAPI objects are open by default).
 *
 * Deliberate tolerance: Onfido sends `null` for optional values it does not have (a running
 * check has `"result": null`; the spec says as much for `sub_result`). The schemas accept null
 * wherever the field is optional in the spec and treat it as absent. Wrong types, unknown enum
 * values, malformed ids and dates are violations.
 */

/** format: uuid, as ajv-formats checks it. */
const uuid = z.string().regex(/^[0-9a-f]{8}-(?:[0-9a-f]{4}-){3}[0-9a-f]{12}$/i, 'must be a UUID');
/** format: date-time (RFC 3339 with a zone). */
const dateTime = z.iso.datetime({ offset: true });
/** applicant_first_name / applicant_last_name pattern. */
const personName = z.string().regex(/^[^!#$%*=<>;{}"]*$/, 'contains characters Onfido forbids in names');

export const CHECK_STATUSES = [
  'in_progress',
  'awaiting_applicant',
  'complete',
  'withdrawn',
  'paused',
  'reopened',
] as const;
export const CHECK_RESULTS = ['clear', 'consider'] as const;
export const REPORT_STATUSES = ['awaiting_data', 'awaiting_approval', 'cancelled', 'complete', 'withdrawn'] as const;
export const REPORT_RESULTS = ['clear', 'consider', 'unidentified'] as const;
export const REPORT_NAMES = [
  'document',
  'document_video',
  'document_video_with_address_information',
  'document_with_address_information',
  'document_with_driving_licence_information',
  'document_with_driver_verification',
  'facial_similarity_photo',
  'facial_similarity_photo_fully_auto',
  'facial_similarity_video',
  'facial_similarity_motion',
  'known_faces',
  'identity_enhanced',
  'watchlist_aml',
  'watchlist_enhanced',
  'watchlist_standard',
  'watchlist_peps_only',
  'watchlist_sanctions_only',
  'proof_of_address',
  'us_driving_licence',
  'device_intelligence',
  'india_pan',
] as const;

const addressLine = z.string().regex(/^[^!$%^*=<>]*$/, 'contains characters Onfido forbids in address lines');

/** components.schemas.address (address_shared): country and postcode are required. */
export const onfidoAddress = z.object({
  flat_number: z.string().nullish(),
  building_number: z.string().nullish(),
  building_name: z.string().nullish(),
  street: z.string().nullish(),
  sub_street: z.string().nullish(),
  town: z.string().nullish(),
  postcode: z.string(),
  country: z.enum(ONFIDO_COUNTRY_CODES),
  state: z.string().nullish(),
  line1: addressLine.nullish(),
  line2: addressLine.nullish(),
  line3: addressLine.nullish(),
});

/** components.schemas.applicant (applicant_shared + applicant_response): id is required. */
export const onfidoApplicant = z.object({
  id: uuid,
  first_name: personName.nullish(),
  last_name: personName.nullish(),
  dob: z.iso.date().nullish(),
  email: z.string().nullish(),
  phone_number: z.string().nullish(),
  created_at: dateTime.nullish(),
  address: onfidoAddress.nullish(),
});

/** components.schemas.check (check_shared + check_response): id and applicant_id are required. */
export const onfidoCheck = z.object({
  id: uuid,
  applicant_id: uuid,
  created_at: dateTime.nullish(),
  status: z.enum(CHECK_STATUSES).nullish(),
  result: z.enum(CHECK_RESULTS).nullish(),
  report_ids: z.array(uuid).nullish(),
});

/** components.schemas.Checks_list. */
export const onfidoChecksList = z.object({ checks: z.array(onfidoCheck) });

/** components.schemas.report (report_shared, whichever report kind): id and name are required. */
export const onfidoReport = z.object({
  id: uuid,
  name: z.enum(REPORT_NAMES),
  check_id: uuid.nullish(),
  created_at: dateTime.nullish(),
  status: z.enum(REPORT_STATUSES).nullish(),
  result: z.enum(REPORT_RESULTS).nullish(),
  sub_result: z.enum(['clear', 'rejected', 'suspected', 'caution']).nullish(),
});

/** components.schemas.Reports_list. */
export const onfidoReportsList = z.object({ reports: z.array(onfidoReport) });

export type OnfidoApplicant = z.infer<typeof onfidoApplicant>;
export type OnfidoAddress = z.infer<typeof onfidoAddress>;
export type OnfidoCheck = z.infer<typeof onfidoCheck>;
export type OnfidoReport = z.infer<typeof onfidoReport>;
