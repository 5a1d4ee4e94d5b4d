/**
 * The breaking-change gate: compares openapi.yaml with the last released contract
 * (openapi/released.yaml) and fails when a client of the released contract would break (an
 * operation, field, enum value or status removed, a request field made required, a type or
 * bound narrowed, ...) unless info.version's major number went up. Classification is
 * api-smart-diff's (pure JavaScript, runs offline), plus three rules of ours: a type changed in a
 * response is breaking (the library calls it non-breaking; a client parsing the old type breaks),
 * a bound or format added to a response is not (the library calls some of them breaking), and
 * our own size extensions (x-body-limit, x-max-sentences, x-max-key-length, x-max-nesting-depth)
 * added or lowered on a request are (the library cannot know what they mean).
 *
 * A break reviewed and accepted without a new major version (a tightening no real client can
 * meet) is listed in openapi/accepted-changes.yaml with why, like oasdiff's --err-ignore file:
 * the gate lets exactly those through and prints each with its reason; any other break still
 * fails, and so does a listed change the diff no longer has (remove it). Releasing empties it.
 *
 *   npm run contract:gate                    -> openapi.yaml against openapi/released.yaml
 *   npm run contract:release                 -> openapi.yaml becomes the released contract
 *   tsx scripts/contract-gate.ts --released A --current B [--accepted C]
 */
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { apiCompare } from 'api-smart-diff';
import { parse } from 'yaml';

const ROOT = path.resolve(import.meta.dirname, '..');
const ACCEPTED = path.join(ROOT, 'openapi', 'accepted-changes.yaml');

/** The accepted-changes file right after a release: its header, the version, no changes. */
function emptyAccepted(version: string): string {
  const text = readFileSync(ACCEPTED, 'utf8');
  const start = text.search(/^released:/m);
  return `${start < 0 ? text : text.slice(0, start)}released: ${version}\nchanges: []\n`;
}

export type Contract = { info?: { version?: unknown } } & Record<string, unknown>;
type Diff = { action: string; path: (string | number)[]; type: string; description?: string; before?: unknown; after?: unknown };
/** openapi/accepted-changes.yaml: breaks accepted against the released contract, each with why. */
export type AcceptedChanges = { released?: unknown; changes?: { why?: unknown; at?: unknown }[] | null };
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

/** The contract's own bounds on what a request may hold; the library reads them as annotations. */
const OWN_BOUNDS = new Set(['x-body-limit', 'x-max-sentences', 'x-max-key-length', 'x-max-nesting-depth']);

/** One of our bounds added to, or lowered on, what a client sends (an operation or the API's info). */
function narrowsARequestByOwnBound(diff: Diff): boolean {
  if (!OWN_BOUNDS.has(String(diff.path.at(-1)))) return false;
  const onRequests = (diff.path[0] === 'paths' && !diff.path.includes('responses')) || diff.path[0] === 'info';
  if (!onRequests) return false;
  if (diff.action === 'add') return true;
  return diff.action === 'replace' && !(Number(diff.after) >= Number(diff.before));
}

/** Breaking for a client: the library's verdict (but for a response narrowed or a header now promised), plus a type replaced anywhere in a response, a promised header withdrawn and one of our bounds narrowed on a request. */
function isBreaking(diff: Diff): boolean {
  if (narrowsAResponse(diff) || requiresAResponseHeader(diff)) return false;
  if (unrequiresAResponseHeader(diff)) return true;
  if (diff.type === 'breaking') return true;
  if (narrowsARequestByOwnBound(diff)) return true;
  return diff.action === 'replace' && diff.path.at(-1) === 'type' && diff.path.includes('responses');
}

/** A change in words: the operation, then what changed (the library's wording, ours for our bounds). */
function describe(diff: Diff): string {
  const operation = diff.path[0] === 'paths' ? `${String(diff.path[2]).toUpperCase()} ${String(diff.path[1])}: ` : '';
  if (!narrowsARequestByOwnBound(diff)) return `${operation}${diff.description ?? diff.action}`;
  const schema = diff.path.indexOf('schema');
  const field = schema < 0 ? '' : diff.path.slice(schema + 1, -1).filter((key) => key !== 'properties').join('.') || 'the body';
  const bound = diff.action === 'add' ? `${String(diff.path.at(-1))}: ${String(diff.after)} added` : `${String(diff.path.at(-1))} lowered from ${String(diff.before)} to ${String(diff.after)}`;
  return `${operation}${bound}${field ? ` on ${field}` : ''}`;
}

/** How a change is named, as the gate prints it and as accepted-changes.yaml lists it: action and location. */
const changeKey = (diff: Diff) => `${diff.action} ${diff.path.map(String).join(' > ')}`;

/** The accepted changes, checked: for this released version, each with a reason and its locations. */
function readAccepted(accepted: AcceptedChanges, releasedVersion: string): { reasons: Map<string, string>; faults: string[] } {
  const reasons = new Map<string, string>();
  const faults: string[] = [];
  const changes = accepted.changes ?? [];
  if (changes.length > 0 && String(accepted.released) !== releasedVersion) {
    faults.push(`accepted changes are listed against ${String(accepted.released)}, but the released contract is ${releasedVersion}: review them against it`);
  }
  for (const [index, change] of changes.entries()) {
    const at = Array.isArray(change?.at) ? change.at.map(String) : [];
    if (typeof change?.why !== 'string' || change.why.trim() === '') faults.push(`accepted change ${index + 1} has no \`why\`: say why no client of the released contract is hurt`);
    if (at.length === 0) faults.push(`accepted change ${index + 1} lists no \`at\` (the changes as the gate prints them)`);
    for (const key of at) reasons.set(key, String(change?.why ?? '').trim());
  }
  return { reasons, faults };
}

