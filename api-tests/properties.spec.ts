/**
 * Property-based checks of EVERY operation in openapi.yaml, read at run time (operations added
 * later are covered without touching this file). For each operation:
 *
 *   valid     - requests built from the operation's schemas and examples are never refused as
 *               invalid (no 400) and never fail (no 5xx); missing resources may be 404
 *   faults    - requests with exactly one fault get 400 (missing required field, wrong type, out of
 *               range, bad uuid/format, unknown property, malformed JSON), 415 (wrong content
 *               type) or 413 (oversized body), as problem+json, never a 5xx; compressed bodies
 *               (gzip, deflate, br) valid are read, broken are 400; nesting past the bound is 400
 *   bounds    - every bounded array of a body, filled to its maxItems, is accepted (and fits the
 *               body limit); with one item more it is a 400 naming the array
 *   auth      - protected operations refuse missing, garbage, expired, wrong-key and alg:none
 *               tokens with 401 and WWW-Authenticate
 *   delete    - after a DELETE the resource is 404 (for every DELETE operation in the spec)
 *
 * Every response also passes the contract validator (ApiClient). Runs are seeded and bounded:
 * PROPERTY_SEED (default below) and PROPERTY_RUNS (valid requests per operation) change them;
 * the seed is in every test title, and each test prints how many requests it sent.
 */
import zlib from 'node:zlib';
import fc from 'fast-check';
import type { OpenAPIV3 } from 'openapi-types';
import { contract, specOperations } from './support/contract.js';
import { expect, sql, test, type ApiClient } from './support/fixtures.js';
import { arbitrary, arrayBounds, faults, type ArrayBound, type Fault, type Schema } from './support/schema-arbitrary.js';
import { testEnvironment } from './support/test-environment.js';
import { signToken, unsignedToken } from './support/tokens.js';

const SEED = Number(process.env.PROPERTY_SEED ?? 20_260_411);
const RUNS = Number(process.env.PROPERTY_RUNS ?? 25);
/** Runs per fault kind: enough to hit different fields, few enough to stay fast. */
const FAULT_RUNS = Math.max(3, Math.ceil(RUNS / 5));

type Operation = {
  id: string;
  method: string;
  path: string;
  parameters: OpenAPIV3.ParameterObject[];
  body: Schema | undefined;
  /** The operation's x-body-limit: its largest accepted body, in bytes. */
  bodyLimit: number | undefined;
  bodyExamples: unknown[];
  isProtected: boolean;
  hasGet: boolean;
};

// The dereferenced spec, read while the file loads so that each operation gets its own test.
const definition = (await contract()).definition as OpenAPIV3.Document;
/** The contract's bound on nesting in bodies (info.x-max-nesting-depth). */
const MAX_NESTING = (definition.info as { 'x-max-nesting-depth'?: number })['x-max-nesting-depth']!;

function readOperations(doc: OpenAPIV3.Document): Operation[] {
  return specOperations(doc).map(({ method, path, item, operation, parameters }) => {
    const json = (operation.requestBody as OpenAPIV3.RequestBodyObject | undefined)?.content?.['application/json'];
    const examples = Object.values((json?.examples ?? {}) as Record<string, OpenAPIV3.ExampleObject>).map((e) => e.value);
    const security = operation.security ?? doc.security ?? [];
    return {
      id: operation.operationId ?? `${method} ${path}`,
      method,
      path,
      parameters,
      body: json?.schema as Schema | undefined,
      bodyLimit: (operation as { 'x-body-limit'?: number })['x-body-limit'],
      bodyExamples: json?.example !== undefined ? [json.example, ...examples] : examples,
      // Bearer-token operations; the Gong webhook's own schemes are checked in webhooks.spec.ts.
      isProtected: security.some((requirement) => 'bearerAuth' in requirement),
      hasGet: Boolean(item.get),
    };
  });
}

const OPERATIONS = readOperations(definition);

/**
 * What a schema cannot say. Query parameters that are never generated (opaque cursors are only
 * valid when the server issued them; the webhook key is a credential, not data), and the few
 * cross-field rules an operation adds, applied to every generated request, so that a "valid"
 * request is valid and a faulty one has exactly the one fault injected.
 */
