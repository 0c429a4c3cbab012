import { createHash } from 'node:crypto';
import {
  getArgumentValues,
  Kind,
  print,
  visit,
  type ArgumentNode,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLSchema,
  type ObjectFieldNode,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';

/**
 * What the idempotency layer needs to know about one operation: the money-moving root fields it
 * selects (the policy marks them, gateway/authorization/policy.ts `moneyMoving`), the key each
 * carries, and a fingerprint of the request. Pure functions over the parsed document.
 */

/**
 * Where a money-moving field takes its key, as a path into its arguments: ['idempotencyKey'] or ['input',
 * 'idempotencyKey'].
 */
export type KeyPath = readonly [string, ...string[]];

/** Mutation field name -> where its key is. */
export type MoneyMovingFields = ReadonlyMap<string, KeyPath>;

export interface MoneyMovingSelection {
  field: string;
  node: FieldNode;
  /** The key given in the arguments (literal or variable), or null when absent. */
  key: string | null;
  keyPath: KeyPath;
}

/** Every root field of a mutation operation that the policy marks money-moving, fragments included. */
export function moneyMovingSelections(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Record<string, unknown> | undefined,
  fields: MoneyMovingFields,
): MoneyMovingSelection[] {
  if (operation.operation !== 'mutation') return [];
  const mutation = schema.getMutationType();
  if (!mutation) return [];
  const fragments = fragmentsOf(document);
  const found: MoneyMovingSelection[] = [];
  const seen = new Set<string>();
  const walk = (set: SelectionSetNode) => {
    for (const sel of set.selections) {
      if (sel.kind === Kind.FIELD) {
        const keyPath = fields.get(sel.name.value);
        const def = mutation.getFields()[sel.name.value];
        if (!keyPath || !def) continue;
        let args: Record<string, unknown>;
        try {
          args = getArgumentValues(def, sel, variables ?? {}) as Record<string, unknown>;
        } catch {
          // Variables that do not coerce: execution refuses them (BAD_USER_INPUT) before any resolver runs.
          continue;
        }
        const key = valueAt(args, keyPath);
        found.push({ field: sel.name.value, node: sel, key: typeof key === 'string' ? key : null, keyPath });
      } else if (sel.kind === Kind.INLINE_FRAGMENT) {
        walk(sel.selectionSet);
      } else if (!seen.has(sel.name.value)) {
        seen.add(sel.name.value);
        const fragment = fragments.get(sel.name.value);
        if (fragment) walk(fragment.selectionSet);
      }
    }
  };
  walk(operation.selectionSet);
  return found;
}

function valueAt(value: unknown, path: readonly string[]): unknown {
  let at = value;
  for (const step of path) {
    if (!at || typeof at !== 'object') return undefined;
    at = (at as Record<string, unknown>)[step];
  }
  return at;
}

function fragmentsOf(document: DocumentNode): Map<string, FragmentDefinitionNode> {
  return new Map(
    document.definitions.flatMap((d) => (d.kind === Kind.FRAGMENT_DEFINITION ? [[d.name.value, d] as const] : [])),
  );
}

/**
 * An idempotency key: 1 to 40 printable ASCII characters without leading or trailing space (the
 * OBIE x-idempotency-key rule, which the payments subgraph's bank key must also meet). Returns
 * why a key is refused, or null.
 */
export function keyProblem(key: string): string | null {
  if (key.length === 0) return 'the idempotency key is empty';
  if (key.length > 40) return 'the idempotency key is longer than 40 characters';
  if (!/^[\x20-\x7e]+$/.test(key)) return 'the idempotency key may contain only printable ASCII characters';
  if (key.trim() !== key) return 'the idempotency key may not start or end with a space';
  return null;
}

/**
 * sha256 of what the client asked: the operation as printed by graphql-js (so layout and comments
 * do not matter), the fragments it uses, its name and its variables in a canonical JSON. The same
 * key with another fingerprint is IDEMPOTENCY_KEY_REUSED.
 */
export function requestFingerprint(
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Record<string, unknown> | undefined,
): string {
  const fragments = fragmentsOf(document);
  const used = new Set<string>();
  visit(operation, {
    FragmentSpread(node) {
      used.add(node.name.value);
    },
  });
  // Fragments used by fragments.
  for (const name of [...used]) {
    const f = fragments.get(name);
    if (f)
      visit(f, {
        FragmentSpread(node) {
          used.add(node.name.value);
        },
      });
  }
  const text = [
    print(operation),
    ...[...used]
      .sort()
      .map((n) => fragments.get(n))
      .filter((f): f is FragmentDefinitionNode => f !== undefined)
      .map((f) => print(f)),
  ].join('\n');
  return createHash('sha256')
    .update(text)
    .update('\0')
    .update(canonicalJson(variables ?? {}))
    .digest('hex');
}

export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object')
    return `{${Object.keys(value)
      .sort()
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(value) ?? 'null';
}

/**
 * The request with `key` written where the field takes it, for a key that came in the
 * Idempotency-Key header: into the variable the argument is bound to, or as a literal in the
 * document. The subgraph then receives the key like any other argument (its ledger is keyed by it).
 */
export function withKey(
  document: DocumentNode,
  variables: Record<string, unknown> | undefined,
  selection: MoneyMovingSelection,
  key: string,
): { document: DocumentNode; variables: Record<string, unknown> | undefined } {
  const [argName, ...rest] = selection.keyPath;
  const arg = selection.node.arguments?.find((a) => a.name.value === argName);
  // Bound to a variable: the key goes into the variable's value.
  if (arg && arg.value.kind === Kind.VARIABLE && rest.length > 0) {
    const name = arg.value.name.value;
    const copy = structuredClone(variables ?? {});
    let at = copy[name] as Record<string, unknown> | undefined;
    if (at && typeof at === 'object') {
      for (const step of rest.slice(0, -1)) at = (at[step] ??= {}) as Record<string, unknown>;
      at[rest[rest.length - 1]!] = key;
      return { document, variables: copy };
    }
  }
  const literal = { kind: Kind.STRING, value: key } as const;
  const nested = (names: string[]): ObjectFieldNode['value'] =>
    names.length === 0
      ? literal
      : {
          kind: Kind.OBJECT,
          fields: [
            { kind: Kind.OBJECT_FIELD, name: { kind: Kind.NAME, value: names[0]! }, value: nested(names.slice(1)) },
          ],
        };
  const target = selection.node;
  const rewritten = visit(document, {
    Field(node) {
      if (node !== target) return undefined;
      const args: ArgumentNode[] = [...(node.arguments ?? [])];
      const i = args.findIndex((a) => a.name.value === argName);
      if (i < 0) {
        args.push({ kind: Kind.ARGUMENT, name: { kind: Kind.NAME, value: argName! }, value: nested(rest) });
      } else if (rest.length > 0 && args[i]!.value.kind === Kind.OBJECT) {
        const obj = args[i]!.value;
        args[i] = {
          ...args[i]!,
          value: {
            ...obj,
            fields: [...obj.fields, ...(nested(rest) as { fields: readonly ObjectFieldNode[] }).fields],
          },
        };
      } else {
        args[i] = { ...args[i]!, value: nested(rest) };
      }
      return { ...node, arguments: args };
    },
  });
  return { document: rewritten, variables };
}
