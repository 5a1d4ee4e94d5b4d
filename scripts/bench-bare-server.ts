/**
 * The floors for `npm run bench`: node:http and one pool (DB_POOL_MAX, default 10), no framework,
 * no auth, no validation beyond a UUID check, no logging. BARE_DRIVER picks the pool:
 *   pg      one pg.Pool and hand-written SQL (the same statements db/calls.ts sends)
 *   slonik  the service's own Slonik pool (db/pool.ts) and data functions (db/calls.ts)
 * so that bench can tell what Slonik costs from what the service's pipeline costs.
 *   GET  /calls/{id}  the call-with-speakers JSON built by PostgreSQL, sent as is; 404 when absent
 *   POST /calls       the call and its speakers in one transaction, answered with the stored call (201)
 * Anything else: 404.
 *   BARE_DRIVER=pg DATABASE_URL=… PORT=… node --import tsx scripts/bench-bare-server.ts
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import pg from 'pg';
import { callJsonQuery, createCall, getCallJson, type CallInput } from '../db/calls.js';
import { createDatabase } from '../db/pool.js';
import { UNRESTRICTED } from '../db/scope.js';

const POOL_MAX = Number(process.env.DB_POOL_MAX ?? 10);

/**
 * The call-with-speakers statement db/calls.ts sends (its text, `$1` for the id), so this floor
 * asks PostgreSQL for exactly what the service and the Slonik floor ask for.
 */
const SELECT_CALL = (() => {
  const query = callJsonQuery('00000000-0000-4000-8000-000000000000', UNRESTRICTED);
  if (query.values.length !== 1) throw new Error('callJsonQuery no longer takes only the call id: update bench-bare-server');
  return query.sql.replaceAll('$slonik_1', '$1'); // Slonik's placeholder, which its driver renames for pg
})();

type Store = { get: (id: string) => Promise<string | null>; create: (input: CallInput) => Promise<string> };

function pgStore(): Store {
  // No session settings: the statement formats its timestamps in UTC itself, as the service's do.
  const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL!, max: POOL_MAX });
  return {
    get: async (id) => (await pool.query<{ call: string }>(SELECT_CALL, [id])).rows[0]?.call ?? null,
    create: async (input) => {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const { rows } = await client.query<{ id: string }>(
          `INSERT INTO calls (gong_call_id, title, scheduled_at, duration_seconds, call_type, product, metadata)
           VALUES ($1, $2, $3::timestamptz, $4, $5, $6, $7::jsonb) RETURNING id`,
          [input.gong_call_id, input.title, input.scheduled_at, input.duration_seconds ?? null, input.call_type ?? 'other', input.product ?? null, JSON.stringify(input.metadata ?? {})],
        );
        const speakers = input.speakers ?? [];
        const column = <K extends keyof (typeof speakers)[number]>(key: K) => speakers.map((speaker) => speaker[key] ?? null);
        await client.query(
          `INSERT INTO speakers (call_id, name, email, role, company_side, gong_speaker_id)
           SELECT $1, name, email, COALESCE(role, 'other'), company_side, gong_speaker_id
           FROM unnest($2::text[], $3::text[], $4::text[], $5::bool[], $6::text[]) AS input(name, email, role, company_side, gong_speaker_id)`,
          [rows[0]!.id, column('name'), column('email'), column('role'), column('company_side'), column('gong_speaker_id')],
        );
        const call = (await client.query<{ call: string }>(SELECT_CALL, [rows[0]!.id])).rows[0]!.call;
        await client.query('COMMIT');
        return call;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {});
        throw error;
      } finally {
        client.release();
      }
    },
  };
}

async function slonikStore(): Promise<Store> {
  const db = await createDatabase({ url: process.env.DATABASE_URL!, maxConnections: POOL_MAX, acquireTimeoutMs: 2000, statementTimeoutMs: 5000, connectTimeoutMs: 3000 });
  return {
    get: (id) => getCallJson(db, id, UNRESTRICTED),
    create: async (input) => JSON.stringify(await createCall(db, input)),
  };
}

const store = process.env.BARE_DRIVER === 'slonik' ? await slonikStore() : pgStore();
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function send(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(body);
}

function readJson(req: IncomingMessage): Promise<CallInput> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as CallInput);
      } catch (error) {
        reject(error);
      }
    });
    req.on('error', reject);
  });
}

const server = createServer((req, res) => {
  const failed = () => send(res, 503, '{"status":503}');
  if (req.url === '/health') return send(res, 200, '{"status":"ok"}');
  if (req.method === 'POST' && req.url === '/calls') {
    readJson(req).then((input) => store.create(input)).then((call) => send(res, 201, call), failed);
    return;
  }
  const match = req.method === 'GET' && req.url ? /^\/calls\/([^/?]+)$/.exec(req.url) : null;
  if (!match || !UUID.test(match[1]!)) return send(res, 404, '{"status":404}');
  store.get(match[1]!).then((call) => (call === null ? send(res, 404, '{"status":404}') : send(res, 200, call)), failed);
});
server.keepAliveTimeout = 5_000;
server.listen(Number(process.env.PORT ?? 3001), '127.0.0.1');

process.on('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
  process.exit(0);
});
