/**
 * The breaking-change gate: compares openapi.yaml with the last released contract
 * (openapi/released.yaml) and fails when a client of the released contract would break (an
 * operation, field, enum value or status removed, a request field made required, a type or
 * bound narrowed, ...) unless info.version's major number went up. Classification is
 * api-smart-diff's (pure JavaScript, runs offline), plus two rules of ours: a type changed in a
 * response is breaking (the library calls it non-breaking; a client parsing the old type breaks),
 * and a bound or format added to a response is not (the library calls some of them breaking).
 *
 *   npm run contract:gate                    -> openapi.yaml against openapi/released.yaml
 *   npm run contract:release                 -> openapi.yaml becomes the released contract
 *   tsx scripts/contract-gate.ts --released A --current B
 */
import { copyFileSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { apiCompare } from 'api-smart-diff';
import { parse } from 'yaml';

const ROOT = path.resolve(import.meta.dirname, '..');

export type Contract = { info?: { version?: unknown } } & Record<string, unknown>;
type Diff = { action: string; path: (string | number)[]; type: string; description?: string; before?: unknown; after?: unknown };
type Version = [number, number, number];
export type Verdict = { ok: boolean; lines: string[]; breaking: number };

const SEMVER = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?$/;

function versionOf(contract: Contract, name: string): Version | string {
  const text = String(contract.info?.version ?? '');
  const match = SEMVER.exec(text);
  if (!match) return `${name}: info.version must be semver (MAJOR.MINOR.PATCH); got "${text}"`;
  return [Number(match[1]), Number(match[2]), Number(match[3])];
}

function compareVersions(a: Version, b: Version): number {
  return a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
}

/**
 * Bounds and formats that narrow a value: added to a response, they promise less variety than the
 * released contract allowed, which breaks no client. api-smart-diff calls such additions breaking
 * in responses reached through `components/responses` (every problem+json error), non-breaking
 * elsewhere.
 */
const NARROWING = new Set(['maximum', 'minimum', 'exclusiveMaximum', 'exclusiveMinimum', 'maxItems', 'maxLength', 'maxProperties', 'format']);

function narrowsAResponse(diff: Diff): boolean {
  return diff.action === 'add' && diff.path[0] === 'paths' && diff.path[3] === 'responses' && NARROWING.has(String(diff.path.at(-1)));
}

/** A change of a response header's `required` (api-smart-diff judges it as if it were a request parameter's). */
function isResponseHeaderRequired(diff: Diff): boolean {
  const at = diff.path.length;
  return diff.path[0] === 'paths' && diff.path[3] === 'responses' && diff.path[at - 3] === 'headers' && diff.path[at - 1] === 'required';
}

/** A response header made `required: true`: the server promises to send it, which breaks no client. */
function requiresAResponseHeader(diff: Diff): boolean {
  return isResponseHeaderRequired(diff) && (diff.action === 'add' || diff.action === 'replace') && diff.after !== false;
}

/** A required response header made optional: a client that reads it may find it missing. */
function unrequiresAResponseHeader(diff: Diff): boolean {
  return isResponseHeaderRequired(diff) && ((diff.action === 'replace' && diff.after === false) || (diff.action === 'remove' && diff.before === true));
}

/** Breaking for a client: the library's verdict (but for a response narrowed or a header now promised), plus a type replaced anywhere in a response and a promised header withdrawn. */
function isBreaking(diff: Diff): boolean {
  if (narrowsAResponse(diff) || requiresAResponseHeader(diff)) return false;
  if (unrequiresAResponseHeader(diff)) return true;
  if (diff.type === 'breaking') return true;
  return diff.action === 'replace' && diff.path.at(-1) === 'type' && diff.path.includes('responses');
}

/** Whether `current` may follow `released`: no unannounced break, and a semver that does not go down. */
export function gateVerdict(released: Contract, current: Contract): Verdict {
  const from = versionOf(released, 'released contract');
  const to = versionOf(current, 'openapi.yaml');
  if (typeof from === 'string') return { ok: false, lines: [from], breaking: 0 };
  if (typeof to === 'string') return { ok: false, lines: [to], breaking: 0 };
  const [fromText, toText] = [from.join('.'), to.join('.')];
  if (compareVersions(to, from) < 0) return { ok: false, lines: [`info.version ${toText} is lower than the released ${fromText}`], breaking: 0 };

  const { diffs } = apiCompare(released, current) as { diffs: Diff[] };
  // Components show up twice (where defined and where used): report them where a client meets them.
  const breaking = diffs.filter((diff) => isBreaking(diff) && (diff.path[0] !== 'components' || diff.path[1] === 'securitySchemes'));
  if (breaking.length > 0 && to[0] <= from[0]) {
    const where = (diff: Diff) => diff.path.map(String).join(' > ');
    return {
      ok: false,
      breaking: breaking.length,
      lines: [
        `${breaking.length} change(s) break clients of the released contract ${fromText}:`,
        ...breaking.slice(0, 50).map((diff) => `  - ${diff.description ?? diff.action} at ${where(diff)}`),
        ...(breaking.length > 50 ? [`  … and ${breaking.length - 50} more`] : []),
        `undo them, or, if the break is intended, raise info.version to ${from[0] + 1}.0.0 (README: "Releasing a contract version")`,
      ],
    };
  }
  const note = breaking.length > 0 ? `; ${breaking.length} breaking, allowed by the major version ${toText}` : '';
  return {
    ok: true,
    breaking: breaking.length,
    lines: [`${diffs.length} difference(s) from released ${fromText}${note}; no client of ${fromText} breaks unannounced.`],
  };
}

function main(): void {
  const { values } = parseArgs({
    options: {
      released: { type: 'string', default: path.join(ROOT, 'openapi', 'released.yaml') },
      current: { type: 'string', default: path.join(ROOT, 'openapi.yaml') },
      release: { type: 'boolean', default: false },
    },
  });
  const load = (file: string) => parse(readFileSync(file, 'utf8')) as Contract;
  const released = load(values.released);
  const current = load(values.current);
  const verdict = gateVerdict(released, current);
  if (values.release && verdict.ok && String(current.info?.version) === String(released.info?.version)) {
    verdict.ok = false;
    verdict.lines.push(`raise info.version above the released ${String(released.info?.version)} before releasing (major for breaking changes, else minor)`);
  }
  for (const line of verdict.lines) (verdict.ok ? console.log : console.error)(`contract gate: ${line}`);
  if (!verdict.ok) process.exit(1);
  if (values.release) {
    copyFileSync(values.current, values.released);
    console.log(`contract gate: released ${String(current.info?.version)} as ${path.relative(ROOT, values.released)}; commit it.`);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) main();
