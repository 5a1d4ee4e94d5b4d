/**
 * Opaque list cursors: the keyset position of the last row of a page (its sort key and id),
 * as base64url JSON. Never an offset. A cursor that does not decode is the caller's fault (400).
 */
export class InvalidCursorError extends Error {
  constructor() {
    super('The cursor is not one this service issued; start again without it.');
    this.name = 'InvalidCursorError';
  }
}

export function encodeCursor(position: readonly (string | number)[]): string {
  return Buffer.from(JSON.stringify(position)).toString('base64url');
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** RFC 3339 as PostgreSQL writes timestamptz in JSON; Date.parse alone also takes "1" or "May 5". */
const TIMESTAMP = /^(?!0000)([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.[0-9]{1,6})?(?:Z|[+-][0-9]{2}:[0-9]{2})$/;
/** The largest PostgreSQL `integer` (sequence numbers): 1e308 or 1.5 would be a database error. */
const INT4_MAX = 2_147_483_647;

/** A timestamp PostgreSQL takes: Date.parse also takes 2026-02-31 (as March 3), which PostgreSQL refuses. */
function isTimestamp(value: string): boolean {
  const match = TIMESTAMP.exec(value);
  if (!match) return false;
  const [year, month, day, hour, minute, second] = match.slice(1).map(Number) as [number, number, number, number, number, number];
  const lastOfMonth = new Date(0);
  lastOfMonth.setUTCFullYear(year, month, 0); // day 0 of the next month (Date.UTC maps years below 100 to 19xx)
  const daysInMonth = lastOfMonth.getUTCDate();
  return month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth && hour <= 23 && minute <= 59 && second <= 59;
}

/** What each member of a keyset position may be; checked before it reaches SQL. */
const PARTS = {
  timestamp: (value: unknown): value is string => typeof value === 'string' && isTimestamp(value),
  uuid: (value: unknown): value is string => typeof value === 'string' && UUID.test(value),
  integer: (value: unknown): value is number => Number.isInteger(value) && (value as number) >= 0 && (value as number) <= INT4_MAX,
  text: (value: unknown): value is string => typeof value === 'string' && !value.includes('\u0000'),
};
type Part = keyof typeof PARTS;
type Decoded<P extends readonly Part[]> = { [K in keyof P]: P[K] extends 'integer' ? number : string };

/** The position, checked member by member against `parts` (e.g. ['timestamp', 'uuid']). */
export function decodeCursor<const P extends readonly Part[]>(cursor: string, parts: P): Decoded<P> {
  let position: unknown;
  try {
    position = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new InvalidCursorError();
  }
  if (
    Array.isArray(position) &&
    position.length === parts.length &&
    parts.every((part, index) => PARTS[part](position[index]))
  ) {
    return position as Decoded<P>;
  }
  throw new InvalidCursorError();
}

/** A page of `limit` from `rows` fetched with limit + 1: the extra row says there is more. */
export function page<T>(rows: readonly T[], limit: number, position: (last: T) => (string | number)[]) {
  const data = rows.slice(0, limit);
  const last = data[data.length - 1];
  return { data, next_cursor: rows.length > limit && last !== undefined ? encodeCursor(position(last)) : null };
}
