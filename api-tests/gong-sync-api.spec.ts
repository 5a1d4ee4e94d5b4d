/**
 * The Gong sync through the API: POST /sync/gong/runs and the run resources, the trackers, the
 * `gong` metrics and speaker titles it stores, and the one-run-at-a-time rule across two service
 * processes. Syncing tests run service processes of their own (support/own-server.ts) on a
 * scratch database, pointed at a simulated Gong; the shared test server has no Gong credentials.
 */
import { request as playwrightRequest, type APIRequestContext } from '@playwright/test';
import { randomUUID } from 'node:crypto';
import { sql } from 'slonik';
import { ApiClient, expect, test, uniqueEmail, uniqueGongId } from './support/fixtures.js';
import { simCall, startGongSimulator, type GongSimulator } from './support/gong-simulator.js';
import { gongEnv, SIM_BASIC } from './support/gong-sync-cli.js';
import { startOwnServer, type OwnServer } from './support/own-server.js';
import { scratchDatabase } from './support/scratch-database.js';
import { testEnvironment } from './support/test-environment.js';
import { signToken } from './support/tokens.js';

const WINDOW = { from: '2026-11-01T00:00:00Z', to: '2026-11-08T00:00:00Z' };

async function clientFor(server: OwnServer, role: 'service' | 'admin' = 'service'): Promise<{ api: ApiClient; context: APIRequestContext }> {
  const context = await playwrightRequest.newContext({ baseURL: server.baseURL, extraHTTPHeaders: { Accept: 'application/json, application/problem+json' } });
  return { api: new ApiClient(context, signToken({ role })), context };
}

