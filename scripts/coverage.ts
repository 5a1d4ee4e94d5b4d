/**
 * `npm run test:coverage`: the whole Playwright run with V8 coverage of the started server, then
 * an HTML report of server/ and db/ in coverage/index.html (and a summary on the terminal).
 * Extra arguments go to Playwright, e.g. `npm run test:coverage -- --grep-invert @slow`.
 */
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '..');
const RAW = path.join(ROOT, 'coverage', 'v8');
rmSync(path.join(ROOT, 'coverage'), { recursive: true, force: true });

// Every Node process of the run inherits this; the report keeps only the server's own files.
const run = spawnSync(process.execPath, ['node_modules/@playwright/test/cli.js', 'test', ...process.argv.slice(2)], {
  cwd: ROOT,
  stdio: 'inherit',
  // The server from its TypeScript sources: coverage of the bundle maps back to lines only roughly.
  env: { ...process.env, NODE_V8_COVERAGE: RAW, SERVER_FROM_SOURCE: '1' },
});

const report = spawnSync(
  process.execPath,
  [
    'node_modules/c8/bin/c8.js', 'report',
    '--temp-directory', RAW,
    '--reports-dir', path.join(ROOT, 'coverage'),
    '--reporter', 'html', '--reporter', 'text-summary',
    '--include', 'server/**', '--include', 'db/**',
    '--exclude', '**/generated/**',
    '--exclude-after-remap',
  ],
  { cwd: ROOT, stdio: 'inherit' },
);
console.log(`HTML report: ${path.join('coverage', 'index.html')}`);
process.exit(run.status || report.status || 0);
