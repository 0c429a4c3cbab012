import { randomUUID } from 'node:crypto';
import { getOperationAST, GraphQLError, parse } from 'graphql';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadGatewayConfig } from '../../gateway/config.ts';
import { createGatewayIdempotency } from '../../gateway/idempotency/index.ts';
import { requestFingerprint, type MoneyMovingFields } from '../../gateway/idempotency/operation.ts';
import { startGateway, type RunningGateway } from '../../gateway/server.ts';
import {
  ALICE,
  AUDIENCE,
  composeToySupergraph,
  gql,
  hasStackTrace,
  ISSUER,
  logger,
  startLocalJwks,
  startToySubgraph,
  writeTempSupergraph,
  type GraphQLResult,
  type LocalJwks,
  type ToySubgraph,
} from './helpers.ts';
import { DATABASE_URL } from '../support/database.ts';
import { scaled, waitBudget } from '../support/time.ts';

/**
 * The gateway's idempotency layer (gateway/idempotency/) on a toy "transfers" subgraph whose
 * mutations the test marks money-moving (the layer is generic: it follows the policy's flag, not
 * field names). The toy counts how often each mutation really ran. With DATABASE_URL the records
 * are in the real PostgreSQL, otherwise in PGlite.
 */
const FED = 'extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key", "@shareable"])';
const TRANSFERS_SDL = `${FED}
type Query { transfer(id: ID!): Transfer }
type Mutation {
  send(input: SendInput!): Transfer!
  cancel(id: ID!, idempotencyKey: String): Transfer!
  note(text: String!): String!
}
input SendInput { idempotencyKey: String, amount: String!, to: String! }
type Transfer { id: ID!, amount: String!, to: String!, key: String, customer: String }`;

const FIELDS: MoneyMovingFields = new Map([
  ['send', ['input', 'idempotencyKey']],
  ['cancel', ['idempotencyKey']],
]);

const BOB = 'cus_bobbobbobbobbobbobbobbobbo';

interface Behaviour {
  delayMs: number;
  /** Fail the next N sends with this code (as a subgraph outage would). */
  failNext: number;
  failCode: string;
}

let jwks: LocalJwks;
let toy: ToySubgraph;
let sends: { key: string | null; customer: string | null; amount: string }[];
let behaviour: Behaviour;
let gateways: RunningGateway[];
let cleanup: () => void;

/** Replicas share the records: the real PostgreSQL with DATABASE_URL, else one named in-memory PGlite. */
const gatewayEnv = () => ({
  GATEWAY_PORT: '0',
  SUPERGRAPH: supergraphPath,
  AUTH_ISSUER: ISSUER,
  AUTH_AUDIENCE: AUDIENCE,
  AUTH_JWKS_URL: jwks.url,
  ...(DATABASE_URL ? { DATABASE_URL } : { PGLITE_DIR: `memory://idempotency-${process.pid}` }),
  IDEMPOTENCY_LEASE_MS: '1000',
});

async function startOne(): Promise<RunningGateway> {
  return startGateway(loadGatewayConfig(gatewayEnv()), {
    logger,
    authorization: 'disabled',
    moneyMovingFields: FIELDS,
  });
}
let supergraphPath: string;

beforeAll(async () => {
  jwks = await startLocalJwks();
  sends = [];
  behaviour = { delayMs: 0, failNext: 0, failCode: '' };
  toy = await startToySubgraph('transfers', TRANSFERS_SDL, {
    Mutation: {
      send: async (
        _: unknown,
        { input }: { input: { idempotencyKey?: string | null; amount: string; to: string } },
        ctx: { principal: { customerId: string | null } | null },
      ) => {
        if (behaviour.delayMs) await new Promise((r) => setTimeout(r, behaviour.delayMs));
        if (behaviour.failNext > 0) {
          behaviour.failNext -= 1;
          throw new GraphQLError('partner down', { extensions: { code: behaviour.failCode } });
        }
        sends.push({
          key: input.idempotencyKey ?? null,
          customer: ctx.principal?.customerId ?? null,
          amount: input.amount,
        });
        return {
          id: `tr_${sends.length}`,
          amount: input.amount,
          to: input.to,
          key: input.idempotencyKey ?? null,
          customer: ctx.principal?.customerId ?? null,
        };
      },
      cancel: (_: unknown, { id, idempotencyKey }: { id: string; idempotencyKey?: string }) => ({
        id,
        amount: '0.00',
        to: 'x',
        key: idempotencyKey ?? null,
      }),
      note: (_: unknown, { text }: { text: string }) => text,
    },
  });
  const file = writeTempSupergraph(composeToySupergraph([toy]));
  supergraphPath = file.path;
  cleanup = file.cleanup;
  // Two replicas sharing one store: what one claims, the other sees.
  gateways = [await startOne(), await startOne()];
}, scaled(60_000));

