import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import {
  GraphQLError,
  getNamedType,
  getNullableType,
  isCompositeType,
  isInterfaceType,
  isListType,
  isObjectType,
  Kind,
  Lexer,
  SchemaMetaFieldDef,
  Source,
  TokenKind,
  TypeMetaFieldDef,
  valueFromASTUntyped,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLField,
  type GraphQLInterfaceType,
  type GraphQLNamedType,
  type GraphQLObjectType,
  type GraphQLUnionType,
  type GraphQLOutputType,
  type GraphQLFormattedError,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValueNode,
} from 'graphql';
import { HttpError } from '../lib/http-server.ts';

/**
 * Limits on hostile queries, checked before execution so that a refused operation never
 * reaches a subgraph. Each refusal is a QUERY_LIMIT_EXCEEDED error naming the limit:
 *
 *   { code: 'QUERY_LIMIT_EXCEEDED', limit: 'depth' | 'aliases' | 'rootFields' | 'tokens' | 'cost' | 'pageSize' | 'batch', max, actual }
 *
 * Where each limit is enforced:
 * - tokens: graphql's parser itself (Apollo `parseOptions.maxTokens`), so a token flood is
 *   aborted while parsing; `formatLimitError` turns the parser's message into the error above.
 * - batch: `checkBatch` runs on the parsed HTTP body (lib/http-server.ts `checkBody`) before
 *   Apollo sees it, so no operation of an oversized batch runs (HTTP 400).
 * - depth, aliases, root fields, page size, cost: `queryLimitsPlugin` at didResolveOperation
 *   (after validation, before execution), because page sizes may come from variables.
 *
 * The measurements expand fragment spreads and inline fragments; each named fragment is
 * measured once (memoised) so fragment "bombs" cost linear time, and cycles (already refused by
 * validation) are cut rather than followed. Introspection (__schema, __type) counts as one
 * field: it never reaches a subgraph, is off in production, and graphql's specified
 * MaxIntrospectionDepthRule already refuses nested introspection bombs.
 *
 * Why not a library: @escape.tech/graphql-armor (3.2 supports Apollo Server 5 and graphql 16)
 * has maxDepth/maxAliases/maxTokens/costLimit, but its cost model uses static per-field costs
 * and a depth factor, not requested page sizes, its errors do not carry the limit/max/actual
 * extensions, and its Apollo preset turns batching off. The visitor below is small.
 */

export const QUERY_LIMIT_EXCEEDED = 'QUERY_LIMIT_EXCEEDED';

export type LimitName = 'depth' | 'aliases' | 'rootFields' | 'tokens' | 'cost' | 'pageSize' | 'batch';

export interface QueryLimits {
  /** Deepest field nesting; a root field is at depth 1. */
  maxDepth: number;
  /** Aliased fields in the operation (fragments expanded). */
  maxAliases: number;
  /** Fields selected at the operation root (fragments expanded, __typename excluded). */
  maxRootFields: number;
  /** Lexical tokens in the document (graphql parse maxTokens). */
  maxTokens: number;
  /** Estimated cost, see `measureOperation`. */
  maxCost: number;
  /** Largest `first`/`last` a field may request. */
  maxPageSize: number;
  /** Operations in one batched HTTP request (a JSON array body). */
  maxBatch: number;
  /** Assumed length of a list field that has no page-size argument. */
  listMultiplier: number;
}

/**
 * Safe defaults, measured against the customer dashboard (test/operations/dashboard.graphql):
 * depth 7 (max 12), no aliases (max 30), 1 root field (max 10), 114 tokens (max 5,000); cost
 * 3,319 with 20 transactions per account and 15,319 with `first: 100` (accounts, a list without
 * `first`, counted as 10 accounts), both under 20,000. Abuse is far beyond: one nested
 * `first: 100` × `first: 100` with a few fields costs over 30,000, a third level over 3 million.
 * Page size 100 is the subgraphs' own hard maximum (lib/pagination.ts), refused here before
 * any subgraph is called. Batches of up to 5 cover a client's parallel first screen.
 */
export const DEFAULT_QUERY_LIMITS: QueryLimits = {
  maxDepth: 12,
  maxAliases: 30,
  maxRootFields: 10,
  maxTokens: 5_000,
  maxCost: 20_000,
  maxPageSize: 100,
  maxBatch: 5,
  listMultiplier: 10,
};

