import type { BaseSubgraphContext } from '../../lib/subgraph-server.ts';
import type { ConsentReader } from './domain/reader.ts';
import type { Caller, ConsentService } from './domain/service.ts';

/** Per-request context of the consents subgraph. */
export interface ConsentsContext extends BaseSubgraphContext {
  /** The instant the whole request is evaluated at: statuses, expiry and transitions agree on it. */
  now: Date;
  /** The verified caller, for mutations. */
  caller: Caller;
  /** Reads with the visibility rules applied, batched per request. */
  reader: ConsentReader;
  /** The consent lifecycle. */
  consents: ConsentService;
}
