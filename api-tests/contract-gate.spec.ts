/**
 * The breaking-change gate (scripts/contract-gate.ts, run by `npm run check`): it must pass the
 * committed contract and fail on each kind of break a client of the released contract suffers.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { gateVerdict, type AcceptedChanges } from '../scripts/contract-gate.js';
import { expect, test } from './support/fixtures.js';

const ROOT = path.resolve(import.meta.dirname, '..');
type Spec = Record<string, any>;

/** The gate's verdict, as `npm run contract:gate` prints it (the CLI is run once, below). */
function gate(released: Spec, current: Spec, accepted: AcceptedChanges = {}) {
  const verdict = gateVerdict(released, current, accepted);
  return { status: verdict.ok ? 0 : 1, output: verdict.lines.join('\n') };
}

/** The current contract as if it had been released unchanged, at its own version. */
const baseline = (): Spec => parse(readFileSync(path.join(ROOT, 'openapi.yaml'), 'utf8')) as Spec;
const withVersion = (spec: Spec, version: string): Spec => ({ ...spec, info: { ...spec.info, version } });

const breaks: [string, (spec: Spec) => void, RegExp][] = [
  ['an operation removed', (spec) => delete spec.paths['/calls/{call_id}'].delete, /operation DELETE \/calls\/\{call_id\}/],
  ['a status removed', (spec) => delete spec.paths['/calls/{call_id}'].get.responses['404'], /Response 404/],
  ['a response field removed', (spec) => {
    const call = spec.components.schemas.Call;
    delete call.properties.title;
    call.required = call.required.filter((name: string) => name !== 'title');
  }, /title/],
  ['an enum value removed', (spec) => spec.components.schemas.CallType.enum.pop(), /possible values/],
  ['a request field made required', (spec) => spec.components.schemas.CallCreate.required.push('product'), /required status to `product`/],
  ['a request bound narrowed', (spec) => (spec.components.schemas.CallCreate.properties.title.maxLength = 5), /maxLength/],
  ['a request type narrowed', (spec) => (spec.components.schemas.CallCreate.properties.duration_seconds.type = 'string'), /duration_seconds|type/],
  ['a response field\'s type changed', (spec) => (spec.components.schemas.Call.properties.duration_seconds.type = 'string'), /responses > 200 .*duration_seconds > type/],
  // Our own bounds, which api-smart-diff reads as annotations.
  ['a key bound (x-max-key-length) lowered on a request', (spec) => (spec.components.schemas.CallCreate.properties.metadata['x-max-key-length'] = 20), /POST \/calls: x-max-key-length lowered from 200 to 20 on metadata/],
  ['a key bound (x-max-key-length) added to a request', (spec) => (spec.components.schemas.SpeakerCreate['x-max-key-length'] = 20), /POST \/calls\/\{call_id\}\/speakers: x-max-key-length: 20 added/],
  ['an operation\'s body limit (x-body-limit) lowered', (spec) => (spec.paths['/calls'].post['x-body-limit'] = 1024), /POST \/calls: x-body-limit lowered from 1048576 to 1024/],
  ['the sentence bound (x-max-sentences) lowered', (spec) => (spec.components.schemas.GongTranscript['x-max-sentences'] = 10), /PUT \/calls\/\{call_id\}\/transcript: x-max-sentences lowered/],
  ['the nesting bound (x-max-nesting-depth) lowered', (spec) => (spec.info['x-max-nesting-depth'] = 4), /x-max-nesting-depth lowered from 32 to 4/],
];

