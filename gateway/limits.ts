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
  parse,
  SchemaMetaFieldDef,
  Source,
  TokenKind,
  TypeMetaFieldDef,
  valueFromASTUntyped,
  visit,
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
 * Limits on hostile documents, checked before they cost anything. Each refusal is a
 * QUERY_LIMIT_EXCEEDED error naming the limit (HTTP 400):
 *
 *   { code: 'QUERY_LIMIT_EXCEEDED', limit: LimitName, max, actual }
 *
 * Where each limit is enforced:
 * - Every limit, on the document, in the HTTP layer (`checkRequest`, lib/http-server.ts
 *   `checkBody`): before authentication, before Apollo parses or validates anything, for the
 *   POST body (each operation of a batch) and for the query string of a GET. This runs first
 *   because graphql-js validation is itself super-linear: OverlappingFieldsCanBeMergedRule
 *   compares every pair of same-named fields (measured: 100 repeated `accounts { id }` take
 *   ~10 ms to validate, 300 take ~40 ms, 500 exhaust graphql's own complexity budget after
 *   ~75 ms), and Apollo offers no hook before validation whose refusal is not a 500.
 *   The check parses once (with the token limit), then measures in time linear in the
 *   document: each named fragment is measured once and memoised, so a fragment-doubling
 *   document of any depth costs as much as its text.
 * - Again at Apollo's didResolveOperation (`queryLimitsPlugin`), on the operation Apollo
 *   resolved, with that operation's variable defaults: this catches a persisted query (APQ) sent
 *   by hash with new variables, which the HTTP layer cannot see. gateway/server.ts runs the
 *   authorization walk only after this check passed (Apollo would otherwise start both at once).
 * - tokens: also graphql's parser itself (Apollo `parseOptions.maxTokens`); `formatLimitError`
 *   turns the parser's message into the error above.
 * - batch: `checkBatch`, on the parsed HTTP body, before any operation of the batch is looked at.
 *
 * Introspection (__schema, __type) counts as one field for depth and cost: it never reaches a
 * subgraph, is off in production, and graphql's MaxIntrospectionDepthRule bounds its nesting.
 * Its selections still count towards `selections`, since validation walks them.
 *
 * Why not a library: @escape.tech/graphql-armor (3.2 supports Apollo Server 5 and graphql 16)
 * has maxDepth/maxAliases/maxTokens/maxDirectives/costLimit, but its cost model uses static
 * per-field costs and a depth factor, not requested page sizes, its errors do not carry the
 * limit/max/actual extensions, its plugins run as validation rules (after parsing, alongside
 * the quadratic rule above, not before it), and its Apollo preset turns batching off. The
 * measurement below is small.
 */

export const QUERY_LIMIT_EXCEEDED = 'QUERY_LIMIT_EXCEEDED';

export type LimitName =
  | 'depth'
  | 'aliases'
  | 'rootFields'
  | 'tokens'
  | 'cost'
  | 'pageSize'
  | 'batch'
  | 'selections'
  | 'directives'
  | 'literalLength';

export interface QueryLimits {
  /** Deepest field nesting; a root field is at depth 1. */
  maxDepth: number;
  /** Aliased fields in an operation (fragments expanded). */
  maxAliases: number;
  /** Fields selected at an operation's root (fragments expanded, __typename excluded). */
  maxRootFields: number;
  /** Lexical tokens in the document (graphql parse maxTokens). */
  maxTokens: number;
  /** Estimated cost of an operation, see `measureOperation`. */
  maxCost: number;
  /** Largest `first`/`last` a field may request. */
  maxPageSize: number;
  /** Operations in one batched HTTP request (a JSON array body). */
  maxBatch: number;
  /** Assumed length of a list field that has no page-size argument. */
  listMultiplier: number;
  /**
   * Selections (fields, fragment spreads and inline fragments) of the document once every
   * fragment spread is replaced by the fragment it names: what validation and the
   * authorization walk would visit. This is the limit a fragment-doubling document breaks.
   */
  maxSelections: number;
  /** Directives written in the document (`@skip`, `@include`, ...). */
  maxDirectives: number;
  /** Characters of one string or number literal written in the document. */
  maxLiteralLength: number;
}

