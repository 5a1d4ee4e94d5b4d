/**
 * fast-check arbitraries built from the contract's JSON schemas (OpenAPI 3.0 flavour), and the
 * single-fault mutations the property suite applies to valid values.
 *
 *   arbitrary(schema)  - values valid against `schema`: type, enum, pattern, format (uuid,
 *                        date-time, date, email), min/max (length, value, items), nullable,
 *                        objects (required and optional properties), arrays, oneOf/anyOf/allOf
 *   faults(schema, v)  - every way to break valid `v` with exactly one fault: a missing required
 *                        field, a wrong type, a value out of range (length, bounds, enum, pattern,
 *                        item count, a key longer than x-max-key-length), a bad uuid or other
 *                        format, an unknown property
 *
 * Every generated value is checked against its schema with Ajv before use, and every fault is
 * checked to really be one (with the same type coercion the service's validator applies), so
 * neither a lax generator nor a lax mutation can make the suite pass or fail for the wrong reason.
 */
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import fc from 'fast-check';
import { bodyFaults } from '../../server/body-checks.js';
import { sizeErrors } from '../../server/size-bounds.js';
import { loadSpec } from '../../server/spec.js';
import { schemaErrors } from './contract.js';

export type Schema = {
  type?: string;
  enum?: unknown[];
  format?: string;
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: boolean | number;
  exclusiveMaximum?: boolean | number;
  minItems?: number;
  maxItems?: number;
  minProperties?: number;
  maxProperties?: number;
  nullable?: boolean;
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: boolean | Schema;
  items?: Schema;
  oneOf?: Schema[];
  anyOf?: Schema[];
  allOf?: Schema[];
  example?: unknown;
  /** The longest key a free-form object may have (the contract's bound; OpenAPI 3.0 has no propertyNames). */
  'x-max-key-length'?: number;
};

export type FaultKind = 'missing required field' | 'wrong type' | 'out of range' | 'bad uuid' | 'bad format' | 'extra property';

/** One broken copy of a valid value: what was broken and where (a JSON pointer). */
export type Fault = { kind: FaultKind; pointer: string; value: unknown };

// The service validates with coerceTypes: true; a "fault" that coercion repairs is no fault.
const coercing = new Ajv({ allErrors: true, strict: false, coerceTypes: true });
addFormats.default(coercing);
const coercingValidators = new WeakMap<object, ReturnType<Ajv['compile']>>();

/**
 * Whether the service's validator accepts `value`: its size checks (size-bounds.ts: item and
 * member counts, key lengths), then Ajv coercing types, as openapi.ts configures it.
 */
export function acceptedByService(schema: Schema, value: unknown): boolean {
  let validate = coercingValidators.get(schema);
  if (!validate) {
    validate = coercing.compile(schema);
    coercingValidators.set(schema, validate);
  }
  return sizeErrors(schema as never, value).count === 0 && Boolean(validate(structuredClone(value)));
}

/** The contract's bound on nesting in bodies (info.x-max-nesting-depth). */
const MAX_DEPTH = (loadSpec().document.info as { 'x-max-nesting-depth': number })['x-max-nesting-depth'];
const MAX_STRING = 60;
const MAX_ITEMS = 3;

/** Free-form JSON (an object schema without properties, e.g. Gong's raw metadata). */
const freeJson = fc.dictionary(
  fc.string({ unit: 'grapheme', maxLength: 12 }).filter((key) => !key.includes('\u0000')),
  fc.jsonValue({ maxDepth: 2 }),
  { maxKeys: 4 },
);

function stringArbitrary(schema: Schema): fc.Arbitrary<string> {
  const minLength = schema.minLength ?? 0;
  const maxLength = Math.max(minLength, Math.min(schema.maxLength ?? MAX_STRING, MAX_STRING));
  switch (schema.format) {
    case 'uuid':
      return fc.uuid();
    case 'date-time':
      return fc
        .date({ min: new Date('1990-01-01T00:00:00Z'), max: new Date('2090-01-01T00:00:00Z'), noInvalidDate: true })
        .map((date) => date.toISOString());
    case 'date':
      return fc
        .date({ min: new Date('1990-01-01T00:00:00Z'), max: new Date('2090-01-01T00:00:00Z'), noInvalidDate: true })
        .map((date) => date.toISOString().slice(0, 10));
    case 'email':
      return fc
        .tuple(fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,20}$/), fc.stringMatching(/^[a-z0-9]{1,12}$/))
        .map(([local, domain]) => `${local}@${domain}.example.com`);
    default:
      break;
  }
  if (schema.pattern) {
    const pattern = new RegExp(schema.pattern, 'u');
    return fc
      .oneof(fc.stringMatching(pattern), fc.string({ unit: 'grapheme', minLength, maxLength }))
      .filter((text) => pattern.test(text) && [...text].length >= minLength && [...text].length <= (schema.maxLength ?? Infinity));
  }
  return fc.string({ unit: 'grapheme', minLength, maxLength }).filter((text) => [...text].length >= minLength);
}