afterAll(async () => {
  for (const g of gateways ?? []) await g.close();
  await toy?.close();
  await jwks?.close();
  cleanup?.();
});

const SEND = `mutation Send($input: SendInput!) { send(input: $input) { id amount key customer } }`;
const token = (sub = ALICE, client = 'web-app') => jwks.sign({ sub, client_id: client });
/** The top-level `extensions` of a response (the helper's type leaves it out). */
const extensionsOf = (r: GraphQLResult) => (r.body as { extensions?: unknown }).extensions;
const newKey = () => `k-${randomUUID()}`;
const sendsWith = (key: string) => sends.filter((s) => s.key === key).length;

describe('gateway idempotency layer', () => {
  it('replays a finished request: the stored response unchanged, marked as a replay, nothing run twice', async () => {
    const key = newKey();
    const t = await token();
    const vars = { input: { idempotencyKey: key, amount: '10.00', to: 'Sam' } };
    const first = await gql(gateways[0]!.url, SEND, { token: t, variables: vars });
    expect(first.status).toBe(200);
    expect(first.body.errors).toBeUndefined();
    expect(extensionsOf(first)).toEqual({ idempotency: { replayed: false } });
    // The other replica answers the retry from the shared record.
    const again = await gql(gateways[1]!.url, SEND, { token: t, variables: vars });
    expect(again.status).toBe(200);
    expect(again.body.data).toEqual(first.body.data);
    // Unchanged to the byte, field order included (GraphQL answers in the order of the selection;
    // a jsonb column would reorder the keys: shortest first).
    expect(JSON.stringify(again.body.data)).toBe(JSON.stringify(first.body.data));
    expect(extensionsOf(again)).toEqual({ idempotency: { replayed: true } });
    expect(sendsWith(key)).toBe(1);
  });

  it('the same key with another payload is IDEMPOTENCY_KEY_REUSED (422) and nothing reaches the subgraph', async () => {
    const key = newKey();
    const t = await token();
    await gql(gateways[0]!.url, SEND, {
      token: t,
      variables: { input: { idempotencyKey: key, amount: '10.00', to: 'Sam' } },
    });
    const before = toy.seen.length;
    const other = await gql(gateways[1]!.url, SEND, {
      token: t,
      variables: { input: { idempotencyKey: key, amount: '11.00', to: 'Sam' } },
    });
    expect(other.status).toBe(422);
    expect(other.body.errors?.[0]?.extensions?.code).toBe('IDEMPOTENCY_KEY_REUSED');
    expect(other.body.data).toBeUndefined();
    expect(toy.seen.length).toBe(before);
    expect(sendsWith(key)).toBe(1);
    expect(hasStackTrace(other.raw)).toBe(false);
  });

  it('a missing key is IDEMPOTENCY_KEY_REQUIRED (400); a bad key BAD_USER_INPUT; neither reaches the subgraph', async () => {
    const t = await token();
    const before = toy.seen.length;
    const missing = await gql(gateways[0]!.url, SEND, {
      token: t,
      variables: { input: { amount: '1.00', to: 'Sam' } },
    });
    expect(missing.status).toBe(400);
    expect(missing.body.errors?.[0]?.extensions?.code).toBe('IDEMPOTENCY_KEY_REQUIRED');
    for (const bad of ['x'.repeat(41), '', ' padded', 'tab\there', 'é-key']) {
      const res = await gql(gateways[0]!.url, SEND, {
        token: t,
        variables: { input: { idempotencyKey: bad, amount: '1.00', to: 'Sam' } },
      });
      expect(res.status, bad).toBe(400);
      expect(res.body.errors?.[0]?.extensions?.code, bad).toBe('BAD_USER_INPUT');
    }
    // 40 printable characters are fine.
    const ok = await gql(gateways[0]!.url, SEND, {
      token: t,
      variables: {
        input: { idempotencyKey: `${randomUUID()}!~`.padEnd(40, '#').slice(0, 40), amount: '1.00', to: 'Sam' },
      },
    });
    expect(ok.body.errors).toBeUndefined();
    expect(toy.seen.length).toBe(before + 1);
  });

  it('accepts the Idempotency-Key header and hands the key to the subgraph as the argument', async () => {
    const key = newKey();
    const t = await token();
    // Input as a variable, and as a literal.
    const viaVariable = await gql(gateways[0]!.url, SEND, {
      token: t,
      headers: { 'idempotency-key': key },
      variables: { input: { amount: '3.00', to: 'Sam' } },
    });
    expect(viaVariable.body.errors).toBeUndefined();
    expect(viaVariable.body.data?.send).toMatchObject({ key });
    const literalKey = newKey();
    const literal = await gql(gateways[1]!.url, `mutation { send(input: { amount: "4.00", to: "Sam" }) { id key } }`, {
      token: t,
      headers: { 'idempotency-key': literalKey },
    });
    expect(literal.body.data?.send).toMatchObject({ key: literalKey });
    const topLevel = newKey();
    const cancel = await gql(gateways[0]!.url, `mutation { cancel(id: "tr_1") { id key } }`, {
      token: t,
      headers: { 'idempotency-key': topLevel },
    });
    expect(cancel.body.data?.cancel).toMatchObject({ key: topLevel });
    // Header and argument must agree.
    const differ = await gql(gateways[0]!.url, SEND, {
      token: t,
      headers: { 'idempotency-key': newKey() },
      variables: { input: { idempotencyKey: newKey(), amount: '3.00', to: 'Sam' } },
    });
    expect(differ.status).toBe(400);
    expect(differ.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    // A header replay is a replay.
    const replay = await gql(gateways[1]!.url, SEND, {
      token: t,
      headers: { 'idempotency-key': key },
      variables: { input: { amount: '3.00', to: 'Sam' } },
    });
    expect(extensionsOf(replay)).toEqual({ idempotency: { replayed: true } });
    expect(sendsWith(key)).toBe(1);
  });

  it('keys are scoped to client and customer: the same key for others runs their own request', async () => {
    const key = newKey();
    const input = { idempotencyKey: key, amount: '5.00', to: 'Sam' };
    const [alice, bob, otherApp] = await Promise.all([
      gql(gateways[0]!.url, SEND, { token: await token(ALICE), variables: { input } }),
      gql(gateways[1]!.url, SEND, { token: await token(BOB), variables: { input } }),
      gql(gateways[0]!.url, SEND, { token: await token(ALICE, 'mobile-app'), variables: { input } }),
    ]);
    for (const r of [alice, bob, otherApp]) expect(extensionsOf(r)).toEqual({ idempotency: { replayed: false } });
    expect((alice.body.data?.send as { customer: string }).customer).toBe(ALICE);
    expect((bob.body.data?.send as { customer: string }).customer).toBe(BOB);
    expect(sendsWith(key)).toBe(3);
    // Each replays only its own answer.
    const bobAgain = await gql(gateways[0]!.url, SEND, { token: await token(BOB), variables: { input } });
    expect(bobAgain.body.data).toEqual(bob.body.data);
  });

  it('a request still running makes the others IDEMPOTENCY_KEY_IN_USE (409); all converge on one execution', async () => {
    const key = newKey();
    const t = await token();
    behaviour.delayMs = 300;
    try {
      const vars = { input: { idempotencyKey: key, amount: '7.00', to: 'Sam' } };
      const results = await Promise.all(
        Array.from({ length: 100 }, (_, i) => gql(gateways[i % 2]!.url, SEND, { token: t, variables: vars })),
      );
      const ok = results.filter((r) => r.status === 200);
      const inUse = results.filter((r) => r.status === 409);
      expect(ok.length + inUse.length).toBe(100);
      for (const r of inUse) {
        expect(r.body.errors?.[0]?.extensions?.code).toBe('IDEMPOTENCY_KEY_IN_USE');
        expect(r.headers.get('retry-after')).toBe('1');
      }
      const ids = new Set(ok.map((r) => (r.body.data?.send as { id: string }).id));
      expect(ids.size).toBe(1);
      expect(sendsWith(key)).toBe(1);
    } finally {
      behaviour.delayMs = 0;
    }
  });

  it('an outage that decided nothing is not stored: the retry runs again', async () => {
    const key = newKey();
    const t = await token();
    const vars = { input: { idempotencyKey: key, amount: '8.00', to: 'Sam' } };
    behaviour.failNext = 1;
    behaviour.failCode = 'PARTNER_UNAVAILABLE';
    const failed = await gql(gateways[0]!.url, SEND, { token: t, variables: vars });
    expect(failed.body.errors?.[0]?.extensions?.code).toBe('PARTNER_UNAVAILABLE');
    const retry = await gql(gateways[1]!.url, SEND, { token: t, variables: vars });
    expect(retry.body.errors).toBeUndefined();
    expect(extensionsOf(retry)).toEqual({ idempotency: { replayed: false } });
    expect(sendsWith(key)).toBe(1);
  });

  it('an answer that decided something (a refusal) is stored and replayed like a success', async () => {
    const key = newKey();
    const t = await token();
    const vars = { input: { idempotencyKey: key, amount: '9.00', to: 'Sam' } };
    behaviour.failNext = 1;
    behaviour.failCode = 'BAD_USER_INPUT';
    const refused = await gql(gateways[0]!.url, SEND, { token: t, variables: vars });
    expect(refused.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const replay = await gql(gateways[1]!.url, SEND, { token: t, variables: vars });
    expect(replay.body.errors).toEqual(refused.body.errors);
    expect(extensionsOf(replay)).toEqual({ idempotency: { replayed: true } });
    expect(sendsWith(key)).toBe(0);
  });

  it('lets a web app on an allowed origin send the Idempotency-Key header (CORS preflight)', async () => {
    const res = await fetch(gateways[0]!.url, {
      method: 'OPTIONS',
      headers: {
        origin: 'http://localhost:5173',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type, idempotency-key',
      },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('idempotency-key');
  });

  it('leaves other mutations and queries alone', async () => {
    const res = await gql(gateways[0]!.url, `mutation { note(text: "hi") }`, { token: await token() });
    expect(res.body).toEqual({ data: { note: 'hi' } });
  });

  it('refuses an operation with two money-moving fields', async () => {
    const res = await gql(
      gateways[0]!.url,
      `mutation { a: send(input: { idempotencyKey: "k1", amount: "1.00", to: "x" }) { id } b: cancel(id: "1", idempotencyKey: "k2") { id } }`,
      { token: await token() },
    );
    expect(res.status).toBe(400);
    expect(res.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('a claim left by a gateway that died is taken over once its lease runs out', async () => {
    const key = newKey();
    const t = await token();
    const vars = { input: { idempotencyKey: key, amount: '12.00', to: 'Sam' } };
    // The dead gateway: it claimed the key for this very request and never finished.
    const dead = createGatewayIdempotency(loadGatewayConfig(gatewayEnv()), { logger, fields: FIELDS });
    try {
      const document = parse(SEND);
      const fingerprint = requestFingerprint(document, getOperationAST(document)!, vars);
      const claim = await (
        await dead.store()
      ).claim({ clientId: 'web-app', customerId: ALICE, key }, fingerprint, 'send');
      expect(claim.kind).toBe('claimed');
    } finally {
      await dead.close();
    }
    const meanwhile = await gql(gateways[0]!.url, SEND, { token: t, variables: vars });
    expect(meanwhile.status).toBe(409);
    expect(sendsWith(key)).toBe(0);
    // Once the lease (1 s here) has run out, the retry takes the claim over and runs.
    const retried = await vi.waitFor(async () => {
      const r = await gql(gateways[1]!.url, SEND, { token: t, variables: vars });
      expect(r.status).toBe(200);
      return r;
    }, waitBudget(10_000));
    expect(retried.body.errors).toBeUndefined();
    expect(extensionsOf(retried)).toEqual({ idempotency: { replayed: false } });
    expect(sendsWith(key)).toBe(1);
  });
});