/** The page-size arguments of connections (Relay-style). */
const PAGE_SIZE_ARGUMENTS = ['first', 'last'] as const;

export interface PageRequest {
  /** `Type.field`, e.g. `Account.transactions`. */
  field: string;
  argument: string;
  size: number;
}

export interface OperationMeasure {
  depth: number;
  aliases: number;
  rootFields: number;
  cost: number;
  /** The largest page requested, if any field takes a page-size argument. */
  largestPage: PageRequest | null;
}

interface SelectionMeasure {
  depth: number;
  aliases: number;
  /** Fields directly in this selection set (through fragments), __typename excluded. */
  fields: number;
  cost: number;
}

/** Object and interface types have fields to measure; unions only fragments. */
type CompositeType = GraphQLObjectType | GraphQLInterfaceType | GraphQLUnionType;
const asComposite = (type: GraphQLNamedType | null | undefined): CompositeType | undefined => (type && isCompositeType(type) ? type : undefined);
/** `[T]`, `[T]!`, `[T!]!`: a list, once an outer non-null is removed. */
const returnsList = (type: GraphQLOutputType): boolean => isListType(getNullableType(type));

const ZERO: SelectionMeasure = { depth: 0, aliases: 0, fields: 0, cost: 0 };

export interface MeasureInput {
  schema: GraphQLSchema;
  document: DocumentNode;
  operation: OperationDefinitionNode;
  /** Raw request variables (not yet coerced). */
  variables?: Record<string, unknown> | null;
  /** Assumed length of a list without a page-size argument (default 10). */
  listMultiplier?: number;
}

/**
 * Measures one operation.
 *
 * Cost model: every field costs 1 (__typename 0); a field with a selection set adds its
 * children's cost times a multiplier: its page size (`first`/`last` from a literal, a variable,
 * the variable's default or the schema argument's default), else `listMultiplier` when it
 * returns a list, else 1. `edges`/`nodes` lists of a `...Connection` type count once, since
 * the connection's page size already multiplies them.
 */
