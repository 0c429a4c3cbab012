// The explorer page: GraphiQL 4 (its prebuilt UMD bundle, on React 18's UMD builds, all served by
// the gateway: see gateway/explorer/assets.ts) with what this product adds:
// - the schema from /explorer/schema.json (so the docs work where introspection is off), whose
//   descriptions end with each field's "Requires: …" paragraph;
// - example operations for the common jobs (Examples panel; the dashboard opens first);
// - requirements: every field the current token cannot read is underlined in the editor as you
//   type, the bar under the editor says before sending whether the token can run the operation,
//   and the Requirements panel shows the full requirement of every field of the operation, or of
//   any field looked up by name (all from /explorer/requirements.json: the gateway's policy);
// - in the sandbox profile only, the Sandbox token panel (/explorer/sandbox.js).
// No request leaves the gateway's origin: every URL below is relative to the page.
import {
  CALLER_KIND_NAMES,
  decodeToken,
  describeRequirement,
  operationFields,
  requirementsRule,
  tokenFromHeaders,
  unmetRequirements,
} from './check.js';

const { React, ReactDOM, GraphiQL } = window;
const h = React.createElement;
const { useEditorContext } = GraphiQL.React;
const graphql = GraphiQL.GraphQL;
const sandbox = document.body.dataset.sandboxPanel === 'on';

async function getJson(path) {
  const res = await fetch(path, { headers: { accept: 'application/json' } });
  if (!res.ok) throw new Error(`${path} answered HTTP ${res.status}`);
  return res.json();
}

// ---------------------------------------------------------------------------------------------
// The caller behind the token in the active tab's headers: decoded from the token at once, then
// completed by the gateway (/explorer/caller: kind from the client registry, consents granted).

function createCallerStore() {
  let state = { token: null, decoded: null, caller: null, facts: null, problem: null };
  let current = null;
  const listeners = new Set();
  const set = (next) => {
    state = next;
    for (const listener of listeners) listener();
  };
  return {
    get: () => state,
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    setToken(token) {
      if (token === current) return;
      current = token;
      if (!token) return set({ token: null, decoded: null, caller: null, facts: null, problem: null });
      const decoded = decodeToken(token);
      if (!decoded)
        return set({
          token,
          decoded: null,
          caller: { scopes: [], refused: 'it is not a JWT' },
          facts: null,
          problem: null,
        });
      set({ token, decoded, caller: { scopes: decoded.scopes, expired: decoded.expired }, facts: null, problem: null });
      fetch('./explorer/caller', { headers: { accept: 'application/json', authorization: `Bearer ${token}` } })
        .then(async (res) => {
          const body = await res.json().catch(() => null);
          if (token !== current) return;
          if (res.ok && body) {
            set({
              token,
              decoded,
              facts: body,
              problem: null,
              caller: { scopes: body.scopes, expired: decoded.expired, kind: body.kind, grants: body.grants },
            });
          } else if (res.status === 401) {
            const message = body?.errors?.[0]?.message ?? 'invalid token';
            set({ token, decoded, facts: null, problem: null, caller: { scopes: decoded.scopes, refused: message } });
          } else {
            // The caller kind stays unknown: only the token's own facts (scopes, expiry) are checked.
            set({
              ...state,
              problem: body?.errors?.[0]?.message ?? `the gateway could not describe this caller (HTTP ${res.status})`,
            });
          }
        })
        .catch(
          () =>
            token === current && set({ ...state, problem: 'the gateway could not be reached to describe this caller' }),
        );
    },
  };
}

const callerStore = createCallerStore();
const useCaller = () => React.useSyncExternalStore(callerStore.subscribe, callerStore.get);

/** Re-renders on every change of the query, variables and headers editors (the tab state lags behind them). */
function useEditorText(ctx) {
  const [, setTick] = React.useState(0);
  React.useEffect(() => {
    const editors = [ctx.queryEditor, ctx.variableEditor, ctx.headerEditor].filter(Boolean);
    let timer;
    const changed = () => {
      clearTimeout(timer);
      timer = setTimeout(() => setTick((n) => n + 1), 120);
    };
    for (const editor of editors) editor.on('change', changed);
    changed();
    return () => {
      clearTimeout(timer);
      for (const editor of editors) editor.off('change', changed);
    };
  }, [ctx.queryEditor, ctx.variableEditor, ctx.headerEditor]);
  let variables = {};
  try {
    const parsed = JSON.parse(ctx.variableEditor?.getValue() || '{}');
    if (parsed && typeof parsed === 'object') variables = parsed;
  } catch {
    // unreadable variables: directives on variables count as "keep the field"
  }
  return {
    query: ctx.queryEditor?.getValue() ?? '',
    headers: ctx.headerEditor?.getValue() ?? '',
    variables,
    operationName: ctx.queryEditor?.operationName ?? null,
  };
}

