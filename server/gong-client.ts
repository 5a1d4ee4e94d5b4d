/**
 * A client for the two Gong API v2 operations the sync needs, built to Gong's published OpenAPI
 * document: POST /v2/calls/extensive (calls with parties, trackers and interaction stats) and
 * POST /v2/calls/transcript (transcripts of given call ids), both paged by `records.cursor`.
 *
 * Within Gong's limits: requests pass a token bucket (GONG_MAX_REQUESTS_PER_SECOND, at most 3/s),
 * a 429's Retry-After is waited out exactly, 5xx answers and network errors are retried with
 * exponential backoff and jitter, and every request is first reserved against the daily budget
 * (`reserveRequest`, counted in PostgreSQL by the caller), which stops the client cleanly.
 */
import { z } from 'zod';
import type { GongSyncConfig } from './config.js';

/** Thrown when the client must stop for now and may go on at `resumeAfter` (budget spent, long Retry-After). */
export class GongPauseError extends Error {
  override name = 'GongPauseError';
  constructor(
    message: string,
    readonly resumeAfter: Date,
  ) {
    super(message);
  }
}

/** Gong refused the request (4xx other than 429 and an empty window's 404), or kept failing. */
export class GongApiError extends Error {
  override name = 'GongApiError';
  constructor(
    message: string,
    readonly status: number | null,
  ) {
    super(message);
  }
}

const text = z.string().nullish();
const Records = z
  .object({ totalRecords: z.number().int().nullish(), currentPageSize: z.number().int().nullish(), currentPageNumber: z.number().int().nullish(), cursor: text })
  .passthrough();

const Occurrence = z.object({ startTime: z.number().nonnegative(), speakerId: text }).passthrough();

/** The parts of Gong's CallData the sync reads; Gong may add fields at any time (kept, ignored). */
export const GongCall = z
  .object({
    metaData: z
      .object({
        id: z.string().regex(/^[0-9]{1,20}$/),
        title: text,
        scheduled: text,
        started: text,
        duration: z.number().nullish(),
        isPrivate: z.boolean().nullish(),
      })
      .passthrough(),
    parties: z
      .array(
        z
          .object({
            id: text,
            emailAddress: text,
            name: text,
            title: text,
            userId: text,
            speakerId: text,
            affiliation: z.enum(['Internal', 'External', 'Unknown']).nullish(),
          })
          .passthrough(),
      )
      .nullish(),
    content: z
      .object({
        trackers: z
          .array(
            z
              .object({
                id: z.string().min(1).max(40),
                name: z.string().min(1),
                count: z.number().int().nonnegative().nullish(),
                type: z.enum(['KEYWORD', 'SMART']).nullish(),
                occurrences: z.array(Occurrence).nullish(),
              })
              .passthrough(),
          )
          .nullish(),
      })
      .passthrough()
      .nullish(),
    interaction: z
      .object({
        speakers: z.array(z.object({ id: text, userId: text, talkTime: z.number().nullish() }).passthrough()).nullish(),
        interactionStats: z.array(z.object({ name: z.string(), value: z.number().nullish() }).passthrough()).nullish(),
        questions: z.object({ companyCount: z.number().int().nullish(), nonCompanyCount: z.number().int().nullish() }).passthrough().nullish(),
      })
      .passthrough()
      .nullish(),
  })
  .passthrough();
export type GongCall = z.infer<typeof GongCall>;

const CallsPage = z.object({ records: Records.nullish(), calls: z.array(GongCall).nullish() }).passthrough();

const Monologue = z
  .object({
    speakerId: z.string().min(1).max(40),
    topic: text,
    sentences: z.array(z.object({ start: z.number().int().nonnegative(), end: z.number().int().nonnegative(), text: z.string() }).passthrough()),
  })
  .passthrough();
const TranscriptsPage = z
  .object({
    records: Records.nullish(),
    callTranscripts: z.array(z.object({ callId: z.string(), transcript: z.array(Monologue).nullish() }).passthrough()).nullish(),
  })
  .passthrough();
export type GongMonologueData = z.infer<typeof Monologue>;

export type Page<T> = { items: T[]; cursor: string | null; totalRecords: number | null };

/** What the client tells its caller as it goes (for the run's counts). */
export type GongClientEvents = {
  request?: () => void;
  rateLimited?: (retryAfterMs: number) => void;
  retry?: (reason: string, delayMs: number) => void;
};