type RuleContext = { api: ApiClient; counter: Counter; cleanup: (label: string, run: () => Promise<unknown>) => void; db: import('../db/pool.js').Database };
type Rule = {
  repair?: (built: Built, context: RuleContext) => Built | Promise<Built>;
  /** Cleans up what a valid request created beyond a Location header. */
  after?: (body: Record<string, unknown>, context: RuleContext) => void;
};
const NEVER_GENERATED = new Set(['cursor', 'key']);
const RULES: Record<string, Rule> = {
  // A sentence cannot end before it starts.
  putTranscript: {
    repair: (built) => ({
      ...built,
      body: (built.body as { sentences: { start: number; end: number }[] }[]).map((monologue) => ({
        ...monologue,
        sentences: monologue.sentences.map((sentence) => ({ ...sentence, end: Math.max(sentence.start, sentence.end) })),
      })),
    }),
  },
  // The rep analysed must have spoken on the call, on the company side: make them a speaker
  // first. An example cannot end before it starts.
  createAnalysis: {
    repair: async (built, { api, counter }) => {
      const body = built.body as { rep_email: string; specific_examples?: Record<string, { start_ms: number; end_ms: number }[]> };
      counter.count('setup');
      await api.post(`${built.path.replace(/\/analyses$/, '')}/speakers`, { name: 'Analysed Rep', email: body.rep_email, role: 'ae', company_side: true });
      const examples = body.specific_examples;
      if (!examples || typeof examples !== 'object') return built;
      const ordered = Object.fromEntries(
        Object.entries(examples).map(([kind, list]) => [
          kind,
          Array.isArray(list) ? list.map((example) => ({ ...example, end_ms: Math.max(example.start_ms, example.end_ms) })) : list,
        ]),
      );
      return { ...built, body: { ...body, specific_examples: ordered } };
    },
  },
  // `from` and `to` come together, `from` first.
  getRepInsights: {
    repair: (built) => {
      const { from, to, ...query } = built.query as { from?: string; to?: string };
      if (from === undefined || to === undefined || from === to) return { ...built, query };
      return { ...built, query: { ...query, from: from < to ? from : to, to: from < to ? to : from } };
    },
  },
  // A listing's range: `scheduled_from` first.
  listCalls: {
    repair: (built) => {
      const { scheduled_from: from, scheduled_to: to, ...query } = built.query as { scheduled_from?: string; scheduled_to?: string };
      if (from === undefined || to === undefined) return built;
      if (Date.parse(from) === Date.parse(to)) return { ...built, query };
      const [first, last] = Date.parse(from) < Date.parse(to) ? [from, to] : [to, from];
      return { ...built, query: { ...query, scheduled_from: first, scheduled_to: last } };
    },
  },
  // A sync window: `from` first, at most 3660 days long.
  createGongSyncRun: {
    repair: (built) => {
      const { from, to } = built.body as { from: string; to: string };
      const [start, end] = [Date.parse(from), Date.parse(to)].sort((a, b) => a - b) as [number, number];
      const last = Math.min(Math.max(end, start + 1000), start + 3660 * 24 * 3600 * 1000);
      return { ...built, body: { from: new Date(start).toISOString(), to: new Date(last).toISOString() } };
    },
  },
  // One person once per request: a repeated email or Gong speaker id is made unique, so as many speakers are sent.
  createCall: { repair: distinctSpeakers },
  upsertCallByGongId: { repair: distinctSpeakers },
  // Gong deliveries carry the webhook's key; what they store is removed after the test.
  receiveGongWebhook: {
    repair: (built) => ({ ...built, query: { ...built.query, key: testEnvironment().gong.urlKey } }),
    after: (receipt, { cleanup, db }) => {
      const { delivery_id: deliveryId, call_id: callId } = receipt as { delivery_id: string; call_id: string | null };
      cleanup('delete webhook event', () => db.pool.query(sql.unsafe`DELETE FROM webhook_events WHERE delivery_id = ${deliveryId}`));
      if (callId) cleanup(`delete call ${callId}`, () => db.pool.query(sql.unsafe`DELETE FROM calls WHERE id = ${callId}`));
    },
  },
};

