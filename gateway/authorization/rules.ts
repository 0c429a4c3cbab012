import type { IRule, IRules } from 'graphql-shield';
import type { GraphQLFieldResolver, GraphQLResolveInfo, GraphQLSchema } from 'graphql';
import { graphqlRuntime, middlewareRuntime, shieldRuntime } from './graphql-runtime.ts';
import type { GatewayContext } from '../executor.ts';
import {
  callerLevelDenial,
  existingAuthzState,
  forbidden,
  maySeePayment,
  OBJECT_CHECKS,
  type AuthzState,
} from './engine.ts';
import { refuseForeignObjects } from './ownership.ts';
import { POLICY, type FieldPolicy } from './policy.ts';

// graphql-shield 7.6.x's ESM build does `import { isUndefined } from 'util'`, which Node 23+ no
// longer exports, so importing it fails on Node 24 (maticzav/graphql-shield#1561). Its CommonJS
// build loads fine and only calls util.isUndefined inside `chain` and `race`, which these rules
// never use (only `rule`). So the CommonJS builds are loaded (graphql-runtime.ts), and
// graphql-middleware the same way so that both share one MiddlewareGenerator class.
const { rule, shield } = shieldRuntime;
const { applyMiddleware } = middlewareRuntime;
const { defaultFieldResolver, GraphQLError, isObjectType } = graphqlRuntime;
type ShieldRule = IRule;

/**
 * The graphql-shield rule tree, generated from POLICY (policy.ts): one explicit rule per field,
 * `fallbackRule: deny` for anything the policy does not name, `allowExternalErrors: false` so a
 * rule that throws denies with the same FORBIDDEN error as any other denial.
 *
 * Two kinds of rule:
 * - caller(Type.field): the caller-level rule (kind, scopes, consented permission). The same
 *   function runs in the pre-execution pass (pre-execution.ts) for every selected field before
 *   any subgraph is called.
 * - object:<check>:Type.field: a per-object check (ownership, consent coverage of the account)
 *   that needs the parent object or the field's arguments. The field's caller-level rule is
 *   decided before execution like every other field's, so the shield rule is the object check.
 *
 * PERFORMANCE NOTE FOR REVIEWERS: graphql-shield wraps every field resolver in a promise (about
 * 37% throughput on the dashboard query). Rules that depend only on the caller are already
 * decided for the whole operation by the pre-execution pass, which rejects the operation before
 * execution if any selected field is denied. So after applying shield, `authorizeSchema` puts
 * the ORIGINAL resolver back on every field whose policy says `decided: 'operation'`; only
 * `decided: 'object'` fields keep the shield wrapper. This is safe only because the
 * pre-execution plugin is installed whenever these rules are (startGateway installs both under
 * the same `authorization` option; `authorizeWithShield` returns `requiresPreExecution: true` to
 * say so). Should the pass not have run for a request, no per-request state exists and every
 * per-object rule denies.
 * The audit (`npm run shield:audit`) shows for every field which of the two applies.
 */

function stateOrDeny(ctx: unknown): AuthzState {
  const state = ctx && typeof ctx === 'object' ? existingAuthzState(ctx) : undefined;
  // No state means the pre-execution pass did not run for this request: deny everything.
  if (!state) throw forbidden();
  return state;
}

/**
 * Keeps "cannot check right now" (fail-closed SERVICE_UNAVAILABLE) distinguishable; any other throw becomes the
 * standard denial.
 */
function asDenial(err: unknown): Error {
  if (err instanceof GraphQLError && err.extensions.code === 'SERVICE_UNAVAILABLE') return err;
  return forbidden();
}

function callerRule(typeName: string, fieldName: string): ShieldRule {
  return rule(`caller:${typeName}.${fieldName}`, { cache: false })(async (_parent, _args, ctx) => {
    try {
      return (await callerLevelDenial(typeName, fieldName, stateOrDeny(ctx))) === null ? true : forbidden();
    } catch (err) {
      return asDenial(err);
    }
  });
}