/**
 * Safe defaults, measured against the customer dashboard (test/operations/dashboard.graphql):
 * depth 7 (max 12), no aliases (max 30), 1 root field (max 10), 114 tokens (max 5,000); cost
 * 3,319 with 20 transactions per account and 15,319 with `first: 100` (accounts, a list without
 * `first`, counted as 10 accounts), both under 20,000. Abuse is far beyond: one nested
 * `first: 100` × `first: 100` with a few fields costs over 30,000, a third level over 3 million.
 * Page size 100 is the subgraphs' own hard maximum (lib/pagination.ts), refused here before
 * any subgraph is called. Batches of up to 5 cover a client's parallel first screen.
 * Selections: the dashboard has 55, graphql's standard introspection query 230; 1,000 leaves
 * room for large screens, and bounds the quadratic part of validation to what graphql's own
 * budget allows (~75 ms for the worst shape, ~500 repeats of one field). Directives: the dashboard has none; 50 allows
 * an @include/@skip on every field of a large screen. Literals: ids, cursors, dates and amounts are under 100
 * characters; 1,000 bounds a pasted blob (larger values belong in variables, which the body size limit bounds).
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
  maxSelections: 1_000,
  maxDirectives: 50,
  maxLiteralLength: 1_000,
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
  /** Selections once fragments are expanded (see QueryLimits.maxSelections). */
  selections: number;
  /** The largest page requested, if any field takes a page-size argument. */
  largestPage: PageRequest | null;
}

interface SelectionMeasure {
  depth: number;
  aliases: number;
  /** Fields directly in this selection set (through fragments), __typename excluded. */
  fields: number;
  cost: number;
  selections: number;
  largestPage: PageRequest | null;
}

/** Object and interface types have fields to measure; unions only fragments. */
type CompositeType = GraphQLObjectType | GraphQLInterfaceType | GraphQLUnionType;
const asComposite = (type: GraphQLNamedType | null | undefined): CompositeType | undefined =>
  type && isCompositeType(type) ? type : undefined;
/** `[T]`, `[T]!`, `[T!]!`: a list, once an outer non-null is removed. */
const returnsList = (type: GraphQLOutputType): boolean => isListType(getNullableType(type));
const largerPage = (a: PageRequest | null, b: PageRequest | null): PageRequest | null =>
  !a || (b && b.size > a.size) ? b : a;

const ZERO: SelectionMeasure = { depth: 0, aliases: 0, fields: 0, cost: 0, selections: 0, largestPage: null };

export interface MeasureInput {
  schema: GraphQLSchema;
  document: DocumentNode;
  operation: OperationDefinitionNode;
  /** Raw request variables (not yet coerced). */
  variables?: Record<string, unknown> | null | undefined;
  /** Assumed length of a list without a page-size argument (default 10). */
  listMultiplier?: number;
}

/**
 * Measures selection sets of one document. Each named fragment is measured once and memoised,
 * so a document costs time linear in its size however often its fragments are spread (a
 * fragment-doubling document included). A fragment's measure does not depend on where it is
 * spread: its fields are typed by its own type condition. Cycles (which validation refuses)
 * are cut rather than followed; unknown fragments and fields are measured as far as possible.
 */
