import {
  sql,
  type CommonQueryMethods,
  type DatabaseTransactionConnection,
  type FragmentSqlToken,
  type ListSqlToken,
} from 'slonik';
import type * as s from 'zapatos/schema';
import { z } from 'zod';
import { decodeCursor, page } from './cursor.js';
import { mentionsTracker } from './gong-call-data.js';
import { containsPattern } from './like.js';
import type { Database } from './pool.js';
import type { Precondition } from './precondition.js';
import { jsonbValue, jsonObject, noRows, row, tableRow, timestamp, utc, uuid } from './rows.js';
import { visibleCall, type Scope } from './scope.js';

/** A speaker as callers describe it (the contract has already checked the values). */
export type SpeakerInput = {
  name: string;
  email?: string | null;
  /** Absent when upserting from a source that does not know it (Gong): keep the stored role. */
  role?: string;
  /** The role for a speaker new to the call when `role` is absent (default: other). */
  default_role?: string;
  company_side: boolean;
  gong_speaker_id?: string | null;
};

/** The fields of a call a caller may set. `scheduled_at` and `processed_at` are RFC 3339. */
export type CallFields = {
  title?: string;
  scheduled_at?: string;
  duration_seconds?: number | null;
  call_type?: string;
  product?: string | null;
  metadata?: Record<string, unknown>;
  processed_at?: string | null;
};

/** A new call, optionally with its speakers. */
export type CallInput = CallFields & {
  gong_call_id: string;
  title: string;
  scheduled_at: string;
  speakers?: readonly SpeakerInput[];
};

export type CallFilters = {
  product?: string;
  call_type?: string;
  rep_email?: string;
  scheduled_from?: string;
  scheduled_to?: string;
  /** Words that must all appear in the title. */
  q?: string;
  /** A Gong tracker (id or name) that came up on the call. */
  tracker?: string;
  limit: number;
  cursor?: string;
};

// The CHECK constraints of migration 001, as the contract's CallType and SpeakerRole.
const callType = z.enum(['discovery', 'demo', 'negotiation', 'technical_deep_dive', 'follow_up', 'onboarding', 'qbr', 'renewal', 'other']);
const speakerRole = z.enum(['ae', 'se', 'csm', 'support', 'manager', 'prospect', 'customer', 'other']);

const speakerRecord = tableRow<s.speakers.JSONSelectable>()({
  id: uuid,
  call_id: uuid,
  name: z.string(),
  email: z.string().nullable(),
  role: speakerRole,
  company_side: z.boolean(),
  gong_speaker_id: z.string().nullable(),
  title: z.string().nullable(),
  talk_time_seconds: z.number().nullable(),
  talk_time_percentage: z.number().nullable(),
  created_at: timestamp,
});
const callRecord = tableRow<s.calls.JSONSelectable>()({
  id: uuid,
  gong_call_id: z.string(),
  title: z.string(),
  scheduled_at: timestamp,
  duration_seconds: z.number().int().nullable(),
  call_type: callType,
  product: z.string().nullable(),
  metadata: jsonObject,
  processed_at: timestamp.nullable(),
  created_at: timestamp,
  updated_at: timestamp,
}).extend({ speakers: z.array(speakerRecord) });

export type SpeakerRecord = z.infer<typeof speakerRecord>;
export type CallRecord = z.infer<typeof callRecord>;

/** A statement's single `id` column. */
const idRow = row({ id: uuid });

// Responses are assembled as JSON by PostgreSQL in one round trip; timestamps as RFC 3339 in UTC
// whatever the session's time zone (rows.ts, utc).
const speakerJson = sql.fragment`json_build_object(
  'id', sp.id, 'call_id', sp.call_id, 'name', sp.name, 'email', sp.email, 'role', sp.role,
  'company_side', sp.company_side, 'gong_speaker_id', sp.gong_speaker_id, 'title', sp.title, 'talk_time_seconds', sp.talk_time_seconds,
  'talk_time_percentage', sp.talk_time_percentage, 'created_at', ${utc(sql.fragment`sp.created_at`)})`;

