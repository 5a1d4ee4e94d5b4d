/**
 * One Gong sync run, page by page: fetch a page of /v2/calls/extensive, store its calls (private
 * ones are skipped, or removed when stored earlier), fetch the transcripts of the page's calls in
 * one batch, then checkpoint the next page's cursor and the counts in PostgreSQL. A run stopped
 * anywhere (killed, budget spent, shutdown) resumes from its last checkpoint.
 */
import { createHash, randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import {
  checkpoint,
  nextBudgetDay,
  removeCall,
  renewLease,
  reserveGongRequest,
  storeGongCall,
  storeGongTranscript,
  syncStates,
  zeroCounts,
  type ClaimedRun,
  type GongCallInput,
  type RunCounts,
  type RunEnd,
} from '../db/gong-sync.js';
import type { Database } from '../db/pool.js';
import type { GongSyncConfig } from './config.js';
import { isStorableDateTime } from './date-time.js';
import { callFromGong } from './gong.js';
import { createGongClient, GongApiError, GongPauseError, type GongCall, type GongClientOptions, type GongMonologueData } from './gong-client.js';
import { toProblem } from './problem.js';

/** Names this process as a lease holder (host, pid and a random part). */
export function leaseOwner(): string {
  return `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
}

const sha256 = (value: unknown) => createHash('sha256').update(JSON.stringify(value)).digest('hex');

const clip = (value: string, max: number) => (value.length > max ? value.slice(0, max) : value);

/**
 * Gong's data with every text (keys too) made storable: U+0000 dropped and lone surrogates made
 * U+FFFD. PostgreSQL refuses both, and one such character in a title or a name failed every run
 * of the window on that call, telling the run's `error` PostgreSQL's own words.
 */
export function storableText<T>(value: T): T {
  if (typeof value === 'string') return (value.replaceAll('\u0000', '') as string & { toWellFormed(): string }).toWellFormed() as T;
  if (Array.isArray(value)) return value.map(storableText) as T;
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).map(([key, member]) => [storableText(key), storableText(member)])) as T;
}

/** A Gong call as the store takes it (the webhook's mapping, plus what only the API gives). */
export function gongCallInput(call: GongCall): GongCallInput {
  const meta = call.metaData;
  // The first of the two that the store can hold and an answer state (date-time.ts): a time past
  // 9999 in UTC would be stored as year 10000, and reading it back failed the whole run.
  const scheduled = [meta.scheduled, meta.started].find((time): time is string => typeof time === 'string' && isStorableDateTime(time));
  if (!scheduled) {
    const given = meta.scheduled ?? meta.started;
    throw new GongApiError(
      given
        ? `Gong call ${meta.id} has no scheduled or started time that is an RFC 3339 date-time within the years 0001 to 9999 (scheduled ${JSON.stringify(meta.scheduled ?? null)}, started ${JSON.stringify(meta.started ?? null)}).`
        : `Gong call ${meta.id} has neither a scheduled nor a started time.`,
      200,
    );
  }
  const parties = (call.parties ?? []).map((party) => ({
    ...party,
    name: party.name ? clip(party.name, 200) : party.name,
    // Two parties cannot share a speakerId on one call (speakers_call_id_gong_speaker_id_key).
  }));
  const mapped = callFromGong({
    callData: {
      metaData: { ...meta, id: meta.id, scheduled, title: meta.title ? clip(meta.title, 500) : meta.title },
      parties,
    },
  } as Parameters<typeof callFromGong>[0]);
  const duration = typeof meta.duration === 'number' && meta.duration >= 0 && meta.duration <= 86_400 ? Math.round(meta.duration) : null;
  const seenSpeakerIds = new Set<string>();
  for (const speaker of mapped.call.speakers) {
    if (!speaker.gong_speaker_id) continue;
    if (seenSpeakerIds.has(speaker.gong_speaker_id)) speaker.gong_speaker_id = null;
    else seenSpeakerIds.add(speaker.gong_speaker_id);
  }

  const email = (value: string | null | undefined) => (value && /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(value) ? value.toLowerCase() : null);
  const partyById = new Map((call.parties ?? []).filter((p) => p.id).map((p) => [p.id!, p]));
  const interaction = call.interaction;
  return {
    gongCallId: mapped.gongCallId,
    call: { ...mapped.call, duration_seconds: duration },
    titles: (call.parties ?? [])
      .filter((p) => p.title && (p.speakerId || email(p.emailAddress)))
      .map((p) => ({ gong_speaker_id: p.speakerId ?? null, email: p.speakerId ? null : email(p.emailAddress), title: clip(p.title!.trim(), 200) })),
    trackers: (call.content?.trackers ?? []).map((tracker) => ({
      id: tracker.id,
      name: clip(tracker.name, 200),
      type: tracker.type ?? null,
      count: tracker.count ?? tracker.occurrences?.length ?? 0,
      occurrences: (tracker.occurrences ?? []).map((o) => ({ start_time_ms: Math.round(o.startTime * 1000), gong_speaker_id: o.speakerId ?? null })),
    })),
    // Interaction speakers are keyed by the party's `id` (not its speakerId): resolve through the parties.
    stats: interaction
      ? {
          stats: (interaction.interactionStats ?? []).map((s) => ({ name: s.name, value: s.value ?? null })),
          questions_company: interaction.questions?.companyCount ?? null,
          questions_non_company: interaction.questions?.nonCompanyCount ?? null,
          speakers: (interaction.speakers ?? []).flatMap((s) => {
            const party = s.id ? partyById.get(s.id) : undefined;
            if (!party || typeof s.talkTime !== 'number') return [];
            const gongSpeakerId = party.speakerId ?? null;
            const partyEmail = gongSpeakerId ? null : email(party.emailAddress);
            return gongSpeakerId || partyEmail ? [{ gong_speaker_id: gongSpeakerId, email: partyEmail, talk_time_seconds: s.talkTime }] : [];
          }),
        }
      : null,
    contentSha256: sha256(call),
  };
}

export type RunProgress = { run: ClaimedRun; totalRecords: number | null; counts: RunCounts };

export type ExecuteOptions = {
  db: Database;
  config: GongSyncConfig & { auth: NonNullable<GongSyncConfig['auth']> };
  owner: string;
  /** Stops the run at the next request (shutdown); the run goes back to the queue. */
  signal?: AbortSignal;
  progress?: (progress: RunProgress) => void;
  /** For tests of the client's own knobs; never set by the service. */
  client?: Partial<GongClientOptions>;
};

/** `cause`: what failed a run, for the log (its `error` says it in words an API client may read). */
export type RunOutcome = (RunEnd | { status: 'lost'; reason: string }) & { counts: RunCounts; cause?: unknown };

/**
 * A failed run's `error`, which GET /sync/gong/runs shows: Gong's own failures as the client words
 * them, the store's as the API words them (problem.ts), never PostgreSQL's or Slonik's own message.
 */
function failureReason(error: unknown): string {
  if (error instanceof GongApiError) return error.message;
  const problem = toProblem(error);
  if (problem.status !== 500) return problem.detail;
  return 'The run failed on an unexpected error; the service log has its cause (the "gong sync: run failed" line).';
}

function add(total: RunCounts, delta: RunCounts): RunCounts {
  return Object.fromEntries(Object.entries(total).map(([name, value]) => [name, value + delta[name as keyof RunCounts]])) as RunCounts;
}

/** Runs a claimed run to its end (completed, failed, queued again, or lost to another process). */
export async function executeRun(options: ExecuteOptions, run: ClaimedRun): Promise<RunOutcome> {
  const { db, config, owner } = options;
  const lease = new AbortController();
  const stop = options.signal ? AbortSignal.any([options.signal, lease.signal]) : lease.signal;
  let pending = zeroCounts();
  let total = { ...run.counts };
  const heartbeat = setInterval(() => {
    renewLease(db, run.id, owner, config.leaseSeconds).then(
      (held) => held || lease.abort(new Error('lease lost')),
      () => {}, // a failed renewal is retried at the next beat; the lease outlasts two of them
    );
  }, (config.leaseSeconds * 1000) / 3);

  const client = createGongClient({
    baseUrl: config.baseUrl,
    auth: config.auth,
    maxRequestsPerSecond: config.maxRequestsPerSecond,
    signal: stop,
    reserveRequest: async () => {
      if (!(await reserveGongRequest(db, config.dailyRequestLimit))) {
        throw new GongPauseError(`The daily budget of ${config.dailyRequestLimit} Gong requests is spent.`, nextBudgetDay());
      }
    },
    events: {
      request: () => void pending.requests++,
      rateLimited: () => void pending.rate_limited++,
      retry: () => void pending.retries++,
    },
    ...options.client,
  });

  /** Writes the counts gathered since the last checkpoint; false when the lease is gone. */
  const save = async (cursor: string | null, end?: RunEnd) => {
    const delta = pending;
    pending = zeroCounts();
    const held = await checkpoint(db, run.id, owner, { cursor, counts: delta, ...(end ? { end } : {}) });
    if (held) total = add(total, delta);
    return held;
  };

  let cursor = run.cursor;
  let restartedExpiredCursor = false;
  try {
    for (;;) {
      let page;
      try {
        page = await client.callsPage(run.window, cursor);
      } catch (error) {
        // Gong's cursors may not outlive a long pause: start the window again (stored calls are unchanged).
        if (error instanceof GongApiError && error.status === 400 && cursor !== null && !restartedExpiredCursor) {
          restartedExpiredCursor = true;
          cursor = null;
          continue;
        }
        throw error;
      }
      await storePage(options, client, page.items, pending);
      pending.pages++;
      if (!page.cursor) {
        if (!(await save(null, { status: 'completed' }))) return { status: 'lost', reason: 'another process took the run over', counts: total };
        options.progress?.({ run, totalRecords: page.totalRecords, counts: total });
        return { status: 'completed', counts: total };
      }
      if (!(await save(page.cursor))) return { status: 'lost', reason: 'another process took the run over', counts: total };
      cursor = page.cursor;
      options.progress?.({ run, totalRecords: page.totalRecords, counts: total });
    }
  } catch (error) {
    if (lease.signal.aborted) return { status: 'lost', reason: 'another process took the run over', counts: total };
    const end: RunEnd =
      error instanceof GongPauseError
        ? { status: 'queued', reason: `${error.message} The run resumes after ${error.resumeAfter.toISOString()}.`, resumeAfter: error.resumeAfter.toISOString() }
        : options.signal?.aborted
          ? { status: 'queued', reason: 'The process running it stopped; it resumes from its checkpoint.', resumeAfter: null }
          : { status: 'failed', error: failureReason(error) };
    if (!(await save(cursor, end).catch(() => false))) return { status: 'lost', reason: 'could not record the end of the run', counts: total, cause: error };
    return { ...end, counts: total, ...(end.status === 'failed' ? { cause: error } : {}) };
  } finally {
    clearInterval(heartbeat);
  }
}

/**
 * A Gong transcript as the store takes it: storable text, and a sentence that ends before it
 * starts ending where it starts (transcripts_end_after_start refused it, failing every run on the call).
 */
function storableTranscript(transcript: readonly GongMonologueData[]): GongMonologueData[] {
  return storableText(transcript).map((monologue) => ({
    ...monologue,
    sentences: monologue.sentences.map((sentence) => (sentence.end < sentence.start ? { ...sentence, end: sentence.start } : sentence)),
  }));
}

/** Stores one page of calls and the transcripts they need; counts into `counts`. */
async function storePage(options: ExecuteOptions, client: ReturnType<typeof createGongClient>, calls: GongCall[], counts: RunCounts) {
  const { db } = options;
  const states = await syncStates(db, calls.map((call) => call.metaData.id));
  const needTranscript = new Map<string, { callId: string; stored: string | null; changed: boolean }>();
  for (const call of calls) {
    counts.calls_seen++;
    const gongCallId = call.metaData.id;
    if (call.metaData.isPrivate) {
      counts.private_skipped++;
      if (await removeCall(db, gongCallId)) counts.private_removed++;
      continue;
    }
    const input = gongCallInput(storableText(call));
    const state = states.get(gongCallId);
    if (state && state.content_sha256 === input.contentSha256) {
      if (state.transcript_sha256 === null) needTranscript.set(gongCallId, { callId: state.call_id, stored: null, changed: false });
      else counts.unchanged++;
      continue;
    }
    const stored = await storeGongCall(db, input);
    if (stored.created) counts.created++;
    else counts.updated++;
    needTranscript.set(gongCallId, { callId: stored.callId, stored: state?.transcript_sha256 ?? null, changed: true });
  }
  if (needTranscript.size === 0) return;
  const transcripts = await client.transcripts([...needTranscript.keys()]);
  for (const [gongCallId, wanted] of needTranscript) {
    const transcript = transcripts.get(gongCallId);
    const digest = transcript ? sha256(transcript) : null;
    if (transcript && digest !== wanted.stored) {
      await storeGongTranscript(db, wanted.callId, storableTranscript(transcript), digest!);
      counts.transcripts_ingested++;
      if (!wanted.changed) counts.updated++;
    } else if (!wanted.changed) {
      counts.unchanged++;
    }
  }
}