export type GongClientOptions = Pick<GongSyncConfig, 'baseUrl' | 'maxRequestsPerSecond'> & {
  auth: NonNullable<GongSyncConfig['auth']>;
  /** Called before every request (retries included); throws GongPauseError when the day's budget is spent. */
  reserveRequest: () => Promise<void>;
  events?: GongClientEvents;
  /** Aborts waits and requests (shutdown). */
  signal?: AbortSignal;
  /** Attempts per request for 5xx and network errors (default 6). */
  attempts?: number;
  /** The first backoff step (default 500 ms); each further step doubles, up to 30 s. */
  backoffBaseMs?: number;
  /** A Retry-After longer than this pauses the run instead of waiting (default 300 s). */
  maxRetryAfterSeconds?: number;
  timeoutMs?: number;
};

/**
 * A token bucket: tokens arrive at `ratePerSecond`, at most `capacity` are kept. With capacity 1
 * (the default) requests are evenly spaced: a burst of three followed by a fourth a third of a
 * second later would be four inside one second, which a sliding one-second limit refuses.
 */
export class TokenBucket {
  private tokens: number;
  private updatedAt = performance.now();
  private queue: Promise<void> = Promise.resolve();
  private readonly intervalMs: number;

  constructor(
    ratePerSecond: number,
    private readonly capacity = 1,
    /**
     * Added to the interval between tokens: jitter (network, a busy event loop on either side)
     * must not land four requests inside one of Gong's seconds. 10 ms was too little: on a loaded
     * machine two requests arrived 290 ms apart; 50 ms leaves 150 ms over three intervals.
     */
    safetyMs = 50,
  ) {
    this.intervalMs = 1000 / ratePerSecond + safetyMs;
    this.tokens = capacity;
  }

  /** Resolves when a token is taken; callers are served in order. */
  take(signal?: AbortSignal): Promise<void> {
    const turn = this.queue.then(async () => {
      this.refill();
      if (this.tokens < 1) {
        await sleepUntil(this.updatedAt + (1 - this.tokens) * this.intervalMs, signal);
        this.refill();
      }
      this.tokens -= 1;
    });
    this.queue = turn.catch(() => {});
    return turn;
  }

  private refill(): void {
    const now = performance.now();
    this.tokens = Math.min(this.capacity, this.tokens + (now - this.updatedAt) / this.intervalMs);
    this.updatedAt = now;
  }
}

/** Sleeps until performance.now() reaches `deadline` (never earlier: timers may fire a little early). */
export async function sleepUntil(deadline: number, signal?: AbortSignal): Promise<void> {
  for (;;) {
    signal?.throwIfAborted();
    const left = deadline - performance.now();
    if (left <= 0) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(done, Math.ceil(left));
      function done() {
        signal?.removeEventListener('abort', aborted);
        resolve();
      }
      function aborted() {
        clearTimeout(timer);
        reject(signal!.reason);
      }
      signal?.addEventListener('abort', aborted, { once: true });
    });
  }
}

/** Retry-After as Gong sends it (seconds), or an HTTP date; null when absent or unreadable. */
export function retryAfterMs(header: string | null, now = Date.now()): number | null {
  if (header === null || header.trim() === '') return null;
  const trimmed = header.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}

function authorization(auth: GongClientOptions['auth']): string {
  return auth.kind === 'bearer'
    ? `Bearer ${auth.token}`
    : `Basic ${Buffer.from(`${auth.accessKey}:${auth.accessKeySecret}`).toString('base64')}`;
}

/** Gong's error body is `{requestId, errors: [..]}`: its messages, for an error's text. */
function gongErrors(body: unknown): string[] | null {
  const errors = (body as { errors?: unknown } | null)?.errors;
  return Array.isArray(errors) ? errors.map(String) : null;
}