function objectRule(typeName: string, fieldName: string, policy: FieldPolicy): ShieldRule {
  const check = policy.object;
  if (!check) throw new Error(`${typeName}.${fieldName} is decided per object but names no object check`);
  return rule(`object:${check}:${typeName}.${fieldName}`, { cache: false })(
    async (parent, args, ctx, info: GraphQLResolveInfo) => {
      try {
        return (await OBJECT_CHECKS[check](parent, args as Record<string, unknown>, stateOrDeny(ctx), info, policy))
          ? true
          : forbidden();
      } catch (err) {
        return asDenial(err);
      }
    },
  );
}

/** The rule tree: every type and field of POLICY, explicitly. */
export function buildRuleTree(): IRules {
  const tree: Record<string, Record<string, ShieldRule>> = {};
  for (const [typeName, fields] of Object.entries(POLICY)) {
    tree[typeName] = {};
    for (const [fieldName, policy] of Object.entries(fields)) {
      // A per-object field's caller-level part is decided before execution like every other
      // field's; its shield rule is the object check alone (one promise per object, not two).
      tree[typeName][fieldName] =
        policy.decided === 'object' ? objectRule(typeName, fieldName, policy) : callerRule(typeName, fieldName);
    }
  }
  return tree as IRules;
}

export interface AuthorizedSchema {
  schema: GraphQLSchema;
  /** Always true: the schema relies on the pre-execution pass for caller-level rules. */
  requiresPreExecution: true;
  /** Type.field coordinates that keep a graphql-shield wrapper (per-object rules). */
  wrapped: string[];
}

/**
 * Applies the rule tree with graphql-shield, then restores the original resolver on every field
 * decided before execution (see the performance note above), and adds the third-party list
 * filters (below).
 */
export function authorizeWithShield(schema: GraphQLSchema): AuthorizedSchema {
  const original = new Map<string, GraphQLFieldResolver<unknown, unknown> | undefined>();
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || type.name.startsWith('__')) continue;
    for (const f of Object.values(type.getFields())) original.set(`${type.name}.${f.name}`, f.resolve);
  }
  // Only the rules of types and fields this schema has: the gateway can serve another supergraph
  // (SUPERGRAPH), where the policy's types do not exist; every field without a rule is denied by
  // the fallback. (`npm run shield:audit` checks the policy against the public schema.)
  const tree = buildRuleTree() as Record<string, Record<string, ShieldRule>>;
  const served: Record<string, Record<string, ShieldRule>> = {};
  for (const [typeName, fields] of Object.entries(tree)) {
    const type = schema.getType(typeName);
    if (!isObjectType(type)) continue;
    const existing = type.getFields();
    const kept = Object.fromEntries(Object.entries(fields).filter(([f]) => existing[f] !== undefined));
    if (Object.keys(kept).length) served[typeName] = kept;
  }
  const shielded = applyMiddleware(
    schema,
    shield(served as IRules, {
      fallbackRule: ruleDeny(),
      allowExternalErrors: false,
      // graphql-shield calls fallbackError(null) for a denial and for a rule that threw (Rule.resolve
      // turns a throw into false), and fallbackError(err) only when the field's own RESOLVER threw
      // after the rule allowed it. That error (a subgraph's SERVICE_UNAVAILABLE, a bank's
      // PARTNER_UNAVAILABLE on Account.balances, ...) is not an authorization decision: pass it on
      // to the gateway's error masking instead of turning it into FORBIDDEN.
      fallbackError: (err: unknown) => (err instanceof Error ? err : forbidden()),
      debug: false,
    }),
  );
  const wrapped: string[] = [];
  for (const type of Object.values(shielded.getTypeMap())) {
    if (!isObjectType(type) || type.name.startsWith('__')) continue;
    for (const f of Object.values(type.getFields())) {
      const coordinate = `${type.name}.${f.name}`;
      const policy = POLICY[type.name]?.[f.name];
      if (policy && policy.decided === 'operation') {
        // Caller-level only: already enforced for the whole operation by the pre-execution pass.
        f.resolve = original.get(coordinate);
      } else {
        wrapped.push(coordinate);
      }
    }
  }
  filterThirdPartyAccountLists(shielded);
  filterThirdPartyPayments(shielded);
  invalidateAfterConsentMutations(shielded);
  // Outermost: whatever the rules and filters let through is refused if it belongs to another customer.
  refuseForeignObjects(shielded);
  return { schema: shielded, requiresPreExecution: true, wrapped };
}