export function measureOperation({ schema, document, operation, variables, listMultiplier = DEFAULT_QUERY_LIMITS.listMultiplier }: MeasureInput): OperationMeasure {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  const variableDefaults = new Map<string, ValueNode>();
  for (const v of operation.variableDefinitions ?? []) if (v.defaultValue) variableDefaults.set(v.variable.name.value, v.defaultValue);

  const memo = new Map<string, SelectionMeasure>();
  const inProgress = new Set<string>();
  let largestPage: PageRequest | null = null;

  const numberOf = (node: ValueNode): number | undefined => {
    if (node.kind === Kind.VARIABLE) {
      const name = node.name.value;
      const given = variables?.[name];
      if (typeof given === 'number') return given;
      if (given === undefined) {
        const fallback = variableDefaults.get(name);
        return fallback ? numberOf(fallback) : undefined;
      }
      return undefined;
    }
    const value = valueFromASTUntyped(node);
    return typeof value === 'number' ? value : undefined;
  };

  const fieldDef = (parent: CompositeType | undefined, name: string): GraphQLField<unknown, unknown> | undefined => {
    if (!parent) return undefined;
    if (parent === schema.getQueryType()) {
      if (name === SchemaMetaFieldDef.name) return SchemaMetaFieldDef;
      if (name === TypeMetaFieldDef.name) return TypeMetaFieldDef;
    }
    return isObjectType(parent) || isInterfaceType(parent) ? parent.getFields()[name] : undefined;
  };

  const measureSet = (set: SelectionSetNode, parent: CompositeType | undefined): SelectionMeasure => {
    const total = { ...ZERO };
    const add = (m: SelectionMeasure) => {
      total.depth = Math.max(total.depth, m.depth);
      total.aliases += m.aliases;
      total.fields += m.fields;
      total.cost += m.cost;
    };
    for (const sel of set.selections) {
      if (sel.kind === Kind.FIELD) {
        const name = sel.name.value;
        const aliases = sel.alias ? 1 : 0;
        if (name === '__typename') {
          add({ depth: 1, aliases, fields: 0, cost: 0 });
          continue;
        }
        const def = fieldDef(parent, name);
        let page: number | undefined;
        for (const argName of PAGE_SIZE_ARGUMENTS) {
          const node = sel.arguments?.find((a) => a.name.value === argName);
          const argDef = def?.args.find((a) => a.name === argName);
          let size = node ? numberOf(node.value) : undefined;
          if (size === undefined && argDef && typeof argDef.defaultValue === 'number') size = argDef.defaultValue;
          if (size === undefined || !Number.isFinite(size)) continue;
          page = Math.max(page ?? 0, size);
          if (!largestPage || size > largestPage.size) largestPage = { field: `${parent?.name ?? '?'}.${name}`, argument: argName, size };
        }
        if (!sel.selectionSet) {
          add({ depth: 1, aliases, fields: 1, cost: 1 });
          continue;
        }
        const child = measureSet(sel.selectionSet, def ? asComposite(getNamedType(def.type)) : undefined);
        let multiplier = 1;
        if (page !== undefined) multiplier = Math.max(0, page);
        else if (def && returnsList(def.type)) {
          const connectionList = (name === 'edges' || name === 'nodes') && parent?.name.endsWith('Connection');
          multiplier = connectionList ? 1 : listMultiplier;
        }
        if (def === SchemaMetaFieldDef || def === TypeMetaFieldDef) {
          // Introspection resolves in the gateway from the schema alone; graphql's own
          // MaxIntrospectionDepthRule (a specified rule) bounds its nesting, so the standard
          // introspection query (depth 15) is not held to the data limits.
          add({ depth: 1, aliases: aliases + child.aliases, fields: 1, cost: 1 });
          continue;
        }
        add({ depth: 1 + child.depth, aliases: aliases + child.aliases, fields: 1, cost: 1 + multiplier * child.cost });
      } else if (sel.kind === Kind.INLINE_FRAGMENT) {
        const condition = sel.typeCondition ? asComposite(schema.getType(sel.typeCondition.name.value)) : parent;
        add(measureSet(sel.selectionSet, condition ?? parent));
      } else {
        add(measureFragment(sel.name.value));
      }
    }
    return total;
  };

  const measureFragment = (name: string): SelectionMeasure => {
    const known = memo.get(name);
    if (known) return known;
    const fragment = fragments.get(name);
    if (!fragment || inProgress.has(name)) return ZERO; // unknown or cyclic: validation refuses these
    inProgress.add(name);
    const m = measureSet(fragment.selectionSet, asComposite(schema.getType(fragment.typeCondition.name.value)));
    inProgress.delete(name);
    memo.set(name, m);
    return m;
  };

  const m = measureSet(operation.selectionSet, asComposite(schema.getRootType(operation.operation)));
  return { depth: m.depth, aliases: m.aliases, rootFields: m.fields, cost: m.cost, largestPage };
}

/** The error every refusal carries (HTTP 400). */
export function limitExceeded(limit: LimitName, max: number, actual: number, message: string, extra: Record<string, unknown> = {}): GraphQLError {
  return new GraphQLError(message, {
    extensions: { code: QUERY_LIMIT_EXCEEDED, limit, max, actual: safeNumber(actual), ...extra, http: { status: 400 } },
  });
}

function safeNumber(n: number): number {
  return Number.isFinite(n) ? n : Number.MAX_SAFE_INTEGER;
}

/** The first limit an operation breaks, as the error to send, or null when it is within all of them. */
export function checkOperation(input: MeasureInput, limits: QueryLimits): GraphQLError | null {
  const m = measureOperation({ ...input, listMultiplier: limits.listMultiplier });
  if (m.rootFields > limits.maxRootFields) {
    return limitExceeded('rootFields', limits.maxRootFields, m.rootFields, `The operation selects ${m.rootFields} root fields; at most ${limits.maxRootFields} are allowed`);
  }
  if (m.aliases > limits.maxAliases) {
    return limitExceeded('aliases', limits.maxAliases, m.aliases, `The operation uses ${m.aliases} aliases; at most ${limits.maxAliases} are allowed`);
  }
  if (m.depth > limits.maxDepth) {
    return limitExceeded('depth', limits.maxDepth, m.depth, `The operation is nested ${m.depth} levels deep; at most ${limits.maxDepth} are allowed`);
  }
  if (m.largestPage && m.largestPage.size > limits.maxPageSize) {
    const p = m.largestPage;
    return limitExceeded('pageSize', limits.maxPageSize, p.size, `${p.field} asks for ${p.argument}: ${p.size}; at most ${limits.maxPageSize} items per page are allowed`, {
      field: p.field,
      argument: p.argument,
    });
  }
  if (m.cost > limits.maxCost) {
    return limitExceeded('cost', limits.maxCost, m.cost, `The operation's estimated cost is ${safeNumber(m.cost)}; at most ${limits.maxCost} is allowed (request smaller pages or fewer nested lists)`);
  }
  return null;
}

