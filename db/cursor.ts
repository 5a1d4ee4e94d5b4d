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

/** What each member of a keyset position may be; checked before it reaches SQL. */
const PARTS = {
  timestamp: (value: unknown): value is string => typeof value === 'string' && !Number.isNaN(Date.parse(value)),
  uuid: (value: unknown): value is string => typeof value === 'string' && UUID.test(value),
  number: (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value),
  text: (value: unknown): value is string => typeof value === 'string',
};
type Part = keyof typeof PARTS;
type Decoded<P extends readonly Part[]> = { [K in keyof P]: P[K] extends 'number' ? number : string };

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
