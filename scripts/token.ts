// npm run token -- --customer <id> [--client web-app] [--scopes "a b c"]
// Mints an access token at the running sandbox authorization server and prints only the token,
// so `TOKEN=$(npm run -s token -- --customer cus_…)` works. `--help` lists the sandbox world.
// The authorization server: AUTH_ISSUER, else http://127.0.0.1:$AUTH_PORT (default 4100), as npm start runs it.
// A wrong setting or argument exits with status 2 and one line; an unreachable or refusing server with status 1.
import { parseArgs } from 'node:util';
import { ConfigError, exitWithConfigProblems } from '../lib/config.ts';
import { loadSandboxesConfig } from '../sandboxes/config.ts';
import { SANDBOX_CLIENTS, SANDBOX_CUSTOMERS, type SandboxClient } from '../sandboxes/manifest.ts';

/** Where the authorization server is; a bad AUTH_ISSUER or AUTH_PORT exits with status 2. */
function authIssuer(): string {
  try {
    // Only the variables that locate the server; the rest of the sandboxes' settings do not matter here.
    const { AUTH_ISSUER: issuer, AUTH_PORT } = loadSandboxesConfig({
      AUTH_ISSUER: process.env.AUTH_ISSUER,
      AUTH_PORT: process.env.AUTH_PORT,
    });
    return (issuer ?? `http://127.0.0.1:${AUTH_PORT}`).replace(/\/$/, '');
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    exitWithConfigProblems('token', err.problems);
  }
}

function help(): string {
  const customers = SANDBOX_CUSTOMERS.map((c) => {
    const banks = Object.keys(c.banks).join(', ') || 'no banks';
    return `  ${c.customerId}  ${c.displayName.padEnd(6)} ${banks}`;
  });
  const clients = SANDBOX_CLIENTS.map(
    (c) => `  ${c.clientId.padEnd(12)} ${c.kind.padEnd(12)} ${c.allowedScopes.join(' ')}`,
  );
  return [
    'Usage: npm run -s token -- --customer <customer id> [--client <client id>] [--scopes "<scope> <scope> ..."]',
    '',
    'Mints an access token at the sandbox authorization server (start the platform with npm start first)',
    'and prints only the token. Defaults: --client web-app, --scopes = every scope the client may have.',
    'Staff and machine clients (ops-console, reconciler) act for themselves: omit --customer.',
    '',
    'Customers (id, name, banks):',
    ...customers,
    '',
    'Clients (id, kind, allowed scopes):',
    ...clients,
    '',
    'Example:',
    `  TOKEN=$(npm run -s token -- --customer ${SANDBOX_CUSTOMERS[0]!.customerId})`,
  ].join('\n');
}

/** The server could not give a token: status 1. */
function fail(message: string): never {
  process.stderr.write(`token: ${message}\n`);
  process.exit(1);
}

/** The command line asks for something that cannot be: status 2, one line, like a bad setting. */
function usage(message: string): never {
  exitWithConfigProblems('token', [`${message} (npm run token -- --help)`]);
}

let values: { customer?: string; client?: string; scopes?: string; help?: boolean };
try {
  ({ values } = parseArgs({
    options: {
      customer: { type: 'string' },
      client: { type: 'string', default: 'web-app' },
      scopes: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  }));
} catch (err) {
  usage((err as Error).message);
}

if (values.help) {
  process.stdout.write(`${help()}\n`);
  process.exit(0);
}

const AUTH_ISSUER = authIssuer();

const client: SandboxClient | undefined = SANDBOX_CLIENTS.find((c) => c.clientId === values.client);
if (!client)
  usage(
    `unknown client ${JSON.stringify(values.client)}; sandbox clients: ${SANDBOX_CLIENTS.map((c) => c.clientId).join(', ')}`,
  );

const actsForCustomer = client.kind === 'FIRST_PARTY' || client.kind === 'THIRD_PARTY';
if (actsForCustomer && !values.customer) usage(`--customer is required for ${client.clientId} (${client.kind})`);
if (!actsForCustomer && values.customer)
  usage(`${client.clientId} is a ${client.kind} client and acts for itself: omit --customer`);
if (values.customer && !SANDBOX_CUSTOMERS.some((c) => c.customerId === values.customer)) {
  usage(
    `unknown customer ${JSON.stringify(values.customer)}; sandbox customers: ${SANDBOX_CUSTOMERS.map((c) => `${c.customerId} (${c.displayName})`).join(', ')}`,
  );
}

const scopes = values.scopes === undefined ? client.allowedScopes : values.scopes.split(/\s+/).filter(Boolean);
const notAllowed = scopes.filter((s) => !client.allowedScopes.includes(s));
if (notAllowed.length > 0)
  usage(
    `client ${client.clientId} may not be granted ${notAllowed.join(', ')}; allowed: ${client.allowedScopes.join(' ')}`,
  );

let res: Response;
try {
  res = await fetch(`${AUTH_ISSUER}/sandbox/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({ customerId: values.customer ?? null, clientId: client.clientId, scopes }),
    signal: AbortSignal.timeout(5_000),
  });
} catch {
  fail(`the sandbox authorization server at ${AUTH_ISSUER} is not running: start the platform with npm start first`);
}
const text = await res.text();
let body: { access_token?: unknown; error?: unknown; error_description?: unknown } = {};
try {
  body = JSON.parse(text) as typeof body;
} catch {
  // reported below
}
if (!res.ok || typeof body.access_token !== 'string') {
  const reason =
    typeof body.error_description === 'string'
      ? body.error_description
      : typeof body.error === 'string'
        ? body.error
        : `HTTP ${res.status}`;
  fail(`the authorization server refused the token request: ${reason}`);
}
process.stdout.write(`${body.access_token}\n`);
