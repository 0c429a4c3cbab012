// npm run webhooks -- list|replay: the operators' view of a subgraph's webhook inbox (lib/webhooks).
//   list    failed and dead events (or --status), oldest first, as a table or --json
//   replay  one event (--id, or --source with --event-id), a time range (--from/--to), or --all-failed;
//           requeued events are applied by the owning subgraph's running worker; an applied event is left alone
// The database is reached the way the subgraphs reach it (lib/database.ts): DATABASE_URL when set,
// else the embedded PGlite in PGLITE_DIR (default .data/pglite, npm start's): stop npm start first
// then, as one PGlite directory serves one process at a time. A bad argument or setting exits 2.
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { exitWithConfigProblems } from '../lib/config.ts';
import { createLogger } from '../lib/logger.ts';
import type { InboxEvent, InboxStatus, ReplaySelector } from '../lib/webhooks/index.ts';

const SCHEMAS = ['payments', 'identity', 'accounts', 'consents'];
const STATUSES: InboxStatus[] = ['received', 'applied', 'failed', 'dead'];

const HELP = `Usage:
  npm run webhooks -- list   [--schema payments] [--status failed,dead|all] [--source northwind] [--from <time>] [--to <time>] [--limit 100] [--json]
  npm run webhooks -- replay [--schema payments] (--id <inbox id> | --source <source> --event-id <id> | --from <time> --to <time> | --all-failed [--source <source>]) [--json]

The inbox of one subgraph (--schema, default payments). Times are RFC 3339 (2026-11-23T12:00:00Z) or dates.
replay puts failed and dead events back in the queue with a fresh attempt budget; the subgraph's worker applies
them. Replaying an applied event changes nothing (it is reported as already applied).
Database: DATABASE_URL, else PGLITE_DIR (default .data/pglite; stop npm start first).`;

const usage = (message: string): never =>
  exitWithConfigProblems('webhooks', [`${message} (npm run webhooks -- --help)`]);