export function createGongClient(options: GongClientOptions) {
  const bucket = new TokenBucket(options.maxRequestsPerSecond);
  const attempts = options.attempts ?? 6;
  const backoffBaseMs = options.backoffBaseMs ?? 500;
  const maxRetryAfterMs = (options.maxRetryAfterSeconds ?? 300) * 1000;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const events = options.events ?? {};
  const header = authorization(options.auth);

  /** Exponential backoff with equal jitter: half the step, plus up to the other half at random. */
  const backoff = (failures: number) => {
    const step = Math.min(30_000, backoffBaseMs * 2 ** (failures - 1));
    return step / 2 + Math.random() * (step / 2);
  };

  /** One POST with Gong's limits applied; `null` for Gong's 404 "no calls found" (an empty window). */
  async function post(path: string, body: unknown): Promise<unknown> {
    let failures = 0;
    for (;;) {
      await options.reserveRequest();
      await bucket.take(options.signal);
      events.request?.();
      let response: Response;
      try {
        const signals = [AbortSignal.timeout(timeoutMs), ...(options.signal ? [options.signal] : [])];
        response = await fetch(`${options.baseUrl}${path}`, {
          method: 'POST',
          headers: { Authorization: header, 'Content-Type': 'application/json', Accept: 'application/json' },
          body: JSON.stringify(body),
          signal: AbortSignal.any(signals),
        });
      } catch (error) {
        if (options.signal?.aborted) throw options.signal.reason;
        failures += 1;
        const reason = `${path}: ${(error as Error).cause ? String((error as Error & { cause: Error }).cause.message) : (error as Error).message}`;
        if (failures >= attempts) throw new GongApiError(`Gong could not be reached after ${failures} attempts (${reason}).`, null);
        const delay = backoff(failures);
        events.retry?.(reason, delay);
        await sleepUntil(performance.now() + delay, options.signal);
        continue;
      }
      const received = performance.now();
      const payload: unknown = await response.json().catch(() => undefined);

      if (response.status === 429) {
        const wait = retryAfterMs(response.headers.get('Retry-After')) ?? 1000;
        events.rateLimited?.(wait);
        if (wait > maxRetryAfterMs) {
          throw new GongPauseError(`Gong asked to wait ${Math.round(wait / 1000)} s (429 Retry-After).`, new Date(Date.now() + wait));
        }
        events.retry?.(`${path}: 429, Retry-After ${wait / 1000} s`, wait);
        await sleepUntil(received + wait, options.signal);
        continue;
      }
      if (response.status >= 500 || (response.ok && payload === undefined)) {
        failures += 1;
        const reason = `${path}: ${response.ok ? 'unreadable JSON' : `HTTP ${response.status}`}`;
        if (failures >= attempts) throw new GongApiError(`Gong kept failing (${reason}, ${failures} attempts).`, response.status);
        const delay = backoff(failures);
        events.retry?.(reason, delay);
        await sleepUntil(performance.now() + delay, options.signal);
        continue;
      }
      // Gong's documented answer for a window (or id list) without calls: 404 with its error body.
      if (response.status === 404 && gongErrors(payload)) return null;
      if (!response.ok) {
        const messages = gongErrors(payload)?.join('; ') ?? 'no Gong error body';
        const hint =
          response.status === 401 || response.status === 403
            ? ' Check GONG_ACCESS_KEY and GONG_ACCESS_KEY_SECRET, or GONG_ACCESS_TOKEN and its scopes.'
            : response.status === 404
              ? ' Check GONG_API_BASE_URL (OAuth apps have a customer-specific base URL).'
              : '';
        throw new GongApiError(`Gong answered ${response.status} to ${path} (${messages}).${hint}`, response.status);
      }
      return payload;
    }
  }

  function parse<T extends z.ZodTypeAny>(schema: T, path: string, payload: unknown): z.infer<T> {
    const parsed = schema.safeParse(payload);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new GongApiError(`Gong's answer to ${path} does not match its documented shape (${issue.path.join('.')}: ${issue.message}).`, 200);
    }
    return parsed.data;
  }

  return {
    /** One page of calls that started in [from, to), with what the sync stores of them. */
    async callsPage(window: { from: string; to: string }, cursor: string | null): Promise<Page<GongCall>> {
      const path = '/v2/calls/extensive';
      const payload = await post(path, {
        ...(cursor ? { cursor } : {}),
        filter: { fromDateTime: window.from, toDateTime: window.to },
        contentSelector: {
          exposedFields: {
            parties: true,
            content: { trackers: true, trackerOccurrences: true },
            interaction: { speakers: true, personInteractionStats: true, questions: true },
          },
        },
      });
      if (payload === null) return { items: [], cursor: null, totalRecords: 0 };
      const page = parse(CallsPage, path, payload);
      return { items: page.calls ?? [], cursor: page.records?.cursor || null, totalRecords: page.records?.totalRecords ?? null };
    },

    /** The transcripts of `callIds` (every page), by Gong call id; calls without one are absent. */
    async transcripts(callIds: readonly string[]): Promise<Map<string, GongMonologueData[]>> {
      const path = '/v2/calls/transcript';
      const found = new Map<string, GongMonologueData[]>();
      if (callIds.length === 0) return found;
      let cursor: string | null = null;
      do {
        const payload = await post(path, { ...(cursor ? { cursor } : {}), filter: { callIds } });
        if (payload === null) break;
        const page = parse(TranscriptsPage, path, payload);
        for (const entry of page.callTranscripts ?? []) {
          if (entry.transcript && entry.transcript.length > 0) found.set(entry.callId, entry.transcript);
        }
        cursor = page.records?.cursor || null;
      } while (cursor);
      return found;
    },
  };
}

export type GongClient = ReturnType<typeof createGongClient>;