function analyse(schema, requirements, text, caller) {
  if (!text.query.trim()) return { fields: [], error: null };
  try {
    return {
      fields: operationFields(graphql, schema, text.query, {
        variables: text.variables,
        operationName: text.operationName,
        requirements,
        caller,
      }),
      error: null,
    };
  } catch (err) {
    return { fields: [], error: err.message };
  }
}

function describeCaller(state) {
  if (!state.token) {
    return sandbox
      ? 'No access token: get one in the Sandbox token panel (key icon), or paste one into Headers.'
      : 'No access token: put {"Authorization": "Bearer …"} into Headers.';
  }
  if (!state.decoded) return 'The Authorization header does not hold a JWT access token.';
  const who = state.facts?.kind
    ? CALLER_KIND_NAMES[state.facts.kind]
    : state.facts && state.facts.kind === null
      ? 'unregistered'
      : '…';
  const parts = [`Token of ${state.decoded.clientId ?? 'an unnamed client'} (${who})`];
  parts.push(state.decoded.customerId ? `for ${state.decoded.customerId}` : 'acting for itself');
  parts.push(`scopes: ${state.decoded.scopes.join(' ') || 'none'}`);
  if (state.facts?.grants) {
    const granted = Object.entries(state.facts.grants)
      .filter(([, yes]) => yes)
      .map(([p]) => p);
    parts.push(`consents grant: ${granted.join(', ') || 'nothing yet'}`);
  }
  if (state.decoded.expiresAt)
    parts.push(
      `${state.decoded.expired ? 'expired' : 'expires'} ${new Date(state.decoded.expiresAt).toLocaleTimeString()}`,
    );
  return parts.join(' · ');
}

// ---------------------------------------------------------------------------------------------
// The bar under the editors: the token, and whether it can run the operation, before sending.

function CheckBar({ schema, requirements }) {
  const ctx = useEditorContext({ nonNull: true });
  const text = useEditorText(ctx);
  const state = useCaller();
  const token = tokenFromHeaders(text.headers);
  React.useEffect(() => {
    callerStore.setToken(token);
  }, [token]);
  // The linter's rule reads the caller when it runs: run it again when the caller changes.
  React.useEffect(() => {
    ctx.queryEditor?.performLint?.();
  }, [state, ctx.queryEditor]);
  const { fields, error } = analyse(schema, requirements, text, state.caller);
  const blocked = fields.filter((f) => f.unmet.length > 0);
  let verdict;
  if (error) verdict = h('span', { className: 'explorer-check-neutral' }, `The document does not parse yet: ${error}`);
  else if (fields.length === 0) verdict = h('span', { className: 'explorer-check-neutral' }, 'No fields selected.');
  else if (blocked.length === 0) {
    const pending = state.caller && state.caller.kind === undefined ? ' (caller kind not known yet)' : '';
    const message = `✓ This token meets every requirement of the ${fields.length} fields checked before execution${pending}; per-object checks are made by the gateway.`;
    verdict = h('span', { className: 'explorer-check-ok' }, message);
  } else {
    // One entry per distinct problem, with the fields it stops (a missing token stops them all).
    const byProblem = new Map();
    for (const f of blocked)
      for (const u of f.unmet) byProblem.set(u.message, [...(byProblem.get(u.message) ?? []), f]);
    verdict = h(
      'span',
      { className: 'explorer-check-blocked' },
      `✗ This token cannot run this operation (${blocked.length} of ${fields.length} fields): `,
      [...byProblem].map(([message, list], i) =>
        h(
          React.Fragment,
          { key: message },
          i > 0 ? '; ' : '',
          list
            .slice(0, 4)
            .map((f, j) =>
              h(
                React.Fragment,
                { key: f.coordinate },
                j > 0 ? ', ' : '',
                h('code', null, f.path),
                ` (${f.coordinate})`,
              ),
            ),
          list.length > 4 ? ` and ${list.length - 4} more` : '',
          ` ${message}`,
        ),
      ),
    );
  }
  return h(
    'div',
    {
      className: 'explorer-check',
      role: 'status',
      'data-state': error ? 'error' : blocked.length ? 'blocked' : fields.length ? 'ok' : 'empty',
    },
    h(
      'div',
      { className: 'explorer-token', 'data-testid': 'explorer-token' },
      describeCaller(state),
      state.problem ? ` (${state.problem})` : '',
    ),
    h('div', { className: 'explorer-verdict', 'data-testid': 'explorer-verdict' }, verdict),
  );
}

