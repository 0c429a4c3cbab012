import { HeaderMap, type ApolloServerPlugin, type GraphQLRequestContext, type GraphQLResponse } from '@apollo/server';
import type { DocumentNode, GraphQLFormattedError } from 'graphql';
import { ErrorCode } from '../../lib/errors.ts';
import type { Logger } from '../../lib/logger.ts';
import type { GatewayContext } from '../executor.ts';
import {
  keyProblem,
  moneyMovingSelections,
  requestFingerprint,
  withKey,
  type MoneyMovingFields,
  type MoneyMovingSelection,
} from './operation.ts';
import type { ClaimResult, IdempotencyScope, IdempotencyStore } from './store.ts';

/**
 * The gateway's idempotency layer, an Apollo Server plugin. It applies to every mutation field
 * the policy marks money-moving (gateway/authorization/policy.ts `moneyMoving`), whatever its name.
 *
 * It runs in responseForOperation, i.e. after every didResolveOperation hook (authentication,
 * query limits, the caller-level authorization) and before execution, so a refused caller never
 * claims a key and a refused key never reaches a subgraph:
 * - the key comes from the field's argument (the policy says where) or, for an operation with
 *   one money-moving field, from the `Idempotency-Key` header (IETF draft); both given and
 *   different: BAD_USER_INPUT; neither: IDEMPOTENCY_KEY_REQUIRED (HTTP 400);
 * - the key is claimed atomically in PostgreSQL (store.ts), scoped to the client and the customer,
 *   with the fingerprint of the operation and its variables:
 *   - first use: the operation executes and its response is stored (willSendResponse);
 *   - the same request again, finished: the stored response, unchanged, with
 *     `extensions.idempotency.replayed: true`; nothing executes;
 *   - another payload: IDEMPOTENCY_KEY_REUSED (HTTP 422); nothing executes;
 *   - still running: IDEMPOTENCY_KEY_IN_USE (HTTP 409, Retry-After); nothing executes;
 *   - an abandoned claim (its gateway died; the lease ran out): taken over and executed again,
 *     which the payments subgraph's ledger (unique client, customer, key) turns into the same payment.
 * - A response that failed only because a subgraph or partner could not be reached (nothing was
 *   decided) is not stored: the claim is released so that a retry runs again and converges
 *   through the subgraph's own idempotency, instead of replaying an outage for 24 hours.
 */
export const IDEMPOTENCY_HEADER = 'idempotency-key';

/** Outcomes that decided nothing: the next attempt with the key must run again. */
const RETRYABLE_CODES = new Set([
  'SERVICE_UNAVAILABLE',
  ErrorCode.PARTNER_UNAVAILABLE,
  ErrorCode.INTERNAL_SERVER_ERROR,
]);

interface Claim {
  scope: IdempotencyScope;
  owner: string;
  field: string;
  /** The field's alias or name: where its data is in the response. */
  responseKey: string;
}

export interface IdempotencyPluginOptions {
  /** The store, opened when first needed (so a gateway whose schema moves no money opens no database). */
  store: () => Promise<IdempotencyStore>;
  fields: MoneyMovingFields;
  logger: Logger;
}

function refusal(
  status: number,
  code: string,
  message: string,
  extra: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): GraphQLResponse {
  const error: GraphQLFormattedError = { message, extensions: { code, ...extra } };
  return {
    body: { kind: 'single', singleResult: { errors: [error] } },
    http: { status, headers: new HeaderMap(Object.entries(headers)) },
  };
}