function numberArbitrary(schema: Schema, integer: boolean): fc.Arbitrary<number> {
  const exclusiveMin = schema.exclusiveMinimum === true ? 1 : 0;
  const exclusiveMax = schema.exclusiveMaximum === true ? 1 : 0;
  const min = (schema.minimum ?? -1_000_000) + (integer ? exclusiveMin : 0);
  const max = (schema.maximum ?? 1_000_000) - (integer ? exclusiveMax : 0);
  if (integer) return fc.integer({ min: Math.ceil(min), max: Math.floor(max) });
  return fc.double({ min, max, noNaN: true, noDefaultInfinity: true, minExcluded: Boolean(exclusiveMin), maxExcluded: Boolean(exclusiveMax) });
}

function mergeAllOf(schemas: Schema[]): Schema {
  return schemas.reduce<Schema>(
    (merged, part) => ({
      ...merged,
      ...part,
      properties: { ...merged.properties, ...part.properties },
      required: [...(merged.required ?? []), ...(part.required ?? [])],
    }),
    {},
  );
}

function rawArbitrary(schema: Schema): fc.Arbitrary<unknown> {
  if (schema.allOf) return rawArbitrary(mergeAllOf(schema.allOf));
  if (schema.oneOf || schema.anyOf) return fc.oneof(...(schema.oneOf ?? schema.anyOf)!.map((part) => arbitrary(part)));
  if (schema.enum) return fc.constantFrom(...schema.enum);
  const type = schema.type ?? (schema.properties ? 'object' : schema.items ? 'array' : undefined);
  switch (type) {
    case 'string':
      return stringArbitrary(schema);
    case 'integer':
      return numberArbitrary(schema, true);
    case 'number':
      return numberArbitrary(schema, false);
    case 'boolean':
      return fc.boolean();
    case 'array': {
      const minLength = schema.minItems ?? 0;
      const maxLength = Math.max(minLength, Math.min(schema.maxItems ?? MAX_ITEMS, MAX_ITEMS));
      return fc.array(arbitrary(schema.items ?? {}), { minLength, maxLength });
    }
    case 'object': {
      const properties = schema.properties ?? {};
      // A map (e.g. scores): keys of free text, every value valid against its schema.
      if (Object.keys(properties).length === 0 && schema.additionalProperties && typeof schema.additionalProperties === 'object') {
        const minKeys = schema.minProperties ?? 0;
        const key = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }).filter((text) => !text.includes('\u0000') && text !== '__proto__');
        return fc.dictionary(key, arbitrary(schema.additionalProperties), {
          minKeys,
          maxKeys: Math.max(minKeys, Math.min(schema.maxProperties ?? MAX_ITEMS, MAX_ITEMS)),
        });
      }
      if (Object.keys(properties).length === 0) return freeJson;
      const record = fc.record(
        Object.fromEntries(Object.entries(properties).map(([name, property]) => [name, arbitrary(property)])),
        { requiredKeys: (schema.required ?? []).filter((name) => name in properties) },
      );
      return record;
    }
    default:
      return fc.jsonValue({ maxDepth: 1 });
  }
}

/**
 * Values valid against `schema` (checked with Ajv, so the generator cannot drift from the spec)
 * and against the API-wide rule that no text holds U+0000 (openapi.yaml, info.description).
 */
export function arbitrary(schema: Schema): fc.Arbitrary<unknown> {
  const base = rawArbitrary(schema);
  const withNull = schema.nullable ? fc.option(base, { nil: null, freq: 5 }) : base;
  return withNull.filter((value) => schemaErrors(schema, value).length === 0 && bodyFaults(value, MAX_DEPTH).count === 0);
}

// ---------------------------------------------------------------------------------------------
// Faults