// ---------------------------------------------------------------------------------------------
// Panels (GraphiQL plugins).

const icon = (...paths) =>
  function Icon() {
    const attributes = {
      viewBox: '0 0 24 24',
      width: 20,
      height: 20,
      fill: 'none',
      stroke: 'currentColor',
      strokeWidth: 1.6,
      strokeLinecap: 'round',
      strokeLinejoin: 'round',
    };
    return h('svg', { ...attributes, 'aria-hidden': 'true' }, ...paths.map((d, i) => h('path', { key: i, d })));
  };

function RequirementCard({ coordinate, requirement, unmet }) {
  return h(
    'div',
    { className: 'explorer-card', 'data-coordinate': coordinate },
    h(
      'div',
      { className: 'explorer-card-title' },
      h('code', null, coordinate),
      unmet && unmet.length
        ? h('span', { className: 'explorer-badge-blocked' }, 'not met')
        : unmet
          ? h('span', { className: 'explorer-badge-ok' }, 'met')
          : null,
    ),
    h(
      'ul',
      null,
      describeRequirement(requirement).map((line) => h('li', { key: line }, line)),
    ),
    requirement?.note ? h('p', { className: 'explorer-note' }, requirement.note) : null,
    unmet && unmet.length
      ? h('p', { className: 'explorer-unmet' }, 'This token: ', unmet.map((u) => u.message).join('; '))
      : null,
  );
}

function requirementsPlugin(schema, requirements) {
  const coordinates = Object.keys(requirements.fields).sort();
  function Content() {
    const ctx = useEditorContext({ nonNull: true });
    const text = useEditorText(ctx);
    const state = useCaller();
    const [lookup, setLookup] = React.useState('');
    const { fields } = analyse(schema, requirements, text, state.caller);
    const found = requirements.fields[lookup.trim()];
    return h(
      'div',
      { className: 'explorer-plugin' },
      h('div', { className: 'graphiql-doc-explorer-title' }, 'Requirements'),
      h(
        'p',
        null,
        "What each field needs, from the gateway's authorization policy (the same rules ",
        h('code', null, 'npm run shield:audit'),
        ' prints), and whether the current token has it.',
      ),
      h(
        'label',
        { className: 'explorer-field' },
        'Look up a field ',
        h('input', {
          list: 'explorer-coordinates',
          placeholder: 'Type.field, e.g. Account.balances',
          value: lookup,
          onChange: (e) => setLookup(e.target.value),
          'aria-label': 'Look up a field',
        }),
      ),
      h(
        'datalist',
        { id: 'explorer-coordinates' },
        coordinates.map((c) => h('option', { key: c, value: c })),
      ),
      found
        ? h(RequirementCard, {
            coordinate: lookup.trim(),
            requirement: found,
            unmet: unmetRequirements(found, state.caller),
          })
        : null,
      h('h3', null, 'Fields of this operation'),
      fields.length === 0
        ? h('p', null, 'No fields selected.')
        : fields.map((f) =>
            h(RequirementCard, {
              key: f.coordinate,
              coordinate: f.coordinate,
              requirement: f.requirement,
              unmet: f.unmet,
            }),
          ),
    );
  }
  return {
    title: 'Requirements',
    icon: icon('M12 3l7 3v5c0 4.5-3 8.3-7 10-4-1.7-7-5.5-7-10V6l7-3z', 'M9 12l2 2 4-4'),
    content: Content,
  };
}

