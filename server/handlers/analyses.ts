import * as analyses from '../../db/analyses.js';
import type { Database } from '../../db/pool.js';
import { scopeOf } from '../auth.js';
import { created, respondOnce } from '../idempotency.js';
import type { OperationHandler, RequestBody, ResponseBody } from '../openapi.js';
import { HttpProblem, type FieldError } from '../problem.js';
import { invalidRequest } from '../validation.js';
import { pageOptions } from './paging.js';

type Analysis = ResponseBody<'getAnalysis', 200>;
type Examples = RequestBody<'createAnalysis'>['specific_examples'];

/** Every example that ends before it starts (a JSON schema cannot compare two fields; TimedExample says so). */
function backwardsExamples(examples: Examples): FieldError[] {
  return (['good', 'needs_work'] as const).flatMap((kind) =>
    (examples?.[kind] ?? []).flatMap((example, index) =>
      example.end_ms < example.start_ms
        ? [{ location: 'body' as const, path: `/specific_examples/${kind}/${index}/end_ms`, message: `must not be before start_ms (${example.start_ms})` }]
        : [],
    ),
  );
}

export function analysisHandlers(db: Database) {
  return {
    createAnalysis: (async (c, ctx) => {
      const callId = c.request.params.call_id as string;
      const input = c.request.requestBody as RequestBody<'createAnalysis'>;
      const backwards = backwardsExamples(input.specific_examples);
      if (backwards.length > 0) throw invalidRequest(backwards);
      await respondOnce(ctx, db, async (db) => {
        const result = await analyses.createAnalysis(db, callId, input as analyses.AnalysisInput);
        if (result.kind === 'no_call') throw new HttpProblem(404, `No call with id ${callId}.`);
        if (result.kind === 'not_a_speaker') {
          const message = 'must be the email of a speaker of the call';
          throw new HttpProblem(400, `rep_email: ${input.rep_email} did not speak on call ${callId}; add the speaker first.`, {
            errors: [{ location: 'body', path: '/rep_email', message }],
          });
        }
        if (result.kind === 'not_a_rep') {
          const message = 'must be the email of a rep on the call: a company-side speaker, not a prospect or customer';
          const side = result.company_side ? '' : ', not on the company side';
          throw new HttpProblem(
            400,
            `rep_email: ${input.rep_email} spoke on call ${callId} as ${result.role}${side}; an analysis scores one of our own reps.`,
            { errors: [{ location: 'body', path: '/rep_email', message }] },
          );
        }
        return created(`/analyses/${result.analysis.id}`, result.analysis satisfies Analysis);
      });
    }) satisfies OperationHandler,

    listCallAnalyses: (async (c, ctx) => {
      const callId = c.request.params.call_id as string;
      const result = await analyses.listCallAnalyses(db, callId, scopeOf(ctx), pageOptions(c));
      if (!result) throw new HttpProblem(404, `No call with id ${callId}.`);
      ctx.body = result satisfies ResponseBody<'listCallAnalyses', 200>;
    }) satisfies OperationHandler,

    getAnalysis: (async (c, ctx) => {
      const analysisId = c.request.params.analysis_id as string;
      const analysis = await analyses.getAnalysis(db, analysisId, scopeOf(ctx));
      if (!analysis) throw new HttpProblem(404, `No analysis with id ${analysisId}.`);
      ctx.body = analysis satisfies Analysis;
    }) satisfies OperationHandler,
  };
}