const escape = (key: string) => key.replace(/~/g, '~0').replace(/\//g, '~1');

/** Every (pointer, schema, value) inside `value`, walking `schema` alongside. */
function locations(schema: Schema, value: unknown, pointer = ''): { pointer: string; schema: Schema; value: unknown }[] {
  const here = { pointer, schema, value };
  if (schema.allOf) return locations(mergeAllOf(schema.allOf), value, pointer);
  if (Array.isArray(value) && schema.items) {
    return [here, ...value.flatMap((item, index) => locations(schema.items!, item, `${pointer}/${index}`))];
  }
  if (value && typeof value === 'object' && schema.properties) {
    return [
      here,
      ...Object.entries(value as Record<string, unknown>)
        .filter(([key]) => schema.properties![key])
        .flatMap(([key, child]) => locations(schema.properties![key]!, child, `${pointer}/${escape(key)}`)),
    ];
  }
  return [here];
}

function replaceAt(root: unknown, pointer: string, replacement: unknown | typeof REMOVE): unknown {
  if (pointer === '') return replacement;
  const copy = structuredClone(root) as Record<string, unknown>;
  const keys = pointer.slice(1).split('/').map((key) => key.replace(/~1/g, '/').replace(/~0/g, '~'));
  let node: Record<string, unknown> = copy;
  for (const key of keys.slice(0, -1)) node = node[key] as Record<string, unknown>;
  const last = keys.at(-1)!;
  if (replacement === REMOVE) delete node[last];
  else node[last] = replacement;
  return copy;
}
const REMOVE = Symbol('remove');

/** A value of another JSON type that type coercion cannot turn into `type`. */
function wrongTypeFor(schema: Schema): unknown[] {
  const type = schema.type ?? (schema.properties ? 'object' : undefined);
  if (type === 'object') return ['not an object', 42, ['array']];
  if (type === 'array') return ['not an array', { not: 'an array' }];
  if (type === 'string' || type === 'integer' || type === 'number' || type === 'boolean') {
    return [{ wrong: 'type' }, ['wrong', 'type']];
  }
  return [];
}

// The urn:uuid: and brace forms: ajv-formats' uuid takes the first, PostgreSQL's uuid input the second.
const NOT_A_UUID = [
  'not-a-uuid', '12345', '0f8e5d8c-7b1a-4c36-9d2e-6a4b7e1c2f9', '0f8e5d8c7b1a4c369d2e6a4b7e1c2f90zz', 'g0000000-0000-4000-8000-000000000000',
  'urn:uuid:0f8e5d8c-7b1a-4c36-9d2e-6a4b7e1c2f90', '{0f8e5d8c-7b1a-4c36-9d2e-6a4b7e1c2f90}', '0f8e5d8c7b1a4c369d2e6a4b7e1c2f90',
];
const BAD_FORMAT: Record<string, unknown[]> = {
  'date-time': ['yesterday', '2026-13-45T99:00:00Z', '2026-11-02 15:00'],
  date: ['02/11/2026', '2026-02-30x'],
  email: ['not an email', 'a@', '@example.com'],
};

/** Values that break a bound, an enum or a pattern of `schema` while keeping its type. */
function outOfRange(schema: Schema): unknown[] {
  const found: unknown[] = [];
  if (schema.enum) found.push('not_one_of_the_values', `${String(schema.enum[0])}_x`);
  if (schema.type === 'string') {
    if (schema.maxLength !== undefined) found.push('x'.repeat(schema.maxLength + 1));
    if (schema.minLength) found.push('x'.repeat(schema.minLength - 1));
    if (schema.pattern) found.push('', ' ', 'abc', '\u0000', 'line\u0000break', '!'.repeat(30), '1'.repeat(25));
  }
  if (schema.type === 'integer' || schema.type === 'number') {
    if (schema.maximum !== undefined) found.push(schema.maximum + 1, schema.maximum + 1_000_000);
    if (schema.minimum !== undefined) found.push(schema.minimum - 1, schema.minimum - 1_000_000);
    if (schema.type === 'integer') found.push(1.5);
  }
  if (schema.type === 'array') {
    if (schema.maxItems !== undefined && schema.items) found.push(Array.from({ length: schema.maxItems + 1 }, () => schema.items!.example ?? null));
    if (schema.minItems) found.push([]);
  }
  return found;
}

/** Every single-fault variant of valid `value`; each is verified to be refused by the service's validator. */
export function faults(schema: Schema, value: unknown): Fault[] {
  const found: Fault[] = [];
  for (const at of locations(schema, value)) {
    const candidates: [FaultKind, unknown | typeof REMOVE, string][] = [];
    const s = at.schema;
    if (at.value && typeof at.value === 'object' && !Array.isArray(at.value) && s.properties) {
      for (const name of s.required ?? []) {
        if (name in (at.value as object)) candidates.push(['missing required field', REMOVE, `${at.pointer}/${escape(name)}`]);
      }
      if (s.additionalProperties === false) {
        candidates.push(['extra property', { ...(at.value as object), unexpected_property: 'surprise' }, at.pointer]);
      }
    }
    const maxKey = s['x-max-key-length'];
    if (maxKey !== undefined && at.value && typeof at.value === 'object' && !Array.isArray(at.value)) {
      // One key too long: a typed map's first key renamed (its value stays valid), else a key added.
      const long = 'k'.repeat(maxKey + 1);
      const entries = Object.entries(at.value as Record<string, unknown>);
      const typedMap = typeof s.additionalProperties === 'object' && entries.length > 0;
      const broken = typedMap ? Object.fromEntries([[long, entries[0]![1]], ...entries.slice(1)]) : { ...(at.value as object), [long]: null };
      candidates.push(['out of range', broken, at.pointer]);
    }
    for (const wrong of wrongTypeFor(s)) candidates.push(['wrong type', wrong, at.pointer]);
    for (const bad of outOfRange(s)) candidates.push(['out of range', bad, at.pointer]);
    if (s.format === 'uuid') for (const bad of NOT_A_UUID) candidates.push(['bad uuid', bad, at.pointer]);
    for (const bad of BAD_FORMAT[s.format ?? ''] ?? []) candidates.push(['bad format', bad, at.pointer]);

    for (const [kind, replacement, pointer] of candidates) {
      const broken = replaceAt(value, pointer, replacement);
      if (!acceptedByService(schema, broken)) found.push({ kind, pointer, value: broken });
    }
  }
  return found;
}

// ---------------------------------------------------------------------------------------------
// Arrays at and over their bounds

/** One array of a valid value filled to its `maxItems` (accepted) and to one more (refused). */
export type ArrayBound = { pointer: string; maxItems: number; atBound: unknown; overBound: unknown };

/** Arrays longer than this are filled with shrunken items (short strings, least numbers), so a body at the bound stays small. */
const SHRINK_ABOVE_ITEMS = 1000;
/** Distinct items sampled per array; longer arrays repeat them. */
const DISTINCT_ITEMS = 200;

/**
 * `value` with every array cut to as few items as it may have (its minItems, or one when it had
 * any, so nested arrays stay reachable), recursively; with `shrinkText`, strings cut to their
 * minLength and numbers set to their minimum too, wherever the schema still accepts the result.
 */
function fewest(schema: Schema, value: unknown, shrinkText: boolean): unknown {
  if (schema.allOf) return fewest(mergeAllOf(schema.allOf), value, shrinkText);
  if (Array.isArray(value) && schema.items) {
    const keep = Math.max(schema.minItems ?? 0, Math.min(1, value.length));
    return value.slice(0, keep).map((item) => fewest(schema.items!, item, shrinkText));
  }
  if (value && typeof value === 'object' && !Array.isArray(value) && schema.properties) {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>).map(([key, child]) => [
        key,
        schema.properties![key] ? fewest(schema.properties![key]!, child, shrinkText) : child,
      ]),
    );
  }
  if (shrinkText && typeof value === 'string' && !schema.enum) {
    const shorter = [...value].slice(0, schema.minLength ?? 0).join('');
    return schemaErrors(schema, shorter).length === 0 ? shorter : value;
  }
  if (shrinkText && typeof value === 'number' && schema.minimum !== undefined && schemaErrors(schema, schema.minimum).length === 0) {
    return schema.minimum;
  }
  return value;
}