const callJson = sql.fragment`json_build_object(
  'id', c.id, 'gong_call_id', c.gong_call_id, 'title', c.title, 'scheduled_at', ${utc(sql.fragment`c.scheduled_at`)},
  'duration_seconds', c.duration_seconds, 'call_type', c.call_type, 'product', c.product,
  'metadata', c.metadata, 'processed_at', ${utc(sql.fragment`c.processed_at`)},
  'created_at', ${utc(sql.fragment`c.created_at`)}, 'updated_at', ${utc(sql.fragment`c.updated_at`)},
  'speakers', COALESCE(
    (SELECT json_agg(${speakerJson} ORDER BY sp.added_order) FROM speakers sp WHERE sp.call_id = c.id),
    '[]'::json))`;

function selectCall(connection: CommonQueryMethods, callId: string): Promise<CallRecord | null> {
  return connection.maybeOneFirst(sql.type(row({ call: callRecord }))`
    SELECT ${callJson} AS call FROM calls c WHERE c.id = ${callId}`);
}

/** The call's JSON text, byte for byte as GET /calls/{id} sends it (its ETag hashes these bytes). */
const callText = sql.fragment`(${callJson})::text`;
// The text is not parsed here (that is its point); the contract tests validate what it holds.
const callTextRow = row({ call: z.string() });

/**
 * The call with its speakers, or null when there is no such call the scope may see: as the JSON text PostgreSQL built: for a handler that sends it as it is, instead of
 * parsing it into objects here only to serialise them again.
 */
export function getCallJson(db: Database, callId: string, scope: Scope): Promise<string | null> {
  return db.connect((connection) => connection.maybeOneFirst(callJsonQuery(callId, scope)));
}

/** The statement getCallJson sends (also run as plain SQL by the bench's node+pg floor, so both send the same). */
export function callJsonQuery(callId: string, scope: Scope) {
  return sql.type(callTextRow)`
    SELECT ${callText} AS call FROM calls c
    WHERE c.id = ${callId} AND ${visibleCall(scope, 'c')}`;
}

/**
 * Locks the call matching `where` (on `calls c`) and returns its id and its JSON text as GET
 * sends it, or null when there is none. FOR UPDATE conflicts with every lock a writer of the
 * call's representation takes (UPDATE, FOR NO KEY UPDATE, and the FOR KEY SHARE of a new
 * speaker's foreign key), and the text is read by a second statement, so that it sees what any
 * writer the lock waited for committed (a single statement would read speakers from before).
 */
async function lockCall(
  transaction: DatabaseTransactionConnection,
  where: FragmentSqlToken,
): Promise<{ id: string; text: string } | null> {
  const id = await transaction.maybeOneFirst(sql.type(idRow)`
    SELECT c.id FROM calls c WHERE ${where} FOR UPDATE`);
  if (id === null) return null;
  const text = await transaction.oneFirst(sql.type(callTextRow)`
    SELECT ${callText} AS call FROM calls c WHERE c.id = ${id}`);
  return { id, text };
}

/**
 * Runs `precondition` (if any) on the locked call's current representation; false when there is
 * no such call (the caller answers 404: a precondition does not turn a 404 into a 412).
 */
async function checkCall(transaction: DatabaseTransactionConnection, callId: string, precondition?: Precondition) {
  if (!precondition) return true;
  const current = await lockCall(transaction, sql.fragment`c.id = ${callId}`);
  if (current === null) return false;
  precondition(current.text);
  return true;
}

/**
 * A page of calls, newest scheduled first, keyset-paginated on (scheduled_at, id), as the JSON
 * text of the list answer (`{"data": [...], "next_cursor": ...}`): each call's JSON is built by
 * PostgreSQL and joined here as text, never parsed into objects and serialised again.
 */
