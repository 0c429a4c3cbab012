import type { Resolvers } from './generated/resolvers-types.ts';

/**
 * Thin resolvers over the request's consents service (context.service): reads with the visibility
 * rules and DataLoaders, changes through the lifecycle. `Consent.status` is always the effective
 * status at the request's instant, so a consent past its expiry reads as EXPIRED even before the
 * sweep records it.
 */
export const resolvers: Resolvers = {
  Query: {
    consent: (_parent, { id }, ctx) => ctx.service.consent(id),
    clientApp: (_parent, { id }, ctx) => ctx.service.clientApp(id),
  },
  Mutation: {
    requestConsent: (_parent, { input }, ctx) =>
      ctx.service.requestConsent({ permissions: input.permissions, expiresAt: input.expiresAt ?? null }),
    authoriseConsent: (_parent, { input }, ctx) =>
      ctx.service.authoriseConsent({ id: input.id, accountIds: input.accountIds }),
    rejectConsent: (_parent, { id }, ctx) => ctx.service.rejectConsent(id),
    revokeConsent: (_parent, { id }, ctx) => ctx.service.revokeConsent(id),
  },
  Customer: {
    // Customer belongs to identity; consents only adds a field, whose resolver applies the ownership rule.
    __resolveReference: (ref) => ({ id: ref.id }),
    consents: (customer, { status }, ctx) => ctx.service.customerConsents(customer.id, status),
  },
  Consent: {
    __resolveReference: (ref, ctx) => ctx.service.consent(ref.id),
    status: (consent, _args, ctx) => ctx.service.status(consent),
    client: (consent, _args, ctx) => ctx.service.clientOf(consent),
    customer: (consent) => ({ __typename: 'Customer', id: consent.customerId }),
    accounts: (consent) => consent.accountIds.map((id) => ({ __typename: 'Account' as const, id })),
    history: (consent, _args, ctx) => ctx.service.history(consent),
  },
  ClientApp: {
    __resolveReference: (ref, ctx) => ctx.service.clientApp(ref.id),
  },
};
