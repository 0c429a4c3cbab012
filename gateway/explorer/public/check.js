// What the explorer tells a developer before an operation is sent: which requirements of which
// fields the current token does not meet. Plain JavaScript without imports, so that the browser
// loads it as it is (/explorer/check.js) and the tests import the very same file
// (test/explorer/agreement.test.ts runs it against the live gateway's decisions for every field).
// graphql-js is passed in: in the browser it is the copy inside GraphiQL's bundle, in the tests
// the project's own. Types: check.d.ts.
//
// The requirements come from /explorer/requirements.json (gateway/explorer/requirements.ts); the
// caller from the token itself (scopes, expiry, decoded here, never verified here) and from
// /explorer/caller (the caller kind from the client registry and, for a third party, which
// permissions its consents grant), which the gateway answers with its own authorization engine.
// The order is the gateway's: the token first (requireAuthentication), then the field's rule.
// Only what is decided before execution can be told in advance; per-object checks (whose
// account, whose customer) are named in the requirement but decided by the gateway per object.

/** @type {Record<string, string>} */
export const CALLER_KIND_NAMES = {
  customer: 'first-party customer',
  thirdParty: 'third-party',
  staff: 'staff',
  machine: 'machine',
};

const CUSTOMER_ID = /^cus_[a-z2-7]{26}$/;

function base64UrlToText(part) {
  const base64 = part.replace(/-/g, '+').replace(/_/g, '/');
  const binary = atob(base64 + '='.repeat((4 - (base64.length % 4)) % 4));
  return new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)));
}

/**
 * What a JWT access token says about its caller, read without verifying it (the gateway verifies;
 * this only helps to explain). null when it is not a JWT. The customer is `sub` when it is a
 * customer id and the token was not issued through client_credentials, as the gateway reads it.
 */
export function decodeToken(token, nowMs = Date.now()) {
  const parts = String(token).split('.');
  if (parts.length !== 3) return null;
  let payload;
  try {
    payload = JSON.parse(base64UrlToText(parts[1]));
  } catch {
    return null;
  }
  if (!payload || typeof payload !== 'object') return null;
  const clientId =
    typeof payload.client_id === 'string' ? payload.client_id : typeof payload.azp === 'string' ? payload.azp : null;
  const grant = [payload.gty, payload.grant_type].find((g) => typeof g === 'string');
  const clientCredentials = grant !== undefined && /^client[-_]credentials$/.test(grant);
  const sub = typeof payload.sub === 'string' ? payload.sub : '';
  const expiresAt = typeof payload.exp === 'number' ? payload.exp * 1000 : null;
  return {
    clientId,
    customerId: !clientCredentials && CUSTOMER_ID.test(sub) ? sub : null,
    scopes: typeof payload.scope === 'string' ? payload.scope.split(' ').filter(Boolean) : [],
    expiresAt,
    expired: expiresAt !== null && expiresAt <= nowMs,
  };
}

/** The bearer token in a headers editor's JSON text (any case of "Authorization"), or null. */
export function tokenFromHeaders(headersText) {
  let headers;
  try {
    headers = JSON.parse(headersText || '{}');
  } catch {
    return null;
  }
  if (!headers || typeof headers !== 'object' || Array.isArray(headers)) return null;
  for (const [name, value] of Object.entries(headers)) {
    if (name.toLowerCase() !== 'authorization' || typeof value !== 'string') continue;
    const match = /^Bearer\s+(\S+)\s*$/i.exec(value);
    if (match) return match[1];
  }
  return null;
}

/**
 * The headers editor's JSON text with `Authorization: Bearer <token>` in place of any earlier one; other headers are
 * kept.
 */
export function withBearer(headersText, token) {
  let headers = {};
  try {
    const parsed = JSON.parse(headersText || '{}');
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) headers = parsed;
  } catch {
    // an unreadable editor content is replaced
  }
  const kept = Object.fromEntries(Object.entries(headers).filter(([name]) => name.toLowerCase() !== 'authorization'));
  return JSON.stringify({ Authorization: `Bearer ${token}`, ...kept }, null, 2);
}

/**
 * The requirements of one field the caller does not meet, in the engine's terms (reason
 * AUTHENTICATION, SCOPE, CALLER_KIND, CONSENT, NO_RULE). `caller`: null without a token; else
 * { scopes, expired?, refused?, kind?, grants? }, where kind undefined means "not known yet"
 * (then only the token's own facts are checked) and kind null means the client registry does not
 * list the client. As in engine.ts, a consent is looked at only once the caller kind fits.
 */
export function unmetRequirements(requirement, caller) {
  if (!caller) return [{ reason: 'AUTHENTICATION', message: 'needs an access token (Authorization: Bearer …)' }];
  if (caller.refused)
    return [{ reason: 'AUTHENTICATION', message: `the gateway refuses this token: ${caller.refused}` }];
  if (caller.expired) return [{ reason: 'AUTHENTICATION', message: 'the access token has expired: get a new one' }];
  if (!requirement || !requirement.hasRule)
    return [{ reason: 'NO_RULE', message: 'has no authorization rule: denied to every caller' }];
  const unmet = [];
  const missing = requirement.scopes.filter((s) => !caller.scopes.includes(s));
  if (missing.length)
    unmet.push({ reason: 'SCOPE', missingScopes: missing, message: `needs scope ${missing.join(', ')}` });
  if (caller.kind === undefined) return unmet;
  if (caller.kind === null || !requirement.callers.includes(caller.kind)) {
    const who =
      caller.kind === null
        ? 'this client (the client registry lists it as neither first- nor third-party)'
        : `${CALLER_KIND_NAMES[caller.kind]} callers`;
    unmet.push({
      reason: 'CALLER_KIND',
      message: `is not available to ${who}; it is for ${requirement.callers.map((k) => CALLER_KIND_NAMES[k]).join(', ') || 'no caller'}`,
    });
  } else if (caller.kind === 'thirdParty' && caller.grants) {
    for (const consent of requirement.consents) {
      if (consent.beforeExecution && !caller.grants[consent.permission]) {
        unmet.push({
          reason: 'CONSENT',
          missingConsent: consent.permission,
          message: `needs an authorised consent granting ${consent.permission}`,
        });
      }
    }
  }
  return unmet;
}