/**
 * deny, but through our own FORBIDDEN error (graphql-shield's `deny` would use its fallbackError, which is the same).
 */
function ruleDeny(): ShieldRule {
  return rule('fallback:deny', { cache: false })(() => forbidden());
}

/**
 * Lists of accounts (Customer.accounts, Consent.accounts) hold every account of the customer as
 * the accounts subgraph sees it. For a third-party caller the gateway keeps only the accounts a
 * consent of that client covers, as if the others did not exist; the per-object rules on Account
 * fields would deny them anyway, but a denied item of a non-null list would null the whole
 * parent. First-party customers get the list unchanged.
 */
function filterThirdPartyAccountLists(schema: GraphQLSchema): void {
  for (const coordinate of ['Customer.accounts', 'Consent.accounts']) {
    const [typeName, fieldName] = coordinate.split('.') as [string, string];
    const type = schema.getType(typeName);
    const field = isObjectType(type) ? type.getFields()[fieldName] : undefined;
    if (!field) continue;
    const resolve = field.resolve ?? defaultFieldResolver;
    field.resolve = async (parent, args, ctx: GatewayContext, info) => {
      const result: unknown = await resolve(parent, args, ctx, info);
      const state = existingAuthzState(ctx);
      if (!state) throw forbidden();
      if ((await state.kind()) !== 'thirdParty' || !Array.isArray(result)) return result;
      const keep = await Promise.all(
        result.map(async (a: unknown) => {
          const id = a && typeof a === 'object' ? (a as { id?: unknown }).id : undefined;
          return typeof id === 'string' && (await state.consents.grants('ACCOUNTS', id));
        }),
      );
      return result.filter((_a, i) => keep[i]);
    };
  }
}

/**
 * Payments for a third party: only those whose debtor account a consent granting
 * PAYMENTS_INITIATION covers, and a denied payment looks like one that does not exist.
 * - Query.payment(id): the debtor account of `id` is looked up (as the caller) BEFORE the
 *   payments subgraph is asked; a payment that is not covered, foreign or unknown is null, with no
 *   error, exactly as the subgraph answers for an unknown id.
 * - Customer.payments: the edges whose payment is not covered are left out (one batched lookup
 *   for the whole page); pageInfo.endCursor is the cursor of the last edge kept (a cursor names
 *   its payment), or the `after` the caller sent when no edge is kept.
 * The per-object rules on every Payment field (paymentAccess) would deny the same payments; these
 * filters make them disappear instead of nulling the whole connection. Any lookup failure
 * rejects (fail closed). First-party customers get the subgraph's answer unchanged.
 */
