import { createCallCoachClient, type CallCreate } from '../client/index.js';
import { expect, newCall, sql, test } from './support/fixtures.js';
import { testEnvironment } from './support/test-environment.js';
import { signToken } from './support/tokens.js';

test.describe('typed client (client/index.ts)', { tag: '@integration' }, () => {
  test('creates and reads a call with typed bodies, and surfaces problems as typed errors', async ({ db, trackCall }) => {
    const coach = createCallCoachClient({ baseUrl: testEnvironment().baseURL, token: () => signToken() });
    const body = newCall() as CallCreate;

    const created = await coach.POST('/calls', { body });
    expect(created.response.status).toBe(201);
    const call = created.data!;
    trackCall(call.id);
    expect(created.response.headers.get('location')).toBe(`/calls/${call.id}`);

    const read = await coach.GET('/calls/{call_id}', { params: { path: { call_id: call.id } } });
    expect(read.response.status).toBe(200);
    expect(read.data?.gong_call_id).toBe(body.gong_call_id);
    expect(read.data?.speakers.map((s) => s.name)).toEqual(['Sarah Chen', 'Dan Ortiz']);
    expect(await db.pool.oneFirst(sql.unsafe`SELECT title FROM calls WHERE id = ${call.id}`)).toBe(body.title);

    const missing = await coach.GET('/calls/{call_id}', { params: { path: { call_id: '00000000-0000-4000-8000-000000000000' } } });
    expect(missing.response.status).toBe(404);
    expect(missing.data).toBeUndefined();
    expect(missing.error?.status).toBe(404);

    const anonymous = createCallCoachClient({ baseUrl: testEnvironment().baseURL });
    const refused = await anonymous.GET('/calls/{call_id}', { params: { path: { call_id: call.id } } });
    expect(refused.response.status).toBe(401);
    expect((await anonymous.GET('/health')).data).toEqual({ status: 'ok' });
  });
});