function distinctSpeakers(built: Built): Built {
  const body = built.body as { speakers?: { email?: string | null; gong_speaker_id?: string | null }[] };
  if (!body.speakers) return built;
  const seen = new Set<string>();
  const speakers = body.speakers.map((speaker, index) => {
    const email = speaker.email && seen.has(`email ${speaker.email.toLowerCase()}`) ? `d${index}.${speaker.email}` : speaker.email;
    const gongId = speaker.gong_speaker_id && seen.has(`gong ${speaker.gong_speaker_id.toLowerCase()}`) ? null : speaker.gong_speaker_id;
    if (email) seen.add(`email ${email.toLowerCase()}`);
    if (gongId) seen.add(`gong ${gongId.toLowerCase()}`);
    return { ...speaker, ...(email !== undefined ? { email } : {}), ...(gongId !== undefined ? { gong_speaker_id: gongId } : {}) };
  });
  return { ...built, body: { ...body, speakers } };
}

/** Counts what one test sends, for its report line. */
class Counter {
  sent = 0;
  readonly byKind = new Map<string, number>();
  count(kind: string): void {
    this.sent += 1;
    this.byKind.set(kind, (this.byKind.get(kind) ?? 0) + 1);
  }
}

/** The value to send for a body: generated from the schema, or (sometimes) one of the spec's examples. */
function bodyArbitrary(operation: Operation): fc.Arbitrary<unknown> {
  const fromSchema = arbitrary(operation.body!);
  if (operation.bodyExamples.length === 0) return fromSchema;
  return fc.oneof({ arbitrary: fromSchema, weight: 4 }, { arbitrary: fc.constantFrom(...operation.bodyExamples), weight: 1 });
}

/**
 * Path values for `template`: an existing resource (created through the collection's POST, when
 * the spec has one) or a random UUID. Existing resources are made once per test and reused.
 */
class Resources {
  private readonly existing = new Map<string, Promise<Record<string, string> | null>>();

  constructor(
    private readonly api: ApiClient,
    private readonly counter: Counter,
    private readonly track: (location: string) => void,
  ) {}

  /** Creates the chain of resources a path template names, e.g. a call then one of its speakers. */
  async create(template: string, seed: number): Promise<Record<string, string> | null> {
    const values: Record<string, string> = {};
    const segments = template.split('/');
    for (let index = 0; index < segments.length; index += 1) {
      const name = /^\{(.+)\}$/.exec(segments[index]!)?.[1];
      if (!name) continue;
      const collection = segments.slice(0, index).join('/');
      const creator = OPERATIONS.find((operation) => operation.method === 'POST' && operation.path === collection && operation.body);
      if (!creator) return null;
      const id = await this.post(creator, fill(collection, values), seed + index);
      if (!id) return null;
      values[name] = id;
    }
    return values;
  }

  shared(template: string): Promise<Record<string, string> | null> {
    const key = template;
    if (!this.existing.has(key)) this.existing.set(key, this.create(template, SEED));
    return this.existing.get(key)!;
  }

  private async post(creator: Operation, path: string, seed: number): Promise<string | null> {
    const bodies = fc.sample(arbitrary(creator.body!), { seed, numRuns: 5 });
    for (const body of bodies) {
      this.counter.count('setup');
      const response = await this.api.post(path, body);
      if (response.status() !== 201) continue;
      const location = response.headers().location!;
      this.track(location);
      return location.split('/').at(-1)!;
    }
    return null;
  }
}

function fill(template: string, values: Record<string, string>): string {
  return template.replace(/\{([^}]+)\}/g, (_, name: string) => encodeURIComponent(values[name] ?? ''));
}

function queryString(query: Record<string, unknown>): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value === undefined) continue;
    for (const item of Array.isArray(value) ? value : [value]) search.append(name, typeof item === 'string' ? item : JSON.stringify(item));
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}

/** A valid request for `operation`: path values (existing or random), query and body. */
function requestArbitrary(operation: Operation) {
  const pathParameters = operation.parameters.filter((parameter) => parameter.in === 'path');
  const queryParameters = operation.parameters.filter((parameter) => parameter.in === 'query' && !NEVER_GENERATED.has(parameter.name));
  return fc.record({
    useExisting: fc.boolean(),
    randomPath: fc.record(Object.fromEntries(pathParameters.map((p) => [p.name, arbitrary(p.schema as Schema)]))),
    query: fc.record(
      Object.fromEntries(queryParameters.map((p) => [p.name, arbitrary(p.schema as Schema)])),
      { requiredKeys: queryParameters.filter((p) => p.required).map((p) => p.name) },
    ),
    body: operation.body ? bodyArbitrary(operation) : fc.constant(undefined),
  });
}

