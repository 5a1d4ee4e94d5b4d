import { sql } from 'slonik';
import { z } from 'zod';
import type { Database } from './pool.js';
import { row } from './rows.js';

/** Runs a trivial statement on a pooled connection; resolves to its round trip in ms (2 decimals). */
export async function pingDatabase(db: Database): Promise<number> {
  const started = performance.now();
  await db.connect((connection) => connection.oneFirst(sql.type(row({ ok: z.literal(1) }))`SELECT 1 AS ok`));
  return Math.round((performance.now() - started) * 100) / 100;
}
