/**
 * The bare-Node floor for `npm run bench`: node:http and one pg.Pool (DB_POOL_MAX, default 10),
 * no framework, no auth, no validation beyond a UUID check, no logging. It answers
 * GET /calls/{id} with the same call-with-speakers JSON built by PostgreSQL (the query of
 * db/calls.ts, selected as text and sent as is), 404 when absent. Anything else: 404.
 *   DATABASE_URL=… PORT=… node --import tsx scripts/bench-bare-server.ts
 */
import { createServer } from 'node:http';
import pg from 'pg';

const url = new URL(process.env.DATABASE_URL!);
url.searchParams.set('options', '-c TimeZone=UTC');
const pool = new pg.Pool({ connectionString: url.toString(), max: Number(process.env.DB_POOL_MAX ?? 10) });

const CALL_SQL = `
  SELECT json_build_object(
    'id', c.id, 'gong_call_id', c.gong_call_id, 'title', c.title, 'scheduled_at', c.scheduled_at,
    'duration_seconds', c.duration_seconds, 'call_type', c.call_type, 'product', c.product,
    'metadata', c.metadata, 'processed_at', c.processed_at, 'created_at', c.created_at,
    'updated_at', c.updated_at,
    'speakers', COALESCE(
      (SELECT json_agg(json_build_object(
        'id', sp.id, 'call_id', sp.call_id, 'name', sp.name, 'email', sp.email, 'role', sp.role,
        'company_side', sp.company_side, 'gong_speaker_id', sp.gong_speaker_id, 'talk_time_seconds', sp.talk_time_seconds,
        'talk_time_percentage', sp.talk_time_percentage, 'created_at', sp.created_at) ORDER BY sp.added_order)
       FROM speakers sp WHERE sp.call_id = c.id),
      '[]'::json))::text AS call
  FROM calls c WHERE c.id = $1`;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const server = createServer((req, res) => {
  const match = req.method === 'GET' && req.url ? /^\/calls\/([^/?]+)$/.exec(req.url) : null;
  if (req.url === '/health') {
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
    return;
  }
  if (!match || !UUID.test(match[1]!)) {
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"status":404}');
    return;
  }
  pool.query<{ call: string }>(CALL_SQL, [match[1]]).then(
    ({ rows }) => {
      if (rows.length === 0) res.writeHead(404, { 'content-type': 'application/json' }).end('{"status":404}');
      else res.writeHead(200, { 'content-type': 'application/json' }).end(rows[0]!.call);
    },
    () => res.writeHead(503, { 'content-type': 'application/json' }).end('{"status":503}'),
  );
});
server.keepAliveTimeout = 5_000;
server.listen(Number(process.env.PORT ?? 3001), '127.0.0.1');

process.on('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
  void pool.end().then(() => process.exit(0));
});
