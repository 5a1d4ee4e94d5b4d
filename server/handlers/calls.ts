import * as calls from '../../db/calls.js';
import type { Database } from '../../db/pool.js';
import type { OperationHandler, RequestBody, ResponseBody } from '../openapi.js';
import { HttpProblem } from '../problem.js';
import { pending } from './pending.js';

type Call = ResponseBody<'getCall', 200>;
type Speaker = ResponseBody<'getSpeaker', 200>;

// Column CHECK constraints hold the same enums as the contract; the generated row types only
// know `string`. Responses are validated against the spec in every test.
const asCall = (record: calls.CallRecord) => record as unknown as Call;
const asSpeaker = (record: calls.SpeakerRecord) => record as unknown as Speaker;

export function callHandlers(db: Database) {
  return {
    listCalls: pending,
    updateCall: pending,
    deleteCall: pending,
    upsertCallByGongId: pending,

    createCall: (async (c, ctx) => {
      const call = await calls.createCall(db, c.request.requestBody as RequestBody<'createCall'>);
      ctx.status = 201;
      ctx.set('Location', `/calls/${call.id}`);
      ctx.body = asCall(call);
    }) satisfies OperationHandler,

    getCall: (async (c, ctx) => {
      const callId = c.request.params.call_id as string;
      const call = await calls.getCall(db, callId);
      if (!call) throw new HttpProblem(404, `No call with id ${callId}.`);
      ctx.body = asCall(call);
    }) satisfies OperationHandler,

    addSpeaker: (async (c, ctx) => {
      const callId = c.request.params.call_id as string;
      const speaker = await calls.addSpeaker(db, callId, c.request.requestBody as RequestBody<'addSpeaker'>);
      if (!speaker) throw new HttpProblem(404, `No call with id ${callId}; create the call first.`);
      ctx.status = 201;
      ctx.set('Location', `/calls/${callId}/speakers/${speaker.id}`);
      ctx.body = asSpeaker(speaker);
    }) satisfies OperationHandler,

    getSpeaker: (async (c, ctx) => {
      const { call_id: callId, speaker_id: speakerId } = c.request.params as Record<string, string>;
      const speaker = await calls.getSpeaker(db, callId!, speakerId!);
      if (!speaker) throw new HttpProblem(404, `Call ${callId} has no speaker with id ${speakerId}.`);
      ctx.body = asSpeaker(speaker);
    }) satisfies OperationHandler,
  };
}
