/**
 * The date-times a request may carry: RFC 3339 (as ajv-formats checks it) and, once moved to UTC
 * and rounded to PostgreSQL's microseconds, within years 0001 to 9999. Outside that range
 * PostgreSQL stores the instant (as year 10000, or as a year BC) but no RFC 3339 text can state it,
 * so the answer could not say what was stored: `9999-12-31T23:00:00-05:00` is such a time.
 */
import { fullFormats } from 'ajv-formats/dist/formats.js';

const PARTS = /^(\d{4})-(\d\d)-(\d\d)[Tt\s](\d\d):(\d\d):(\d\d)(?:\.(\d+))?(?:[Zz]|([+-])(\d\d)(?::?(\d\d))?)$/;
const FIRST_MS = Date.parse('0001-01-01T00:00:00Z');
const END_MS = Date.parse('+010000-01-01T00:00:00Z');

/** What a date-time parameter or field that fails the check is told. */
export const DATE_TIME_MESSAGE = 'must be an RFC 3339 date-time (e.g. 2026-11-02T15:00:00Z) between the years 0001 and 9999 in UTC';

/** Whether `text`, already valid RFC 3339, names an instant of years 0001–9999 (UTC). */
export function inStorableRange(text: string): boolean {
  const match = PARTS.exec(text);
  if (!match) return false;
  const [, year, month, day, hour, minute, second, fraction = '', sign, offsetHours = '0', offsetMinutes = '0'] = match;
  const local = new Date(0);
  // setUTCFullYear, not Date.UTC: Date.UTC reads years 0–99 as 1900–1999. A leap second (:60)
  // rolls over into the next minute, as PostgreSQL rolls it.
  local.setUTCFullYear(Number(year), Number(month) - 1, Number(day));
  local.setUTCHours(Number(hour), Number(minute), Number(second), 0);
  const offsetMs = (sign === '-' ? -1 : 1) * (Number(offsetHours) * 60 + Number(offsetMinutes)) * 60_000;
  // Whole seconds and PostgreSQL's rounding to microseconds, apart: a double cannot hold both.
  const carry = fraction && Math.round(Number(`0.${fraction}`) * 1e6) === 1e6 ? 1000 : 0;
  const instantMs = local.getTime() - (sign ? offsetMs : 0) + carry;
  return instantMs >= FIRST_MS && instantMs < END_MS;
}

const rfc3339 = fullFormats['date-time'] as { validate: (text: string) => boolean };

/** RFC 3339 (ajv-formats' check, as the request validator applies it) and within years 0001–9999 in UTC. */
export function isStorableDateTime(text: string): boolean {
  return rfc3339.validate(text) && inStorableRange(text);
}
