import { LISTED_ERRORS, type FieldError } from './problem.js';

type SizedSchema = {
  maxItems?: number;
  maxProperties?: number;
  items?: SizedSchema;
  properties?: Record<string, SizedSchema>;
  additionalProperties?: boolean | SizedSchema;
  allOf?: SizedSchema[];
  /** The longest key a free-form object may have, in characters (OpenAPI 3.0 has no propertyNames). */
  'x-max-key-length'?: number;
};

/** The length of the longest key past `max` characters (code points, as maxLength counts), or 0. */
function overlongKey(keys: string[], max: number): number {
  let longest = 0;
  // A key's UTF-16 length bounds its code points from above: only a long one is counted.
  for (const key of keys) if (key.length > max) longest = Math.max(longest, [...key].length);
  return longest > max ? longest : 0;
}

const escape = (key: string) => key.replace(/~/g, '~0').replace(/\//g, '~1');

/**
 * The arrays and objects of a JSON `value` with more items (`maxItems`) or members
 * (`maxProperties`) than `schema` states, checked before Ajv: Ajv with allErrors also checks every
 * item of an array that is already too long, so 50,000 empty speakers made 150,000 errors (and
 * collecting them overflowed the stack). What is too big is reported alone; its contents are
 * validated once it fits. Keys of a free-form object longer than its `x-max-key-length` are
 * reported the same way, at the object (the key itself is not echoed: it may be a megabyte).
 * Walks with an explicit stack, like bodyFaults.
 */
export function sizeErrors(schema: SizedSchema, value: unknown): { errors: FieldError[]; count: number } {
  const errors: FieldError[] = [];
  let count = 0;
  const stack: { schema: SizedSchema; value: unknown; path: string }[] = [{ schema, value, path: '' }];
  while (stack.length > 0) {
    const at = stack.pop()!;
    for (const part of at.schema.allOf ?? []) stack.push({ ...at, schema: part });
    if (Array.isArray(at.value)) {
      const { maxItems, items } = at.schema;
      if (maxItems !== undefined && at.value.length > maxItems) {
        if (count++ < LISTED_ERRORS) errors.push({ location: 'body', path: at.path || '/', message: `must NOT have more than ${maxItems} items` });
        continue;
      }
      if (items) for (let index = at.value.length - 1; index >= 0; index--) stack.push({ schema: items, value: at.value[index], path: `${at.path}/${index}` });
    } else if (at.value !== null && typeof at.value === 'object') {
      const keys = Object.keys(at.value);
      const { maxProperties, properties, additionalProperties } = at.schema;
      if (maxProperties !== undefined && keys.length > maxProperties) {
        if (count++ < LISTED_ERRORS) errors.push({ location: 'body', path: at.path || '/', message: `must NOT have more than ${maxProperties} properties` });
        continue;
      }
      const maxKeyLength = at.schema['x-max-key-length'];
      const longest = maxKeyLength === undefined ? 0 : overlongKey(keys, maxKeyLength);
      if (longest > 0) {
        const message = `must NOT have keys longer than ${maxKeyLength} characters (one has ${longest})`;
        if (count++ < LISTED_ERRORS) errors.push({ location: 'body', path: at.path || '/', message });
        continue;
      }
      for (let index = keys.length - 1; index >= 0; index--) {
        const key = keys[index]!;
        const child = properties?.[key] ?? (typeof additionalProperties === 'object' ? additionalProperties : undefined);
        if (child) stack.push({ schema: child, value: (at.value as Record<string, unknown>)[key], path: `${at.path}/${escape(key)}` });
      }
    }
  }
  return { errors, count };
}