let parsed: ReturnType<typeof parse>;
function parse() {
  return parseArgs({
    allowPositionals: true,
    strict: true,
    options: {
      schema: { type: 'string', default: 'payments' },
      status: { type: 'string' },
      source: { type: 'string' },
      'event-id': { type: 'string' },
      id: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      'all-failed': { type: 'boolean' },
      limit: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}
try {
  parsed = parse();
} catch (err) {
  usage((err as Error).message);
}
const { values, positionals } = parsed!;
if (values.help) {
  process.stdout.write(`${HELP}\n`);
  process.exit(0);
}
const command = positionals[0];
if (command !== 'list' && command !== 'replay') usage('say list or replay');
if (positionals.length > 1) usage(`unexpected argument ${JSON.stringify(positionals[1])}`);
if (!SCHEMAS.includes(values.schema!)) usage(`--schema must be one of ${SCHEMAS.join(', ')}`);

const time = (name: string, value: string | undefined): Date | undefined => {
  if (value === undefined) return undefined;
  const at = new Date(value);
  if (Number.isNaN(at.getTime())) usage(`--${name} ${JSON.stringify(value)} is not a time`);
  return at;
};
const from = time('from', values.from);
const to = time('to', values.to);
if (from && to && from >= to) usage('--from must be before --to');

// Every argument is checked before the database is opened.
let statuses: InboxStatus[] = ['failed', 'dead'];
let limit = 100;
let selector: ReplaySelector | undefined;
if (command === 'list') {
  if (values.status === 'all') statuses = STATUSES;
  else if (values.status) {
    statuses = values.status.split(',').map((s) => s.trim()) as InboxStatus[];
    const bad = statuses.filter((s) => !STATUSES.includes(s));
    if (bad.length) usage(`--status: unknown ${bad.join(', ')} (${STATUSES.join(', ')} or all)`);
  }
  limit = values.limit === undefined ? 100 : Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) usage('--limit must be 1..10000');
} else {
  if (values.id !== undefined) selector = { id: values.id };
  else if (values['event-id'] !== undefined) {
    if (!values.source) usage('--event-id needs --source');
    selector = { source: values.source!, eventId: values['event-id'] };
  } else if (from || to) {
    if (!from || !to) usage('a time range needs --from and --to');
    selector = { from: from!, to: to!, ...(values.source ? { source: values.source } : {}) };
  } else if (values['all-failed']) selector = { allFailed: true, ...(values.source ? { source: values.source } : {}) };
  else usage('replay what? --id, --source with --event-id, --from with --to, or --all-failed');
}

const databaseUrl = process.env.DATABASE_URL;
if (databaseUrl !== undefined && !/^postgres(ql)?:\/\//.test(databaseUrl))
  exitWithConfigProblems('webhooks', ['DATABASE_URL must be a postgres:// URL']);
const pgliteDir = process.env.PGLITE_DIR ?? fileURLToPath(new URL('../.data/pglite', import.meta.url));

const { openDatabase } = await import('../lib/database.ts');
const { listEvents, replayEvents } = await import('../lib/webhooks/index.ts');
const logger = createLogger(
  'webhooks',
  process.env.LOG_LEVEL === undefined ? 'warn' : (process.env.LOG_LEVEL as 'warn'),
);
const db = await openDatabase({
  schema: values.schema!,
  databaseUrl,
  pgliteDir,
  // The subgraph owns its migrations: this command only reads and requeues.
  migrations: [],
  logger,
  poolSize: 2,
}).catch((err: unknown) => {
  process.stderr.write(`webhooks: cannot open the ${values.schema} database: ${(err as Error).message}\n`);
  process.exit(1);
});
let exitCode = 0;
try {
  const [inbox] = await db.query<{ t: string | null }>(`SELECT to_regclass('webhook_inbox')::text AS t`);
  if (!inbox?.t) {
    process.stderr.write(
      `webhooks: the ${values.schema} schema has no webhook inbox (its subgraph has not received webhooks)\n`,
    );
    exitCode = 2;
  } else if (command === 'list') {
    const events = await listEvents(db, {
      statuses,
      ...(values.source ? { source: values.source } : {}),
      ...(from ? { from } : {}),
      ...(to ? { to } : {}),
      limit,
    });
    process.stdout.write(values.json ? `${JSON.stringify(events.map(summary), null, 2)}\n` : table(events, statuses));
  } else {
    const result = await replayEvents(db, selector!, new Date());
    const total = result.requeued.length + result.alreadyApplied.length + result.alreadyQueued.length;
    if (values.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    else
      process.stdout.write(
        [
          `requeued ${result.requeued.length}${result.requeued.length ? ` (${result.requeued.join(', ')})` : ''}: the ${values.schema} subgraph's worker applies them`,
          `already applied ${result.alreadyApplied.length} (left as they are)`,
          `already queued ${result.alreadyQueued.length}`,
          '',
        ].join('\n'),
      );
    if (total === 0 && ('id' in selector! || 'eventId' in selector!)) {
      process.stderr.write('webhooks: no such event\n');
      exitCode = 1;
    }
  }
} finally {
  await db.close();
}
process.exit(exitCode);

function summary(e: InboxEvent) {
  const { rawBody: _raw, headers: _headers, ...rest } = e;
  return rest;
}

function table(events: InboxEvent[], statuses: InboxStatus[]): string {
  if (events.length === 0) return `no ${statuses.join(' or ')} events\n`;
  const rows = events.map((e) => [
    e.id,
    e.source,
    e.eventId,
    e.type,
    e.aggregateId ?? '',
    e.status,
    String(e.attempts),
    e.receivedAt.toISOString(),
    (e.lastError ?? e.result ?? '').slice(0, 60),
  ]);
  const head = [
    'id',
    'source',
    'event id',
    'type',
    'aggregate',
    'status',
    'attempts',
    'received',
    'last error / result',
  ];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return `${[line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n')}\n${events.length} event(s)\n`;
}
