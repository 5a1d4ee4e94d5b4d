import { sql, type CommonQueryMethods } from 'slonik';
import type * as s from 'zapatos/schema';
import type { Database } from './pool.js';
import { rowsOf } from './typed.js';

/** A new speaker as callers describe it (the contract has already checked the values). */
export type SpeakerInput = {
  name: string;
  email?: string | null;
  role: string;
  company_side: boolean;
  gong_speaker_id?: string | null;
};

/** A new call, optionally with its speakers. `scheduled_at` is RFC 3339. */
export type CallInput = {
  gong_call_id: string;
  title: string;
  scheduled_at: string;
  duration_seconds?: number | null;
  call_type?: string;
  product?: string | null;
  metadata?: Record<string, unknown>;
  speakers?: readonly SpeakerInput[];
};

export type SpeakerRecord = s.speakers.JSONSelectable;
export type CallRecord = s.calls.JSONSelectable & { speakers: SpeakerRecord[] };

// Responses are assembled as JSON by PostgreSQL in one round trip; the session runs in UTC
// (see pool.ts), so timestamps come out as RFC 3339 with a +00:00 offset.
const speakerJson = sql.fragment`json_build_object(
  'id', sp.id, 'call_id', sp.call_id, 'name', sp.name, 'email', sp.email, 'role', sp.role,
  'company_side', sp.company_side, 'gong_speaker_id', sp.gong_speaker_id, 'talk_time_seconds', sp.talk_time_seconds,
  'talk_time_percentage', sp.talk_time_percentage, 'created_at', sp.created_at)`;

const callJson = sql.fragment`json_build_object(
  'id', c.id, 'gong_call_id', c.gong_call_id, 'title', c.title, 'scheduled_at', c.scheduled_at,
  'duration_seconds', c.duration_seconds, 'call_type', c.call_type, 'product', c.product,
  'metadata', c.metadata, 'processed_at', c.processed_at, 'created_at', c.created_at,
  'updated_at', c.updated_at,
  'speakers', COALESCE(
    (SELECT json_agg(${speakerJson} ORDER BY sp.added_order) FROM speakers sp WHERE sp.call_id = c.id),
    '[]'::json))`;

function selectCall(connection: CommonQueryMethods, callId: string): Promise<CallRecord | null> {
  return connection.maybeOneFirst(sql.type(rowsOf<{ call: CallRecord }>())`
    SELECT ${callJson} AS call FROM calls c WHERE c.id = ${callId}`);
}

/** The call with its speakers, or null when there is no such call. */
export function getCall(db: Database, callId: string): Promise<CallRecord | null> {
  return db.connect((connection) => selectCall(connection, callId));
}

/**
 * Stores a call and its speakers in one transaction. A constraint violation anywhere
 * (a duplicate gong_call_id, two speakers with one email) rolls the whole call back.
 */
export function createCall(db: Database, input: CallInput): Promise<CallRecord> {
  return db.transaction(async (transaction) => {
    const callId = await transaction.oneFirst(sql.type(rowsOf<{ id: string }>())`
      INSERT INTO calls (gong_call_id, title, scheduled_at, duration_seconds, call_type, product, metadata)
      VALUES (
        ${input.gong_call_id}, ${input.title}, ${input.scheduled_at}::timestamptz,
        ${input.duration_seconds ?? null}, ${input.call_type ?? 'other'}, ${input.product ?? null},
        ${sql.jsonb((input.metadata ?? {}) as Parameters<typeof sql.jsonb>[0])})
      RETURNING id`);
    const speakers = input.speakers ?? [];
    if (speakers.length > 0) {
      // One statement for all speakers, however many.
      await transaction.query(sql.unsafe`
        INSERT INTO speakers (call_id, name, email, role, company_side, gong_speaker_id)
        SELECT ${callId}, name, email, role, company_side, gong_speaker_id
        FROM ${sql.unnest(
          speakers.map((speaker) => [
            speaker.name, speaker.email ?? null, speaker.role, speaker.company_side ?? false, speaker.gong_speaker_id ?? null,
          ]),
          ['text', 'text', 'text', 'bool', 'text'],
        )} AS input(name, email, role, company_side, gong_speaker_id)`);
    }
    const call = await selectCall(transaction, callId);
    if (!call) throw new Error(`call ${callId} vanished inside its own transaction`);
    return call;
  });
}

/** Adds a speaker to a call; null when there is no such call. */
export function addSpeaker(db: Database, callId: string, input: SpeakerInput): Promise<SpeakerRecord | null> {
  return db.transaction((transaction) =>
    transaction.maybeOneFirst(sql.type(rowsOf<{ speaker: SpeakerRecord }>())`
      WITH sp AS (
        INSERT INTO speakers (call_id, name, email, role, company_side, gong_speaker_id)
        SELECT c.id, ${input.name}, ${input.email ?? null}, ${input.role}, ${input.company_side ?? false},
               ${input.gong_speaker_id ?? null}
        FROM calls c WHERE c.id = ${callId}
        RETURNING *)
      SELECT ${speakerJson} AS speaker FROM sp`),
  );
}

export function getSpeaker(db: Database, callId: string, speakerId: string): Promise<SpeakerRecord | null> {
  return db.connect((connection) =>
    connection.maybeOneFirst(sql.type(rowsOf<{ speaker: SpeakerRecord }>())`
      SELECT ${speakerJson} AS speaker FROM speakers sp WHERE sp.id = ${speakerId} AND sp.call_id = ${callId}`),
  );
}
