import { effectiveStatus } from './domain/rules.ts';
import type { ConsentModel } from './domain/model.ts';
import type { ConsentsContext } from './context.ts';
import type { Resolvers } from './generated/resolvers-types.ts';

/**
 * Thin resolvers: reads go through the request's reader (context.reader: visibility rules +
 * DataLoaders), changes through the consent service (context.consents). `Consent.status` is
 * always the effective status at the request's instant, so a consent past its expiry reads as
 * EXPIRED even before the sweep records it.
 */
async function changed(ctx: ConsentsContext, consent: Promise<ConsentModel>): Promise<ConsentModel> {
  const result = await consent;
  ctx.reader.forget(result.id);
  return result;
}

export const resolvers: Resolvers = {
  Query: {
    consent: (_parent, { id }, ctx) => ctx.reader.consent(id),
    clientApp: (_parent, { id }, ctx) => ctx.reader.clientApp(id),
  },
  Mutation: {
    requestConsent: (_parent, { input }, ctx) =>
      changed(
        ctx,
        ctx.consents.requestConsent(ctx.caller, { permissions: input.permissions, expiresAt: input.expiresAt ?? null }),
      ),
    authoriseConsent: (_parent, { input }, ctx) =>
      changed(ctx, ctx.consents.authoriseConsent(ctx.caller, { id: input.id, accountIds: input.accountIds })),
    rejectConsent: (_parent, { id }, ctx) => changed(ctx, ctx.consents.rejectConsent(ctx.caller, id)),
    revokeConsent: (_parent, { id }, ctx) => changed(ctx, ctx.consents.revokeConsent(ctx.caller, id)),
  },
  Customer: {
    // Customer belongs to identity; consents only adds a field, whose resolver applies the ownership rule.
    __resolveReference: (ref) => ({ id: ref.id }),
    consents: (customer, { status }, ctx) => ctx.reader.customerConsents(customer.id, status),
  },
  Consent: {
    __resolveReference: (ref, ctx) => ctx.reader.consent(ref.id),
    status: (consent, _args, ctx) => effectiveStatus(consent, ctx.now),
    client: (consent, _args, ctx) => ctx.reader.clientOf(consent),
    customer: (consent) => ({ __typename: 'Customer', id: consent.customerId }),
    accounts: (consent) => consent.accountIds.map((id) => ({ __typename: 'Account' as const, id })),
    history: (consent, _args, ctx) => ctx.reader.history(consent),
  },
  ClientApp: {
    __resolveReference: (ref, ctx) => ctx.reader.clientApp(ref.id),
  },
};