/** Refuses operations over the limits after validation and before execution. */
export function queryLimitsPlugin<C extends BaseContext>(limits: QueryLimits): ApolloServerPlugin<C> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ schema, document, operation, request }) {
          if (!operation) return;
          const error = checkOperation({ schema, document, operation, variables: request.variables }, limits);
          if (error) throw error;
        },
      };
    },
  };
}

/** graphql's parser aborts with this message when a document exceeds parseOptions.maxTokens (16.x spells it "more that"). */
const TOKEN_LIMIT_MESSAGE = /Document contains more tha[nt] \d+ tokens/;

/** Counts the lexical tokens the parser would consume (comments excluded); stops at a lexing error. */
export function countTokens(source: string): number {
  const lexer = new Lexer(new Source(source));
  let count = 0;
  try {
    while (lexer.advance().kind !== TokenKind.EOF) count++;
  } catch {
    // a lexing error further on: what was counted so far is still a lower bound
  }
  return count;
}

/**
 * For the gateway's formatError: passes QUERY_LIMIT_EXCEEDED errors through (without the
 * internal `http` extension) and turns the parser's token-limit abort into one. Returns
 * undefined for any other error.
 */
export function formatLimitError(formatted: GraphQLFormattedError, error: unknown, limits: Pick<QueryLimits, 'maxTokens'>): GraphQLFormattedError | undefined {
  const extensions = formatted.extensions ?? {};
  if (extensions.code === QUERY_LIMIT_EXCEEDED) {
    const { http: _http, stacktrace: _stack, ...rest } = extensions;
    return { message: formatted.message, extensions: rest };
  }
  if (extensions.code === 'GRAPHQL_PARSE_FAILED' && TOKEN_LIMIT_MESSAGE.test(formatted.message)) {
    // Apollo's SyntaxError carries the parser's Source (read by shape: GraphQLError may come from another module copy).
    const source = (error as { source?: { body?: unknown } } | null | undefined)?.source?.body;
    const body = typeof source === 'string' ? source : undefined;
    const actual = body === undefined ? limits.maxTokens + 1 : Math.max(countTokens(body), limits.maxTokens + 1);
    return {
      message: `The document has ${actual} tokens; at most ${limits.maxTokens} are allowed`,
      extensions: { code: QUERY_LIMIT_EXCEEDED, limit: 'tokens', max: limits.maxTokens, actual },
    };
  }
  return undefined;
}

/**
 * For lib/http-server.ts `checkBody`: refuses a batched request (a JSON array body) with more
 * operations than allowed, with HTTP 400 and before any of them is parsed or executed.
 */
export function checkBatch(body: unknown, maxBatch: number): void {
  if (!Array.isArray(body) || body.length <= maxBatch) return;
  throw new HttpError(400, QUERY_LIMIT_EXCEEDED, `The request batches ${body.length} operations; at most ${maxBatch} are allowed per request`, {}, {
    limit: 'batch',
    max: maxBatch,
    actual: body.length,
  });
}

/** graphql-js appends suggestions as ` Did you mean "a", "b", or "c"?` (also `the enum value "X"`). */
const SUGGESTION = /\s*Did you mean [^?]*\?/g;

/** Removes field/argument/type/enum suggestions, which would leak the schema (production profile). */
export function withoutSuggestions(formatted: GraphQLFormattedError): GraphQLFormattedError {
  if (!formatted.message.includes('Did you mean')) return formatted;
  return { ...formatted, message: formatted.message.replace(SUGGESTION, '') };
}
