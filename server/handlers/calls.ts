import * as calls from '../../db/calls.js';
import type { Database } from '../../db/pool.js';
import { scopeOf } from '../auth.js';
import { ifMatch } from '../conditional.js';
import { created, respondOnce } from '../idempotency.js';
import type { OperationHandler, RequestBody, ResponseBody } from '../openapi.js';
import { HttpProblem } from '../problem.js';
import { pageOptions } from './paging.js';

type Call = ResponseBody<'getCall', 200>;
type Speaker = ResponseBody<'getSpeaker', 200>;
type SpeakerBody = RequestBody<'addSpeaker'>;

/**
 * Two speakers of one request with the same email or Gong speaker id would be one person
 * twice; the contract cannot say so, so the handler does (400, naming the second one).
 */
function assertDistinctSpeakers(speakers: readonly SpeakerBody[] = []): void {
  for (const key of ['email', 'gong_speaker_id'] as const) {
    const seen = new Set<string>();
    speakers.forEach((speaker, index) => {
      const value = speaker[key]?.toLowerCase();
      if (!value) return;
      if (seen.has(value)) {
        const message = `repeats the ${key} of an earlier speaker`;
        throw new HttpProblem(400, `body/speakers/${index}/${key}: ${message}`, {
          errors: [{ location: 'body', path: `/speakers/${index}/${key}`, message }],
        });
      }
      seen.add(value);
    });
  }
}

export function callHandlers(db: Database) {
  return {
    listCalls: (async (c, ctx) => {
      const query = c.request.query as Record<string, string | undefined>;
      // [from, to): a range that ends before it starts is a client's mistake, not an empty page.
      if (query.scheduled_from !== undefined && query.scheduled_to !== undefined && !(Date.parse(query.scheduled_from) < Date.parse(query.scheduled_to))) {
        const message = 'must be before scheduled_to';
        throw new HttpProblem(400, `query/scheduled_from: ${message}; send the range's start first.`, {
          errors: [{ location: 'query', path: '/scheduled_from', message }],
        });
      }
      // The answer's JSON text, assembled from PostgreSQL's JSON (see listCallsJson).
      const page = await calls.listCallsJson(
        db,
        {
          product: query.product,
          call_type: query.call_type,
          rep_email: query.rep_email,
          scheduled_from: query.scheduled_from,
          scheduled_to: query.scheduled_to,
          q: query.q,
          tracker: query.tracker,
          ...pageOptions(c),
        },
        scopeOf(ctx),
      );
      ctx.type = 'application/json';
      ctx.body = page;
    }) satisfies OperationHandler,

    createCall: (async (c, ctx) => {
      // Duplicate speakers in one create are left to the database on purpose: the unique
      // constraint rolls the whole call back (409), which the transaction tests rely on.
      await respondOnce(ctx, db, async (db) => {
        const call = await calls.createCall(db, c.request.requestBody as RequestBody<'createCall'>);
        return created(`/calls/${call.id}`, call satisfies Call);
      });
    }) satisfies OperationHandler,

    getCall: (async (c, ctx) => {
      const callId = c.request.params.call_id as string;
      // Already JSON (a Call, built by PostgreSQL): sent as it is, not parsed and re-serialised.
      const call = await calls.getCallJson(db, callId, scopeOf(ctx));
      if (call === null) throw new HttpProblem(404, `No call with id ${callId}.`);
      ctx.type = 'application/json';
      ctx.body = call;
    }) satisfies OperationHandler,

    updateCall: (async (c, ctx) => {
      const callId = c.request.params.call_id as string;
      const call = await calls.updateCall(db, callId, c.request.requestBody as RequestBody<'updateCall'>, ifMatch(ctx, 'call'));
      if (call === null) throw new HttpProblem(404, `No call with id ${callId}.`);
      // Already JSON, the same bytes GET sends (so the ETag is the one GET gives).
      ctx.type = 'application/json';
      ctx.body = call;
    }) satisfies OperationHandler,

    deleteCall: (async (c, ctx) => {
      const callId = c.request.params.call_id as string;
      if (!(await calls.deleteCall(db, callId, ifMatch(ctx, 'call')))) throw new HttpProblem(404, `No call with id ${callId}.`);
      ctx.status = 204;
    }) satisfies OperationHandler,

    upsertCallByGongId: (async (c, ctx) => {
      const gongCallId = c.request.params.gong_call_id as string;
      const body = c.request.requestBody as RequestBody<'upsertCallByGongId'>;
      assertDistinctSpeakers(body.speakers);
      const { call, created } = await calls.upsertCall(db, gongCallId, body, ifMatch(ctx, 'call'));
      ctx.status = created ? 201 : 200;
      ctx.set('Location', `/calls/${call.id}`);
      ctx.body = call satisfies Call;
    }) satisfies OperationHandler,

    addSpeaker: (async (c, ctx) => {
      const callId = c.request.params.call_id as string;
      await respondOnce(ctx, db, async (db) => {
        const speaker = await calls.addSpeaker(db, callId, c.request.requestBody as SpeakerBody);
        if (!speaker) throw new HttpProblem(404, `No call with id ${callId}; create the call first.`);
        return created(`/calls/${callId}/speakers/${speaker.id}`, speaker satisfies Speaker);
      });
    }) satisfies OperationHandler,

    getSpeaker: (async (c, ctx) => {
      const { call_id: callId, speaker_id: speakerId } = c.request.params as Record<string, string>;
      const speaker = await calls.getSpeaker(db, callId!, speakerId!, scopeOf(ctx));
      if (!speaker) throw new HttpProblem(404, `Call ${callId} has no speaker with id ${speakerId}.`);
      ctx.body = speaker satisfies Speaker;
    }) satisfies OperationHandler,
  };
}