export async function listCallsJson(db: Database, filters: CallFilters, scope: Scope): Promise<string> {
  const conditions: FragmentSqlToken[] = [visibleCall(scope, 'c')];
  if (filters.product !== undefined) conditions.push(sql.fragment`c.product = ${filters.product}`);
  if (filters.call_type !== undefined) conditions.push(sql.fragment`c.call_type = ${filters.call_type}`);
  if (filters.rep_email !== undefined) {
    conditions.push(sql.fragment`EXISTS (
      SELECT 1 FROM speakers who WHERE who.call_id = c.id AND lower(who.email) = lower(${filters.rep_email}))`);
  }
  if (filters.scheduled_from !== undefined) {
    conditions.push(sql.fragment`c.scheduled_at >= ${filters.scheduled_from}::timestamptz`);
  }
  if (filters.scheduled_to !== undefined) conditions.push(sql.fragment`c.scheduled_at < ${filters.scheduled_to}::timestamptz`);
  if (filters.tracker !== undefined) conditions.push(mentionsTracker(filters.tracker));
  for (const word of (filters.q ?? '').split(/\s+/).filter(Boolean).slice(0, 10)) {
    conditions.push(sql.fragment`c.title ILIKE ${containsPattern(word)}`);
  }
  if (filters.cursor !== undefined) {
    const [scheduledAt, id] = decodeCursor(filters.cursor, ['timestamp', 'uuid']);
    conditions.push(sql.fragment`(c.scheduled_at, c.id) < (${scheduledAt}::timestamptz, ${id}::uuid)`);
  }
  const rows = await db.connect((connection) =>
    connection.any(sql.type(row({ call: z.string(), scheduled_at: timestamp, id: uuid }))`
      -- scheduled_at as in the call's JSON, so cursors read exactly as before.
      SELECT (${callJson})::text AS call, ${utc(sql.fragment`c.scheduled_at`)} AS scheduled_at, c.id
      FROM calls c
      WHERE ${sql.join(conditions, sql.fragment` AND `)}
      ORDER BY c.scheduled_at DESC, c.id DESC
      LIMIT ${filters.limit + 1}`),
  );
  const result = page(rows, filters.limit, (last) => [last.scheduled_at, last.id]);
  return `{"data":[${result.data.map((row) => row.call).join(',')}],"next_cursor":${JSON.stringify(result.next_cursor)}}`;
}

/** Each field present in `fields`, as its column and its value (with the right cast). */
function fieldValues(fields: CallFields): [column: string, value: FragmentSqlToken][] {
  const values: [string, FragmentSqlToken][] = [];
  if (fields.title !== undefined) values.push(['title', sql.fragment`${fields.title}::text`]);
  if (fields.scheduled_at !== undefined) values.push(['scheduled_at', sql.fragment`${fields.scheduled_at}::timestamptz`]);
  if (fields.duration_seconds !== undefined) values.push(['duration_seconds', sql.fragment`${fields.duration_seconds}::int`]);
  if (fields.call_type !== undefined) values.push(['call_type', sql.fragment`${fields.call_type}::text`]);
  if (fields.product !== undefined) values.push(['product', sql.fragment`${fields.product}::text`]);
  if (fields.metadata !== undefined) {
    values.push(['metadata', sql.fragment`${jsonbValue(fields.metadata)}`]);
  }
  if (fields.processed_at !== undefined) values.push(['processed_at', sql.fragment`${fields.processed_at}::timestamptz`]);
  return values;
}

/** `column = value, …` for the fields present. */
function assignments(fields: CallFields): ListSqlToken {
  return sql.join(
    fieldValues(fields).map(([column, value]) => sql.fragment`${sql.identifier([column])} = ${value}`),
    sql.fragment`, `,
  );
}

/** True when any field present differs from the stored row `calls`. */
function differsFromStored(fields: CallFields): ListSqlToken {
  return sql.join(
    fieldValues(fields).map(([column, value]) => sql.fragment`${sql.identifier(['calls', column])} IS DISTINCT FROM ${value}`),
    sql.fragment` OR `,
  );
}