/** Every array inside `value` (walking `schema`) that states a maxItems, with its pointer. */
function boundedArrays(schema: Schema, value: unknown): { pointer: string; schema: Schema }[] {
  return locations(schema, value).filter(
    (at) => Array.isArray(at.value) && at.schema.maxItems !== undefined && at.schema.items !== undefined,
  );
}

/**
 * For every bounded array of valid `value`: a copy of `value` with every other array at its
 * fewest items and this one filled to exactly `maxItems` items valid against its item schema
 * (sampled from `arbitrary`, seeded), and a copy with one item more. Both are checked with the
 * service's own validator: the first must be accepted, the second refused, or the construction
 * itself is wrong and this throws (a lax generator must not pass for the service).
 */
export function arrayBounds(schema: Schema, value: unknown, seed: number): ArrayBound[] {
  const base = fewest(schema, value, false);
  return boundedArrays(schema, base).map(({ pointer, schema: array }) => {
    const maxItems = array.maxItems!;
    const shrinkText = maxItems > SHRINK_ABOVE_ITEMS;
    const sampled = fc.sample(arbitrary(array.items!), { seed, numRuns: Math.min(maxItems + 1, DISTINCT_ITEMS) });
    const items = sampled.map((item) => {
      const small = fewest(array.items!, item, shrinkText);
      return schemaErrors(array.items!, small).length === 0 ? small : fewest(array.items!, item, false);
    });
    const filled = (count: number) => Array.from({ length: count }, (_, index) => structuredClone(items[index % items.length]));
    const atBound = replaceAt(base, pointer, filled(maxItems));
    const overBound = replaceAt(base, pointer, filled(maxItems + 1));
    if (!acceptedByService(schema, atBound)) {
      throw new Error(`arrayBounds: ${pointer || '/'} filled to its maxItems (${maxItems}) is not valid: the generator is wrong`);
    }
    if (acceptedByService(schema, overBound)) {
      throw new Error(`arrayBounds: ${pointer || '/'} with ${maxItems + 1} items is still valid: the schema does not bound it`);
    }
    return { pointer, maxItems, atBound, overBound };
  });
}
