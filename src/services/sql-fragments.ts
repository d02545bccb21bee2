import { sql, type AnyColumn, type SQL } from "drizzle-orm";

/**
 * SQL fragments more than one service writes the same way: how the API spells a timestamp, how a
 * write moves updated_at, and how a list of ids travels as one parameter. Each takes the column (a
 * drizzle column, or `sql` text such as sql`p.updated_at` inside hand-written SQL), so the drizzle
 * query builder and raw statements share one definition.
 */

/** A timestamp column as the API's ISO 8601 UTC text with milliseconds ("2026-11-28T06:43:20.123Z"). */
export function isoUtc(column: AnyColumn | SQL): SQL {
  return sql`to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
}

/**
 * The new updated_at of a written row: now, but strictly later than before even within one
 * millisecond, so every write shows in updated_at as clients see it (ISO, milliseconds). The stock
 * view of the catalog cache tells a changed product by it.
 */
export function bumpedUpdatedAt(column: AnyColumn | SQL): SQL {
  return sql`greatest(now(), ${column} + interval '1 millisecond')`;
}

/**
 * A Postgres int[] parameter from integers the caller has validated: one parameter whatever their
 * number, so the statement's text is the same for 1 or 5,000 of them.
 */
export function intArray(values: readonly number[]): SQL {
  return sql`${`{${values.join(",")}}`}::int[]`;
}