/**
 * Whether `current` may follow `released`: no break that is neither announced (a higher major
 * version) nor accepted (listed in `accepted`, with why), and a semver that does not go down.
 */
export function gateVerdict(released: Contract, current: Contract, accepted: AcceptedChanges = {}): Verdict {
  const from = versionOf(released, 'released contract');
  const to = versionOf(current, 'openapi.yaml');
  if (typeof from === 'string') return { ok: false, lines: [from], breaking: 0 };
  if (typeof to === 'string') return { ok: false, lines: [to], breaking: 0 };
  const [fromText, toText] = [from.join('.'), to.join('.')];
  if (compareVersions(to, from) < 0) return { ok: false, lines: [`info.version ${toText} is lower than the released ${fromText}`], breaking: 0 };

  const { diffs } = apiCompare(released, current) as { diffs: Diff[] };
  // Components show up twice (where defined and where used): report them where a client meets them.
  const all = diffs.filter((diff) => isBreaking(diff) && (diff.path[0] !== 'components' || diff.path[1] === 'securitySchemes'));
  const { reasons, faults } = readAccepted(accepted, fromText);
  const acceptedHere = all.filter((diff) => reasons.has(changeKey(diff)));
  const breaking = all.filter((diff) => !reasons.has(changeKey(diff)));
  const found = new Set(all.map(changeKey));
  const stale = [...reasons.keys()].filter((key) => !found.has(key));
  const byReason = new Map<string, Diff[]>();
  for (const diff of acceptedHere) {
    const why = reasons.get(changeKey(diff))!;
    byReason.set(why, [...(byReason.get(why) ?? []), diff]);
  }
  const acceptedLines = acceptedHere.length
    ? [
        `${acceptedHere.length} breaking change(s) accepted in openapi/accepted-changes.yaml, each reviewed:`,
        ...[...byReason].flatMap(([why, group]) => [`  accepted because: ${why}`, ...group.map((diff) => `    - ${describe(diff)}`)]),
      ]
    : [];
  const problems = [
    ...faults,
    ...stale.map((key) => `openapi/accepted-changes.yaml accepts "${key}", which is no breaking change of this diff: remove it`),
  ];
  if ((breaking.length > 0 && to[0] <= from[0]) || problems.length > 0) {
    return {
      ok: false,
      breaking: breaking.length,
      lines: [
        ...acceptedLines,
        ...problems,
        ...(breaking.length > 0 && to[0] <= from[0]
          ? [
              `${breaking.length} change(s) break clients of the released contract ${fromText}:`,
              ...breaking.slice(0, 50).map((diff) => `  - ${describe(diff)} at ${diff.path.map(String).join(' > ')}`),
              ...(breaking.length > 50 ? [`  … and ${breaking.length - 50} more`] : []),
              `undo them, or, if the break is intended, raise info.version to ${from[0] + 1}.0.0 (README: "Releasing a contract version"); ` +
                `a break no real client can meet may instead be listed, with why, in openapi/accepted-changes.yaml as "${changeKey(breaking[0]!)}"`,
            ]
          : []),
      ],
    };
  }
  const note = breaking.length > 0 ? `; ${breaking.length} breaking, allowed by the major version ${toText}` : '';
  return {
    ok: true,
    breaking: breaking.length,
    lines: [
      ...acceptedLines,
      `${diffs.length} difference(s) from released ${fromText}${note}; no client of ${fromText} breaks unannounced.`,
    ],
  };
}

function main(): void {
  const { values } = parseArgs({
    options: {
      released: { type: 'string', default: path.join(ROOT, 'openapi', 'released.yaml') },
      current: { type: 'string', default: path.join(ROOT, 'openapi.yaml') },
      accepted: { type: 'string', default: ACCEPTED },
      release: { type: 'boolean', default: false },
    },
  });
  const load = (file: string) => parse(readFileSync(file, 'utf8')) as Contract;
  const released = load(values.released);
  const current = load(values.current);
  const accepted = existsSync(values.accepted) ? ((parse(readFileSync(values.accepted, 'utf8')) ?? {}) as AcceptedChanges) : {};
  const verdict = gateVerdict(released, current, accepted);
  if (values.release && verdict.ok && String(current.info?.version) === String(released.info?.version)) {
    verdict.ok = false;
    verdict.lines.push(`raise info.version above the released ${String(released.info?.version)} before releasing (major for breaking changes, else minor)`);
  }
  for (const line of verdict.lines) (verdict.ok ? console.log : console.error)(`contract gate: ${line}`);
  if (!verdict.ok) process.exit(1);
  if (values.release) {
    copyFileSync(values.current, values.released);
    // What was accepted against the old release is part of the new one: nothing is left to accept.
    if (existsSync(values.accepted)) writeFileSync(values.accepted, emptyAccepted(String(current.info?.version)));
    console.log(`contract gate: released ${String(current.info?.version)} as ${path.relative(ROOT, values.released)}; commit it (and ${path.relative(ROOT, values.accepted)}).`);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) main();
