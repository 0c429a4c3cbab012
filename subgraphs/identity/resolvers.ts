import type { Resolvers } from './generated/resolvers-types.ts';

/**
 * Thin resolvers: each delegates to the request's identity service (context.identity), which
 * owns the ownership rules and talks to storage and Onfido through loaders. Profile fields come
 * from identity's own table; legalName, dateOfBirth, address and kyc come from Onfido and fail
 * on their own (PARTNER_UNAVAILABLE naming onfido) without taking the customer down.
 */
export const resolvers: Resolvers = {
  Query: {
    me: (_parent, _args, ctx) => ctx.identity.me(),
    customer: (_parent, { id }, ctx) => ctx.identity.customer(id),
  },
  Customer: {
    __resolveReference: (ref, ctx) => ctx.identity.customerReference(ref.id),
    legalName: async (customer, _args, ctx) => (await ctx.identity.verifiedIdentity(customer))?.legalName ?? null,
    dateOfBirth: async (customer, _args, ctx) => (await ctx.identity.verifiedIdentity(customer))?.dateOfBirth ?? null,
    address: async (customer, _args, ctx) => (await ctx.identity.verifiedIdentity(customer))?.address ?? null,
    kyc: (customer, _args, ctx) => ctx.identity.kyc(customer),
  },
  KycCheck: {
    reports: (check, _args, ctx) => ctx.identity.reports(check),
  },
};
