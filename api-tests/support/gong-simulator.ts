/**
 * A simulated Gong API v2 for the sync tests, built to Gong's published OpenAPI document (read by
 * hand, never loaded): POST /v2/calls/extensive and POST /v2/calls/transcript, with
 *   - HTTP Basic (access key : secret) or Bearer auth; anything else 401 with Gong's error body
 *   - `filter.fromDateTime` inclusive / `toDateTime` exclusive, applied to the call's start time
 *   - cursor pagination (`records.cursor` only while more records remain; the same request with it
 *     brings the next page, and a cursor from another request is a 400)
 *   - fields present only when the content selector asks for them
 *   - 404 with Gong's error body when no call matches the filter
 *   - 429 with Retry-After (seconds) beyond `ratePerSecond` requests in any second
 *   - injected faults (5xx, 429) on the n-th request of a path, and a hook that can hold a request
 * Every request is logged with its arrival time (performance.now(), ms) and the answer's status.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type SimParty = {
  id: string;
  emailAddress?: string;
  name?: string;
  title?: string;
  userId?: string;
  speakerId?: string;
  affiliation: 'Internal' | 'External' | 'Unknown';
  methods?: string[];
};
export type SimTracker = {
  id: string;
  name: string;
  count: number;
  type: 'KEYWORD' | 'SMART';
  occurrences: { startTime: number; speakerId: string }[];
};
export type SimCall = {
  metaData: {
    id: string;
    url?: string;
    title: string;
    scheduled: string;
    started: string;
    duration: number;
    primaryUserId?: string;
    direction?: 'Inbound' | 'Outbound' | 'Conference' | 'Unknown';
    scope?: 'Internal' | 'External' | 'Unknown';
    system?: string;
    media?: 'Video' | 'Audio';
    language?: string;
    isPrivate: boolean;
  };
  parties: SimParty[];
  trackers: SimTracker[];
  interaction: {
    speakers: { id: string; userId?: string; talkTime: number }[];
    interactionStats: { name: string; value: number }[];
    questions: { companyCount: number; nonCompanyCount: number };
  };
  /** Absent: Gong has no transcript for the call. */
  transcript?: { speakerId: string; topic?: string; sentences: { start: number; end: number; text: string }[] }[];
};

export type SimRequest = {
  seq: number;
  /** performance.now() when the request arrived, ms. */
  at: number;
  path: string;
  status: number;
  auth: 'basic' | 'bearer' | 'none' | 'wrong';
  cursor: string | null;
  filter: { fromDateTime?: string; toDateTime?: string; callIds?: string[] } | null;
  /** The Gong call ids answered (extensive: the page's calls; transcript: the transcripts). */
  answered: string[];
  retryAfter: number | null;
};

export type SimFault = { path: string; nth: number; status: number; retryAfter?: number };

export type SimulatorOptions = {
  calls: SimCall[];
  pageSize?: number;
  ratePerSecond?: number;
  basic?: { accessKey: string; accessKeySecret: string };
  bearer?: string;
  faults?: SimFault[];
  /** Awaited before a request is answered (after it is logged); lets a test act mid-request. */
  hold?: (request: SimRequest) => Promise<void> | void;
};

export type GongSimulator = {
  url: string;
  log: SimRequest[];
  options: SimulatorOptions;
  close: () => Promise<void>;
};

const NOT_FOUND = 'No calls found corresponding to the provided filters';

function encodeCursor(state: { offset: number; request: string }): string {
  return Buffer.from(JSON.stringify(state)).toString('base64url');
}

function decodeCursor(cursor: string): { offset: number; request: string } | null {
  try {
    const state = JSON.parse(Buffer.from(cursor, 'base64url').toString()) as { offset: number; request: string };
    return typeof state.offset === 'number' && typeof state.request === 'string' ? state : null;
  } catch {
    return null;
  }
}