function filterThirdPartyPayments(schema: GraphQLSchema): void {
  const query = schema.getQueryType();
  const byId = query?.getFields().payment;
  if (byId) {
    const resolve = byId.resolve ?? defaultFieldResolver;
    byId.resolve = async (parent, args, ctx: GatewayContext, info) => {
      const state = existingAuthzState(ctx);
      if (!state) throw forbidden();
      if ((await state.kind()) === 'thirdParty' && !(await maySeePayment(state, (args as { id?: unknown }).id)))
        return null;
      return resolve(parent, args, ctx, info);
    };
  }
  const customer = schema.getType('Customer');
  const list = isObjectType(customer) ? customer.getFields().payments : undefined;
  if (list) {
    const resolve = list.resolve ?? defaultFieldResolver;
    list.resolve = async (parent, args, ctx: GatewayContext, info) => {
      const result: unknown = await resolve(parent, args, ctx, info);
      const state = existingAuthzState(ctx);
      if (!state) throw forbidden();
      if ((await state.kind()) !== 'thirdParty' || !result || typeof result !== 'object') return result;
      const connection = result as { edges?: unknown; pageInfo?: unknown };
      if (connection.edges === undefined || connection.edges === null) return result;
      if (!Array.isArray(connection.edges)) throw forbidden();
      const edges = connection.edges as unknown[];
      const keep = await Promise.all(edges.map((e) => maySeePayment(state, paymentIdOfEdge(e))));
      const kept = edges.filter((_e, i) => keep[i]);
      const out: Record<string, unknown> = { ...(result as Record<string, unknown>), edges: kept };
      if (kept.length < edges.length && connection.pageInfo && typeof connection.pageInfo === 'object') {
        const last = kept.at(-1) as { cursor?: unknown } | undefined;
        const after = (args as { after?: unknown }).after;
        const endCursor = last ? (last.cursor ?? null) : typeof after === 'string' ? after : null;
        out.pageInfo = { ...(connection.pageInfo as Record<string, unknown>), endCursor };
      }
      return out;
    };
  }
}

function paymentIdOfEdge(edge: unknown): unknown {
  const node = edge && typeof edge === 'object' ? (edge as { node?: unknown }).node : undefined;
  return node && typeof node === 'object' ? (node as { id?: unknown }).id : undefined;
}

/**
 * After authoriseConsent / rejectConsent / revokeConsent, the cached consents of (customer, the
 * consent's client) are dropped from the shared cache before the response is sent, so the client's
 * next request, on any replica, sees the change. If that fails, the cache TTL
 * (CONSENT_CACHE_TTL_MS, at most 1 s) still bounds how long the old answer lives.
 *
 * The consent is the one the mutation's arguments name (revokeConsent(id), rejectConsent(id),
 * authoriseConsent(input: { id })), never an id read from the answer: the answer holds only what
 * was asked of the consents subgraph, which is the client's own selection when the stitched
 * delegation passes it through unchanged (`revokeConsent(id: $id) { status }` comes back without
 * an id, and nothing was invalidated). It is dropped whatever the outcome: a mutation whose answer
 * was lost may still have been applied, and an id that names no consent of the caller has no
 * client, so nothing is deleted for it.
 */
function invalidateAfterConsentMutations(schema: GraphQLSchema): void {
  const mutation = schema.getMutationType();
  if (!mutation) return;
  for (const name of ['authoriseConsent', 'rejectConsent', 'revokeConsent']) {
    const field = mutation.getFields()[name];
    if (!field) continue;
    const resolve = field.resolve ?? defaultFieldResolver;
    field.resolve = async (parent, args, ctx: GatewayContext, info) => {
      try {
        return await resolve(parent, args, ctx, info);
      } finally {
        const id = consentIdArgument(args as Record<string, unknown>);
        const state = existingAuthzState(ctx);
        if (state && id !== undefined) {
          await state
            .consentChanged(id)
            .catch((err: unknown) =>
              ctx.logger.warn(
                { requestId: ctx.requestId, err: (err as Error).message },
                'could not invalidate cached consents; the cache TTL bounds the delay',
              ),
            );
        }
      }
    };
  }
}

/** The consent a consent mutation names: `id`, or `input.id` (authoriseConsent). */
function consentIdArgument(args: Record<string, unknown>): string | undefined {
  const input = args.input && typeof args.input === 'object' ? (args.input as { id?: unknown }) : undefined;
  const id = args.id ?? input?.id;
  return typeof id === 'string' ? id : undefined;
}
