import { getCallTrackers } from '../../db/gong-call-data.js';
import * as gongSync from '../../db/gong-sync.js';
import type { Database } from '../../db/pool.js';
import { scopeOf } from '../auth.js';
import type { GongSyncWorker } from '../gong-sync-worker.js';
import { created, respondOnce } from '../idempotency.js';
import type { OperationHandler, RequestBody, ResponseBody } from '../openapi.js';
import { HttpProblem } from '../problem.js';
import { pageOptions } from './paging.js';

const MAX_WINDOW_MS = 3660 * 24 * 3600 * 1000;

type Run = ResponseBody<'getGongSyncRun', 200>;

export function syncHandlers(db: Database, worker: GongSyncWorker) {
  return {
    createGongSyncRun: (async (c, ctx) => {
      const { from, to } = c.request.requestBody as RequestBody<'createGongSyncRun'>;
      const span = Date.parse(to) - Date.parse(from);
      if (!(span > 0) || span > MAX_WINDOW_MS) {
        const message = span > 0 ? 'must be at most 3660 days after from' : 'must be after from';
        throw new HttpProblem(400, `body/to: ${message}.`, { errors: [{ location: 'body', path: '/to', message }] });
      }
      if (!worker.configured) {
        throw new HttpProblem(409, 'The Gong sync is not configured here: set GONG_ACCESS_KEY and GONG_ACCESS_KEY_SECRET, or GONG_ACCESS_TOKEN.');
      }
      await respondOnce(ctx, db, async (db) => {
        const run = await gongSync.createRun(db, { trigger: 'api', from, to });
        return created(`/sync/gong/runs/${run.id}`, run satisfies Run, 202);
      });
      worker.kick(); // after the commit, so the worker finds the run (a replay's kick finds nothing new)
    }) satisfies OperationHandler,

    getGongSyncRun: (async (c, ctx) => {
      const runId = c.request.params.run_id as string;
      const run = await gongSync.getRun(db, runId);
      if (!run) throw new HttpProblem(404, `No Gong sync run with id ${runId}.`);
      ctx.body = run satisfies Run;
    }) satisfies OperationHandler,

    listGongSyncRuns: (async (c, ctx) => {
      ctx.body = (await gongSync.listRuns(db, pageOptions(c))) satisfies ResponseBody<'listGongSyncRuns', 200>;
    }) satisfies OperationHandler,

    getCallTrackers: (async (c, ctx) => {
      const callId = c.request.params.call_id as string;
      const trackers = await getCallTrackers(db, scopeOf(ctx), callId);
      if (!trackers) throw new HttpProblem(404, `No call with id ${callId}.`);
      ctx.body = trackers satisfies ResponseBody<'getCallTrackers', 200>;
    }) satisfies OperationHandler,
  };
}