/** The speakers given, as rows `g(name, email, role, company_side, gong_speaker_id, default_role, ord)`. */
function givenSpeakers(speakers: readonly SpeakerInput[]): FragmentSqlToken {
  const rows = speakers.map((speaker, order) => [
    speaker.name, speaker.email ?? null, speaker.role ?? null, speaker.company_side, speaker.gong_speaker_id ?? null,
    speaker.default_role ?? null, order,
  ]);
  return sql.fragment`${sql.unnest(rows, ['text', 'text', 'text', 'bool', 'text', 'text', 'int4'])}
    AS g(name, email, role, company_side, gong_speaker_id, default_role, ord)`;
}

/**
 * The one INSERT of speakers: the rows of `given` (shaped like givenSpeakers') into the call, in
 * their order, when the call exists (no call: no rows). Returns the new speakers' ids.
 */
function insertSpeakers(callId: string, given: FragmentSqlToken): FragmentSqlToken {
  return sql.fragment`
    INSERT INTO speakers (call_id, name, email, role, company_side, gong_speaker_id)
    SELECT c.id, g.name, g.email, COALESCE(g.role, g.default_role, 'other'), g.company_side, g.gong_speaker_id
    FROM ${given} JOIN calls c ON c.id = ${callId}
    ORDER BY g.ord
    RETURNING id`;
}

/** The one INSERT of a call; with `onConflict: 'skip'` a taken gong_call_id inserts nothing (null). */
function insertCall(
  transaction: DatabaseTransactionConnection,
  gongCallId: string,
  input: CallFields & { title: string; scheduled_at: string },
  onConflict: 'fail' | 'skip',
): Promise<string | null> {
  return transaction.maybeOneFirst(sql.type(idRow)`
    INSERT INTO calls (gong_call_id, title, scheduled_at, duration_seconds, call_type, product, metadata)
    VALUES (
      ${gongCallId}, ${input.title}, ${input.scheduled_at}::timestamptz, ${input.duration_seconds ?? null},
      ${input.call_type ?? 'other'}, ${input.product ?? null}, ${jsonbValue(input.metadata ?? {})})
    ${onConflict === 'skip' ? sql.fragment`ON CONFLICT (gong_call_id) DO NOTHING` : sql.fragment``}
    RETURNING id`);
}

/**
 * Stores a call and its speakers in one transaction. A constraint violation anywhere
 * (a duplicate gong_call_id, two speakers with one email) rolls the whole call back.
 */
export function createCall(db: Database, input: CallInput): Promise<CallRecord> {
  return db.transaction(async (transaction) => {
    const id = (await insertCall(transaction, input.gong_call_id, input, 'fail'))!;
    if (input.speakers?.length) await transaction.any(sql.type(idRow)`${insertSpeakers(id, givenSpeakers(input.speakers))}`);
    return (await selectCall(transaction, id))!;
  });
}

/**
 * Changes the fields given, when `precondition` holds; the changed call as its JSON text (the
 * bytes GET sends, so the answer's ETag is the one a GET would give), or null when there is no
 * such call.
 */
export function updateCall(db: Database, callId: string, fields: CallFields, precondition?: Precondition): Promise<string | null> {
  return db.transaction(async (transaction) => {
    if (!(await checkCall(transaction, callId, precondition))) return null;
    const updated = await transaction.maybeOneFirst(sql.type(idRow)`
      UPDATE calls SET ${assignments(fields)} WHERE id = ${callId} RETURNING id`);
    if (updated === null) return null;
    return transaction.oneFirst(sql.type(callTextRow)`
      SELECT ${callText} AS call FROM calls c WHERE c.id = ${callId}`);
  });
}

