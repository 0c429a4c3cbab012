import { createHmac, timingSafeEqual } from 'node:crypto';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';

/**
 * Signature checks for incoming webhooks. Both throw WebhookRejected, whose `status` and `code`
 * are what the receiver answers; nothing about the expected signature is ever revealed.
 */
export type RejectionCode =
  | 'WEBHOOK_HEADERS_MISSING'
  | 'WEBHOOK_SIGNATURE_INVALID'
  | 'WEBHOOK_TIMESTAMP_INVALID'
  | 'WEBHOOK_BODY_TOO_LARGE'
  | 'WEBHOOK_METHOD_NOT_ALLOWED';

export class WebhookRejected extends Error {
  readonly status: number;
  readonly code: RejectionCode;
  constructor(status: number, code: RejectionCode, message: string) {
    super(message);
    this.name = 'WebhookRejected';
    this.status = status;
    this.code = code;
  }
}

export type HeaderBag = Record<string, string | string[] | undefined>;

/** One header's value (the first, if it was sent several times), looked up case-insensitively. */
export function headerValue(headers: HeaderBag, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() !== wanted || value === undefined) continue;
    return Array.isArray(value) ? value[0] : value;
  }
  return undefined;
}

/**
 * A Standard Webhooks verifier (webhook-id, webhook-timestamp, webhook-signature; HMAC-SHA256
 * over `${id}.${timestamp}.${body}`; `whsec_`-prefixed base64 secrets). The checks are the
 * `standardwebhooks` package's own Webhook.verify: constant-time comparison of every `v1,`
 * signature in the header, and a timestamp within 5 minutes of this machine's clock either way
 * (the package's fixed tolerance, which is also the spec's recommendation).
 *
 * `secrets` are the secrets accepted now: during a rotation both the new and the previous one,
 * so that deliveries signed with either (or, as the spec has senders do, with both) pass.
 */
export function standardWebhooksVerifier(secrets: readonly string[]): (rawBody: string, headers: HeaderBag) => void {
  if (secrets.length === 0) throw new RangeError('standardWebhooksVerifier needs at least one secret');
  const webhooks = secrets.map((secret) => new Webhook(secret));
  return (rawBody, headers) => {
    const id = headerValue(headers, 'webhook-id');
    const timestamp = headerValue(headers, 'webhook-timestamp');
    const signature = headerValue(headers, 'webhook-signature');
    if (!id || !timestamp || !signature)
      throw new WebhookRejected(
        400,
        'WEBHOOK_HEADERS_MISSING',
        'webhook-id, webhook-timestamp and webhook-signature are required',
      );
    // The message id is part of what is signed, and a "." in it could shift the boundary between id and timestamp.
    if (id.includes('.') || !/^\d{1,12}$/.test(timestamp))
      throw new WebhookRejected(400, 'WEBHOOK_HEADERS_MISSING', 'webhook-id or webhook-timestamp is malformed');
    let lastError: unknown;
    for (const webhook of webhooks) {
      try {
        webhook.verify(
          rawBody,
          { 'webhook-id': id, 'webhook-timestamp': timestamp, 'webhook-signature': signature },
          {
            jsonParse: false,
          },
        );
        return;
      } catch (err) {
        lastError = err;
        // A timestamp outside the tolerance fails the same way for every secret: say so at once.
        if (err instanceof WebhookVerificationError && /timestamp/i.test(err.message)) break;
      }
    }
    if (lastError instanceof WebhookVerificationError && /timestamp/i.test(lastError.message))
      throw new WebhookRejected(
        401,
        'WEBHOOK_TIMESTAMP_INVALID',
        'webhook-timestamp is outside the 5-minute tolerance',
      );
    throw new WebhookRejected(401, 'WEBHOOK_SIGNATURE_INVALID', 'no webhook-signature matches');
  };
}

/**
 * Onfido's scheme: `X-SHA2-Signature` is the hex HMAC-SHA256 of the raw body under the webhook
 * token (no timestamp, so no replay window: the inbox's unique event id is what stops replays).
 * Compared in constant time; a header that is not 64 hex digits fails before any comparison.
 * `tokens`: the current webhook token and, while rotating, the previous one.
 */
export function onfidoVerifier(tokens: readonly string[]): (rawBody: string, headers: HeaderBag) => void {
  if (tokens.length === 0) throw new RangeError('onfidoVerifier needs at least one token');
  return (rawBody, headers) => {
    const given = headerValue(headers, 'x-sha2-signature');
    if (!given) throw new WebhookRejected(400, 'WEBHOOK_HEADERS_MISSING', 'X-SHA2-Signature is required');
    if (!/^[0-9a-fA-F]{64}$/.test(given.trim()))
      throw new WebhookRejected(401, 'WEBHOOK_SIGNATURE_INVALID', 'X-SHA2-Signature does not match');
    const provided = Buffer.from(given.trim(), 'hex');
    const ok = tokens.some((token) => timingSafeEqual(provided, onfidoSignature(token, rawBody, 'buffer')));
    if (!ok) throw new WebhookRejected(401, 'WEBHOOK_SIGNATURE_INVALID', 'X-SHA2-Signature does not match');
  };
}

/** Onfido's X-SHA2-Signature of a body (hex), or its raw 32 bytes. Senders (the sandbox) use the hex form. */
export function onfidoSignature(token: string, rawBody: string): string;
export function onfidoSignature(token: string, rawBody: string, as: 'buffer'): Buffer;
export function onfidoSignature(token: string, rawBody: string, as: 'hex' | 'buffer' = 'hex'): string | Buffer {
  const mac = createHmac('sha256', token).update(rawBody, 'utf8');
  return as === 'hex' ? mac.digest('hex') : mac.digest();
}
