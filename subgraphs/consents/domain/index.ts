/**
 * The consent domain's public surface. The gateway's authorization work reuses, through the
 * consents subgraph, `consentGrants` (does this consent let its client do X on account Y now?)
 * and the active-consents query (ConsentRepository.findActiveConsents / storage
 * findActiveConsents).
 */
export * from './model.ts';
export type { ConsentReadPort, ConsentRepository, ConsentTransition } from './ports.ts';
export * from './rules.ts';
export { createConsentService, type Caller, type ConsentService } from './service.ts';
export { createConsentReader, type ConsentReader } from './reader.ts';