/** Deletes the call with its speakers, transcript and analyses (cascade), when `precondition` holds; false when absent. */
export async function deleteCall(db: Database, callId: string, precondition?: Precondition): Promise<boolean> {
  const deleted = await db.transaction(async (transaction) => {
    if (!(await checkCall(transaction, callId, precondition))) return null;
    return transaction.maybeOneFirst(sql.type(idRow)`DELETE FROM calls WHERE id = ${callId} RETURNING id`);
  });
  return deleted !== null;
}

/**
 * Creates the call with Gong's id, or brings the stored one to the fields given (fields not
 * given keep their stored values). Speakers are matched by email, else Gong speaker id, else
 * (neither known) by name; matched ones are updated, new ones added, none removed. Nothing
 * is written when nothing differs, so `updated_at` stays as it was. Given speakers that match one
 * stored speaker are, with `sharedMatch: 'first'` (Gong's data, which lists one person once per
 * way they joined), that person once, as the first of them says; with 'refuse' (a client's
 * request) a SpeakersMatchOneStoredError.
 */
export async function upsertCallInTransaction(
  transaction: DatabaseTransactionConnection,
  gongCallId: string,
  input: CallFields & { title: string; scheduled_at: string; speakers?: readonly SpeakerInput[] },
  sharedMatch: SharedMatch = 'first',
): Promise<{ call: CallRecord; created: boolean }> {
  const inserted = await insertCall(transaction, gongCallId, input, 'skip');
  const speakers = input.speakers ?? [];
  let id: string;
  if (inserted) {
    id = inserted;
    if (speakers.length > 0) await transaction.any(sql.type(idRow)`${insertSpeakers(id, givenSpeakers(speakers))}`);
  } else {
    // The row lock makes concurrent deliveries of one call apply one after the other.
    id = await transaction.oneFirst(sql.type(idRow)`
      SELECT id FROM calls WHERE gong_call_id = ${gongCallId} FOR UPDATE`);
    await transaction.query(sql.type(noRows)`
      UPDATE calls SET ${assignments(input)} WHERE id = ${id} AND (${differsFromStored(input)})`);
    if (speakers.length > 0) await upsertSpeakers(transaction, id, speakers, sharedMatch);
  }
  return { call: (await selectCall(transaction, id))!, created: inserted !== null };
}

/**
 * Two speakers of one upsert that match one stored speaker (one by email, the other by Gong
 * speaker id): applying both would make the second overwrite the first, and one person sent would
 * silently vanish. The write conflicts with what is stored, so nothing is written.
 */
export class SpeakersMatchOneStoredError extends Error {
  constructor(
    readonly first: number,
    readonly second: number,
    readonly speakerId: string,
  ) {
    super(
      `speakers/${first} and speakers/${second} both match the call's stored speaker ${speakerId} (by email or gong_speaker_id); ` +
        'send that person once, or correct the email or gong_speaker_id. Nothing was stored.',
    );
    this.name = 'SpeakersMatchOneStoredError';
  }
}

/** Each given speaker (g.*) with the stored speaker of the call it matches (speaker_id, or null: new). */
function matchedSpeakers(callId: string, speakers: readonly SpeakerInput[]): FragmentSqlToken {
  return sql.fragment`
      SELECT g.*, (
        SELECT s.id FROM speakers s
        WHERE s.call_id = ${callId}
          AND ((g.email IS NOT NULL AND lower(s.email) = lower(g.email))
            OR (g.gong_speaker_id IS NOT NULL AND s.gong_speaker_id = g.gong_speaker_id)
            OR (g.email IS NULL AND g.gong_speaker_id IS NULL AND s.email IS NULL
                AND s.gong_speaker_id IS NULL AND s.name = g.name))
        ORDER BY (g.email IS NOT NULL AND lower(s.email) = lower(g.email)) DESC
        LIMIT 1) AS speaker_id
      FROM ${givenSpeakers(speakers)}`;
}

type SharedMatch = 'first' | 'refuse';

