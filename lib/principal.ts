/**
 * The verified caller, as the gateway established it from the access token. It reaches the
 * subgraphs inside the signed internal context (internal-auth.ts), never from client headers.
 */
export interface Principal {
  /** The customer the token acts for (`sub`), or null for staff and machine clients. */
  customerId: string | null;
  /** The client application (`client_id` / `azp`). */
  clientId: string;
  /** Granted OAuth scopes. */
  scopes: string[];
}

export function hasScope(principal: Principal | null, scope: string): boolean {
  return principal?.scopes.includes(scope) ?? false;
}
