import type { Logger } from '../../../lib/logger.ts';
import type { PaymentInitiation } from './initiation.ts';
import type { PaymentsLedger } from './ports.ts';

/**
 * Follows payments whose webhook is late: every `intervalMs`, the payments in progress that have
 * neither changed nor been asked about for `graceMs` are asked about at the bank
 * (domain/initiation.ts advance), those looked at longest ago first (the ledger stamps each batch,
 * so payments a customer never authorises do not take every round). Replicas skip each other's
 * batch; should two still ask about one payment, every call to the bank is idempotent and every
 * status change a compare-and-set, so the worst case is a wasted GET.
 */
export interface PaymentPoller {
  /** One round now (tests, and the first round at start). */
  runOnce(): Promise<number>;
  stop(): Promise<void>;
}

export function startPaymentPoller(opts: {
  ledger: PaymentsLedger;
  initiation: PaymentInitiation;
  intervalMs: number;
  graceMs: number;
  now: () => Date;
  logger: Logger;
  batch?: number;
}): PaymentPoller {
  let running: Promise<number> | undefined;
  let stopped = false;
  const round = async (): Promise<number> => {
    const now = opts.now();
    const due = await opts.ledger.open(new Date(now.getTime() - opts.graceMs), opts.batch ?? 50, now);
    let moved = 0;
    for (const p of due) {
      if (stopped) break;
      try {
        const after = await opts.initiation.advance(p.id);
        if (after && after.status !== p.status) moved += 1;
      } catch (err) {
        opts.logger.warn(
          { paymentId: p.id, err: (err as Error).message },
          'payment follow-up failed; retried next round',
        );
      }
    }
    return moved;
  };
  const runOnce = () => (running ??= round().finally(() => (running = undefined)));
  const timer = setInterval(() => {
    if (!running) runOnce().catch((err: unknown) => opts.logger.error({ err }, 'payment poller round failed'));
  }, opts.intervalMs);
  timer.unref();
  return {
    runOnce,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running?.catch(() => {});
    },
  };
}
