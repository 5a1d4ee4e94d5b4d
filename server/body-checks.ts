import type { FieldError } from './problem.js';

/** Faults kept with their place; the rest are only counted (an error body lists 20, see problem.ts). */
const KEPT = 20;

const escape = (key: string) => key.replace(/~/g, '~0').replace(/\//g, '~1');
const NUL = 'must not contain the NUL character (\\u0000)';
const SURROGATE = 'must not contain a lone surrogate (a \\ud800-\\udfff escape without its pair): it is no Unicode text';
/** U+0000, or a UTF-16 surrogate without its pair (JSON.parse admits `"\\ud800"`; it would be stored as U+FFFD). */
function textFault(text: string): string | undefined {
  if (text.includes('\u0000')) return NUL;
  return (text as string & { isWellFormed(): boolean }).isWellFormed() ? undefined : SURROGATE;
}

/**
 * What the contract refuses anywhere in a parsed JSON body, whatever the operation's schema:
 * nesting deeper than `maxDepth` (the body itself is level 1), `__proto__` keys, and U+0000 or a
 * lone surrogate in a key or a string (PostgreSQL stores no U+0000 in text or jsonb, and a lone
 * surrogate is no Unicode text; see info.description in openapi.yaml). Walks with an explicit stack, so no depth of input can overflow the call stack.
 */
export function bodyFaults(body: unknown, maxDepth: number): { errors: FieldError[]; count: number } {
  const errors: FieldError[] = [];
  let count = 0;
  const faults = { push: (fault: FieldError) => (count++ < KEPT ? errors.push(fault) : 0) };
  const stack: { value: unknown; path: string; depth: number }[] = [{ value: body, path: '', depth: 1 }];
  while (stack.length > 0) {
    const { value, path, depth } = stack.pop()!;
    if (typeof value === 'string') {
      const fault = textFault(value);
      if (fault) faults.push({ location: 'body', path: path || '/', message: fault });
      continue;
    }
    if (value === null || typeof value !== 'object') continue;
    if (depth > maxDepth) {
      faults.push({ location: 'body', path: path || '/', message: `nests deeper than ${maxDepth} levels of objects and arrays` });
      continue;
    }
    if (Array.isArray(value)) {
      for (let index = value.length - 1; index >= 0; index--) stack.push({ value: value[index], path: `${path}/${index}`, depth: depth + 1 });
      continue;
    }
    const keys = Object.keys(value);
    for (let index = keys.length - 1; index >= 0; index--) {
      const key = keys[index]!;
      const at = `${path}/${escape(key)}`;
      if (key === '__proto__') faults.push({ location: 'body', path: at, message: 'must not be the reserved key "__proto__"' });
      else {
        const fault = textFault(key);
        if (fault) faults.push({ location: 'body', path: at, message: fault });
      }
      stack.push({ value: (value as Record<string, unknown>)[key], path: at, depth: depth + 1 });
    }
  }
  return { errors, count };
}