type Built = { path: string; query: Record<string, unknown>; body: unknown; pathValues: Record<string, unknown> };

async function build(operation: Operation, resources: Resources, request: object, context: RuleContext): Promise<Built> {
  const r = request as { useExisting: boolean; randomPath: Record<string, unknown>; query: Record<string, unknown>; body: unknown };
  const existing = r.useExisting && Object.keys(r.randomPath).length ? await resources.shared(operation.path) : null;
  const pathValues = { ...r.randomPath, ...(existing ?? {}) };
  const built = { path: fill(operation.path, pathValues as Record<string, string>), query: r.query, body: r.body, pathValues };
  return RULES[operation.id]?.repair?.(built, context) ?? built;
}

async function send(api: ApiClient, operation: Operation, built: Built, options: { raw?: string; contentType?: string } = {}) {
  const url = built.path + queryString(built.query);
  // Bodies go as bytes: Playwright re-encodes a string that is not valid JSON as a JSON string
  // when the content type is JSON, which would turn malformed JSON into a well-formed string.
  if (options.raw !== undefined) {
    return api.fetch(operation.method, url, { data: Buffer.from(options.raw), headers: { 'Content-Type': options.contentType ?? 'application/json' } });
  }
  if (built.body === undefined) return api.fetch(operation.method, url);
  return api.fetch(operation.method, url, { data: Buffer.from(JSON.stringify(built.body)), headers: { 'Content-Type': 'application/json' } });
}

type Problem = { status: number; errors?: { location: string; path: string; message: string }[] };

function summary(operation: Operation, counter: Counter): string {
  const kinds = [...counter.byKind.entries()].map(([kind, n]) => `${kind} ${n}`).join(', ');
  return `[properties seed=${SEED} runs=${RUNS}] ${operation.id}: ${counter.sent} requests (${kinds})`;
}

const assertOptions = (runs: number) => ({ seed: SEED, numRuns: runs, endOnFailure: true });

