import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { migrate, MigrationChecksumError, MIGRATIONS_DIR, readMigrations } from '../db/migrate.js';
import pg from 'pg';
import { SchemaValidationError } from 'slonik';
import { createDatabase } from '../db/pool.js';
import { row, uuid } from '../db/rows.js';
import { expect, newCall, sql, test, uniqueEmail, uniqueGongId } from './support/fixtures.js';
import { scratchDatabase } from './support/scratch-database.js';
import { testEnvironment } from './support/test-environment.js';

/**
 * A separate session (a plain pg client, outside Slonik, which by design refuses queries on
 * another connection inside a transaction), so every check of committed state runs on a
 * connection the writer never used.
 */
class Observer {
  constructor(private readonly client: pg.Client) {}
  async rows(text: string, values: unknown[] = []): Promise<Record<string, unknown>[]> {
    return (await this.client.query(text, values)).rows;
  }
  async value(text: string, values: unknown[] = []): Promise<unknown> {
    const [row] = await this.rows(text, values);
    return row ? Object.values(row)[0] : undefined;
  }
}

const observed = test.extend<{}, { observer: Observer }>({
  observer: [
    async ({}, use) => {
      const client = new pg.Client({ connectionString: testEnvironment().databaseUrl, application_name: 'call-coach-tests-observer' });
      await client.connect();
      await use(new Observer(client));
      await client.end();
    },
    { scope: 'worker' },
  ],
});

const UNKNOWN_ID = '00000000-0000-4000-8000-000000000000';

const insertCall = (gongId: string, title = 'Transaction test') => sql.unsafe`
  INSERT INTO calls (gong_call_id, title, scheduled_at) VALUES (${gongId}, ${title}, now()) RETURNING id`;

