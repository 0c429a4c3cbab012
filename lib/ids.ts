import { createHmac, randomBytes } from 'node:crypto';

/**
 * Canonical ids: a kind prefix and 26 base32 characters. They are opaque and unguessable and
 * never reveal a partner identifier.
 * - `newId` is random, for objects the platform creates (consents, payments).
 * - `derivedId` is an HMAC of the partner coordinates under a secret, for partner objects
 *   (accounts, transactions): stable across requests and restarts, so a pending transaction
 *   keeps its id when it books, yet nobody without the secret can compute or invert it. The
 *   owning subgraph stores the mapping back to the partner coordinates.
 */
export const ID_PREFIXES = ['acc', 'txn', 'pay', 'cns', 'cus', 'kyc'] as const;
export type IdKind = (typeof ID_PREFIXES)[number];

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';

function base32(bytes: Buffer, length: number): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5 && out.length < length) {
      out += ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    value &= (1 << bits) - 1;
  }
  return out;
}

export function newId(kind: IdKind): string {
  return `${kind}_${base32(randomBytes(20), 26)}`;
}

export function derivedId(kind: IdKind, secret: string, ...coordinates: string[]): string {
  const mac = createHmac('sha256', secret)
    .update(`${kind}\0${coordinates.join('\0')}`)
    .digest();
  return `${kind}_${base32(mac, 26)}`;
}

const ID_SHAPE = /^(acc|txn|pay|cns|cus|kyc)_[a-z2-7]{26}$/;

/** True when value is a well-formed id of that kind; lets resolvers reject junk before any lookup. */
export function isId(value: string, kind: IdKind): boolean {
  return ID_SHAPE.test(value) && value.startsWith(`${kind}_`);
}

/**
 * The canonical id of a bank account. Accounts owns accounts, but payments records the debtor
 * account of each payment by this id, so the derivation lives here, in one place.
 */
export function bankAccountId(secret: string, institution: string, bankAccountRef: string): string {
  return derivedId('acc', secret, institution, bankAccountRef);
}

/** The canonical id of a bank transaction: stable from pending to booked, since the bank keeps its transaction id. */
export function bankTransactionId(
  secret: string,
  institution: string,
  bankAccountRef: string,
  bankTransactionRef: string,
): string {
  return derivedId('txn', secret, institution, bankAccountRef, bankTransactionRef);
}
