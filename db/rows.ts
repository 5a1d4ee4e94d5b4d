/**
 * What every query returns, stated as a zod schema and checked. Each `sql.type(schema)` carries
 * its schema; `resultParser` (installed by createDatabase) parses every row against it, so a row
 * that drifts from what the code assumes fails at the query, not somewhere downstream.
 *
 *   const callRow = tableRow<s.calls.JSONSelectable>()({ id: uuid, title: z.string() });
 *   connection.one(sql.type(callRow)`SELECT id, title FROM calls WHERE ...`);
 *
 * `tableRow` checks at compile time that each key is a column of the zapatos row type and that the
 * schema's output fits the column's type; rows computed by SQL (aggregates, reports) use `row`.
 * Handlers then assign the parsed rows to the contract's types without casts, so a schema that
 * drifts from openapi.yaml fails the typecheck too.
 */
import { SchemaValidationError, sql, type FragmentSqlToken, type Interceptor, type SerializableValue } from 'slonik';
import type * as db from 'zapatos/db';
import { z } from 'zod';

/** For each key of Shape: the schema of column K of Row, with an output assignable to it. */
type ColumnsOf<Row, Shape> = {
  [K in keyof Shape]: K extends keyof Row ? z.ZodType<Row[K], z.ZodTypeDef, unknown> : never;
};

/** A row (or a JSON object built by PostgreSQL) of exactly these fields. */
export function row<Shape extends z.ZodRawShape>(shape: Shape) {
  return z.object(shape).strict();
}

/** A row of columns of one table (its zapatos `JSONSelectable`), checked against their generated types. */
export function tableRow<Row>() {
  return <Shape extends z.ZodRawShape & ColumnsOf<Row, Shape>>(shape: Shape) => row(shape);
}

/** For statements without RETURNING: any row at all is a mistake. */
export const noRows = z.never();

export const uuid = z.string().uuid();

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
/** A timestamptz as the queries write it (`utc` below): RFC 3339 with a `+00:00` offset. */
export const timestamp = z.custom<db.TimestampTzString>((value) => typeof value === 'string' && RFC3339.test(value), {
  message: 'expected an RFC 3339 timestamp',
});

/**
 * `timestamptz` as RFC 3339 in UTC whatever the session's TimeZone (a pooler's server connections
 * run in the database's or the role's, which we do not set): the JSON form of the UTC wall time,
 * which PostgreSQL writes like it wrote timestamptz in a UTC session, plus `+00:00`. NULL stays NULL.
 */
export function utc(value: FragmentSqlToken): FragmentSqlToken {
  return sql.fragment`((to_json((${value}) AT TIME ZONE 'UTC') #>> '{}') || '+00:00')`;
}

/** A jsonb object (PostgreSQL only stores valid JSON, so its members are not walked). */
export const jsonObject = z.custom<db.JSONObject>(
  (value) => typeof value === 'object' && value !== null && !Array.isArray(value),
  { message: 'expected a JSON object' },
);

/** A value for a jsonb parameter: anything JSON.stringify-able the contract has checked. */
export function jsonbValue(value: Record<string, unknown> | readonly unknown[]) {
  // The contract has validated it as JSON; Slonik's SerializableValue cannot express `unknown`.
  return sql.jsonb(value as SerializableValue);
}

/** Parses each row with its query's schema (`sql.type`); a mismatch is SchemaValidationError. */
export const resultParser: Interceptor = {
  name: 'result-parser',
  transformRow: (context, query, row) => {
    if (!context.resultParser) return row;
    const parsed = context.resultParser.safeParse(row);
    if (!parsed.success) throw new SchemaValidationError(query, row, parsed.error.issues);
    return parsed.data as typeof row;
  },
};
