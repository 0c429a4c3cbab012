import type { ApolloServerPlugin } from '@apollo/server';
import { openDatabase, type Database } from '../../lib/database.ts';
import type { Logger } from '../../lib/logger.ts';
import { POLICY } from '../authorization/policy.ts';
import type { GatewayContext } from '../executor.ts';
import type { IdempotencyConfig } from './config.ts';
import type { KeyPath, MoneyMovingFields } from './operation.ts';
import { idempotencyPlugin } from './plugin.ts';
import { createIdempotencyStore, idempotencyMigrations, type IdempotencyStore } from './store.ts';

export { idempotencyConfigShape, type IdempotencyConfig } from './config.ts';
export { IDEMPOTENCY_HEADER } from './plugin.ts';

/** The gateway's PostgreSQL schema (its own, like each subgraph's). */
export const GATEWAY_DB_SCHEMA = 'gateway';

/** Mutation fields the policy marks money-moving, with where each takes its key. */
export function moneyMovingFieldsOf(policy: typeof POLICY = POLICY): MoneyMovingFields {
  const fields = new Map<string, KeyPath>();
  for (const [name, entry] of Object.entries(policy.Mutation ?? {})) {
    if (entry.moneyMoving) fields.set(name, entry.moneyMoving.key.split('.') as unknown as KeyPath);
  }
  return fields;
}

export interface GatewayIdempotency {
  plugin: ApolloServerPlugin<GatewayContext>;
  /** The store, opening the database on first use. */
  store(): Promise<IdempotencyStore>;
  close(): Promise<void>;
}

export interface IdempotencyOptions {
  logger: Logger;
  /** Money-moving fields; default: those the policy marks. */
  fields?: MoneyMovingFields;
}

/**
 * The idempotency layer of one gateway: the plugin, its store in the `gateway` schema of
 * DATABASE_URL (or the embedded PGlite of PGLITE_DIR), and the purge job. The database is opened
 * when the first money-moving request arrives, so a gateway whose schema moves no money (a foreign
 * supergraph, the toy schemas of tests) never opens one.
 */
export function createGatewayIdempotency(config: IdempotencyConfig, opts: IdempotencyOptions): GatewayIdempotency {
  const fields = opts.fields ?? moneyMovingFieldsOf();
  let opened: Promise<{ db: Database; store: IdempotencyStore }> | undefined;
  let purgeTimer: NodeJS.Timeout | undefined;
  let closed = false;
  const open = () =>
    (opened ??= (async () => {
      const db = await openDatabase({
        schema: GATEWAY_DB_SCHEMA,
        databaseUrl: config.DATABASE_URL,
        pgliteDir: config.PGLITE_DIR,
        migrations: idempotencyMigrations,
        logger: opts.logger,
        // Two connections stay open while no payment arrives: the claim and the completion of the
        // next request (and a second request overlapping it) find one ready instead of opening one
        // (about 6 ms on the local PostgreSQL, more with TLS; the pool otherwise closes idle ones
        // after 10 s, and payments can be further apart than that).
        poolMin: 2,
      });
      const store = createIdempotencyStore(db, {
        leaseMs: config.IDEMPOTENCY_LEASE_MS,
        retentionHours: config.IDEMPOTENCY_RETENTION_HOURS,
      });
      if (closed) {
        await db.close();
        throw new Error('the gateway is stopping');
      }
      purgeTimer = setInterval(() => {
        store.purge().then(
          (n) => n > 0 && opts.logger.info({ purged: n }, 'idempotency: purged expired records'),
          (err: unknown) => opts.logger.error({ err }, 'idempotency: purge failed'),
        );
      }, config.IDEMPOTENCY_PURGE_INTERVAL_MS);
      purgeTimer.unref();
      return { db, store };
    })().catch((err: unknown) => {
      // A database that could not be opened now may be reachable on the next request.
      opened = undefined;
      throw err;
    }));
  const store = async () => (await open()).store;
  return {
    plugin: idempotencyPlugin({ store, fields, logger: opts.logger }),
    store,
    async close() {
      closed = true;
      if (purgeTimer) clearInterval(purgeTimer);
      const o = opened;
      opened = undefined;
      if (o) await (await o.catch(() => undefined))?.db.close();
    },
  };
}