/** One line per requirement of a field, for people. */
export function describeRequirement(requirement) {
  if (!requirement || !requirement.hasRule) return ['No rule: denied to every caller.'];
  const lines = ['An access token.'];
  lines.push(requirement.scopes.length ? `Scopes: ${requirement.scopes.join(', ')}.` : 'No scope.');
  lines.push(`Callers: ${requirement.callers.map((k) => CALLER_KIND_NAMES[k]).join(', ') || 'none'}.`);
  for (const c of requirement.consents) {
    lines.push(
      `Third party: an authorised consent granting ${c.permission}${c.perAccount ? ', checked for the very account of each object' : ''}.`,
    );
  }
  if (requirement.pii) lines.push('Personal data (PII).');
  lines.push(
    requirement.decided === 'per object'
      ? `Decided before execution and again per object (${requirement.objectCheck}).`
      : 'Decided before execution.',
  );
  return lines;
}

/** The operations of a document that would run: the named one, else all of them (one is the usual case). */
function operationsToRun(graphql, document, operationName) {
  const operations = document.definitions.filter((d) => d.kind === graphql.Kind.OPERATION_DEFINITION);
  const named = operationName ? operations.filter((o) => o.name && o.name.value === operationName) : [];
  return named.length ? named : operations;
}

/**
 * Every distinct Type.field an operation selects, with the first response path it appears at and
 * what of its requirements the caller does not meet. Walked as the gateway's pre-execution pass
 * walks it (gateway/authorization/pre-execution.ts): fragments and inline fragments through
 * TypeInfo, each named fragment once, @skip/@include honoured with the variables given (a
 * directive whose value cannot be computed keeps the field), introspection and __typename left out.
 * `document`: a DocumentNode or the text of one (a syntax error throws graphql's GraphQLError).
 */
export function operationFields(
  graphql,
  schema,
  document,
  { variables = {}, operationName = null, requirements, caller },
) {
  const doc = typeof document === 'string' ? graphql.parse(document) : document;
  const fragments = new Map();
  for (const d of doc.definitions) if (d.kind === graphql.Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  const out = [];
  const seen = new Set();
  const walked = new Set();
  const typeInfo = new graphql.TypeInfo(schema);
  const included = (node) => {
    try {
      const skip = graphql.getDirectiveValues(graphql.GraphQLSkipDirective, node, variables);
      const include = graphql.getDirectiveValues(graphql.GraphQLIncludeDirective, node, variables);
      return (skip ? skip.if !== true : true) && (include ? include.if !== false : true);
    } catch {
      return true;
    }
  };
  const walk = (set, prefix) => {
    typeInfo.enter(set);
    for (const sel of set.selections) {
      if (!included(sel)) continue;
      if (sel.kind === graphql.Kind.FIELD) {
        if (sel.name.value.startsWith('__')) continue;
        typeInfo.enter(sel);
        const parent = typeInfo.getParentType();
        const responseName = sel.alias ? sel.alias.value : sel.name.value;
        const path = prefix ? `${prefix}.${responseName}` : responseName;
        const coordinate = `${parent ? parent.name : '?'}.${sel.name.value}`;
        if (!seen.has(coordinate)) {
          seen.add(coordinate);
          const requirement = requirements.fields[coordinate];
          out.push({
            coordinate,
            path,
            requirement: requirement || null,
            unmet: unmetRequirements(requirement, caller),
          });
        }
        if (sel.selectionSet) walk(sel.selectionSet, path);
        typeInfo.leave(sel);
      } else if (sel.kind === graphql.Kind.INLINE_FRAGMENT) {
        typeInfo.enter(sel);
        walk(sel.selectionSet, prefix);
        typeInfo.leave(sel);
      } else {
        const fragment = fragments.get(sel.name.value);
        if (!fragment || walked.has(fragment.name.value)) continue;
        walked.add(fragment.name.value);
        typeInfo.enter(fragment);
        walk(fragment.selectionSet, prefix);
        typeInfo.leave(fragment);
      }
    }
    typeInfo.leave(set);
  };
  for (const operation of operationsToRun(graphql, doc, operationName)) {
    typeInfo.enter(operation);
    walk(operation.selectionSet, '');
    typeInfo.leave(operation);
  }
  return out;
}

/**
 * A GraphQL validation rule for the editor's linter: every field whose requirements the current
 * caller does not meet is underlined with what is missing, as the developer types.
 */
export function requirementsRule(graphql, getRequirements, getCaller) {
  return (context) => ({
    Field(node) {
      if (node.name.value.startsWith('__')) return;
      const parent = context.getParentType();
      const requirements = getRequirements();
      if (!parent || !requirements) return;
      const coordinate = `${parent.name}.${node.name.value}`;
      const unmet = unmetRequirements(requirements.fields[coordinate], getCaller());
      if (unmet.length)
        context.reportError(
          new graphql.GraphQLError(`${coordinate} ${unmet.map((u) => u.message).join('; ')}`, { nodes: node }),
        );
    },
  });
}