function examplesPlugin(examples) {
  function Content() {
    const ctx = useEditorContext({ nonNull: true });
    const open = (example) => {
      ctx.addTab();
      // addTab fills the new tab's editors in React's state update; the example goes in after it.
      setTimeout(() => {
        ctx.queryEditor?.setValue(example.query);
        ctx.variableEditor?.setValue(example.variables);
      }, 0);
    };
    return h(
      'div',
      { className: 'explorer-plugin' },
      h('div', { className: 'graphiql-doc-explorer-title' }, 'Examples'),
      examples.map((example) =>
        h(
          'section',
          { key: example.id, className: 'explorer-example', 'data-example': example.id },
          h('h3', null, example.title),
          h('p', null, 'Run as ', example.runAs, '.'),
          h(
            'button',
            { type: 'button', className: 'graphiql-button', onClick: () => open(example) },
            'Open in a new tab',
          ),
        ),
      ),
    );
  }
  return { title: 'Examples', icon: icon('M4 5h16', 'M4 10h16', 'M4 15h10', 'M4 20h7'), content: Content };
}

// ---------------------------------------------------------------------------------------------

/**
 * GraphiQL's localStorage, minus access tokens: its history keeps each run's headers whatever
 * shouldPersistHeaders says, and a bearer token must not outlive the page in the browser's
 * storage. Every JWT after "Bearer" is replaced before anything is written.
 */
function tokenFreeStorage(namespace) {
  const storage = GraphiQL.createLocalStorage({ namespace });
  const scrub = (value) => String(value).replace(/(Bearer\s+)[\w-]+\.[\w-]+\.[\w-]*/gi, '$1<not stored>');
  return {
    getItem: (key) => storage.getItem(key),
    setItem: (key, value) => storage.setItem(key, scrub(value)),
    removeItem: (key) => storage.removeItem(key),
    clear: () => storage.clear(),
    get length() {
      return storage.length;
    },
  };
}

function fetcher(params, options) {
  return fetch('./graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', ...(options?.headers ?? {}) },
    body: JSON.stringify(params),
  }).then(async (res) => {
    const text = await res.text();
    try {
      return JSON.parse(text);
    } catch {
      return { errors: [{ message: `HTTP ${res.status}: ${text.slice(0, 300)}` }] };
    }
  });
}

async function main() {
  const root = document.getElementById('explorer');
  try {
    const [schemaJson, requirements, examples, sandboxModule] = await Promise.all([
      getJson('./explorer/schema.json'),
      getJson('./explorer/requirements.json'),
      getJson('./explorer/examples.json'),
      sandbox ? import('./sandbox.js') : Promise.resolve(null),
    ]);
    const schema = graphql.buildClientSchema(schemaJson.data);
    const rule = requirementsRule(
      graphql,
      () => requirements,
      () => callerStore.get().caller,
    );
    const dashboard = examples.find((e) => e.id === 'dashboard') ?? examples[0];
    let setDefaultHeaders = () => {};
    const plugins = [
      ...(sandboxModule
        ? [
            sandboxModule.createSandboxPlugin({
              React,
              useEditorContext,
              onHeaders: (headers) => setDefaultHeaders(headers),
            }),
          ]
        : []),
      examplesPlugin(examples),
      requirementsPlugin(schema, requirements),
    ];
    function App() {
      // New tabs (and opened examples) start with the token the panel last put in the headers.
      const [defaultHeaders, setHeaders] = React.useState('');
      setDefaultHeaders = setHeaders;
      // Nothing runs without a token, so the sandbox opens on its token panel. GraphiQL 4's
      // visiblePlugin prop marks a plugin active but leaves its pane collapsed; its own sidebar
      // button does both (it appears once GraphiQL has registered the plugins, after this first render).
      React.useEffect(() => {
        if (!sandboxModule) return undefined;
        let tries = 0;
        const timer = setInterval(() => {
          const button = document.querySelector('.graphiql-sidebar button[aria-label="Show Sandbox token"]');
          if (button) button.click();
          if (button || ++tries > 100) clearInterval(timer);
        }, 20);
        return () => clearInterval(timer);
      }, []);
      return h(
        GraphiQL,
        {
          fetcher,
          schema,
          plugins,
          defaultTabs: dashboard ? [{ query: dashboard.query, variables: dashboard.variables }] : undefined,
          defaultHeaders,
          defaultEditorToolsVisibility: 'headers',
          shouldPersistHeaders: false,
          validationRules: [rule],
          storage: tokenFreeStorage('fdg-explorer'),
        },
        h(GraphiQL.Logo, null, 'Explorer'),
        h(CheckBar, { schema, requirements }),
      );
    }
    root.textContent = '';
    ReactDOM.createRoot(root).render(h(App));
  } catch (err) {
    root.textContent = `The explorer could not start: ${err.message}`;
  }
}

void main();