observed.describe('transactions', { tag: '@integration' }, () => {
  observed('a committed insert is invisible to others until commit, then visible', async ({ db, observer, trackCall }) => {
    const gongId = uniqueGongId();
    const seen = () => observer.value('SELECT count(*)::int FROM calls WHERE gong_call_id = $1', [gongId]);
    const id = await db.transaction(async (tx) => {
      const row = await tx.one(insertCall(gongId));
      expect(await seen()).toBe(0);
      return row.id as string;
    });
    trackCall(id);
    expect(await seen()).toBe(1);
  });

  observed('several related records commit together', async ({ db, observer, trackCall }) => {
    const gongId = uniqueGongId();
    const callId = await db.transaction(async (tx) => {
      const id = (await tx.one(insertCall(gongId))).id as string;
      for (const [index, role] of ['ae', 'se', 'prospect'].entries()) {
        await tx.query(sql.unsafe`
          INSERT INTO speakers (call_id, name, email, role, company_side)
          VALUES (${id}, ${`Speaker ${index}`}, ${uniqueEmail(role)}, ${role}, ${role !== 'prospect'})`);
      }
      await tx.query(sql.unsafe`
        INSERT INTO transcripts (call_id, sequence_number, start_time_ms, end_time_ms, text)
        VALUES (${id}, 0, 0, 1500, 'Thanks for joining.'), (${id}, 1, 1500, 4000, 'Happy to be here.')`);
      return id;
    });
    trackCall(callId);
    const counts = await observer.rows(
      `SELECT (SELECT count(*)::int FROM speakers WHERE call_id = $1) AS speakers,
              (SELECT count(*)::int FROM transcripts WHERE call_id = $1) AS segments`,
      [callId],
    );
    expect(counts).toEqual([{ speakers: 3, segments: 2 }]);
  });

  observed('a thrown error rolls everything back', async ({ db, observer }) => {
    const gongId = uniqueGongId();
    const failure = new Error('analysis engine went away');
    await expect(
      db.transaction(async (tx) => {
        await tx.query(insertCall(gongId));
        throw failure;
      }),
    ).rejects.toBe(failure);
    expect(await observer.rows('SELECT 1 FROM calls WHERE gong_call_id = $1', [gongId])).toEqual([]);
  });

  observed('a constraint violation rolls back and leaves the original row intact', async ({ db, observer, trackCall }) => {
    const gongId = uniqueGongId();
    const original = (await db.pool.one(insertCall(gongId, 'Original title'))).id as string;
    trackCall(original);
    await expect(
      db.transaction(async (tx) => {
        await tx.query(sql.unsafe`UPDATE calls SET title = 'Changed title' WHERE id = ${original}`);
        await tx.query(insertCall(gongId, 'Duplicate')); // unique gong_call_id
      }),
    ).rejects.toThrow(/unique/);
    const rows = await observer.rows('SELECT id, title FROM calls WHERE gong_call_id = $1', [gongId]);
    expect(rows).toEqual([{ id: original, title: 'Original title' }]);
  });

  observed('a batch that fails part-way persists none of it', async ({ db, observer, trackCall }) => {
    const callId = (await db.pool.one(insertCall(uniqueGongId()))).id as string;
    trackCall(callId);
    const roles = ['ae', 'se', 'csm', 'astronaut', 'customer']; // the fourth breaks speakers_role_known
    await expect(
      db.transaction(async (tx) => {
        for (const role of roles) {
          await tx.query(sql.unsafe`
            INSERT INTO speakers (call_id, name, role) VALUES (${callId}, ${`Batch ${role}`}, ${role})`);
        }
      }),
    ).rejects.toThrow(/check/);
    expect(await observer.value('SELECT count(*)::int FROM speakers WHERE call_id = $1', [callId])).toBe(0);
  });

  observed('through the API, a create that fails half-way leaves nothing', async ({ api, observer }) => {
    const email = uniqueEmail('twin');
    const body = newCall({
      speakers: [
        { name: 'First', email, role: 'ae', company_side: true },
        { name: 'Second', email, role: 'se', company_side: true }, // same email on one call: 409
      ],
    });
    const response = await api.post('/calls', body);
    expect(response.status()).toBe(409);
    expect((await response.json()).detail).toMatch(/share an email/);
    expect(await observer.rows('SELECT 1 FROM calls WHERE gong_call_id = $1', [body.gong_call_id])).toEqual([]);
    expect(await observer.rows('SELECT 1 FROM speakers WHERE email = $1', [email])).toEqual([]);
  });

  observed('deleting a call deletes its speakers, transcript and analyses', async ({ api, db, observer }) => {
    const call = await (await api.post('/calls', newCall())).json();
    await db.pool.query(sql.unsafe`
      INSERT INTO transcripts (call_id, speaker_id, sequence_number, start_time_ms, text)
      VALUES (${call.id}, ${call.speakers[0].id}, 0, 0, 'Hello')`);
    await db.pool.query(sql.unsafe`
      INSERT INTO analyses (call_id, speaker_id, rep_email, analyst, rubric_version, overall_score)
      VALUES (${call.id}, ${call.speakers[0].id}, ${call.speakers[0].email}, 'coach', 'v1', 80)`);
    await db.pool.query(sql.unsafe`DELETE FROM calls WHERE id = ${call.id}`);
    const left = await observer.rows(
      `SELECT (SELECT count(*)::int FROM speakers WHERE call_id = $1) AS speakers,
              (SELECT count(*)::int FROM transcripts WHERE call_id = $1) AS transcripts,
              (SELECT count(*)::int FROM analyses WHERE call_id = $1) AS analyses`,
      [call.id],
    );
    expect(left).toEqual([{ speakers: 0, transcripts: 0, analyses: 0 }]);
  });
  observed('a segment carries its call\'s scheduled_at: filled in when inserted by hand, moved with the call, never different', async ({ api, db, observer, trackCall }) => {
    const call = await (await api.post('/calls', newCall({ scheduled_at: '2026-09-01T10:00:00.5Z' }))).json();
    trackCall(call.id);
    const copyMatches = (at: string) =>
      observer.value('SELECT bool_and(call_scheduled_at = $2::timestamptz) FROM transcripts WHERE call_id = $1', [call.id, at]);
    await db.pool.query(sql.unsafe`
      INSERT INTO transcripts (call_id, sequence_number, start_time_ms, text) VALUES (${call.id}, 0, 0, 'Hello')`);
    expect(await copyMatches('2026-09-01T10:00:00.5Z')).toBe(true);
    await db.pool.query(sql.unsafe`UPDATE calls SET scheduled_at = '2026-09-02T10:00:00Z' WHERE id = ${call.id}`);
    expect(await copyMatches('2026-09-02T10:00:00Z')).toBe(true);
    const refused = await db.pool
      .query(sql.unsafe`UPDATE transcripts SET call_scheduled_at = '2026-09-03T10:00:00Z' WHERE call_id = ${call.id}`)
      .then(() => null, (error: { constraint?: string }) => error);
    expect(refused?.constraint).toBe('transcripts_call_fkey');
    expect(await copyMatches('2026-09-02T10:00:00Z')).toBe(true);
  });
});