async function readJson(request: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

export async function startGongSimulator(options: SimulatorOptions): Promise<GongSimulator> {
  const log: SimRequest[] = [];
  const accepted: number[] = [];
  const perPath = new Map<string, number>();
  const pageSize = options.pageSize ?? 100;
  let requestCounter = 0;

  function send(response: ServerResponse, entry: SimRequest, status: number, body: unknown, headers: Record<string, string> = {}) {
    entry.status = status;
    response.writeHead(status, { 'Content-Type': 'application/json', ...headers });
    response.end(JSON.stringify(body));
  }
  const error = (message: string) => ({ requestId: `sim-${requestCounter}`, errors: [message] });

  function authOf(header: string | undefined): SimRequest['auth'] {
    if (!header) return 'none';
    if (options.basic && header === `Basic ${Buffer.from(`${options.basic.accessKey}:${options.basic.accessKeySecret}`).toString('base64')}`) return 'basic';
    if (options.bearer && header === `Bearer ${options.bearer}`) return 'bearer';
    return 'wrong';
  }

  /** The page of `items` at the cursor; the cursor must come from the same request. */
  function pageOf<T>(items: T[], body: Record<string, unknown>): { items: T[]; records: Record<string, number | string> } | 'bad cursor' {
    const { cursor, ...rest } = body;
    const request = JSON.stringify(rest);
    let offset = 0;
    if (typeof cursor === 'string') {
      const state = decodeCursor(cursor);
      if (!state || state.request !== request) return 'bad cursor';
      offset = state.offset;
    }
    const slice = items.slice(offset, offset + pageSize);
    const records: Record<string, number | string> = {
      totalRecords: items.length,
      currentPageSize: slice.length,
      currentPageNumber: Math.floor(offset / pageSize),
    };
    if (offset + pageSize < items.length) records.cursor = encodeCursor({ offset: offset + pageSize, request });
    return { items: slice, records };
  }

  function inWindow(call: SimCall, filter: { fromDateTime?: string; toDateTime?: string }): boolean {
    const started = Date.parse(call.metaData.started);
    if (filter.fromDateTime && started < Date.parse(filter.fromDateTime)) return false;
    if (filter.toDateTime && started >= Date.parse(filter.toDateTime)) return false;
    return true;
  }

  function shape(call: SimCall, selector: Record<string, any> | undefined): Record<string, unknown> {
    const fields = selector?.exposedFields ?? {};
    const out: Record<string, unknown> = { metaData: call.metaData };
    if (fields.parties) out.parties = call.parties;
    if (fields.content?.trackers) {
      out.content = {
        trackers: call.trackers.map(({ occurrences, ...tracker }) => (fields.content.trackerOccurrences ? { ...tracker, occurrences } : tracker)),
      };
    }
    const interaction: Record<string, unknown> = {};
    if (fields.interaction?.speakers) interaction.speakers = call.interaction.speakers;
    if (fields.interaction?.personInteractionStats) interaction.interactionStats = call.interaction.interactionStats;
    if (fields.interaction?.questions) interaction.questions = call.interaction.questions;
    if (Object.keys(interaction).length) out.interaction = interaction;
    return out;
  }

  const sorted = () =>
    [...options.calls].sort((a, b) => a.metaData.started.localeCompare(b.metaData.started) || a.metaData.id.localeCompare(b.metaData.id));

  async function handle(request: IncomingMessage, response: ServerResponse) {
    const at = performance.now();
    requestCounter++;
    const path = (request.url ?? '').split('?')[0]!;
    const entry: SimRequest = { seq: requestCounter, at, path, status: 0, auth: authOf(request.headers.authorization), cursor: null, filter: null, answered: [], retryAfter: null };
    log.push(entry);
    let body: Record<string, any>;
    try {
      body = (await readJson(request)) as Record<string, any>;
    } catch {
      return send(response, entry, 400, error('Malformed request'));
    }
    entry.cursor = typeof body.cursor === 'string' ? body.cursor : null;
    entry.filter = body.filter ?? null;
    await options.hold?.(entry);

    if (request.method !== 'POST' || (path !== '/v2/calls/extensive' && path !== '/v2/calls/transcript')) {
      return send(response, entry, 404, error(`No such endpoint ${request.method} ${path}`));
    }
    if (entry.auth === 'none' || entry.auth === 'wrong') return send(response, entry, 401, error('Access denied'));

    // At most ratePerSecond answered requests in any second (sliding window).
    const rate = options.ratePerSecond ?? 3;
    while (accepted.length && accepted[0]! <= at - 1000) accepted.shift();
    if (accepted.length >= rate) {
      const retryAfter = Math.max(1, Math.ceil((accepted[0]! + 1000 - at) / 1000));
      entry.retryAfter = retryAfter;
      return send(response, entry, 429, error('API request limit exceeded'), { 'Retry-After': String(retryAfter) });
    }
    accepted.push(at);

    const nth = (perPath.get(path) ?? 0) + 1;
    perPath.set(path, nth);
    const fault = options.faults?.find((f) => f.path === path && f.nth === nth);
    if (fault) {
      entry.retryAfter = fault.retryAfter ?? null;
      return send(response, entry, fault.status, error(fault.status === 429 ? 'API request limit exceeded' : 'Failed to complete the operation due to an unexpected error'),
        fault.retryAfter !== undefined ? { 'Retry-After': String(fault.retryAfter) } : {});
    }

    if (!body.filter || typeof body.filter !== 'object') return send(response, entry, 400, error('filter is required'));
    const filter = body.filter as { fromDateTime?: string; toDateTime?: string; callIds?: string[] };
    for (const key of ['fromDateTime', 'toDateTime'] as const) {
      if (filter[key] !== undefined && Number.isNaN(Date.parse(filter[key]!))) return send(response, entry, 400, error(`Invalid ${key}`));
    }
    const ids = filter.callIds ? new Set(filter.callIds) : null;
    const matching = sorted().filter((call) => inWindow(call, filter) && (!ids || ids.has(call.metaData.id)));

    if (path === '/v2/calls/extensive') {
      if (matching.length === 0) return send(response, entry, 404, error(NOT_FOUND));
      const result = pageOf(matching, body);
      if (result === 'bad cursor') return send(response, entry, 400, error('Invalid cursor'));
      entry.answered = result.items.map((call) => call.metaData.id);
      return send(response, entry, 200, { requestId: `sim-${entry.seq}`, records: result.records, calls: result.items.map((call) => shape(call, body.contentSelector)) });
    }
    const withTranscripts = matching.filter((call) => call.transcript);
    if (withTranscripts.length === 0) return send(response, entry, 404, error(NOT_FOUND));
    const result = pageOf(withTranscripts, body);
    if (result === 'bad cursor') return send(response, entry, 400, error('Invalid cursor'));
    entry.answered = result.items.map((call) => call.metaData.id);
    return send(response, entry, 200, {
      requestId: `sim-${entry.seq}`,
      records: result.records,
      callTranscripts: result.items.map((call) => ({ callId: call.metaData.id, transcript: call.transcript })),
    });
  }

  const server = createServer((request, response) => {
    handle(request, response).catch((failure: unknown) => {
      if (!response.headersSent) response.writeHead(500).end(String(failure));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    log,
    options,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * A small Gong data set: calls started inside [from, to) with two parties each (a rep with a job
 * title, a prospect), a tracker with occurrences, interaction stats and a transcript, unless told
 * otherwise per call.
 */
export function simCall(options: {
  id: string;
  started: string;
  repEmail: string;
  isPrivate?: boolean;
  transcript?: boolean;
  title?: string;
}): SimCall {
  const rep = { id: `${options.id.slice(-6)}1`, speakerId: `${options.id.slice(-6)}11`, userId: '234599484848423' };
  const buyer = { id: `${options.id.slice(-6)}2`, speakerId: `${options.id.slice(-6)}22` };
  return {
    metaData: {
      id: options.id,
      url: `https://app.gong.io/call?id=${options.id}`,
      title: options.title ?? `Gong call ${options.id}`,
      scheduled: options.started,
      started: options.started,
      duration: 1800,
      primaryUserId: rep.userId,
      direction: 'Conference',
      scope: 'External',
      system: 'Zoom',
      media: 'Video',
      language: 'eng',
      isPrivate: options.isPrivate ?? false,
    },
    parties: [
      { id: rep.id, emailAddress: options.repEmail, name: 'Sim Rep', title: 'Enterprise Account Executive', userId: rep.userId, speakerId: rep.speakerId, affiliation: 'Internal', methods: ['Invitee'] },
      { id: buyer.id, emailAddress: `buyer.${options.id}@acme.example`, name: 'Sim Buyer', title: 'VP Engineering', speakerId: buyer.speakerId, affiliation: 'External', methods: ['Attendee'] },
    ],
    trackers: [
      { id: '6840000929075400007', name: 'Competitors', count: 2, type: 'KEYWORD', occurrences: [{ startTime: 12.5, speakerId: buyer.speakerId }, { startTime: 40.25, speakerId: rep.speakerId }] },
      { id: '6840000929075400008', name: 'Pricing', count: 0, type: 'SMART', occurrences: [] },
    ],
    interaction: {
      speakers: [
        { id: rep.id, userId: rep.userId, talkTime: 9.5 },
        { id: buyer.id, talkTime: 11 },
      ],
      interactionStats: [
        { name: 'Talk Ratio', value: 0.46 },
        { name: 'Longest Monologue', value: 9.5 },
        { name: 'Longest Customer Story', value: 11 },
        { name: 'Interactivity', value: 4.2 },
        { name: 'Patience', value: 0.8 },
      ],
      questions: { companyCount: 1, nonCompanyCount: 0 },
    },
    ...(options.transcript === false
      ? {}
      : {
          transcript: [
            { speakerId: rep.speakerId, topic: 'Introduction', sentences: [{ start: 0, end: 4500, text: 'Thanks for joining.' }, { start: 4600, end: 9500, text: 'What brought you to us?' }] },
            { speakerId: buyer.speakerId, topic: 'Pain points', sentences: [{ start: 10000, end: 21000, text: 'Our pipelines break every night and we compare you with Airflow.' }] },
          ],
        }),
  };
}
