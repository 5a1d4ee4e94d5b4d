/**
 * The response validator itself (support/contract.ts): it must refuse what the contract does not
 * declare, or every suite that relies on it could pass silently. No server needed: these are
 * hand-made responses, each breaking exactly one rule, plus well-formed ones that must pass.
 */
import { expect, test } from '@playwright/test';
import { expectMatchesContract, type ResponseLike } from './support/contract.js';

const BASE = 'http://127.0.0.1:1';
const REQUEST_ID = '3f2b9c1e-8a4d-4e7f-b1c2-d3e4f5a6b7c8';
/** What every answer of the API carries (middleware.ts, compression.ts), declared on every response. */
const CROSS_CUTTING = {
  vary: 'Accept-Encoding',
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-resource-policy': 'same-origin',
};

/** A hand-made response; a header given as undefined is left out. */
function response(path: string, status: number, body: unknown, headers: Record<string, string | undefined> = {}): ResponseLike {
  const text = typeof body === 'string' ? body : body === undefined ? '' : JSON.stringify(body);
  const contentType = typeof body === 'string' ? 'text/plain' : 'application/json; charset=utf-8';
  // Every answer of an operation but the probes' carries the rate limit fields (declared on every
  // such response); routing's 404 and 405, and a CORS preflight, come before the count.
  const counted = path !== '/health' && path !== '/ready' && path !== '/nothing' && ![204, 405].includes(status);
  const rateLimit: Record<string, string> = counted ? { 'ratelimit-policy': '"default";q=600;w=60', ratelimit: '"default";r=599;t=60' } : {};
  const given = { 'x-request-id': REQUEST_ID, ...CROSS_CUTTING, ...rateLimit, ...(body === undefined ? {} : { 'content-type': contentType }), ...headers };
  const all = Object.fromEntries(Object.entries(given).filter((entry): entry is [string, string] => entry[1] !== undefined));
  return {
    url: () => `${BASE}${path}`,
    status: () => status,
    headers: () => all,
    body: async () => Buffer.from(text),
    json: async () => JSON.parse(text) as unknown,
  };
}

const problem = (status: number, extra: Record<string, unknown> = {}) => ({
  type: 'https://call-coach.dev/problems/x',
  title: 'X',
  status,
  detail: 'What went wrong.',
  ...extra,
});
const PROBLEM = { 'content-type': 'application/problem+json' };
const CALL = '/calls/0f8e5d8c-7b1a-4c36-9d2e-6a4b7e1c2f90';

