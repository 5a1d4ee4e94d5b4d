/** Errors the data layer raises on its own; Slonik's own error classes are re-exported too. */
import {
  BackendTerminatedError,
  BackendTerminatedUnexpectedlyError,
  ConnectionError,
  IdleTransactionTimeoutError,
  InvalidInputError,
} from 'slonik';

export {
  BackendTerminatedError,
  CheckIntegrityConstraintViolationError,
  ConnectionError,
  ForeignKeyIntegrityConstraintViolationError,
  NotNullIntegrityConstraintViolationError,
  StatementCancelledError,
  StatementTimeoutError,
  UniqueIntegrityConstraintViolationError,
} from 'slonik';

/** Every pool connection stayed busy for longer than the acquisition timeout. */
export class PoolTimeoutError extends Error {
  constructor(readonly timeoutMs: number) {
    super(`No database connection became free within ${timeoutMs} ms`);
    this.name = 'PoolTimeoutError';
  }
}

/**
 * A call to the database did not finish within its deadline (acquisition plus statement timeout,
 * pool.ts): the wait was somewhere the pool cannot see, e.g. in a transaction pooler's queue.
 */
export class DeadlineError extends Error {
  constructor(readonly deadlineMs: number) {
    super(`The database did not answer within ${deadlineMs} ms`);
    this.name = 'DeadlineError';
  }
}

/**
 * What a database failure means to the caller, by PostgreSQL's SQLSTATE class
 * (https://www.postgresql.org/docs/current/errcodes-appendix.html):
 *   unavailable  the database or the connection to it is gone or out of resources (08, 53, 57P, 58,
 *                a socket error, a connection Slonik saw die): nothing the client sent is wrong;
 *   conflict     a serialization failure or deadlock (40001, 40P01) that outlived its one retry;
 *   invalid-data a value PostgreSQL refused (class 22) that the contract let through.
 * Anything else (class 23 is mapped by constraint, the rest are bugs) is undefined here.
 */
export type DatabaseFault =
  | { kind: 'unavailable'; detail: string; retryAfterSeconds: number }
  | { kind: 'conflict'; detail: string; retryAfterSeconds: number }
  | { kind: 'invalid-data'; detail: string };

/** Socket-level errors of the connection to PostgreSQL (node's errno codes). */
const SOCKET_ERRORS = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN',
]);

// What the pg and Slonik drivers throw, without a code, when a connection already died under a
// statement (e.g. the ROLLBACK after a backend was killed).
const DEAD_CONNECTION = /^(Client is (pending destroy|destroyed)\.|Client was closed and is not queryable|Client has encountered a connection error and is not queryable|Connection terminated)/;

/** The first SQLSTATE or errno code on `error` or the errors it wraps (Slonik keeps pg's as `cause`). */
function codeOf(error: unknown): string | undefined {
  for (let current = error, depth = 0; current && depth < 4; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && code !== '') return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

function messagesOf(error: unknown): string[] {
  const messages: string[] = [];
  for (let current = error, depth = 0; current && depth < 4; depth++) {
    const message = (current as { message?: unknown }).message;
    if (typeof message === 'string') messages.push(message);
    current = (current as { cause?: unknown }).cause;
  }
  return messages;
}

// Class 22 details, by SQLSTATE: what is wrong and what to change, never the statement.
const INVALID_DATA: Record<string, string> = {
  '22001': 'A text value in the request is longer than the store allows; shorten it.',
  '22003': 'A number in the request is out of the range the store can hold; send a smaller one.',
  '22007': 'A date-time in the request is not valid; send RFC 3339, e.g. 2026-11-05T10:00:00Z.',
  '22008': 'A date-time in the request is out of the range the store can hold; send a realistic one.',
  '22021': 'A text value in the request holds a character the store cannot keep (e.g. NUL); remove it.',
  '22P05': 'A text value in the request holds a character the store cannot keep (e.g. NUL); remove it.',
  '22P02': 'A value in the request does not have the form its field needs (e.g. an id that is not a UUID).',
};

function invalidDataDetail(code: string, error: unknown): string {
  // Slonik's InvalidInputError (22P02) keeps only pg's message, which names the type.
  const type = messagesOf(error).map((m) => /invalid input syntax for type ([a-z0-9_ ]{1,40})/i.exec(m)?.[1]).find(Boolean);
  if (type) return `A value in the request is not a valid ${type}; check the ids and values sent.`;
  return INVALID_DATA[code] ?? `A value in the request is not valid data for the store (SQLSTATE ${code}); check the values sent.`;
}

/** Classifies a failure from the pool or a query; undefined when it is none of the kinds above. */
export function databaseFault(error: unknown): DatabaseFault | undefined {
  if (error instanceof InvalidInputError) return { kind: 'invalid-data', detail: invalidDataDetail('22P02', error) };
  const code = codeOf(error);
  if (code?.startsWith('22')) return { kind: 'invalid-data', detail: invalidDataDetail(code, error) };
  if (code === '40001' || code === '40P01') {
    return {
      kind: 'conflict',
      detail: 'The write collided with concurrent writes twice (a serialization failure or deadlock); nothing was stored. Retry it.',
      retryAfterSeconds: 1,
    };
  }
  if (code === '53100') {
    return { kind: 'unavailable', detail: 'The database is out of disk space; nothing was stored. Retry later.', retryAfterSeconds: 30 };
  }
  if (code?.startsWith('53')) {
    return { kind: 'unavailable', detail: 'The database is out of resources (memory or connections); retry shortly.', retryAfterSeconds: 5 };
  }
  if (code === '57P01' || code === '57P02' || code === '57P03') {
    return { kind: 'unavailable', detail: 'The database is restarting; retry shortly.', retryAfterSeconds: 2 };
  }
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN' || error instanceof ConnectionError) {
    return { kind: 'unavailable', detail: 'The database cannot be reached; retry shortly.', retryAfterSeconds: 2 };
  }
  if (
    code?.startsWith('08') ||
    code?.startsWith('57P') ||
    code?.startsWith('58') ||
    (code !== undefined && SOCKET_ERRORS.has(code)) ||
    error instanceof BackendTerminatedError ||
    error instanceof BackendTerminatedUnexpectedlyError ||
    error instanceof IdleTransactionTimeoutError ||
    messagesOf(error).some((m) => DEAD_CONNECTION.test(m))
  ) {
    return {
      kind: 'unavailable',
      detail: 'The connection to the database was lost; retry shortly (a retried create answers 409 if the first one was stored).',
      retryAfterSeconds: 2,
    };
  }
  return undefined;
}
