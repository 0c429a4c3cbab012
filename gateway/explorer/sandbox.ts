import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { HttpError } from '../../lib/http-server.ts';
import type { Logger } from '../../lib/logger.ts';

/**
 * The sandbox token panel's two routes, which exist only in the sandbox profile (createExplorer
 * does not register them otherwise, so production answers them 404 like any unknown path):
 *
 *   GET  /explorer/sandbox/world   the seeded customers and client apps, from the sandbox
 *                                  authorization server's GET /sandbox/world
 *   POST /explorer/sandbox/token   { customerId, clientId, scopes } → an access token from its
 *                                  POST /sandbox/tokens
 *
 * The gateway relays them to AUTH_ISSUER (a fixed URL from configuration, never one the request
 * names) so that the explorer page talks to its own origin only: the browser needs no CORS and no
 * second origin, and product code still reaches the sandbox over HTTP only (it never imports
 * sandboxes/). Minting requires a JSON body, which a cross-site form cannot send without a
 * preflight this origin does not grant.
 */
export interface SandboxRelayOptions {
  authIssuer: string;
  timeoutMs: number;
  logger: Logger;
}

const worldSchema = z.object({
  customers: z.array(
    z.object({
      customerId: z.string(),
      displayName: z.string(),
      banks: z.array(z.string()),
      kyc: z.string().nullable(),
    }),
  ),
  clients: z.array(
    z.object({
      clientId: z.string(),
      name: z.string(),
      kind: z.string(),
      actsForCustomer: z.boolean(),
      allowedScopes: z.array(z.string()),
    }),
  ),
});

const tokenRequestSchema = z.object({
  customerId: z.string().min(1).max(100).nullable().optional(),
  clientId: z.string().min(1).max(100),
  scopes: z.array(z.string().min(1).max(100)).max(50),
});

const tokenAnswerSchema = z.object({
  access_token: z.string(),
  token_type: z.string(),
  expires_in: z.number(),
  scope: z.string(),
});
const oauthErrorSchema = z.object({ error: z.string(), error_description: z.string().optional() });

const MAX_BODY_BYTES = 4096;

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  if (!String(req.headers['content-type'] ?? '').startsWith('application/json'))
    throw new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', 'send the token request as application/json');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES)
      throw new HttpError(413, 'PAYLOAD_TOO_LARGE', `request body exceeds ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new HttpError(400, 'BAD_REQUEST', 'request body is not valid JSON');
  }
}

export function sandboxRelay(opts: SandboxRelayOptions) {
  const base = opts.authIssuer.replace(/\/+$/, '');
  const log = opts.logger.child({ component: 'explorer-sandbox' });

  async function call(path: string, init: RequestInit = {}): Promise<{ status: number; body: unknown }> {
    try {
      const res = await fetch(`${base}${path}`, {
        ...init,
        headers: { accept: 'application/json', ...init.headers },
        signal: AbortSignal.timeout(opts.timeoutMs),
      });
      return { status: res.status, body: await res.json().catch(() => undefined) };
    } catch (err) {
      log.warn({ path, err: (err as Error).message }, 'sandbox authorization server unreachable');
      throw new HttpError(
        502,
        'SANDBOX_AUTH_UNAVAILABLE',
        `the sandbox authorization server at ${base} does not answer; is the platform running (npm start)?`,
      );
    }
  }

  return {
    async world(res: ServerResponse): Promise<void> {
      const { status, body } = await call('/sandbox/world');
      const world = worldSchema.safeParse(body);
      if (status !== 200 || !world.success) {
        log.warn({ status }, 'sandbox authorization server gave no usable /sandbox/world answer');
        throw new HttpError(
          502,
          'SANDBOX_AUTH_UNAVAILABLE',
          `the authorization server at ${base} does not list sandbox customers and clients (is it the sandbox one?)`,
        );
      }
      send(res, 200, world.data);
    },

    async token(req: IncomingMessage, res: ServerResponse): Promise<void> {
      const parsed = tokenRequestSchema.safeParse(await readJson(req));
      if (!parsed.success)
        throw new HttpError(
          400,
          'BAD_USER_INPUT',
          `token request: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ')}`,
        );
      const { status, body } = await call('/sandbox/tokens', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          customerId: parsed.data.customerId ?? null,
          clientId: parsed.data.clientId,
          scopes: parsed.data.scopes,
        }),
      });
      const token = tokenAnswerSchema.safeParse(body);
      if (status === 200 && token.success) return send(res, 200, token.data);
      const refusal = oauthErrorSchema.safeParse(body);
      if (status >= 400 && status < 500 && refusal.success) {
        throw new HttpError(
          400,
          'TOKEN_REFUSED',
          refusal.data.error_description ?? refusal.data.error,
          {},
          { oauthError: refusal.data.error },
        );
      }
      log.warn({ status }, 'sandbox authorization server gave no usable token answer');
      throw new HttpError(
        502,
        'SANDBOX_AUTH_UNAVAILABLE',
        `the authorization server at ${base} did not issue a token (HTTP ${status})`,
      );
    },
  };
}