async function upsertSpeakers(transaction: DatabaseTransactionConnection, callId: string, speakers: readonly SpeakerInput[], sharedMatch: SharedMatch) {
  // The call is locked (FOR UPDATE), so what matches now still matches in the write below.
  if (sharedMatch === 'refuse' && speakers.length > 1) {
    const shared = await transaction.maybeOne(sql.type(row({ speaker_id: uuid, first: z.number(), second: z.number() }))`
      SELECT m.speaker_id, (array_agg(m.ord ORDER BY m.ord))[1] AS first, (array_agg(m.ord ORDER BY m.ord))[2] AS second
      FROM (${matchedSpeakers(callId, speakers)}) m
      -- Speakers known by name alone are alike, and stored alike: sending them again changes nothing.
      WHERE m.speaker_id IS NOT NULL AND (m.email IS NOT NULL OR m.gong_speaker_id IS NOT NULL)
      GROUP BY m.speaker_id HAVING count(*) > 1
      ORDER BY first LIMIT 1`);
    if (shared) throw new SpeakersMatchOneStoredError(shared.first, shared.second, shared.speaker_id);
  }
  // One statement: match each given speaker to a stored one, update what differs, add the rest.
  await transaction.any(sql.type(idRow)`
    WITH matched AS (${matchedSpeakers(callId, speakers)}
    ), updated AS (
      UPDATE speakers s
      SET name = m.name, email = COALESCE(m.email, s.email), role = COALESCE(m.role, s.role),
          company_side = m.company_side, gong_speaker_id = COALESCE(m.gong_speaker_id, s.gong_speaker_id)
      FROM (SELECT DISTINCT ON (speaker_id) * FROM matched WHERE speaker_id IS NOT NULL ORDER BY speaker_id, ord) m
      WHERE s.id = m.speaker_id
        AND (s.name, s.email, s.role, s.company_side, s.gong_speaker_id) IS DISTINCT FROM
            (m.name, COALESCE(m.email, s.email), COALESCE(m.role, s.role), m.company_side,
             COALESCE(m.gong_speaker_id, s.gong_speaker_id))
      RETURNING s.id
    )
    ${insertSpeakers(callId, sql.fragment`(SELECT * FROM matched WHERE speaker_id IS NULL) g`)}`);
}

/**
 * `upsertCallInTransaction` in a transaction of its own, when `precondition` holds for the stored
 * call (it gets null when Gong's id is new: then no If-Match can hold).
 */
export function upsertCall(
  db: Database,
  gongCallId: string,
  input: Parameters<typeof upsertCallInTransaction>[2],
  precondition?: Precondition,
) {
  return db.transaction(async (transaction) => {
    if (precondition) precondition((await lockCall(transaction, sql.fragment`c.gong_call_id = ${gongCallId}`))?.text ?? null);
    return upsertCallInTransaction(transaction, gongCallId, input, 'refuse');
  });
}

const speakerRow = row({ speaker: speakerRecord });

/** Adds a speaker to a call; null when there is no such call. */
export function addSpeaker(db: Database, callId: string, input: SpeakerInput): Promise<SpeakerRecord | null> {
  return db.transaction(async (transaction) => {
    const id = await transaction.maybeOneFirst(sql.type(idRow)`${insertSpeakers(callId, givenSpeakers([input]))}`);
    if (id === null) return null;
    return transaction.oneFirst(sql.type(speakerRow)`SELECT ${speakerJson} AS speaker FROM speakers sp WHERE sp.id = ${id}`);
  });
}

export function getSpeaker(db: Database, callId: string, speakerId: string, scope: Scope): Promise<SpeakerRecord | null> {
  return db.connect((connection) =>
    connection.maybeOneFirst(sql.type(speakerRow)`
      SELECT ${speakerJson} AS speaker FROM speakers sp JOIN calls c ON c.id = sp.call_id
      WHERE sp.id = ${speakerId} AND sp.call_id = ${callId} AND ${visibleCall(scope, 'c')}`),
  );
}