export function idempotencyPlugin(opts: IdempotencyPluginOptions): ApolloServerPlugin<GatewayContext> {
  if (opts.fields.size === 0) return {};
  return {
    async requestDidStart() {
      let held: Claim | undefined;
      return {
        async responseForOperation(rc) {
          const { operation, document, schema } = rc;
          const principal = rc.contextValue.principal;
          if (!operation || operation.operation !== 'mutation' || !principal) return null;
          const selections = moneyMovingSelections(schema, document, operation, rc.request.variables, opts.fields);
          if (selections.length === 0) return null;
          if (selections.length > 1)
            return refusal(
              400,
              ErrorCode.BAD_USER_INPUT,
              `An operation may run one money-moving mutation; this one selects ${selections.map((s) => s.field).join(', ')}`,
            );
          const selection = selections[0]!;
          const header = rc.request.http?.headers.get(IDEMPOTENCY_HEADER) ?? undefined;
          if (header !== undefined && selection.key !== null && header !== selection.key)
            return refusal(
              400,
              ErrorCode.BAD_USER_INPUT,
              'The Idempotency-Key header and the idempotencyKey argument differ; send one, or the same in both',
            );
          const key = selection.key ?? header;
          if (key === undefined)
            return refusal(
              400,
              ErrorCode.IDEMPOTENCY_KEY_REQUIRED,
              `${selection.field} moves money and needs an idempotency key: the ${selection.keyPath.join('.')} argument or the Idempotency-Key header`,
            );
          const problem = keyProblem(key);
          if (problem)
            return refusal(400, ErrorCode.BAD_USER_INPUT, problem, { argument: selection.keyPath.join('.') });

          const scope: IdempotencyScope = { clientId: principal.clientId, customerId: principal.customerId, key };
          const fingerprint = requestFingerprint(document, operation, rc.request.variables);
          let claim: ClaimResult;
          try {
            claim = await (await opts.store()).claim(scope, fingerprint, selection.field);
          } catch (err) {
            // Without its record the gateway cannot promise at-most-once: refuse rather than run unguarded.
            opts.logger.error({ err, field: selection.field }, 'idempotency: the records cannot be reached');
            return refusal(
              503,
              'SERVICE_UNAVAILABLE',
              'Payments are temporarily unavailable; retry with the same idempotency key',
              {},
              { 'retry-after': '5' },
            );
          }
          switch (claim.kind) {
            case 'reused':
              return refusal(
                422,
                ErrorCode.IDEMPOTENCY_KEY_REUSED,
                'This idempotency key was already used with a different request; use a new key for a new request',
              );
            case 'in-use':
              return refusal(
                409,
                ErrorCode.IDEMPOTENCY_KEY_IN_USE,
                'A request with this idempotency key is still being processed; retry shortly',
                {},
                { 'retry-after': '1' },
              );
            case 'completed':
              return replay(claim.response.body, claim.response.httpStatus);
            case 'claimed':
              held = {
                scope,
                owner: claim.owner,
                field: selection.field,
                responseKey: selection.node.alias?.value ?? selection.field,
              };
              if (claim.takeover)
                opts.logger.warn(
                  { field: selection.field, clientId: scope.clientId },
                  'idempotency: took over an abandoned claim (its lease ran out); running the request again',
                );
              if (selection.key === null) applyHeaderKey(rc, selection, key);
              return null;
          }
        },

        async willSendResponse(rc) {
          if (!held) return;
          const claim = held;
          held = undefined;
          const body = rc.response.body;
          if (body.kind !== 'single') {
            await release(claim);
            return;
          }
          const result = body.singleResult;
          if (decidedNothing(result, claim.responseKey)) {
            await release(claim);
            return;
          }
          try {
            // Stored as JSON (the store serialises it once), exactly as the client receives it.
            const ok = await (
              await opts.store()
            ).complete(claim.scope, claim.owner, {
              body: result as Record<string, unknown>,
              httpStatus: rc.response.http.status ?? 200,
            });
            if (!ok)
              opts.logger.warn(
                { field: claim.field },
                'idempotency: the claim was taken over before this request finished; its response is not stored',
              );
          } catch (err) {
            // The claim stays in flight until its lease runs out; a retry then runs again and converges in the
            // subgraph.
            opts.logger.error({ err, field: claim.field }, 'idempotency: could not store the response');
          }
          body.singleResult = {
            ...result,
            extensions: { ...result.extensions, idempotency: { replayed: false } },
          };
        },
      };

      async function release(claim: Claim) {
        try {
          await (await opts.store()).release(claim.scope, claim.owner);
        } catch (err) {
          opts.logger.error({ err, field: claim.field }, 'idempotency: could not release a claim');
        }
      }
    },
  };
}

function replay(body: Record<string, unknown>, httpStatus: number): GraphQLResponse {
  const extensions = (body.extensions as Record<string, unknown> | undefined) ?? {};
  return {
    body: {
      kind: 'single',
      singleResult: { ...body, extensions: { ...extensions, idempotency: { replayed: true } } },
    },
    http: { status: httpStatus, headers: new HeaderMap() },
  };
}

/** True when the money-moving field has no data and every error says only that something could not be reached. */
function decidedNothing(result: { data?: unknown; errors?: readonly GraphQLFormattedError[] }, field: string): boolean {
  const data = result.data as Record<string, unknown> | null | undefined;
  if (data && data[field] !== null && data[field] !== undefined) return false;
  const errors = result.errors ?? [];
  return errors.length > 0 && errors.every((e) => RETRYABLE_CODES.has(String(e.extensions?.code)));
}

function applyHeaderKey(rc: GraphQLRequestContext<GatewayContext>, selection: MoneyMovingSelection, key: string) {
  const next = withKey(rc.document as DocumentNode, rc.request.variables, selection, key);
  // Execution reads the document and variables from the request context after this hook.
  (rc as { document: DocumentNode }).document = next.document;
  if (next.variables !== rc.request.variables) rc.request.variables = next.variables;
}
