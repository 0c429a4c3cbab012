// npm run reconcile -- --date YYYY-MM-DD [--json]
// The day's reconciliation of the bank's settlement report with the payments ledger, as operators
// read it through GraphQL (Query.paymentReconciliation, staff with payments:read + audit:read):
// matched payments, and every break (missing at the bank, missing in the ledger, amount mismatch,
// status mismatch) with the payment ids. A readable table, or the report as JSON with --json.
// Exit status: 0 when everything reconciles, 1 when there are breaks, 2 for a bad argument or
// setting (one line), 3 when the report could not be produced (gateway, bank or token refused).
//
// Where: GATEWAY_URL (default http://127.0.0.1:$GATEWAY_PORT/graphql, as npm start runs it).
// Who: RECONCILE_TOKEN, an operator's access token; unset outside production, a token of the
// sandbox's ops-console client is minted at the sandbox authorization server (AUTH_ISSUER, else
// http://127.0.0.1:$AUTH_PORT).
import { parseArgs } from 'node:util';
import { exitWithConfigProblems } from '../lib/config.ts';

const QUERY = `query Reconcile($date: Date!) {
  paymentReconciliation(date: $date) {
    date institution complete bankRows ledgerPayments matched
    breaks { kind paymentId bankPaymentId ledgerAmount { amount currency } bankAmount { amount currency } ledgerStatus bankStatus }
  }
}`;

interface Money {
  amount: string;
  currency: string;
}
interface Break {
  kind: string;
  paymentId: string | null;
  bankPaymentId: string | null;
  ledgerAmount: Money | null;
  bankAmount: Money | null;
  ledgerStatus: string | null;
  bankStatus: string | null;
}
interface Report {
  date: string;
  institution: string;
  complete: boolean;
  bankRows: number;
  ledgerPayments: number;
  matched: string[];
  breaks: Break[];
}

const usage = (message: string): never =>
  exitWithConfigProblems('reconcile', [`${message} (usage: npm run reconcile -- --date YYYY-MM-DD [--json])`]);
const fail = (message: string): never => {
  process.stderr.write(`reconcile: ${message}\n`);
  process.exit(3);
};

function options() {
  let parsed;
  try {
    parsed = parseArgs({
      options: { date: { type: 'string' }, json: { type: 'boolean', default: false }, help: { type: 'boolean' } },
      strict: true,
    });
  } catch (err) {
    return usage((err as Error).message);
  }
  if (parsed.values.help) {
    process.stdout.write(
      'Usage: npm run reconcile -- --date YYYY-MM-DD [--json]\n\nExit status: 0 reconciled, 1 breaks, 2 bad argument or setting, 3 no report.\n',
    );
    process.exit(0);
  }
  const date = parsed.values.date;
  if (!date) return usage('--date is required');
  const at = Date.parse(`${date}T00:00:00Z`);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date) || Number.isNaN(at) || new Date(at).toISOString().slice(0, 10) !== date)
    return usage(`--date must be a calendar date YYYY-MM-DD, got ${JSON.stringify(date)}`);
  return { date, json: parsed.values.json === true };
}

function gatewayUrl(): string {
  const given = process.env.GATEWAY_URL;
  if (given) {
    if (!/^https?:\/\//.test(given)) usage(`GATEWAY_URL: must be an http(s) URL, got ${JSON.stringify(given)}`);
    return given;
  }
  const port = process.env.GATEWAY_PORT ?? '4000';
  if (!/^\d{1,5}$/.test(port)) usage(`GATEWAY_PORT: must be a port number, got ${JSON.stringify(port)}`);
  return `http://127.0.0.1:${port}/graphql`;
}

async function token(): Promise<string> {
  if (process.env.RECONCILE_TOKEN) return process.env.RECONCILE_TOKEN;
  if (process.env.PROFILE === 'production')
    return usage('RECONCILE_TOKEN: an operator access token is required in production');
  const issuer = (process.env.AUTH_ISSUER ?? `http://127.0.0.1:${process.env.AUTH_PORT ?? '4100'}`).replace(/\/$/, '');
  let res: Response;
  try {
    res = await fetch(`${issuer}/sandbox/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ clientId: 'ops-console', scopes: ['payments:read', 'audit:read'] }),
      signal: AbortSignal.timeout(10_000),
    });
  } catch (err) {
    return fail(
      `the sandbox authorization server at ${issuer} does not answer (${(err as Error).message}); set RECONCILE_TOKEN`,
    );
  }
  const body = (await res.json().catch(() => ({}))) as { access_token?: string };
  if (!res.ok || !body.access_token)
    return fail(`the sandbox authorization server refused a token (HTTP ${res.status})`);
  return body.access_token;
}

async function fetchReport(url: string, date: string, accessToken: string): Promise<Report> {
  // A busy day takes a while (the bank's report, then the ledger in batches): say that it is working.
  const started = Date.now();
  const ticker = setInterval(() => {
    process.stderr.write(
      `reconcile: ${date}: matching the bank's report with the ledger (${Math.round((Date.now() - started) / 1000)} s)\n`,
    );
  }, 1_000);
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${accessToken}` },
      body: JSON.stringify({ query: QUERY, variables: { date } }),
      signal: AbortSignal.timeout(300_000),
    });
    const body = (await res.json().catch(() => null)) as {
      data?: { paymentReconciliation?: Report };
      errors?: { message: string; extensions?: { code?: string } }[];
    } | null;
    const report = body?.data?.paymentReconciliation;
    if (!report) {
      const error = body?.errors?.[0];
      return fail(
        error ? `${error.extensions?.code ?? 'ERROR'}: ${error.message}` : `the gateway answered HTTP ${res.status}`,
      );
    }
    return report;
  } catch (err) {
    return fail(`the gateway at ${url} does not answer (${(err as Error).message})`);
  } finally {
    clearInterval(ticker);
  }
}

const money = (m: Money | null) => (m ? `${m.amount} ${m.currency}` : '-');

export function formatReport(r: Report): string {
  const lines = [
    `Reconciliation ${r.date} (${r.institution}${r.complete ? '' : ', report not final: the day is not over at the bank'})`,
    `  bank rows ${r.bankRows}, ledger payments ${r.ledgerPayments}, matched ${r.matched.length}, breaks ${r.breaks.length}`,
  ];
  if (r.breaks.length > 0) {
    const rows = [
      ['kind', 'payment id', 'bank payment id', 'ledger', 'bank'],
      ...r.breaks.map((b) => [
        b.kind,
        b.paymentId ?? '-',
        b.bankPaymentId ?? '-',
        b.ledgerStatus ? `${money(b.ledgerAmount)} ${b.ledgerStatus}` : '-',
        b.bankStatus ? `${money(b.bankAmount)} ${b.bankStatus}` : '-',
      ]),
    ];
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
    lines.push('');
    for (const [i, row] of rows.entries()) {
      lines.push(`  ${row.map((cell, c) => cell.padEnd(widths[c]!)).join('  ')}`.trimEnd());
      if (i === 0) lines.push(`  ${widths.map((w) => '-'.repeat(w)).join('  ')}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

const { date, json } = options();
const report = await fetchReport(gatewayUrl(), date, await token());
process.stdout.write(json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
process.exit(report.breaks.length > 0 ? 1 : 0);
