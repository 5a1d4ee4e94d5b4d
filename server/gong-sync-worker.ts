/**
 * The service's side of the Gong sync: every few seconds (and at once after POST /sync/gong/runs)
 * it claims the next due run, or takes over a run whose process died, and runs it; with
 * GONG_SYNC_INTERVAL_MINUTES it also enqueues the incremental run when one is due. Every replica
 * runs this loop; the runs table lets one run be `running` at a time (see db/gong-sync.ts).
 */
import { claimRun, enqueueScheduledRun } from '../db/gong-sync.js';
import type { Database } from '../db/pool.js';
import type { Config } from './config.js';
import { executeRun, leaseOwner } from './gong-sync.js';
import type { Logger } from './logger.js';

/** How often an idle replica looks for due runs, expired leases and the schedule. */
const POLL_MS = 5_000;

export type GongSyncWorker = {
  /** Whether this service can sync at all (Gong credentials set). */
  configured: boolean;
  /** Look for work now (a run was just queued). */
  kick: () => void;
  /** Stops polling; a run in progress stops at its next request and goes back to the queue. */
  stop: () => Promise<void>;
};

export function startGongSyncWorker(deps: { db: Database; config: Config; logger: Logger }): GongSyncWorker {
  const { db, logger } = deps;
  const settings = deps.config.gongSync;
  const auth = settings.auth;
  if (!auth) return { configured: false, kick: () => {}, stop: async () => {} };

  const owner = leaseOwner();
  const stopping = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let busy: Promise<void> | null = null;
  let again = false;

  async function work(): Promise<void> {
    if (settings.intervalMinutes !== undefined) {
      const scheduled = await enqueueScheduledRun(db, settings.intervalMinutes, settings.overlapMinutes);
      if (scheduled) logger.info({ run_id: scheduled.id, window: scheduled.window }, 'gong sync: scheduled run queued');
    }
    for (;;) {
      if (stopping.signal.aborted) return;
      const run = await claimRun(db, { owner, leaseSeconds: settings.leaseSeconds });
      if (!run) return;
      logger.info({ run_id: run.id, window: run.window, resumed_at_page: run.counts.pages }, 'gong sync: run started');
      const outcome = await executeRun({ db, config: { ...settings, auth: auth! }, owner, signal: stopping.signal }, run);
      const fields = { run_id: run.id, status: outcome.status, counts: outcome.counts };
      if (outcome.status === 'failed') logger.error({ ...fields, error: outcome.error, err: outcome.cause }, 'gong sync: run failed');
      else logger.info({ ...fields, ...('reason' in outcome ? { reason: outcome.reason } : {}) }, 'gong sync: run ended');
    }
  }

  function poll(): void {
    clearTimeout(timer);
    if (stopping.signal.aborted) return;
    if (busy) {
      again = true;
      return;
    }
    busy = work()
      .catch((error: unknown) => logger.error({ err: error }, 'gong sync: worker step failed'))
      .finally(() => {
        busy = null;
        if (again) {
          again = false;
          poll();
        } else if (!stopping.signal.aborted) {
          timer = setTimeout(poll, POLL_MS);
          timer.unref();
        }
      });
  }

  timer = setTimeout(poll, 0);
  timer.unref();
  return {
    configured: true,
    kick: poll,
    stop: async () => {
      stopping.abort(new Error('the service is stopping'));
      clearTimeout(timer);
      await busy;
    },
  };
}
