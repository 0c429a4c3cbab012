import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openDatabase } from '../../lib/database.ts';
import { createLogger } from '../../lib/logger.ts';
import { storeEvent, webhookInboxMigrations } from '../../lib/webhooks/index.ts';

/** npm run webhooks -- list|replay, as an operator runs it: a child process on the subgraph's PGlite directory. */
const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'webhooks-cli-'));
const logger = createLogger('webhooks-cli-test', 'silent');
const at = new Date('2026-11-23T12:00:00Z');

beforeAll(async () => {
  const db = await openDatabase({ schema: 'payments', pgliteDir: dir, migrations: webhookInboxMigrations, logger });
  const store = (eventId: string, minutes: number) =>
    storeEvent(db, {
      source: 'northwind',
      event: { eventId, type: 'payment.status_changed', aggregateId: 'DP1', sequence: minutes },
      rawBody: JSON.stringify({ eventId }),
      headers: {},
      receivedAt: new Date(at.getTime() + minutes * 60_000),
    });
  await store('msg_dead', 1);
  await store('msg_failed', 2);
  await store('msg_applied', 3);
  await db.query(
    `UPDATE webhook_inbox SET status = 'dead', attempts = 8, last_error = 'ledger unavailable' WHERE event_id = 'msg_dead'`,
  );
  await db.query(
    `UPDATE webhook_inbox SET status = 'failed', attempts = 2, last_error = 'timeout' WHERE event_id = 'msg_failed'`,
  );
  await db.query(`UPDATE webhook_inbox SET status = 'applied', attempts = 1 WHERE event_id = 'msg_applied'`);
  await db.close();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const cli = async (...args: string[]) => {
  const env = { ...process.env, PGLITE_DIR: dir, LOG_LEVEL: 'silent' } as Record<string, string>;
  delete env.DATABASE_URL;
  try {
    const { stdout, stderr } = await run(process.execPath, ['scripts/webhooks.ts', ...args], { env });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
};

it('lists failed and dead events with their errors, and replays them; an applied event is left alone', async () => {
  const listed = await cli('list');
  expect(listed.code).toBe(0);
  expect(listed.stdout).toMatch(/msg_dead .*dead +8 .*ledger unavailable/);
  expect(listed.stdout).toMatch(/msg_failed .*failed +2 .*timeout/);
  expect(listed.stdout).not.toContain('msg_applied');

  const applied = await cli('replay', '--source', 'northwind', '--event-id', 'msg_applied', '--json');
  expect(applied.code).toBe(0);
  expect(JSON.parse(applied.stdout)).toMatchObject({ requeued: [], alreadyApplied: [expect.any(String)] });

  const range = await cli('replay', '--from', '2026-11-23T12:00:30Z', '--to', '2026-11-23T12:01:30Z', '--json');
  expect(JSON.parse(range.stdout).requeued).toHaveLength(1);
  const all = await cli('replay', '--all-failed', '--json');
  expect(JSON.parse(all.stdout).requeued).toHaveLength(1);
  const json = JSON.parse((await cli('list', '--status', 'received', '--json')).stdout) as Array<{
    eventId: string;
    attempts: number;
  }>;
  expect(json.map((e) => [e.eventId, e.attempts])).toEqual([
    ['msg_dead', 0],
    ['msg_failed', 0],
  ]);
});

it('says what is wrong with the command line (exit 2) and when an event does not exist (exit 1)', async () => {
  const bad = await cli('replay');
  expect(bad.code).toBe(2);
  expect(bad.stderr).toMatch(/^webhooks: replay what\?/);
  expect((await cli('list', '--status', 'lost')).stderr).toMatch(/--status: unknown lost/);
  expect((await cli('frobnicate')).code).toBe(2);
  const missing = await cli('replay', '--id', '999999');
  expect(missing.code).toBe(1);
  expect(missing.stderr).toBe('webhooks: no such event\n');
});