async function until<T>(what: string, probe: () => Promise<T | undefined | null | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

test.describe('Gong sync API', { tag: '@integration' }, () => {
  test('without Gong credentials a run is refused with 409; bad windows 400; roles', async ({ api }) => {
    const refused = await api.post('/sync/gong/runs', WINDOW);
    expect(refused.status()).toBe(409);
    expect((await refused.json()).detail).toContain('GONG_ACCESS_KEY');

    const backwards = await api.post('/sync/gong/runs', { from: WINDOW.to, to: WINDOW.from });
    expect(backwards.status()).toBe(400);
    expect((await backwards.json()).errors).toEqual([{ location: 'body', path: '/to', message: 'must be after from' }]);
    const tooLong = await api.post('/sync/gong/runs', { from: '2000-01-01T00:00:00Z', to: '2026-01-01T00:00:00Z' });
    expect(tooLong.status()).toBe(400);

    expect((await api.as(signToken({ role: 'manager' })).post('/sync/gong/runs', WINDOW)).status()).toBe(403);
    expect((await api.as(signToken({ role: 'rep', email: 'r@example.com' })).get('/sync/gong/runs')).status()).toBe(403);
    expect((await api.as(signToken({ role: 'manager' })).get('/sync/gong/runs')).status()).toBe(200);
    expect((await api.get(`/sync/gong/runs/${randomUUID()}`)).status()).toBe(404);
  });

  test('a webhook delivery of a private call is recorded, not ingested, and removes the stored call', async ({ api, db, cleanup }) => {
    const gongId = uniqueGongId();
    const email = uniqueEmail('hook');
    const key = testEnvironment().gong.urlKey;
    const deliveries = [randomUUID(), randomUUID(), randomUUID()];
    cleanup.add('delete webhook events', () => db.pool.query(sql.unsafe`DELETE FROM webhook_events WHERE delivery_id = ANY(${sql.array(deliveries, 'text')})`));
    cleanup.add('delete call', () => db.pool.query(sql.unsafe`DELETE FROM calls WHERE gong_call_id = ${gongId}`));
    cleanup.add('delete rep', () => db.pool.query(sql.unsafe`DELETE FROM reps WHERE email = ${email}`));
    const deliver = (id: string, isPrivate: boolean) =>
      api.as(null).fetch('POST', `/webhooks/gong?key=${key}`, {
        data: {
          callData: {
            metaData: { id: gongId, title: 'Webhook call', scheduled: '2026-11-05T10:00:00Z', isPrivate },
            parties: [{ id: '1', emailAddress: email, name: 'Hook Rep', speakerId: '901', affiliation: 'Internal' }],
          },
        },
        headers: { 'X-Gong-Delivery-Id': id },
      });
    const stored = () => db.pool.anyFirst(sql.unsafe`SELECT id FROM calls WHERE gong_call_id = ${gongId}`);

    const privateFirst = await (await deliver(deliveries[0]!, true)).json();
    expect(privateFirst).toEqual({ delivery_id: deliveries[0], status: 'completed', call_id: null, replayed: false, superseded: false });
    expect(await stored()).toEqual([]);

    const publicCall = await (await deliver(deliveries[1]!, false)).json();
    expect(publicCall.call_id).not.toBeNull();
    expect(await stored()).toEqual([publicCall.call_id]);

    const turnedPrivate = await (await deliver(deliveries[2]!, true)).json();
    expect(turnedPrivate).toMatchObject({ status: 'completed', call_id: null });
    expect(await stored()).toEqual([]);
    const events = await db.pool.anyFirst(sql.unsafe`
      SELECT status FROM webhook_events WHERE delivery_id = ANY(${sql.array(deliveries, 'text')}) ORDER BY received_at`);
    expect(events).toEqual(['completed', 'completed', 'completed']);
  });

  test.describe('with a simulated Gong', () => {
    let sim: GongSimulator;
    let database: Awaited<ReturnType<typeof scratchDatabase>>;
    const servers: OwnServer[] = [];
    const contexts: APIRequestContext[] = [];

    test.beforeEach(async ({ db }) => {
      database = await scratchDatabase(db);
    });
    test.afterEach(async () => {
      await Promise.all(contexts.splice(0).map((context) => context.dispose()));
      await Promise.all(servers.splice(0).map((server) => server.stop()));
      await sim?.close();
      await database.drop();
    });

    async function server(env: Record<string, string> = {}) {
      const started = await startOwnServer({ database: { url: database.url }, env: { ...gongEnv(sim), LOG_LEVEL: 'warn', ...env } });
      servers.push(started);
      const client = await clientFor(started);
      contexts.push(client.context);
      return { server: started, api: client.api };
    }

    test('POST /sync/gong/runs queues a run that imports the window; trackers, Gong metrics and titles through the API', async () => {
      const email = uniqueEmail('simrep');
      const gongId = uniqueGongId();
      const privateId = uniqueGongId();
      sim = await startGongSimulator({
        calls: [
          simCall({ id: gongId, started: '2026-11-02T10:00:00Z', repEmail: email, title: 'Acme tracker call' }),
          simCall({ id: privateId, started: '2026-11-03T10:00:00Z', repEmail: email, isPrivate: true }),
        ],
        basic: SIM_BASIC,
      });
      const { api } = await server();
      const created = await api.post('/sync/gong/runs', WINDOW);
      expect(created.status()).toBe(202);
      const queued = await created.json();
      expect(created.headers().location).toBe(`/sync/gong/runs/${queued.id}`);
      expect(queued).toMatchObject({ status: 'queued', trigger: 'api', window: { from: '2026-11-01T00:00:00+00:00', to: '2026-11-08T00:00:00+00:00' } });

      const done = await until('the run to complete', async () => {
        const run = await (await api.get(created.headers().location!)).json();
        return run.status === 'completed' || run.status === 'failed' ? run : null;
      });
      expect(done).toMatchObject({ status: 'completed', error: null, counts: { pages: 1, calls_seen: 2, created: 1, private_skipped: 1, transcripts_ingested: 1, requests: 2 } });
      expect(Date.parse(done.finished_at)).toBeGreaterThanOrEqual(Date.parse(done.started_at));
      const list = await (await api.get('/sync/gong/runs?limit=1')).json();
      expect(list.data.map((run: { id: string }) => run.id)).toEqual([queued.id]);

      const calls = await (await api.get('/calls?tracker=competitors')).json();
      expect(calls.data.map((call: { gong_call_id: string }) => call.gong_call_id)).toEqual([gongId]);
      expect((await (await api.get('/calls?tracker=Pricing')).json()).data).toEqual([]); // came up 0 times
      const call = calls.data[0];
      expect(call.speakers.map((s: { title: string | null }) => s.title)).toEqual(['Enterprise Account Executive', 'VP Engineering']);
      const [rep, buyer] = call.speakers as { id: string; name: string }[];

      const trackers = await (await api.get(`/calls/${call.id}/trackers`)).json();
      expect(trackers.trackers).toEqual([
        {
          tracker_id: '6840000929075400007', name: 'Competitors', type: 'KEYWORD', count: 2,
          occurrences: [
            { start_time_ms: 12500, speaker_id: buyer!.id, speaker_name: 'Sim Buyer', gong_speaker_id: sim.options.calls[0]!.parties[1]!.speakerId },
            { start_time_ms: 40250, speaker_id: rep!.id, speaker_name: 'Sim Rep', gong_speaker_id: sim.options.calls[0]!.parties[0]!.speakerId },
          ],
        },
        { tracker_id: '6840000929075400008', name: 'Pricing', type: 'SMART', count: 0, occurrences: [] },
      ]);
      // A rep who was not on the call cannot see it.
      expect((await api.as(signToken({ role: 'rep', email: uniqueEmail('other') })).get(`/calls/${call.id}/trackers`)).status()).toBe(404);

      const metrics = await (await api.get(`/calls/${call.id}/metrics`)).json();
      expect(metrics.has_transcript).toBe(true);
      expect(metrics.gong).toEqual({
        talk_ratio: 0.46, longest_monologue_seconds: 9.5, longest_customer_story_seconds: 11, interactivity: 4.2, patience_seconds: 0.8,
        questions_company: 1, questions_non_company: 0, stats: sim.options.calls[0]!.interaction.interactionStats,
        speakers: [
          { speaker_id: rep!.id, name: 'Sim Rep', talk_time_seconds: 9.5 },
          { speaker_id: buyer!.id, name: 'Sim Buyer', talk_time_seconds: 11 },
        ],
      });
    });

    test('two service processes never run two syncs at once; the schedule queues one incremental run between them', async () => {
      const email = uniqueEmail('simrep');
      const now = Date.now();
      const calls = Array.from({ length: 4 }, (_, i) => simCall({ id: uniqueGongId(), started: `2026-11-0${i + 2}T09:00:00Z`, repEmail: email, transcript: false }));
      // One call a few minutes ago, for the scheduled run (its window ends now).
      calls.push(simCall({ id: uniqueGongId(), started: new Date(now - 120_000).toISOString(), repEmail: email, transcript: false }));
      sim = await startGongSimulator({ calls, pageSize: 1, basic: SIM_BASIC });
      const env = { GONG_SYNC_INTERVAL_MINUTES: '600', GONG_SYNC_OVERLAP_MINUTES: '10' };
      const [one, two] = await Promise.all([server(env), server(env)]);
      const [a, b] = await Promise.all([
        one.api.post('/sync/gong/runs', { from: WINDOW.from, to: '2026-11-04T00:00:00Z' }),
        two.api.post('/sync/gong/runs', { from: '2026-11-04T00:00:00Z', to: WINDOW.to }),
      ]);
      expect([a.status(), b.status()]).toEqual([202, 202]);

      const runs = await until('every run to end', async () => {
        const page = await (await one.api.get('/sync/gong/runs')).json();
        return page.data.length === 3 && page.data.every((run: { status: string }) => run.status === 'completed') ? page.data : null;
      });
      // Exactly one scheduled run for both replicas, reaching back to ten minutes before now.
      const scheduled = runs.filter((run: { trigger: string }) => run.trigger === 'schedule');
      expect(scheduled).toHaveLength(1);
      expect(scheduled[0].counts.created).toBe(1);
      expect(Date.parse(scheduled[0].window.to) - Date.parse(scheduled[0].window.from)).toBeGreaterThanOrEqual(10 * 60_000);

      // Gong saw the runs one after the other: each window's page requests form one block.
      const windows = sim.log.filter((entry) => entry.path === '/v2/calls/extensive').map((entry) => JSON.stringify(entry.filter));
      const blocks = windows.filter((window, i) => i === 0 || window !== windows[i - 1]);
      expect(blocks).toHaveLength(3);
      expect(new Set(blocks).size).toBe(3);
    });
  });
});
