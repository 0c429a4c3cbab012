import type { GraphQLSchema } from 'graphql';
import { metricsOf } from '../../lib/metrics.ts';
import { OWNED_TYPES, ownersFromExtensions } from '../../lib/ownership.ts';
import type { Logger } from '../../lib/logger.ts';
import type { Principal } from '../../lib/principal.ts';
import { forbidden } from './engine.ts';
import { graphqlRuntime } from './graphql-runtime.ts';

/**
 * Defence in depth (lib/ownership.ts): every subgraph stamps the first-party objects it serves
 * with their owner; the gateway keeps the stamps of a request's subgraph answers in a ledger of
 * that request, and every field that returns a Customer, Account, Transaction, Payment or
 * Consent refuses an object stamped with another owner than the caller's customer.
 *
 * The ownership rules proper (who may read what) are the policy's; this check exists for the
 * day a bug in some layer (a cache, a memo, a DataLoader, a deduplication keyed too loosely, in
 * the gateway or in a subgraph) hands one customer's object to another. Then the object is
 * refused with the same FORBIDDEN as any denial, and the event is logged as a security event
 * (`securityEvent: 'foreign_object'`) and counted in security_events_total{kind="foreign_object"}.
 *
 * What it cannot see: an object without a stamp (a bare reference such as Payment.debtorAccount
 * when only its id is selected, which no subgraph loaded), and an object whose `id` the gateway
 * did not select. Those pass on the policy's own rules alone.
 */
const { defaultFieldResolver, getNamedType, isObjectType } = graphqlRuntime;

/**
 * What this check reads of the gateway's request context (GatewayContext, gateway/executor.ts,
 * has these). Declared here because the executor imports recordOwners: importing its type
 * back would make the two modules a circle.
 */
interface OwnershipContext {
  principal: Principal | null;
  requestId: string;
  logger: Logger;
}

/** A request's stamps: object id → owner; CONFLICT when two answers disagreed (never served). */
const CONFLICT = Symbol('conflicting owners');
const ledgers = new WeakMap<object, Map<string, string | typeof CONFLICT>>();

function ledgerOf(context: object): Map<string, string | typeof CONFLICT> {
  let ledger = ledgers.get(context);
  if (!ledger) ledgers.set(context, (ledger = new Map()));
  return ledger;
}

/** Records the stamps of one subgraph answer for the request `context`. */
export function recordOwners(context: unknown, extensions: unknown): void {
  if (!context || typeof context !== 'object') return;
  const owners = ownersFromExtensions(extensions);
  if (!owners) return;
  const ledger = ledgerOf(context);
  for (const [id, owner] of Object.entries(owners)) {
    const known = ledger.get(id);
    ledger.set(id, known === undefined || known === owner ? owner : CONFLICT);
  }
}

/**
 * Wraps every field whose (list or single) result is an owned type so that it refuses an object
 * stamped with another owner than the caller's customer. Mutates and returns the schema.
 */
export function refuseForeignObjects(schema: GraphQLSchema): GraphQLSchema {
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || type.name.startsWith('__')) continue;
    for (const field of Object.values(type.getFields())) {
      const returned = getNamedType(field.type);
      if (!OWNED_TYPES[returned.name]) continue;
      const resolve = field.resolve ?? defaultFieldResolver;
      field.resolve = async (parent, args, context: OwnershipContext, info) => {
        const result: unknown = await resolve(parent, args, context, info);
        const foreign = foreignObjects(result, context);
        if (foreign.length > 0) {
          metricsOf('gateway').securityEvents.labels('foreign_object').inc(foreign.length);
          context.logger.error(
            {
              securityEvent: 'foreign_object',
              requestId: context.requestId,
              field: `${type.name}.${field.name}`,
              caller: context.principal?.customerId ?? null,
              clientId: context.principal?.clientId,
              objects: foreign,
            },
            'SECURITY: an object owned by another customer reached this request; refused',
          );
          throw forbidden();
        }
        return result;
      };
    }
  }
  return schema;
}

/** Ids (with their stamped owners) of the objects in `value` that do not belong to the caller's customer. */
function foreignObjects(value: unknown, context: OwnershipContext): { id: string; owner: string }[] {
  const ledger = context && typeof context === 'object' ? ledgers.get(context) : undefined;
  if (!ledger || value === null || value === undefined) return [];
  const caller = context.principal?.customerId ?? null;
  const out: { id: string; owner: string }[] = [];
  for (const item of Array.isArray(value) ? value.flat(Infinity) : [value]) {
    const id = item && typeof item === 'object' ? (item as { id?: unknown }).id : undefined;
    if (typeof id !== 'string') continue;
    const owner = ledger.get(id);
    if (owner === undefined || owner === caller) continue;
    out.push({ id, owner: owner === CONFLICT ? 'conflicting stamps' : owner });
  }
  return out;
}