test.describe('breaking-change gate', () => {
  test('the committed contract passes against the released one (the CLI npm run check runs)', () => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/contract-gate.ts'], { cwd: ROOT, encoding: 'utf8' });
    expect(run.stdout + run.stderr).toMatch(/no client of \d+\.\d+\.\d+ breaks unannounced/);
    expect(run.status).toBe(0);
  });

  for (const [what, breakIt, named] of breaks) {
    test(`${what} fails the gate unless the major version goes up`, () => {
      const released = baseline();
      const current = baseline();
      breakIt(current);
      const refused = gate(released, current);
      expect(refused.output).toMatch(named);
      expect(refused.output).toMatch(/raise info\.version to \d+\.0\.0/);
      expect(refused.status).toBe(1);

      const [major] = String(released.info.version).split('.');
      const announced = gate(released, withVersion(current, `${Number(major) + 1}.0.0`));
      expect(announced.output).toMatch(/breaking, allowed by the major version/);
      expect(announced.status).toBe(0);
    });
  }

  test('additions pass without a major bump', () => {
    const current = baseline();
    current.paths['/calls/{call_id}'].get.responses['418'] = { description: 'added', content: {} };
    current.components.schemas.CallCreate.properties.language = { type: 'string', maxLength: 10 };
    current.paths['/teapot'] = { get: { operationId: 'getTeapot', responses: { '200': { description: 'ok' } } } };
    const run = gate(baseline(), current);
    expect(run.output).toMatch(/no client of .* breaks unannounced/);
    expect(run.status).toBe(0);
  });

  test('a bound or format added to a response passes (problem+json errors included); the same bound on a request fails', () => {
    // Released without them, current with them.
    const released = baseline();
    const problem = released.components.schemas.Problem.properties;
    delete problem.error_count.maximum;
    delete problem.error_count.format;
    delete problem.status.format;
    const current = baseline();
    current.components.schemas.Call.properties.title = { ...current.components.schemas.Call.properties.title, maxLength: 500 };
    const run = gate(released, current);
    expect(run.output).toMatch(/no client of .* breaks unannounced/);
    expect(run.status).toBe(0);

    current.components.schemas.CallCreate.properties.duration_seconds.maximum = 600;
    const narrowedRequest = gate(released, current);
    expect(narrowedRequest.output).toMatch(/duration_seconds/);
    expect(narrowedRequest.status).toBe(1);
  });

  test('a response header made required passes; a required one made optional fails', () => {
    // Released with ETag optional, current with it required: the server promises more.
    const released = baseline();
    delete released.components.headers.ETag.required;
    const stronger = gate(released, baseline());
    expect(stronger.output).toMatch(/no client of .* breaks unannounced/);
    expect(stronger.status).toBe(0);

    const weaker = baseline();
    weaker.components.headers.ETag.required = false;
    const refused = gate(baseline(), weaker);
    expect(refused.output).toMatch(/headers > ETag > required/);
    expect(refused.status).toBe(1);
  });

  test('raising one of our bounds is no break', () => {
    const current = baseline();
    current.paths['/calls'].post['x-body-limit'] = 2 * 1048576;
    current.components.schemas.CallCreate.properties.metadata['x-max-key-length'] = 400;
    const run = gate(baseline(), current);
    expect(run.output).toMatch(/no client of .* breaks unannounced/);
    expect(run.status).toBe(0);
  });

  test('the committed accepted changes are each still a break of this diff, with a reason, and are printed with it', () => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/contract-gate.ts'], { cwd: ROOT, encoding: 'utf8' });
    const accepted = parse(readFileSync(path.join(ROOT, 'openapi', 'accepted-changes.yaml'), 'utf8')) as { changes: { why: string; at: string[] }[] };
    for (const change of accepted.changes ?? []) expect(run.stdout).toContain(`accepted because: ${change.why.trim()}`);
    expect(run.status).toBe(0);
  });

  test.describe('accepted changes (openapi/accepted-changes.yaml)', () => {
    const where = 'paths > /calls > post > requestBody > content > application/json > schema > properties > title > maxLength';
    const narrowTitle = (spec: Spec) => (spec.components.schemas.CallCreate.properties.title.maxLength = 400);
    const narrowProduct = (spec: Spec) => (spec.components.schemas.CallCreate.properties.product.maxLength = 50);
    const accepting = (at: string[], why = 'No real client sends titles over 400 characters.'): AcceptedChanges => ({
      released: baseline().info.version,
      changes: [{ why, at }],
    });

    test('a listed tightening passes and is printed with its reason; an unlisted one beside it still fails', () => {
      const current = baseline();
      narrowTitle(current);
      const accepted = gate(baseline(), current, accepting([`replace ${where}`]));
      expect(accepted.output).toContain('1 breaking change(s) accepted');
      expect(accepted.output).toContain('accepted because: No real client sends titles over 400 characters.');
      expect(accepted.output).toMatch(/no client of .* breaks unannounced/);
      expect(accepted.status).toBe(0);

      narrowProduct(current);
      const refused = gate(baseline(), current, accepting([`replace ${where}`]));
      expect(refused.output).toMatch(/1 change\(s\) break clients/);
      expect(refused.output).toMatch(/product > maxLength/);
      expect(refused.output).not.toMatch(/  - .*title > maxLength/);
      expect(refused.output).toContain('"replace paths > /calls > post > requestBody > content > application/json > schema > properties > product > maxLength"');
      expect(refused.status).toBe(1);
    });

    test('without the file, or with the tightening not listed, the same change fails', () => {
      const current = baseline();
      narrowTitle(current);
      for (const accepted of [{}, accepting([`replace ${where.replace('title', 'product')}`])]) {
        const run = gate(baseline(), current, accepted);
        expect(run.output).toMatch(/title > maxLength/);
        expect(run.status).toBe(1);
      }
    });

    test('a listed change the diff does not have fails the gate (the list cannot go stale)', () => {
      const run = gate(baseline(), baseline(), accepting([`replace ${where}`]));
      expect(run.output).toContain(`accepts "replace ${where}", which is no breaking change of this diff: remove it`);
      expect(run.status).toBe(1);
    });

    test('an accepted change without a reason, or listed against another release, fails the gate', () => {
      const current = baseline();
      narrowTitle(current);
      const unexplained = gate(baseline(), current, accepting([`replace ${where}`], '  '));
      expect(unexplained.output).toMatch(/accepted change 1 has no `why`/);
      expect(unexplained.status).toBe(1);
      const older = gate(baseline(), current, { ...accepting([`replace ${where}`]), released: '0.9.0' });
      expect(older.output).toMatch(/listed against 0\.9\.0, but the released contract is/);
      expect(older.status).toBe(1);
    });
  });

  test('info.version must be semver and not go down', () => {
    expect(gate(baseline(), withVersion(baseline(), 'v2')).output).toMatch(/info\.version must be semver/);
    expect(gate(withVersion(baseline(), '3.0.0'), withVersion(baseline(), '2.9.9')).output).toMatch(/lower than the released 3\.0\.0/);
    expect(gate(baseline(), withVersion(baseline(), 'v2')).status).toBe(1);
  });
});
