import type { Context } from 'koa';
import {
  CheckIntegrityConstraintViolationError,
  databaseFault,
  ForeignKeyIntegrityConstraintViolationError,
  NotNullIntegrityConstraintViolationError,
  DeadlineError,
  PoolTimeoutError,
  StatementCancelledError,
  StatementTimeoutError,
  UniqueIntegrityConstraintViolationError,
} from '../db/errors.js';
import { SpeakersMatchOneStoredError } from '../db/calls.js';
import { InvalidCursorError } from '../db/cursor.js';
import type { components } from './generated/api.js';

/** The contract's Problem (openapi.yaml), as openapi-typescript generated it. */
export type ProblemBody = components['schemas']['Problem'];
/** One entry per fault in a validation failure. */
export type FieldError = NonNullable<ProblemBody['errors']>[number];

/** An error body lists at most this many faults, and counts them all in `error_count`. */
export const LISTED_ERRORS = 20;

const TITLES: Record<number, [slug: string, title: string]> = {
  400: ['validation', 'Invalid request'],
  401: ['unauthorized', 'Unauthorized'],
  403: ['forbidden', 'Forbidden'],
  404: ['not-found', 'Not Found'],
  405: ['method-not-allowed', 'Method Not Allowed'],
  409: ['conflict', 'Conflict'],
  412: ['precondition-failed', 'Precondition Failed'],
  413: ['payload-too-large', 'Payload Too Large'],
  415: ['unsupported-media-type', 'Unsupported Media Type'],
  422: ['idempotency-key-reused', 'Idempotency-Key Reused'],
  429: ['too-many-requests', 'Too Many Requests'],
  500: ['internal', 'Internal Server Error'],
  503: ['service-unavailable', 'Service Unavailable'],
};

export const PROBLEM_BASE = 'https://call-coach.dev/problems/';

/** An error that already knows its HTTP answer. Throw it anywhere below the error middleware. */
export class HttpProblem extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
    readonly extra: { errors?: FieldError[]; errorCount?: number; headers?: Record<string, string> } = {},
  ) {
    super(detail);
    this.name = 'HttpProblem';
  }
}

// What a violated constraint means to the caller, by constraint name (see db/migrations).
const CONSTRAINT_DETAILS: Record<string, string> = {
  calls_gong_call_id_key: 'A call with this gong_call_id already exists; fetch it instead of creating it again.',
  speakers_call_id_email_key: 'Two speakers of one call cannot share an email address.',
  speakers_call_id_lower_email_key: 'Two speakers of one call cannot share an email address (compared case-insensitively).',
  speakers_call_id_gong_speaker_id_key: 'Two speakers of one call cannot share a gong_speaker_id.',
};

/** Maps anything thrown while handling a request to the problem the client gets. */
export function toProblem(error: unknown): HttpProblem {
  if (error instanceof HttpProblem) return error;
  if (error instanceof InvalidCursorError) {
    return new HttpProblem(400, error.message, { errors: [{ location: 'query', path: '/cursor', message: error.message }] });
  }
  if (error instanceof SpeakersMatchOneStoredError) return new HttpProblem(409, error.message);
  if (error instanceof UniqueIntegrityConstraintViolationError) {
    const detail = (error.constraint && CONSTRAINT_DETAILS[error.constraint]) || 'The write conflicts with stored data.';
    return new HttpProblem(409, detail);
  }
  if (
    error instanceof CheckIntegrityConstraintViolationError ||
    error instanceof NotNullIntegrityConstraintViolationError ||
    error instanceof ForeignKeyIntegrityConstraintViolationError
  ) {
    return new HttpProblem(400, `The data breaks a rule of the store (${error.constraint ?? 'constraint'}).`);
  }
  if (error instanceof PoolTimeoutError) {
    return new HttpProblem(503, `Every database connection stayed busy for ${error.timeoutMs} ms; retry shortly.`, {
      headers: { 'Retry-After': '1' },
    });
  }
  if (error instanceof DeadlineError) {
    // Most often the wait was in a transaction pooler's queue (every server connection busy).
    return new HttpProblem(503, `The database did not answer within ${error.deadlineMs} ms; nothing was stored. Retry shortly.`, {
      headers: { 'Retry-After': '1' },
    });
  }
  if (error instanceof StatementTimeoutError || error instanceof StatementCancelledError) {
    return new HttpProblem(503, 'The database took too long to answer; retry shortly.', { headers: { 'Retry-After': '1' } });
  }
  // The database's own faults, by SQLSTATE class (db/errors.ts): 503 when it is down or out of
  // resources, 400 for a value it refused (class 22, never with the statement in the detail).
  // (Not for errors of the request's own socket, e.g. raw-body's "request aborted": those carry a status.)
  const fault = typeof (error as { status?: unknown })?.status === 'number' ? undefined : databaseFault(error);
  if (fault?.kind === 'invalid-data') return new HttpProblem(400, fault.detail);
  if (fault) return new HttpProblem(503, fault.detail, { headers: { 'Retry-After': String(fault.retryAfterSeconds) } });
  // Errors from Koa's body parser (co-body / raw-body) carry a 4xx status.
  const http = error as { status?: number; expose?: boolean; type?: string };
  if (typeof http?.status === 'number' && http.status >= 400 && http.status < 500) {
    if (http.status === 413) return new HttpProblem(413, 'The request body is too large; send less.');
    if (error instanceof SyntaxError || http.type === 'entity.parse.failed') return bodyParseProblem(error as Error);
    if (http.expose) return new HttpProblem(http.status, (error as Error).message);
    return new HttpProblem(400, 'The request could not be read.');
  }
  return new HttpProblem(500, 'An unexpected error occurred; it has been logged with the request id.');
}

/** A body the JSON parser refused (co-body in strict mode, refusing `__proto__` keys). */
function bodyParseProblem(error: Error): HttpProblem {
  const at = (message: string, detail: string) =>
    new HttpProblem(400, detail, { errors: [{ location: 'body', path: '/', message }] });
  if (/only supports object and array/.test(error.message)) {
    return at('must be a JSON object', 'The body must be a JSON object.');
  }
  if (/prototype property/.test(error.message)) {
    return at('must not contain "__proto__" keys', 'The body uses the reserved key "__proto__"; rename it.');
  }
  // JSON.parse says where it stopped, e.g. "Expected ',' or '}' after property value in JSON at position 12".
  return at(`is not valid JSON: ${error.message.slice(0, 200)}`, 'The body is not valid JSON; send one JSON object.');
}

/** Writes `problem` as application/problem+json on the context. */
export function sendProblem(ctx: Context, problem: HttpProblem): void {
  const [slug, title] = TITLES[problem.status] ?? ['error', 'Error'];
  const body: ProblemBody = {
    type: PROBLEM_BASE + slug,
    title,
    status: problem.status,
    detail: problem.detail,
    instance: ctx.path,
    request_id: ctx.state.requestId,
    ...(problem.extra.errors
      ? { error_count: problem.extra.errorCount ?? problem.extra.errors.length, errors: problem.extra.errors.slice(0, LISTED_ERRORS) }
      : {}),
  };
  for (const [name, value] of Object.entries(problem.extra.headers ?? {})) ctx.set(name, value);
  ctx.status = problem.status;
  ctx.type = 'application/problem+json';
  ctx.body = body;
}
