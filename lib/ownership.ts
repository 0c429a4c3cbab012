import { defaultFieldResolver, isObjectType, type GraphQLSchema } from 'graphql';

/**
 * Ownership stamps: defence in depth against any bug that hands one customer's objects to
 * another (a shared cache, memo, DataLoader or deduplication keyed too loosely, in any layer).
 *
 * Every subgraph records, for each first-party object it serves (Customer, Account, Transaction,
 * Payment, Consent), the customer who owns it, read from the object it actually loaded, and
 * returns the map in the response's `extensions.owners` ({ "<object id>": "<customer id>" }).
 * The gateway records the stamps of every subgraph answer of a request and, on every field that
 * returns such an object, refuses an object owned by anyone but the caller's customer
 * (gateway/authorization/ownership.ts). A correct system never trips it; a refusal is logged as
 * a security event and counted in /metrics.
 */
export const OWNERS_EXTENSION = 'owners';

/** The object types that belong to exactly one customer, and where the owner is read from. */
export const OWNED_TYPES: Readonly<Record<string, (object: Record<string, unknown>) => unknown>> = {
  Customer: (o) => o.id,
  Account: (o) => o.customerId,
  Transaction: (o) => o.customerId,
  Payment: (o) => o.customerId,
  Consent: (o) => o.customerId,
};

/** Object id → owning customer id, as served for one request. */
export type Owners = Record<string, string>;

/**
 * The owner of an object of `typeName`, or undefined when the type is not owned or the object does not say (a bare
 * reference).
 */
export function ownerOf(typeName: string, object: unknown): { id: string; owner: string } | undefined {
  const read = OWNED_TYPES[typeName];
  if (!read || !object || typeof object !== 'object') return undefined;
  const o = object as Record<string, unknown>;
  const owner = read(o);
  return typeof o.id === 'string' && typeof owner === 'string' ? { id: o.id, owner } : undefined;
}

/**
 * Subgraph side: wraps every field resolver of the owned types so that each object whose field
 * is resolved is recorded in `record(context)` (a per-request map). Mutates and returns the schema.
 */
export function stampOwnership(
  schema: GraphQLSchema,
  ownersOf: (context: unknown) => Map<string, string>,
): GraphQLSchema {
  for (const typeName of Object.keys(OWNED_TYPES)) {
    const type = schema.getType(typeName);
    if (!isObjectType(type)) continue;
    for (const field of Object.values(type.getFields())) {
      const resolve = field.resolve ?? defaultFieldResolver;
      field.resolve = (parent, args, context, info) => {
        const stamp = ownerOf(typeName, parent);
        if (stamp) ownersOf(context).set(stamp.id, stamp.owner);
        return resolve(parent, args, context, info);
      };
    }
  }
  return schema;
}

/** Gateway side: the stamps of one subgraph answer, validated (anything malformed is ignored, never trusted). */
export function ownersFromExtensions(extensions: unknown): Owners | undefined {
  const owners =
    extensions && typeof extensions === 'object'
      ? (extensions as Record<string, unknown>)[OWNERS_EXTENSION]
      : undefined;
  if (!owners || typeof owners !== 'object' || Array.isArray(owners)) return undefined;
  const out: Owners = {};
  for (const [id, owner] of Object.entries(owners)) if (typeof owner === 'string') out[id] = owner;
  return out;
}
