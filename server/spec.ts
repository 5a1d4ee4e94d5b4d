import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

// One directory below the project root, whether run from server/spec.ts or the bundle dist/server.js.
export const SPEC_PATH = fileURLToPath(new URL('../openapi.yaml', import.meta.url));

/** The contract as committed (served at /openapi.yaml) and parsed (served at /openapi.json). */
export function loadSpec(): { yaml: string; document: Record<string, unknown> } {
  const yaml = readFileSync(SPEC_PATH, 'utf8');
  return { yaml, document: parse(yaml) as Record<string, unknown> };
}
