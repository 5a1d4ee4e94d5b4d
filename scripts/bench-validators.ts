/**
 * `npm run bench:validators`: the request validator the service compiles per operation
 * (server/validation.ts, Ajv) against openapi-backend's own OpenAPIValidator through its public
 * API, on the same requests, in interleaved rounds; also each one's compile time and heap.
 * In process, no HTTP: only what validating costs.
 */
import addFormats from 'ajv-formats';
import { OpenAPIRouter, OpenAPIValidator } from 'openapi-backend';
import { loadContract, operationsOf, type SpecOperation } from '../server/openapi.js';
import { loadSpec } from '../server/spec.js';
import { createValidators, type RequestValidator } from '../server/validation.js';

const ROUNDS = 5;
const ITERATIONS = 20_000;
const definition = await loadContract(loadSpec().document);
const operations = operationsOf(definition);
const byId = (id: string) => operations.find((o) => o.operationId === id)!;

const callId = '0f8e5d8c-7b1a-4c36-9d2e-6a4b7e1c2f90';
const callBody = {
  gong_call_id: '7782342274025937895', title: 'Acme Corp discovery call', scheduled_at: '2026-11-02T15:00:00Z',
  call_type: 'discovery', product: 'prefect', metadata: { system: 'Zoom' },
  speakers: [
    { name: 'Rep', email: 'sarah.chen@example.com', role: 'ae', company_side: true },
    { name: 'Buyer', email: 'buyer@acme.com', role: 'prospect', company_side: false },
    { name: 'Champion', email: 'champion@acme.com', role: 'customer', company_side: false },
  ],
};
const cases = [
  { name: 'GET /calls/{call_id}', operation: byId('getCall'), path: `/calls/${callId}`, params: { call_id: callId } as Record<string, string>, body: undefined as unknown },
  { name: 'POST /calls (3 speakers)', operation: byId('createCall'), path: '/calls', params: {} as Record<string, string>, body: callBody },
];
const headers = { authorization: 'Bearer x', 'content-type': 'application/json' };

function heapMb(): number {
  globalThis.gc?.();
  return process.memoryUsage().heapUsed / 2 ** 20;
}

// ---- the service's: Ajv compiled per operation
let heap = heapMb();
let started = performance.now();
const compileOurs = createValidators();
const ours = new Map<SpecOperation, RequestValidator>(operations.map((o) => [o, compileOurs(o)]));
const oursCompile = { ms: performance.now() - started, mb: heapMb() - heap };

// ---- openapi-backend's, through its public API (its own router, request validators only)
heap = heapMb();
started = performance.now();
const router = new OpenAPIRouter({ definition });
const theirs = new OpenAPIValidator({
  definition, router, lazyCompileValidators: true, coerceTypes: true, ajvOpts: { allErrors: true },
  customizeAjv: (ajv) => {
    addFormats.default(ajv as never);
    return ajv;
  },
});
theirs.preCompileRequestValidators();
const theirsCompile = { ms: performance.now() - started, mb: heapMb() - heap };

function timeOurs(c: (typeof cases)[number]): number {
  const validate = ours.get(c.operation)!;
  const t = performance.now();
  for (let i = 0; i < ITERATIONS; i++) validate({ params: { ...c.params }, query: {}, headers, body: c.body });
  return ((performance.now() - t) * 1000) / ITERATIONS;
}
function timeTheirs(c: (typeof cases)[number]): number {
  const operation = router.getOperation(c.operation.operationId)!;
  const t = performance.now();
  for (let i = 0; i < ITERATIONS; i++) {
    const result = theirs.validateRequest({ method: c.operation.method, path: c.path, query: '', headers, body: c.body }, operation);
    if (!result.valid) throw new Error(`${c.name}: ${JSON.stringify(result.errors)}`);
  }
  return ((performance.now() - t) * 1000) / ITERATIONS;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const lines = ['| request | service (Ajv per operation) µs | openapi-backend validateRequest µs | ratio |', '|---|--:|--:|--:|'];
for (const c of cases) {
  const a: number[] = [];
  const b: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    if (round % 2) b.push(timeTheirs(c)), a.push(timeOurs(c));
    else a.push(timeOurs(c)), b.push(timeTheirs(c));
  }
  lines.push(`| ${c.name} | ${median(a).toFixed(2)} | ${median(b).toFixed(2)} | ${(median(b) / median(a)).toFixed(1)}× |`);
}
console.log(`${operations.length} operations; ${ROUNDS} interleaved rounds of ${ITERATIONS} validations, median µs per request\n`);
console.log(lines.join('\n'));
console.log(`\ncompile all request validators: service ${oursCompile.ms.toFixed(0)} ms, +${oursCompile.mb.toFixed(1)} MB heap; openapi-backend ${theirsCompile.ms.toFixed(0)} ms, +${theirsCompile.mb.toFixed(1)} MB heap${globalThis.gc ? '' : ' (run with --expose-gc for exact heap figures)'}`);