test.describe(`every operation, property-based (seed ${SEED}, ${RUNS} runs)`, { tag: '@integration' }, () => {
  test('the spec yields operations to check', () => {
    expect(OPERATIONS.length).toBeGreaterThan(0);
  });

  for (const operation of OPERATIONS) {
    test(`${operation.id} (${operation.method} ${operation.path}) seed ${SEED}`, async ({ api, db, cleanup }, testInfo) => {
      // Up to ~150 requests, each checked against the contract: on a loaded 2-core machine that
      // outlasts the default 60 s (seen at load average 16, on main as well), so three times that.
      test.slow();
      const counter = new Counter();
      const track = (location: string) => {
        const call = /^\/calls\/([0-9a-f-]{36})$/.exec(location)?.[1];
        // Speakers and everything else under a call go with it (ON DELETE CASCADE).
        if (call) cleanup.add(`delete call ${call}`, () => db.pool.query(sql.unsafe`DELETE FROM calls WHERE id = ${call}`));
      };
      const resources = new Resources(api, counter, track);
      const context: RuleContext = { api, counter, db, cleanup: (label, run) => cleanup.add(label, run) };

      // 1. Valid requests are never refused as invalid and never fail.
      await fc.assert(
        fc.asyncProperty(requestArbitrary(operation), async (request) => {
          const built = await build(operation, resources, request, context);
          const response = await send(api, operation, built);
          const status = response.status();
          counter.count(`valid→${status}`);
          const detail = status >= 400 ? JSON.stringify(await response.json()) : '';
          expect(status, `valid ${operation.method} ${built.path} ${JSON.stringify(built.body) ?? ''} -> ${detail}`).not.toBe(400);
          expect(status, `valid ${operation.method} ${built.path} -> ${detail}`).toBeLessThan(500);
          if (status === 201) {
            const location = response.headers().location;
            if (location) track(location);
          }
          if (status < 300 && RULES[operation.id]?.after) RULES[operation.id]!.after!(await response.json(), context);
        }),
        assertOptions(RUNS),
      );

      // 2. Exactly one fault in the body, path or query: 400 problem naming where.
      const valueFaults: { where: 'body' | 'path' | 'query'; schema: Schema; pick: (b: Built) => unknown; put: (b: Built, v: unknown) => Built }[] = [];
      if (operation.body) {
        valueFaults.push({ where: 'body', schema: operation.body, pick: (b) => b.body, put: (b, v) => ({ ...b, body: v }) });
      }
      for (const parameter of operation.parameters.filter((p) => (p.in === 'path' || p.in === 'query') && p.name !== 'key')) {
        const where = parameter.in as 'path' | 'query';
        valueFaults.push({
          where,
          schema: parameter.schema as Schema,
          pick: (b) => (where === 'path' ? b.pathValues[parameter.name] : b.query[parameter.name]),
          put: (b, v) =>
            where === 'path'
              ? { ...b, path: fill(operation.path, { ...(b.pathValues as Record<string, string>), [parameter.name]: String(v) }) }
              : { ...b, query: { ...b.query, [parameter.name]: v } },
        });
      }
      for (const target of valueFaults) {
        await fc.assert(
          fc.asyncProperty(requestArbitrary(operation), fc.nat(), async (request, choice) => {
            const built = await build(operation, resources, request, context);
            const value = target.pick(built);
            // Path and query values travel as text: only faults that survive that are faults.
            const candidates = faults(target.schema, value).filter(
              (fault) => target.where === 'body' || (typeof fault.value !== 'object' && fault.value !== '' && fault.kind !== 'missing required field'),
            );
            fc.pre(candidates.length > 0);
            // Pick the kind of fault first (so rare kinds get their turn), then one fault of that kind.
            const kinds = [...new Set(candidates.map((fault) => fault.kind))];
            const ofKind = candidates.filter((fault) => fault.kind === kinds[choice % kinds.length]);
            const fault: Fault = ofKind[Math.floor(choice / kinds.length) % ofKind.length]!;
            const broken = target.put(built, fault.value);
            counter.count(`${target.where}: ${fault.kind}`);
            const response = await send(api, operation, broken);
            const problem = (await response.json()) as Problem;
            const what = `${fault.kind} at ${target.where}${fault.pointer} in ${operation.method} ${broken.path} ${JSON.stringify(broken.body) ?? ''}`;
            expect(response.status(), `${what} -> ${JSON.stringify(problem)}`).toBe(400);
            expect(problem.errors?.length ?? 0, `${what}: errors[] names the fault`).toBeGreaterThan(0);
            if (target.where !== 'body' || fault.pointer !== '') {
              expect(problem.errors!.map((e) => e.location), `${what}: errors[] names the location`).toContain(target.where);
            }
          }),
          assertOptions(FAULT_RUNS * 2),
        );
      }

      // 2b. Every bounded array of the body at its maxItems (never refused as invalid, never a 5xx,
      //    and within the body limit: a bound the body limit cannot carry is a contract fault) and
      //    with one item more (400 naming the array). Arrays are found in bodies sampled from the
      //    schema, one sample per array of the schema (its pointer with indices as *).
      if (operation.body) {
        const samples = fc.sample(requestArbitrary(operation), { seed: SEED, numRuns: 30 }) as { body: unknown }[];
        const byArray = new Map<string, { request: object; bound: ArrayBound }>();
        for (const [index, request] of samples.entries()) {
          for (const bound of arrayBounds(operation.body, request.body, SEED + index)) {
            const key = bound.pointer.replace(/\/\d+(?=\/|$)/g, '/*');
            if (!byArray.has(key)) byArray.set(key, { request, bound });
          }
        }
        const limit = operation.bodyLimit!;
        for (const [key, { request, bound }] of byArray) {
          const at = await build(operation, resources, { ...request, useExisting: true, body: bound.atBound }, context);
          const atBytes = Buffer.byteLength(JSON.stringify(at.body));
          expect(atBytes, `${key || '/'} at its maxItems (${bound.maxItems}) fits the body limit (${limit} bytes)`).toBeLessThanOrEqual(limit);
          counter.count('array at its bound');
          const accepted = await send(api, operation, at);
          const detail = accepted.status() >= 400 ? JSON.stringify(await accepted.json()).slice(0, 500) : '';
          expect(accepted.status(), `${key || '/'} with ${bound.maxItems} items -> ${detail}`).not.toBe(400);
          expect(accepted.status(), `${key || '/'} with ${bound.maxItems} items -> ${detail}`).toBeLessThan(500);
          if (accepted.status() === 201 && accepted.headers().location) track(accepted.headers().location!);
          if (accepted.status() < 300 && RULES[operation.id]?.after) RULES[operation.id]!.after!(await accepted.json(), context);

          const over = await build(operation, resources, { ...request, useExisting: true, body: bound.overBound }, context);
          counter.count('array over its bound');
          const refused = await send(api, operation, over);
          const problem = (await refused.json()) as Problem;
          expect(refused.status(), `${key || '/'} with ${bound.maxItems + 1} items -> ${JSON.stringify(problem).slice(0, 500)}`).toBe(400);
          expect(problem.errors, `${key || '/'} with ${bound.maxItems + 1} items: errors[] names the array`).toContainEqual({
            location: 'body',
            path: bound.pointer || '/',
            message: `must NOT have more than ${bound.maxItems} items`,
          });
        }
      }

      // 3. Faults in the body as bytes: malformed JSON (400), wrong content type (415), too big (413).
      if (operation.body) {
        const malformed = (json: string) => [json.slice(0, -1), `${json},`, json.replace(/^[[{]/, (open) => `${open},`), `{'single': 'quotes'}`, `${json}}`, `{"a": tru}`];
        await fc.assert(
          fc.asyncProperty(requestArbitrary(operation), fc.nat(5), async (request, which) => {
            const built = await build(operation, resources, request, context);
            const raw = malformed(JSON.stringify(built.body))[which]!;
            counter.count('malformed JSON');
            const response = await send(api, operation, built, { raw });
            expect(response.status(), `malformed JSON ${raw.slice(0, 200)}`).toBe(400);
            const problem = (await response.json()) as Problem & { detail: string };
            expect(problem.detail, `malformed JSON ${raw.slice(0, 200)}`).toMatch(/not valid JSON|must be a JSON object/);
            expect(problem.errors?.[0], 'errors[] names the body').toMatchObject({ location: 'body', path: '/' });
          }),
          assertOptions(FAULT_RUNS),
        );
        await fc.assert(
          fc.asyncProperty(
            requestArbitrary(operation),
            fc.constantFrom('text/plain', 'application/x-www-form-urlencoded', 'application/xml', 'multipart/form-data; boundary=x', 'application/octet-stream'),
            async (request, contentType) => {
              const built = await build(operation, resources, request, context);
              counter.count('wrong content type');
              const response = await send(api, operation, built, { raw: JSON.stringify(built.body), contentType });
              expect(response.status(), `content type ${contentType}`).toBe(415);
            },
          ),
          assertOptions(FAULT_RUNS),
        );
        await fc.assert(
          fc.asyncProperty(requestArbitrary(operation), fc.integer({ min: 1, max: 4096 }), async (request, extra) => {
            const built = await build(operation, resources, request, context);
            // Valid JSON, padded with whitespace: the size is its only fault.
            const json = JSON.stringify(built.body);
            const limit = operation.bodyLimit!;
            counter.count('oversized body');
            const response = await send(api, operation, built, { raw: json + ' '.repeat(limit - Buffer.byteLength(json) + extra) });
            expect(response.status(), `a body of ${limit + extra} bytes`).toBe(413);
          }),
          assertOptions(2),
        );

        // Compressed bodies (gzip, deflate, br): a valid one is read like a plain one; a broken one
        // is a 400 naming the encoding. Nesting past the contract's bound is a 400, however deep.
        const compressors = { gzip: zlib.gzipSync, deflate: zlib.deflateSync, br: zlib.brotliCompressSync } as const;
        await fc.assert(
          fc.asyncProperty(requestArbitrary(operation), fc.constantFrom('gzip', 'deflate', 'br'), async (request, encoding) => {
            const built = await build(operation, resources, request, context);
            counter.count(`valid ${encoding} body`);
            const url = built.path + queryString(built.query);
            const data = compressors[encoding](Buffer.from(JSON.stringify(built.body)));
            const response = await api.fetch(operation.method, url, { data, headers: { 'Content-Type': 'application/json', 'Content-Encoding': encoding } });
            const detail = response.status() >= 400 ? JSON.stringify(await response.json()) : '';
            expect(response.status(), `valid ${encoding} body -> ${detail}`).not.toBe(400);
            expect(response.status(), `valid ${encoding} body -> ${detail}`).toBeLessThan(500);
            if (response.status() === 201 && response.headers().location) track(response.headers().location!);
          }),
          assertOptions(FAULT_RUNS),
        );
        await fc.assert(
          fc.asyncProperty(requestArbitrary(operation), fc.constantFrom('not compressed', 'truncated', 'garbage'), fc.constantFrom('gzip', 'deflate', 'br'), async (request, damage, encoding) => {
            const built = await build(operation, resources, request, context);
            counter.count('broken compression');
            const json = Buffer.from(JSON.stringify(built.body));
            const compressed = compressors[encoding](json);
            const data =
              damage === 'not compressed' ? json : damage === 'truncated' ? compressed.subarray(0, Math.max(1, compressed.length - 8)) : Buffer.from([0xff, 0xfe, 0x00, 0x13, 0x37, 0xff]);
            const url = built.path + queryString(built.query);
            const response = await api.fetch(operation.method, url, { data, headers: { 'Content-Type': 'application/json', 'Content-Encoding': encoding } });
            expect(response.status(), `${damage} ${encoding} body`).toBe(400);
            expect((await response.json()).detail, `${damage} ${encoding} body`).toContain(`not valid ${encoding} data`);
          }),
          assertOptions(FAULT_RUNS),
        );
        await fc.assert(
          fc.asyncProperty(requestArbitrary(operation), fc.integer({ min: MAX_NESTING + 1, max: 20_000 }), async (request, depth) => {
            const built = await build(operation, resources, request, context);
            counter.count('nesting too deep');
            const response = await send(api, operation, built, { raw: `${'['.repeat(depth)}${']'.repeat(depth)}` });
            expect(response.status(), `${depth} levels`).toBe(400);
            expect((await response.json()).errors?.[0]?.message, `${depth} levels`).toMatch(/nests deeper than/);
          }),
          assertOptions(FAULT_RUNS),
        );
      }

      // 4. Protected operations refuse every bad token with 401.
      if (operation.isProtected) {
        const tokens: [string, fc.Arbitrary<string | null>][] = [
          ['missing token', fc.constant(null)],
          ['garbage token', fc.oneof(fc.base64String({ minLength: 1, maxLength: 80 }), fc.stringMatching(/^[A-Za-z0-9_-]{1,20}\.[A-Za-z0-9_-]{1,20}\.[A-Za-z0-9_-]{0,20}$/))],
          ['expired token', fc.integer({ min: 1, max: 86_400 }).map((ago) => signToken({}, { expiresInSeconds: -ago }))],
          ['wrong-key token', fc.string({ minLength: 32, maxLength: 48 }).map((secret) => signToken({}, { secret }))],
          ['alg:none token', fc.constantFrom('admin', 'rep', 'manager').map((role) => unsignedToken({ sub: 'x', role }))],
        ];
        for (const [kind, token] of tokens) {
          await fc.assert(
            fc.asyncProperty(requestArbitrary(operation), token, async (request, bad) => {
              const built = await build(operation, resources, request, context);
              counter.count(kind);
              const response = await send(api.as(bad), operation, built);
              expect(response.status(), `${kind} ${bad ?? ''}`).toBe(401);
              expect(response.headers()['www-authenticate'], kind).toMatch(/^Bearer /);
            }),
            assertOptions(Math.max(2, Math.ceil(FAULT_RUNS / 2))),
          );
        }
      }

      // 5. After DELETE the resource is gone: 404 on GET (when the path has one) and on a second DELETE.
      if (operation.method === 'DELETE') {
        await fc.assert(
          fc.asyncProperty(fc.integer({ min: 1, max: 1_000_000 }), async (seed) => {
            const values = await resources.create(operation.path, seed);
            expect(values, `the spec has a POST that creates what ${operation.path} deletes`).not.toBeNull();
            const path = fill(operation.path, values!);
            counter.count('delete');
            const deleted = await api.delete(path);
            expect(deleted.status(), `DELETE ${path}`).toBeLessThan(300);
            if (operation.hasGet) {
              counter.count('get after delete');
              expect((await api.get(path)).status(), `GET ${path} after DELETE`).toBe(404);
            }
            counter.count('delete again');
            expect((await api.delete(path)).status(), `DELETE ${path} again`).toBe(404);
          }),
          assertOptions(Math.max(3, FAULT_RUNS)),
        );
      }

      const line = summary(operation, counter);
      console.log(line);
      testInfo.annotations.push({ type: 'requests', description: line });
    });
  }
});
