// The Sandbox token panel: pick a seeded customer, a client app and scopes, and get an access
// token from the sandbox authorization server with one click. The gateway serves this file, and
// relays the two requests below to AUTH_ISSUER, only in the sandbox profile
// (gateway/explorer/sandbox.ts); in production neither exists.
import { CALLER_KIND_NAMES, withBearer } from './check.js';

const KIND_OF_CLIENT = { FIRST_PARTY: 'customer', THIRD_PARTY: 'thirdParty', STAFF: 'staff', MACHINE: 'machine' };

let worldRequest = null;
const loadWorld = () =>
  (worldRequest ??= fetch('./explorer/sandbox/world', { headers: { accept: 'application/json' } }).then(async (res) => {
    const body = await res.json().catch(() => null);
    if (!res.ok || !body) {
      worldRequest = null;
      throw new Error(body?.errors?.[0]?.message ?? `HTTP ${res.status}`);
    }
    return body;
  }));

export function createSandboxPlugin({ React, useEditorContext, onHeaders }) {
  const h = React.createElement;
  // Kept across opening and closing the panel.
  const remembered = { customerId: '', clientId: 'web-app', scopes: null, minted: null };

  function Content() {
    const ctx = useEditorContext({ nonNull: true });
    const [world, setWorld] = React.useState(null);
    const [error, setError] = React.useState(null);
    const [busy, setBusy] = React.useState(false);
    const [customerId, setCustomerId] = React.useState(remembered.customerId);
    const [clientId, setClientId] = React.useState(remembered.clientId);
    const [scopes, setScopes] = React.useState(remembered.scopes);
    const [minted, setMinted] = React.useState(remembered.minted);

    React.useEffect(() => {
      loadWorld().then(
        (w) => {
          setWorld(w);
          if (!remembered.customerId && w.customers[0]) setCustomerId(w.customers[0].customerId);
        },
        (err) => setError(`The sandbox authorization server cannot be reached: ${err.message}`),
      );
    }, []);
    React.useEffect(() => {
      Object.assign(remembered, { customerId, clientId, scopes, minted });
    }, [customerId, clientId, scopes, minted]);

    if (!world) {
      return h(
        'div',
        { className: 'explorer-plugin' },
        h('div', { className: 'graphiql-doc-explorer-title' }, 'Sandbox token'),
        h('p', null, error ?? 'Loading the sandbox customers and clients…'),
      );
    }

    const client = world.clients.find((c) => c.clientId === clientId) ?? world.clients[0];
    const chosenScopes = scopes ?? client.allowedScopes;
    const toggleScope = (scope) =>
      setScopes(chosenScopes.includes(scope) ? chosenScopes.filter((s) => s !== scope) : [...chosenScopes, scope]);

    async function mint() {
      setBusy(true);
      setError(null);
      try {
        const res = await fetch('./explorer/sandbox/token', {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'application/json' },
          body: JSON.stringify({
            customerId: client.actsForCustomer ? customerId : null,
            clientId: client.clientId,
            scopes: chosenScopes,
          }),
        });
        const body = await res.json().catch(() => null);
        if (!res.ok || !body?.access_token) throw new Error(body?.errors?.[0]?.message ?? `HTTP ${res.status}`);
        const headers = withBearer(ctx.headerEditor?.getValue() ?? '', body.access_token);
        ctx.headerEditor?.setValue(headers);
        onHeaders(headers);
        const customer = world.customers.find((c) => c.customerId === customerId);
        setMinted({
          client: client.clientId,
          customer: client.actsForCustomer ? (customer?.displayName ?? customerId) : null,
          scope: body.scope,
          expiresIn: body.expires_in,
        });
      } catch (err) {
        setError(`No token: ${err.message}`);
      } finally {
        setBusy(false);
      }
    }

    return h(
      'div',
      { className: 'explorer-plugin explorer-sandbox' },
      h('div', { className: 'graphiql-doc-explorer-title' }, 'Sandbox token'),
      h(
        'p',
        null,
        'A token from the sandbox authorization server, as if after the customer logged in to the app. It goes into Headers as Authorization: Bearer.',
      ),
      h(
        'label',
        { className: 'explorer-field' },
        'Client app',
        h(
          'select',
          {
            value: client.clientId,
            onChange: (e) => (setClientId(e.target.value), setScopes(null)),
            'aria-label': 'Client app',
          },
          world.clients.map((c) =>
            h(
              'option',
              { key: c.clientId, value: c.clientId },
              `${c.name} (${c.clientId}, ${CALLER_KIND_NAMES[KIND_OF_CLIENT[c.kind]] ?? c.kind})`,
            ),
          ),
        ),
      ),
      h(
        'label',
        { className: 'explorer-field' },
        'Customer',
        h(
          'select',
          {
            value: client.actsForCustomer ? customerId : '',
            disabled: !client.actsForCustomer,
            onChange: (e) => setCustomerId(e.target.value),
            'aria-label': 'Customer',
          },
          client.actsForCustomer
            ? world.customers.map((c) =>
                h(
                  'option',
                  { key: c.customerId, value: c.customerId },
                  `${c.displayName}: ${c.banks.join(', ') || 'no bank'}; KYC ${c.kyc ?? 'not started'}`,
                ),
              )
            : h('option', { value: '' }, `none: ${client.clientId} acts for itself`),
        ),
      ),
      h(
        'fieldset',
        { className: 'explorer-scopes' },
        h('legend', null, 'Scopes'),
        client.allowedScopes.map((scope) =>
          h(
            'label',
            { key: scope },
            h('input', { type: 'checkbox', checked: chosenScopes.includes(scope), onChange: () => toggleScope(scope) }),
            ' ',
            scope,
          ),
        ),
      ),
      h(
        'button',
        { type: 'button', className: 'graphiql-button explorer-mint', disabled: busy, onClick: mint },
        busy ? 'Getting a token…' : 'Get token',
      ),
      error ? h('p', { className: 'explorer-unmet', role: 'alert' }, error) : null,
      minted
        ? h(
            'p',
            { className: 'explorer-minted', 'data-testid': 'explorer-minted' },
            `Token for ${minted.customer ?? 'itself'} via ${minted.client}, scopes ${minted.scope || 'none'}, valid ${Math.round(minted.expiresIn / 60)} min: now in Headers.`,
          )
        : null,
    );
  }

  return {
    title: 'Sandbox token',
    icon: function KeyIcon() {
      return h(
        'svg',
        {
          viewBox: '0 0 24 24',
          width: 20,
          height: 20,
          fill: 'none',
          stroke: 'currentColor',
          strokeWidth: 1.6,
          strokeLinecap: 'round',
          strokeLinejoin: 'round',
          'aria-hidden': 'true',
        },
        h('circle', { cx: 8, cy: 15, r: 4 }),
        h('path', { d: 'M11 12l9-9M17 6l3 3M14 9l2 2' }),
      );
    },
    content: Content,
  };
}
