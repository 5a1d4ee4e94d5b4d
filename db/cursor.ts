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

/** The position, checked to have `length` string/number members. */
export function decodeCursor(cursor: string, length: number): (string | number)[] {
  try {
    const position: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (
      Array.isArray(position) &&
      position.length === length &&
      position.every((part) => typeof part === 'string' || typeof part === 'number')
    ) {
      return position;
    }
  } catch {
    // fall through
  }
  throw new InvalidCursorError();
}

/** A page of `limit` from `rows` fetched with limit + 1: the extra row says there is more. */
export function page<T>(rows: readonly T[], limit: number, position: (last: T) => (string | number)[]) {
  const data = rows.slice(0, limit);
  const last = data[data.length - 1];
  return { data, next_cursor: rows.length > limit && last !== undefined ? encodeCursor(position(last)) : null };
}
