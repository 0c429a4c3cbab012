import { Kind, visit, type DocumentNode } from 'graphql';

/**
 * Progressive override (`@override(from: "old", label: "percent(N)" | "<custom>")`): which
 * subgraph resolves an overridden field, decided ONCE per request and label.
 *
 * @graphql-tools/federation draws a fresh random number for every check of a `percent(N)` label,
 * and it checks the field once for the new owner and once for the old one, per field and per
 * planning step: within one request, the planner could send the field to neither subgraph (or
 * expect it from the one that was not asked), which is the "Cannot return null" answers the issue
 * measured (6% at percent(50)). Router decides each label once per request. So here the percent
 * labels are renamed in the supergraph before the library reads them (`PERCENT_LABEL_PREFIX`),
 * which makes the library ask `handleProgressiveOverride(label, context)` instead, and that
 * answer is drawn once and kept for the request (keyed by the request's context object, so
 * nothing is shared between requests).
 *
 * Custom labels (anything but percent(N)) are on when listed in GATEWAY_OVERRIDE_LABELS and off
 * otherwise, for every request (Router enables them through a coprocessor or Rhai script; a
 * fixed list is the configuration this gateway offers).
 */

/** What a `percent(N)` label becomes in the supergraph handed to the library. */
export const PERCENT_LABEL_PREFIX = 'fdg-percent:';

const PERCENT = /^percent\((\d+(?:\.\d+)?)\)$/;

/** Renames every `percent(N)` override label to `fdg-percent:N` (the rest of the document unchanged). */
export function routePercentLabelsToHandler(document: DocumentNode): DocumentNode {
  return visit(document, {
    Argument(node) {
      if (node.name.value !== 'overrideLabel' || node.value.kind !== Kind.STRING) return undefined;
      const match = PERCENT.exec(node.value.value);
      if (!match) return undefined;
      return { ...node, value: { ...node.value, value: `${PERCENT_LABEL_PREFIX}${match[1]}` } };
    },
  });
}

/** The override labels a supergraph uses, as written (percent labels as percent(N)). */
export function overrideLabelsOf(document: DocumentNode): string[] {
  const labels = new Set<string>();
  visit(document, {
    Argument(node) {
      if (node.name.value === 'overrideLabel' && node.value.kind === Kind.STRING) labels.add(node.value.value);
    },
  });
  return [...labels];
}

export type OverrideHandler = (label: string, context: unknown) => boolean;

/**
 * The handler for @graphql-tools/federation's `handleProgressiveOverride`: per request (context
 * object) and label, one decision. `random` is injectable for tests.
 */
export function createOverrideHandler(
  enabledLabels: readonly string[],
  random: () => number = Math.random,
): OverrideHandler {
  const enabled = new Set(enabledLabels);
  const decisions = new WeakMap<object, Map<string, boolean>>();
  return (label, context) => {
    if (!label.startsWith(PERCENT_LABEL_PREFIX)) return enabled.has(label);
    const percent = Number(label.slice(PERCENT_LABEL_PREFIX.length));
    // No request to remember the draw for (the library passes none only outside a request): the
    // extremes are still exact; anything in between falls back to the old owner.
    if (context === null || typeof context !== 'object') return percent >= 100;
    let perRequest = decisions.get(context);
    if (!perRequest) decisions.set(context, (perRequest = new Map()));
    let decided = perRequest.get(label);
    if (decided === undefined) {
      decided = random() * 100 < percent;
      perRequest.set(label, decided);
    }
    return decided;
  };
}