observed.describe('migrations', { tag: '@integration' }, () => {
  /** A database of its own, dropped after the test. */
  const scratch = observed.extend<{ scratchUrl: string }>({
    scratchUrl: async ({ db }, use) => {
      const scratchDb = await scratchDatabase(db);
      await use(scratchDb.url);
      await scratchDb.drop().catch((error) => console.warn(`cleanup: dropping ${scratchDb.name} failed: ${(error as Error).message}`));
    },
  });

  scratch('the test database carries every migration, recorded with its checksum', async ({ observer }) => {
    const recorded = await observer.rows('SELECT version, checksum FROM schema_migrations ORDER BY version');
    const files = await readMigrations();
    expect(recorded).toEqual(files.map((file) => ({ version: file.version, checksum: file.checksum })));
  });

  scratch('migrating applies each file once, in order; an edited applied file is refused', async ({ scratchUrl }) => {
    const dir = await mkdtemp(path.join(tmpdir(), 'call-coach-migrations-'));
    try {
      await cp(MIGRATIONS_DIR, dir, { recursive: true });
      const files = (await readMigrations()).map((migration) => migration.file);
      expect(files.slice(0, 3)).toEqual(['001_initial_schema.sql', '002_gong_api_v2_updates.sql', '003_reps_and_gong_speakers.sql']);
      expect(await migrate(scratchUrl, dir)).toEqual(files);
      expect(await migrate(scratchUrl, dir)).toEqual([]);
      const file = path.join(dir, '001_initial_schema.sql');
      await writeFile(file, `${await readFile(file, 'utf8')}\n-- an edit\n`);
      await expect(migrate(scratchUrl, dir)).rejects.toBeInstanceOf(MigrationChecksumError);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  scratch('two instances migrating at once apply each file exactly once', async ({ scratchUrl }) => {
    const [first, second] = await Promise.all([migrate(scratchUrl), migrate(scratchUrl)]);
    const files = (await readMigrations()).map((migration) => migration.file);
    expect([...first, ...second].sort()).toEqual(files);
  });

  scratch('002 turns second timestamps into milliseconds and frees sentiment', async ({ scratchUrl }) => {
    const dir = await mkdtemp(path.join(tmpdir(), 'call-coach-migrations-'));
    const scratchDb = await createDatabase({
      url: scratchUrl, maxConnections: 1, acquireTimeoutMs: 5000, statementTimeoutMs: 10_000, connectTimeoutMs: 5000,
    });
    try {
      await cp(path.join(MIGRATIONS_DIR, '001_initial_schema.sql'), path.join(dir, '001_initial_schema.sql'));
      await migrate(scratchUrl, dir);
      await scratchDb.pool.query(sql.unsafe`
        WITH c AS (INSERT INTO calls (gong_call_id, title, scheduled_at) VALUES ('42', 'Old', now()) RETURNING id)
        INSERT INTO transcripts (call_id, sequence_number, timestamp_seconds, text) SELECT id, 0, 12.345, 'Hi' FROM c`);
      await cp(path.join(MIGRATIONS_DIR, '002_gong_api_v2_updates.sql'), path.join(dir, '002_gong_api_v2_updates.sql'));
      expect(await migrate(scratchUrl, dir)).toEqual(['002_gong_api_v2_updates.sql']);
      const row = await scratchDb.pool.one(sql.unsafe`SELECT start_time_ms::int AS ms, sentiment FROM transcripts`);
      expect(row).toEqual({ ms: 12345, sentiment: 'neutral' });
      await scratchDb.pool.query(sql.unsafe`
        INSERT INTO transcripts (call_id, sequence_number, start_time_ms, text)
        SELECT id, 1, 20000, 'No sentiment from Gong' FROM calls`);
      expect(await scratchDb.pool.oneFirst(sql.unsafe`SELECT sentiment FROM transcripts WHERE sequence_number = 1`)).toBeNull();
    } finally {
      await scratchDb.end();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

test.describe('row schemas', { tag: '@integration' }, () => {
  test('each row is parsed with its query’s schema: a row that does not fit is a SchemaValidationError', async ({ db }) => {
    const query = sql.type(row({ id: uuid }))`SELECT 'not-a-uuid' AS id`;
    await expect(db.pool.one(query)).rejects.toBeInstanceOf(SchemaValidationError);
    await expect(db.pool.one(sql.type(row({ id: uuid }))`SELECT 'a' AS id, 1 AS extra`)).rejects.toBeInstanceOf(SchemaValidationError);
    expect(await db.pool.oneFirst(sql.type(row({ id: uuid }))`SELECT ${UNKNOWN_ID}::uuid AS id`)).toBe(UNKNOWN_ID);
    // DB_PARSE_ROWS=false: the same pool without the parser returns the row as PostgreSQL sent it.
    const unchecked = await createDatabase({
      url: testEnvironment().databaseUrl, maxConnections: 1, acquireTimeoutMs: 5000, statementTimeoutMs: 10_000, connectTimeoutMs: 5000,
      parseRows: false,
    });
    try {
      expect(await unchecked.pool.one(query)).toEqual({ id: 'not-a-uuid' });
    } finally {
      await unchecked.end();
    }
  });
});