function createMeasurer(
  schema: GraphQLSchema,
  document: DocumentNode,
  pageSizeOf: (node: ValueNode) => number | undefined,
  listMultiplier: number,
) {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  const memo = new Map<string, SelectionMeasure>();
  const inProgress = new Set<string>();
  /** Selection nodes actually walked: at most the number in the document, thanks to the memo. */
  let visited = 0;

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
      total.selections += m.selections;
      total.largestPage = largerPage(total.largestPage, m.largestPage);
    };
    for (const sel of set.selections) {
      visited++;
      if (sel.kind === Kind.FIELD) {
        const name = sel.name.value;
        const aliases = sel.alias ? 1 : 0;
        if (name === '__typename') {
          add({ depth: 1, aliases, fields: 0, cost: 0, selections: 1, largestPage: null });
          continue;
        }
        const def = fieldDef(parent, name);
        let page: number | undefined;
        let largestPage: PageRequest | null = null;
        for (const argName of PAGE_SIZE_ARGUMENTS) {
          const node = sel.arguments?.find((a) => a.name.value === argName);
          const argDef = def?.args.find((a) => a.name === argName);
          let size = node ? pageSizeOf(node.value) : undefined;
          if (size === undefined && argDef && typeof argDef.defaultValue === 'number') size = argDef.defaultValue;
          if (size === undefined || !Number.isFinite(size)) continue;
          page = Math.max(page ?? 0, size);
          largestPage = largerPage(largestPage, { field: `${parent?.name ?? '?'}.${name}`, argument: argName, size });
        }
        if (!sel.selectionSet) {
          add({ depth: 1, aliases, fields: 1, cost: 1, selections: 1, largestPage });
          continue;
        }
        const child = measureSet(sel.selectionSet, def ? asComposite(getNamedType(def.type)) : undefined);
        const selections = 1 + child.selections;
        if (def === SchemaMetaFieldDef || def === TypeMetaFieldDef) {
          // Introspection resolves in the gateway from the schema alone; graphql's own
          // MaxIntrospectionDepthRule (a specified rule) bounds its nesting, so the standard
          // introspection query (depth 15) is not held to the data limits.
          add({ depth: 1, aliases: aliases + child.aliases, fields: 1, cost: 1, selections, largestPage: null });
          continue;
        }
        let multiplier = 1;
        if (page !== undefined) multiplier = Math.max(0, page);
        else if (def && returnsList(def.type)) {
          const connectionList = (name === 'edges' || name === 'nodes') && parent?.name.endsWith('Connection');
          multiplier = connectionList ? 1 : listMultiplier;
        }
        add({
          depth: 1 + child.depth,
          aliases: aliases + child.aliases,
          fields: 1,
          cost: 1 + multiplier * child.cost,
          selections,
          largestPage: largerPage(largestPage, child.largestPage),
        });
      } else if (sel.kind === Kind.INLINE_FRAGMENT) {
        const condition = sel.typeCondition ? asComposite(schema.getType(sel.typeCondition.name.value)) : parent;
        const inner = measureSet(sel.selectionSet, condition ?? parent);
        add({ ...inner, selections: 1 + inner.selections });
      } else {
        const inner = measureFragment(sel.name.value);
        add({ ...inner, selections: 1 + inner.selections });
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

  const measureOperationNode = (operation: OperationDefinitionNode): OperationMeasure => {
    const m = measureSet(operation.selectionSet, asComposite(schema.getRootType(operation.operation)));
    return {
      depth: m.depth,
      aliases: m.aliases,
      rootFields: m.fields,
      cost: m.cost,
      selections: m.selections,
      largestPage: m.largestPage,
    };
  };

  return {
    operation: measureOperationNode,
    /** Selections of the fragments no operation reached (validation walks them too before refusing them as unused). */
    unreachedFragmentSelections: (): number => {
      let selections = 0;
      for (const name of fragments.keys()) if (!memo.has(name)) selections += measureFragment(name).selections;
      return selections;
    },
    visited: () => visited,
  };
}

/**
 * Page sizes from a value node: a literal, or a variable's given value, else its default. A
 * variable given as null or as something else than a number yields undefined (the schema's
 * default page size then applies; validation refuses non-numbers).
 */
function pageSizeReader(
  variables: Record<string, unknown> | null | undefined,
  defaultOf: (name: string) => ValueNode | undefined,
) {
  const read = (node: ValueNode): number | undefined => {
    if (node.kind === Kind.VARIABLE) {
      const name = node.name.value;
      const given = variables?.[name];
      if (typeof given === 'number') return given;
      if (given === undefined) {
        const fallback = defaultOf(name); // a constant: the parser allows no variables in defaults
        return fallback ? read(fallback) : undefined;
      }
      return undefined;
    }
    const value = valueFromASTUntyped(node);
    return typeof value === 'number' ? value : undefined;
  };
  return read;
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
export function measureOperation({
  schema,
  document,
  operation,
  variables,
  listMultiplier = DEFAULT_QUERY_LIMITS.listMultiplier,
}: MeasureInput): OperationMeasure {
  const defaults = new Map<string, ValueNode>();
  for (const v of operation.variableDefinitions ?? [])
    if (v.defaultValue) defaults.set(v.variable.name.value, v.defaultValue);
  return createMeasurer(
    schema,
    document,
    pageSizeReader(variables, (name) => defaults.get(name)),
    listMultiplier,
  ).operation(operation);
}

export interface DocumentMeasure {
  /** Each operation of the document, in order. */
  operations: { name: string | null; measure: OperationMeasure }[];
  /** Selections of every operation plus those of fragments no operation uses (see QueryLimits.maxSelections). */
  selections: number;
  /** Directives written anywhere in the document. */
  directives: number;
  /** The longest string or number literal written in the document. */
  longestLiteral: { kind: 'string' | 'number'; length: number } | null;
  /** Selection nodes the measurement walked: never more than the document holds (tests use it to prove linearity). */
  visited: number;
}

/**
 * Measures a whole document, before validation: every operation (a document's operations are
 * all validated even though one runs), and fragments that no operation uses. Fragments are
 * measured once for the whole document; a variable without a given value takes the largest
 * default any operation declares for it (the post-validation check applies the exact one).
 */
export function measureDocument({
  schema,
  document,
  variables,
  listMultiplier = DEFAULT_QUERY_LIMITS.listMultiplier,
}: Omit<MeasureInput, 'operation'>): DocumentMeasure {
  const operations = document.definitions.filter(
    (d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION,
  );
  const defaults = new Map<string, ValueNode>();
  for (const op of operations) {
    for (const v of op.variableDefinitions ?? []) {
      if (!v.defaultValue) continue;
      const name = v.variable.name.value;
      const earlier = defaults.get(name);
      const value: unknown = valueFromASTUntyped(v.defaultValue);
      const earlierValue: unknown = earlier && valueFromASTUntyped(earlier);
      if (!earlier || (typeof value === 'number' && (typeof earlierValue !== 'number' || value > earlierValue)))
        defaults.set(name, v.defaultValue);
    }
  }
  const measurer = createMeasurer(
    schema,
    document,
    pageSizeReader(variables, (name) => defaults.get(name)),
    listMultiplier,
  );
  const measured = operations.map((op) => ({ name: op.name?.value ?? null, measure: measurer.operation(op) }));
  const selections = measured.reduce((n, o) => n + o.measure.selections, 0) + measurer.unreachedFragmentSelections();

  let directives = 0;
  let longestLiteral: DocumentMeasure['longestLiteral'] = null;
  const literal = (kind: 'string' | 'number', length: number) => {
    if (!longestLiteral || length > longestLiteral.length) longestLiteral = { kind, length };
  };
  visit(document, {
    Directive: () => {
      directives++;
    },
    StringValue: (node) => literal('string', node.value.length),
    IntValue: (node) => literal('number', node.value.length),
    FloatValue: (node) => literal('number', node.value.length),
  });
  return { operations: measured, selections, directives, longestLiteral, visited: measurer.visited() };
}

/** A refusal, before it becomes a GraphQLError (Apollo) or an HttpError (HTTP layer). */
export interface LimitRefusal {
  limit: LimitName;
  max: number;
  actual: number;
  message: string;
  /** Further extensions, e.g. the field and argument of a page over the maximum. */
  extra?: Record<string, unknown>;
}

function refusal(
  limit: LimitName,
  max: number,
  actual: number,
  message: string,
  extra?: Record<string, unknown>,
): LimitRefusal {
  return { limit, max, actual: safeNumber(actual), message, ...(extra ? { extra } : {}) };
}

/** The error every refusal carries (HTTP 400). */
export function limitExceeded(
  limit: LimitName,
  max: number,
  actual: number,
  message: string,
  extra: Record<string, unknown> = {},
): GraphQLError {
  return new GraphQLError(message, {
    extensions: { code: QUERY_LIMIT_EXCEEDED, limit, max, actual: safeNumber(actual), ...extra, http: { status: 400 } },
  });
}

const asGraphQLError = (r: LimitRefusal): GraphQLError => limitExceeded(r.limit, r.max, r.actual, r.message, r.extra);

/** Counts past 2^53 (a doubling document of 53 levels and more) are reported as the largest exact integer. */
function safeNumber(n: number): number {
  return Number.isFinite(n) && n <= Number.MAX_SAFE_INTEGER ? n : Number.MAX_SAFE_INTEGER;
}

/** The first per-operation limit a measured operation breaks, or null. */
function operationRefusal(m: OperationMeasure, limits: QueryLimits): LimitRefusal | null {
  if (m.rootFields > limits.maxRootFields) {
    return refusal(
      'rootFields',
      limits.maxRootFields,
      m.rootFields,
      `The operation selects ${m.rootFields} root fields; at most ${limits.maxRootFields} are allowed`,
    );
  }
  if (m.aliases > limits.maxAliases) {
    return refusal(
      'aliases',
      limits.maxAliases,
      m.aliases,
      `The operation uses ${safeNumber(m.aliases)} aliases; at most ${limits.maxAliases} are allowed`,
    );
  }
  if (m.depth > limits.maxDepth) {
    return refusal(
      'depth',
      limits.maxDepth,
      m.depth,
      `The operation is nested ${m.depth} levels deep; at most ${limits.maxDepth} are allowed`,
    );
  }
  if (m.selections > limits.maxSelections) return selectionsRefusal(m.selections, limits.maxSelections);
  if (m.largestPage && m.largestPage.size > limits.maxPageSize) {
    const p = m.largestPage;
    return refusal(
      'pageSize',
      limits.maxPageSize,
      p.size,
      `${p.field} asks for ${p.argument}: ${p.size}; at most ${limits.maxPageSize} items per page are allowed`,
      {
        field: p.field,
        argument: p.argument,
      },
    );
  }
  if (m.cost > limits.maxCost) {
    return refusal(
      'cost',
      limits.maxCost,
      m.cost,
      `The operation's estimated cost is ${safeNumber(m.cost)}; at most ${limits.maxCost} is allowed (request smaller pages or fewer nested lists)`,
    );
  }
  return null;
}

function selectionsRefusal(actual: number, max: number): LimitRefusal {
  return refusal(
    'selections',
    max,
    actual,
    `The document selects ${safeNumber(actual)} fields and fragments once its fragments are expanded; at most ${max} are allowed`,
  );
}

/** The first limit an operation breaks, as the error to send, or null when it is within all of them. */
export function checkOperation(input: MeasureInput, limits: QueryLimits): GraphQLError | null {
  const r = operationRefusal(measureOperation({ ...input, listMultiplier: limits.listMultiplier }), limits);
  return r && asGraphQLError(r);
}

/**
 * graphql's parser aborts with this message when a document exceeds parseOptions.maxTokens (16.x spells it "more
 * that").
 */
const TOKEN_LIMIT_MESSAGE = /Document contains more tha[nt] \d+ tokens/;

export interface DocumentInput {
  schema: GraphQLSchema;
  /** The document as sent. */
  query: string;
  variables?: Record<string, unknown> | null | undefined;
}

/**
 * Every limit on one document as sent, before validation, in time linear in its size: tokens
 * (parsing stops at the limit), literals, directives, selections with fragments expanded, then
 * each operation's root fields, aliases, depth, page sizes and cost. A document that does not
 * parse for another reason passes: Apollo answers it with GRAPHQL_PARSE_FAILED as usual.
 */
export function checkDocument({ schema, query, variables }: DocumentInput, limits: QueryLimits): LimitRefusal | null {
  let document: DocumentNode;
  try {
    document = parse(query, { maxTokens: limits.maxTokens, noLocation: true });
  } catch (err) {
    if (err instanceof Error && TOKEN_LIMIT_MESSAGE.test(err.message)) {
      const actual = Math.max(countTokens(query), limits.maxTokens + 1);
      return refusal(
        'tokens',
        limits.maxTokens,
        actual,
        `The document has ${actual} tokens; at most ${limits.maxTokens} are allowed`,
      );
    }
    return null;
  }
  const m = measureDocument({ schema, document, variables, listMultiplier: limits.listMultiplier });
  if (m.longestLiteral && m.longestLiteral.length > limits.maxLiteralLength) {
    const { kind, length } = m.longestLiteral;
    return refusal(
      'literalLength',
      limits.maxLiteralLength,
      length,
      `The document contains a ${kind} literal of ${length} characters; at most ${limits.maxLiteralLength} are allowed`,
    );
  }
  if (m.directives > limits.maxDirectives) {
    return refusal(
      'directives',
      limits.maxDirectives,
      m.directives,
      `The document uses ${m.directives} directives; at most ${limits.maxDirectives} are allowed`,
    );
  }
  if (m.selections > limits.maxSelections) return selectionsRefusal(m.selections, limits.maxSelections);
  for (const { measure } of m.operations) {
    const r = operationRefusal(measure, limits);
    if (r) return r;
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
export function formatLimitError(
  formatted: GraphQLFormattedError,
  error: unknown,
  limits: Pick<QueryLimits, 'maxTokens'>,
): GraphQLFormattedError | undefined {
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
  throw new HttpError(
    400,
    QUERY_LIMIT_EXCEEDED,
    `The request batches ${body.length} operations; at most ${maxBatch} are allowed per request`,
    {},
    {
      limit: 'batch',
      max: maxBatch,
      actual: body.length,
    },
  );
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The documents a request asks to run, the way Apollo will read them: `query` (and `variables`)
 * of a JSON object body, of each element of a JSON array body (a batch), or of the URL's query
 * string (a GET; Apollo reads a parameter given exactly once). Anything else is Apollo's to refuse.
 */
function documentsOf(
  body: unknown,
  params: URLSearchParams,
): { query: string; variables: Record<string, unknown> | undefined; batchIndex?: number }[] {
  const fromObject = (o: unknown) =>
    isRecord(o) && typeof o.query === 'string'
      ? [{ query: o.query, variables: isRecord(o.variables) ? o.variables : undefined }]
      : [];
  if (Array.isArray(body)) return body.flatMap((o, batchIndex) => fromObject(o).map((d) => ({ ...d, batchIndex })));
  if (body !== undefined) return fromObject(body);
  const queries = params.getAll('query');
  if (queries.length !== 1) return [];
  let variables: unknown;
  try {
    variables = JSON.parse(params.get('variables') ?? 'null');
  } catch {
    variables = undefined; // Apollo refuses malformed variables with BAD_REQUEST
  }
  return [{ query: queries[0]!, variables: isRecord(variables) ? variables : undefined }];
}

/**
 * For lib/http-server.ts `checkBody`: the batch size, then every limit on each document of the
 * request (`checkDocument`), before authentication and before Apollo parses or validates
 * anything. A refusal answers the whole request with HTTP 400 and one QUERY_LIMIT_EXCEEDED error
 * (with `batchIndex` naming the operation of a batch): no operation of it runs.
 */
export function checkRequest(
  schema: GraphQLSchema,
  limits: QueryLimits,
): (body: unknown, params: URLSearchParams) => void {
  return (body, params) => {
    checkBatch(body, limits.maxBatch);
    for (const { query, variables, batchIndex } of documentsOf(body, params)) {
      const r = checkDocument({ schema, query, variables }, limits);
      if (r)
        throw new HttpError(
          400,
          QUERY_LIMIT_EXCEEDED,
          r.message,
          {},
          {
            limit: r.limit,
            max: r.max,
            actual: r.actual,
            ...r.extra,
            ...(batchIndex === undefined ? {} : { batchIndex }),
          },
        );
    }
  };
}

/** graphql-js appends suggestions as ` Did you mean "a", "b", or "c"?` (also `the enum value "X"`). */
const SUGGESTION = /\s*Did you mean [^?]*\?/g;

/** Removes field/argument/type/enum suggestions, which would leak the schema (production profile). */
export function withoutSuggestions(formatted: GraphQLFormattedError): GraphQLFormattedError {
  if (!formatted.message.includes('Did you mean')) return formatted;
  return { ...formatted, message: formatted.message.replace(SUGGESTION, '') };
}
