import { isId } from '../../../lib/ids.ts';
import type { Principal } from '../../../lib/principal.ts';
import {
  isClientId,
  isPublicClient,
  type ConsentModel,
  type ConsentEventModel,
  type ConsentStatus,
  type PublicClientAppModel,
} from './model.ts';
import type { ConsentReadPort } from './ports.ts';
import { canView, effectiveStatus, historyOf, newestFirst, viewerFor, type Viewer } from './rules.ts';

/**
 * Per-request reads with the visibility rules applied. Anything the caller may not see
 * behaves exactly like something that does not exist (null or an empty list).
 */
export type ConsentReader = ReturnType<typeof createConsentReader>;

export function createConsentReader(port: ConsentReadPort, principal: Principal | null, now: Date) {
  let viewer: Promise<Viewer | null> | undefined;
  const currentViewer = () =>
    (viewer ??= (async () => {
      if (!principal || !isClientId(principal.clientId)) return null;
      return viewerFor(principal, await port.client(principal.clientId));
    })());

  return {
    now,
    viewer: currentViewer,

    async consent(id: string): Promise<ConsentModel | null> {
      if (typeof id !== 'string' || !isId(id, 'cns')) return null;
      const v = await currentViewer();
      if (!v) return null;
      const consent = await port.consent(id);
      return consent && canView(v, consent) ? consent : null;
    },

    /** The customer's consents the caller may see, newest first, optionally by (effective) status. */
    async customerConsents(customerId: string, statuses?: readonly ConsentStatus[] | null): Promise<ConsentModel[]> {
      const v = await currentViewer();
      if (!v || typeof customerId !== 'string' || v.customerId !== customerId) return [];
      const all = await port.consentsOfCustomer(customerId);
      return all
        .filter((c) => canView(v, c))
        .filter((c) => !statuses || statuses.length === 0 || statuses.includes(effectiveStatus(c, now)))
        .sort(newestFirst);
    },

    /** A consent's evidence trail; the consent was already checked when it was read. */
    async history(consent: ConsentModel): Promise<ConsentEventModel[]> {
      return historyOf(consent, await port.events(consent.id), now);
    },

    /** Public information about a client app; internal (STAFF, MACHINE) and unknown clients read as null. */
    async clientApp(id: string): Promise<PublicClientAppModel | null> {
      if (typeof id !== 'string' || !isClientId(id)) return null;
      const client = await port.client(id);
      return client && isPublicClient(client) ? client : null;
    },

    /** The client a consent is granted to; it always exists (a foreign key) and is a THIRD_PARTY client. */
    async clientOf(consent: ConsentModel): Promise<PublicClientAppModel> {
      const client = await port.client(consent.clientId);
      if (!client || !isPublicClient(client))
        throw new Error(`consent ${consent.id} refers to client ${consent.clientId}, which is not a public client`);
      return client;
    },

    forget: (consentId: string) => port.forget(consentId),
  };
}
