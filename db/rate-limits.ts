import { sql } from 'slonik';
import type { Database } from './pool.js';
import { z } from 'zod';
import { noRows, row } from './rows.js';

/** One client's count in the current window, as PostgreSQL holds it after adding its hits. */
export type WindowCount = { key: string; hits: number; resetSeconds: number };

/**
 * Adds `hits` to each key's count in its current window and returns the new counts, in one
 * statement for all keys. A key's window starts at its first hit (on PostgreSQL's clock, so every
 * replica agrees) and lasts `windowSeconds`; the first hit after it starts a new one. (Windows
 * aligned on the clock would let every client's quota refill at the same instant.)
 */
export async function addHits(db: Database, entries: { key: string; hits: number }[], windowSeconds: number): Promise<WindowCount[]> {
  const rows = await db.connect((connection) =>
    connection.any(sql.type(row({ key: z.string(), hits: z.number().int(), reset_s: z.number().int() }))`
      INSERT INTO rate_limit_counters AS c (key, window_start, hits)
      SELECT t.key, now(), t.hits
      FROM unnest(${sql.array(entries.map((e) => e.key), 'text')}, ${sql.array(entries.map((e) => e.hits), 'int4')}) AS t(key, hits)
      ON CONFLICT (key) DO UPDATE
        SET hits = CASE WHEN c.window_start > now() - make_interval(secs => ${windowSeconds}) THEN c.hits + EXCLUDED.hits ELSE EXCLUDED.hits END,
            window_start = CASE WHEN c.window_start > now() - make_interval(secs => ${windowSeconds}) THEN c.window_start ELSE now() END
      RETURNING c.key, c.hits,
        greatest(1, ceil(extract(epoch FROM c.window_start + make_interval(secs => ${windowSeconds}) - now())))::int AS reset_s`),
  );
  return rows.map((row) => ({ key: row.key, hits: row.hits, resetSeconds: row.reset_s }));
}

/** Deletes counts whose window ended, so the table holds about one row per active client. */
export async function forgetEndedWindows(db: Database, windowSeconds: number): Promise<void> {
  await db.connect((connection) =>
    connection.query(sql.type(noRows)`
      DELETE FROM rate_limit_counters WHERE window_start < now() - make_interval(secs => ${windowSeconds})`),
  );
}
