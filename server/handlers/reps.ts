import type { Database } from '../../db/pool.js';
import * as reps from '../../db/reps.js';
import { scopeOf } from '../auth.js';
import { ifMatch } from '../conditional.js';
import type { OperationHandler, RequestBody, ResponseBody } from '../openapi.js';
import { HttpProblem } from '../problem.js';
import { pageOptions } from './paging.js';

type Rep = ResponseBody<'getRep', 200>;

function queryError(path: string, message: string, detail: string): HttpProblem {
  return new HttpProblem(400, detail, { errors: [{ location: 'query', path, message }] });
}

/** The insights window: explicit `from` and `to` (both, from before to), else `period` ending now. */
function insightsWindow(query: Record<string, string | undefined>): reps.InsightsPeriod {
  const { from, to } = query;
  if ((from === undefined) !== (to === undefined)) {
    const missing = from === undefined ? 'from' : 'to';
    throw queryError(`/${missing}`, 'is required with the other bound', 'Send both from and to for an explicit period, or neither.');
  }
  if (from !== undefined && to !== undefined) {
    if (!(Date.parse(from) < Date.parse(to))) throw queryError('/from', 'must be before to', 'from must be before to.');
    return { from, to };
  }
  return { period: (query.period ?? 'month') as 'week' | 'month' | 'quarter' };
}

export function repHandlers(db: Database) {
  return {
    listReps: (async (c, ctx) => {
      const query = c.request.query as Record<string, string | undefined>;
      const result = await reps.listReps(db, scopeOf(ctx), {
        ...pageOptions(c),
        ...(query.role ? { role: query.role } : {}),
        ...(query.q ? { q: query.q } : {}),
      });
      ctx.body = result satisfies ResponseBody<'listReps', 200>;
    }) satisfies OperationHandler,

    getRep: (async (c, ctx) => {
      const repId = c.request.params.rep_id as string;
      const rep = await reps.getRep(db, repId, scopeOf(ctx));
      if (!rep) throw new HttpProblem(404, `No rep with id ${repId}.`);
      ctx.body = rep satisfies Rep;
    }) satisfies OperationHandler,

    updateRep: (async (c, ctx) => {
      const repId = c.request.params.rep_id as string;
      const update = c.request.requestBody as RequestBody<'updateRep'>;
      if (update.manager_id === repId) {
        throw new HttpProblem(400, 'A rep cannot be their own manager.', {
          errors: [{ location: 'body', path: '/manager_id', message: 'must not be the rep itself' }],
        });
      }
      const result = await reps.updateRep(db, repId, update, ifMatch(ctx, 'rep'));
      if (result.kind === 'no_rep') throw new HttpProblem(404, `No rep with id ${repId}.`);
      if (result.kind === 'no_manager') {
        throw new HttpProblem(400, `manager_id: no rep with id ${update.manager_id}.`, {
          errors: [{ location: 'body', path: '/manager_id', message: 'must be the id of an existing rep' }],
        });
      }
      ctx.body = result.rep satisfies Rep;
    }) satisfies OperationHandler,

    getRepInsights: (async (c, ctx) => {
      const repId = c.request.params.rep_id as string;
      const window = insightsWindow(c.request.query as Record<string, string | undefined>);
      const insights = await reps.getRepInsights(db, repId, scopeOf(ctx), window);
      if (!insights) throw new HttpProblem(404, `No rep with id ${repId}.`);
      ctx.body = insights satisfies ResponseBody<'getRepInsights', 200>;
    }) satisfies OperationHandler,
  };
}
