import type { Database } from '../../db/pool.js';
import * as transcripts from '../../db/transcripts.js';
import { scopeOf } from '../auth.js';
import { ifMatch } from '../conditional.js';
import type { OperationHandler, RequestBody, ResponseBody } from '../openapi.js';
import { HttpProblem } from '../problem.js';
import { pageOptions } from './paging.js';

export function transcriptHandlers(db: Database) {
  return {
    putTranscript: (async (c, ctx) => {
      const callId = c.request.params.call_id as string;
      const body = c.request.requestBody as RequestBody<'putTranscript'>;
      // The contract cannot say "end >= start"; nothing is touched when a sentence breaks it.
      const backwards = transcripts.findBackwardsSentence(body);
      if (backwards) {
        const [m, s] = backwards;
        const sentence = body[m]!.sentences[s]!;
        const message = `ends (${sentence.end} ms) before it starts (${sentence.start} ms)`;
        throw new HttpProblem(400, `body/${m}/sentences/${s}: ${message}; nothing was stored.`, {
          errors: [{ location: 'body', path: `/${m}/sentences/${s}/end`, message }],
        });
      }
      const ingest = await transcripts.replaceTranscript(db, callId, body, ifMatch(ctx, 'transcript'));
      if (!ingest) throw new HttpProblem(404, `No call with id ${callId}; create the call first.`);
      ctx.body = ingest satisfies ResponseBody<'putTranscript', 200>;
    }) satisfies OperationHandler,

    getTranscript: (async (c, ctx) => {
      const callId = c.request.params.call_id as string;
      const transcript = await transcripts.getTranscript(db, scopeOf(ctx), callId);
      if (!transcript) throw new HttpProblem(404, `No call with id ${callId}.`);
      ctx.body = transcript satisfies ResponseBody<'getTranscript', 200>;
    }) satisfies OperationHandler,

    getCallMetrics: (async (c, ctx) => {
      const callId = c.request.params.call_id as string;
      const metrics = await transcripts.getCallMetrics(db, scopeOf(ctx), callId);
      if (!metrics) throw new HttpProblem(404, `No call with id ${callId}.`);
      ctx.body = metrics satisfies ResponseBody<'getCallMetrics', 200>;
    }) satisfies OperationHandler,

    searchTranscripts: (async (c, ctx) => {
      const query = c.request.query as Record<string, string | undefined>;
      const results = await transcripts.searchTranscripts(db, scopeOf(ctx), {
        q: query.q!,
        callId: query.call_id,
        ...pageOptions(c),
      });
      ctx.body = results satisfies ResponseBody<'searchTranscripts', 200>;
    }) satisfies OperationHandler,
  };
}