test.describe('contract validator', () => {
  const accepted: [string, ResponseLike, string][] = [
    ['a declared 200 with a valid body', response('/health', 200, { status: 'ok' }), 'GET'],
    ['a declared 404 problem', response(CALL, 404, problem(404), PROBLEM), 'GET'],
    ['a declared 503 with Retry-After', response(CALL, 503, problem(503), { ...PROBLEM, 'retry-after': '1' }), 'GET'],
    ['a 404 problem for an unknown route', response('/nothing', 404, problem(404), PROBLEM), 'GET'],
    ['a 405 with Allow for a method the path lacks', response(CALL, 405, problem(405), { ...PROBLEM, allow: 'GET, PATCH, DELETE' }), 'POST'],
    ['HTTP\'s own fields, which the contract does not repeat', response('/health', 200, { status: 'ok' }, {
      date: 'Tue, 01 Dec 2026 14:00:00 GMT', connection: 'keep-alive', 'keep-alive': 'timeout=5', 'content-length': '15',
    }), 'GET'],
    ['a compressed answer to a listed CORS origin', response('/calls', 200, { data: [], next_cursor: null }, {
      'content-encoding': 'br', 'transfer-encoding': 'chunked', vary: 'Origin, Accept-Encoding',
      'access-control-allow-origin': 'https://app.partner.com', 'access-control-expose-headers': 'ETag,Location',
    }), 'GET'],
    ['a listed origin\'s CORS preflight', response(CALL, 204, undefined, {
      vary: 'Origin', 'access-control-allow-origin': 'https://app.partner.com', 'access-control-allow-methods': 'GET,PATCH',
      'access-control-allow-headers': 'Authorization', 'access-control-max-age': '600',
    }), 'OPTIONS'],
  ];
  for (const [what, answer, method] of accepted) {
    test(`accepts ${what}`, async () => {
      await expectMatchesContract(answer, method);
    });
  }

  const refused: [string, ResponseLike, string, RegExp][] = [
    ['an undeclared status', response('/health', 418, problem(418), PROBLEM), 'GET', /status 418 is not declared/],
    ['an undeclared 500', response(CALL, 500, problem(500), PROBLEM), 'GET', /status 500 is not declared/],
    ['a body that breaks the schema', response('/health', 200, { status: 'fine' }), 'GET', /does not match the getHealth 200 schema/],
    ['an undeclared property', response('/health', 200, { status: 'ok', extra: 1 }), 'GET', /does not match/],
    ['an undeclared content type', response('/health', 200, 'ok'), 'GET', /content type text\/plain is not declared/],
    ['a response without X-Request-Id', response('/health', 200, { status: 'ok' }, { 'x-request-id': '' }), 'GET', /X-Request-Id/],
    ['a missing declared header', response(CALL, 503, problem(503), PROBLEM), 'GET', /Retry-After is missing/],
    ['a header that breaks its schema', response(CALL, 503, problem(503), { ...PROBLEM, 'retry-after': 'soon' }), 'GET', /Retry-After: soon/],
    ['a missing RateLimit field', response(CALL, 404, problem(404), { ...PROBLEM, ratelimit: undefined }), 'GET', /RateLimit is missing/],
    ['a RateLimit field in an old draft\'s form', response(CALL, 404, problem(404), { ...PROBLEM, ratelimit: 'limit=600, remaining=599, reset=60' }), 'GET', /RateLimit: limit=600/],
    ['a header out of its range', response(CALL, 503, problem(503), { ...PROBLEM, 'retry-after': '0' }), 'GET', /Retry-After: 0/],
    ['an error that is not problem+json', response(CALL, 404, { message: 'no' }), 'GET', /problem\+json/],
    ['a problem whose status differs', response(CALL, 404, problem(400), PROBLEM), 'GET', /problem status equals HTTP status/],
    ['a problem without detail', response(CALL, 404, { type: 't', title: 'X', status: 404 }, PROBLEM), 'GET', /does not match/],
    ['a stack trace in a problem', response(CALL, 404, problem(404, { detail: 'boom\n    at getCall (/srv/db/calls.ts:42:7)' }), PROBLEM), 'GET', /leaks internals/],
    ['SQL in a problem', response(CALL, 404, problem(404, { detail: 'SELECT * FROM calls WHERE id = $1' }), PROBLEM), 'GET', /leaks internals/],
    ['a PostgreSQL message in a problem', response('/calls', 400, problem(400, { detail: 'unsupported Unicode escape sequence' }), PROBLEM), 'POST', /leaks internals/],
    ['a 200 on a route outside the contract', response('/nothing', 200, { ok: true }), 'GET', /only 404\/405/],
    ['a method the contract lacks answered 200', response('/health', 200, { status: 'ok' }), 'PATCH', /only 404\/405/],
    ['a header the contract does not declare', response('/health', 200, { status: 'ok' }, { 'x-powered-by': 'Koa' }), 'GET', /headers sent that getHealth 200 does not declare/],
    ['a header declared on another status only', response(CALL, 404, problem(404), { ...PROBLEM, etag: '"abc"' }), 'GET', /headers sent that getCall 404 does not declare/],
    ['the rate limit fields on a probe, which is never counted', response('/health', 200, { status: 'ok' }, { ratelimit: '"default";r=599;t=60' }), 'GET', /does not declare/],
    ['a missing security header', response('/health', 200, { status: 'ok' }, { 'x-content-type-options': undefined }), 'GET', /X-Content-Type-Options is missing/],
    ['a missing Vary', response(CALL, 404, problem(404), { ...PROBLEM, vary: undefined }), 'GET', /Vary is missing/],
    ['a cacheable answer', response(CALL, 404, problem(404), { ...PROBLEM, 'cache-control': 'public, max-age=60' }), 'GET', /Cache-Control: public/],
    ['an unknown content coding', response('/calls', 200, { data: [], next_cursor: null }, { 'content-encoding': 'zstd' }), 'GET', /Content-Encoding: zstd/],
    ['a 405 without Allow', response(CALL, 405, problem(405), PROBLEM), 'POST', /Allow is missing/],
    ['an undeclared header on an unknown route\'s 404', response('/nothing', 404, problem(404), { ...PROBLEM, 'retry-after': '1' }), 'GET', /x-answers-outside-operations 404 does not declare/],
    ['the rate limit fields on routing\'s 405, which comes before the count', response(CALL, 405, problem(405), { ...PROBLEM, allow: 'GET', ratelimit: '"default";r=599;t=60' }), 'POST', /does not declare/],
    ['a preflight without Access-Control-Allow-Methods', response(CALL, 204, undefined, { 'access-control-allow-origin': 'https://app.partner.com', vary: 'Origin', 'access-control-allow-headers': 'Authorization', 'access-control-max-age': '600' }), 'OPTIONS', /Access-Control-Allow-Methods is missing/],
  ];
  for (const [what, answer, method, message] of refused) {
    test(`refuses ${what}`, async () => {
      await expect(expectMatchesContract(answer, method)).rejects.toThrow(message);
    });
  }
});
