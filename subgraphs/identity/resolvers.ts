import type { Resolvers } from './generated/resolvers-types.ts';

/**
 * Thin resolvers: each delegates to the request's identity service (context.service), which
 * owns the ownership rules and talks to storage and Onfido through loaders. Profile fields come
 * from identity's own table; legalName, dateOfBirth, address and kyc come from Onfido and fail
 * on their own (PARTNER_UNAVAILABLE naming onfido) without taking the customer down.
 */
export const resolvers: Resolvers = {
  Query: {
    me: (_parent, _args, ctx) => ctx.service.me(),
    customer: (_parent, { id }, ctx) => ctx.service.customer(id),
    kycWebhookEvents: (_parent, args, ctx) => ctx.service.kycWebhookEvents(args),
  },
  Mutation: {
    replayKycWebhookEvents: (_parent, { input }, ctx) => ctx.service.replayKycWebhookEvents(input),
  },
  Customer: {
    __resolveReference: (ref, ctx) => ctx.service.customerReference(ref.id),
    legalName: async (customer, _args, ctx) => (await ctx.service.verifiedIdentity(customer))?.legalName ?? null,
    dateOfBirth: async (customer, _args, ctx) => (await ctx.service.verifiedIdentity(customer))?.dateOfBirth ?? null,
    address: async (customer, _args, ctx) => (await ctx.service.verifiedIdentity(customer))?.address ?? null,
    kyc: (customer, _args, ctx) => ctx.service.kyc(customer),
  },
  KycCheck: {
    reports: (check, _args, ctx) => ctx.service.reports(check),
  },
};
