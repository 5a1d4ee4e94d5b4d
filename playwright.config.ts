import { defineConfig } from '@playwright/test';
import { SERVER_FROM_SOURCE, SERVER_NODE_ARGS, serverEnvironment, testEnvironment } from './api-tests/support/test-environment.js';

const environment = testEnvironment();

export default defineConfig({
  testDir: './api-tests',
  globalSetup: './api-tests/support/global-setup.ts',
  fullyParallel: true,
  forbidOnly: Boolean(process.env.CI),
  retries: 0,
  workers: process.env.CI ? 2 : undefined,
  timeout: 60_000,
  reporter: process.env.CI ? [['list'], ['html', { open: 'never' }]] : [['list']],
  use: {
    baseURL: environment.baseURL,
    extraHTTPHeaders: { Accept: 'application/json, application/problem+json' },
  },
  webServer: {
    // The production bundle, as `npm start` runs it (built again here so a direct `npx playwright test`
    // never tests a stale one); the sources for a coverage run.
    command: `${SERVER_FROM_SOURCE ? '' : 'npm run build --silent && '}exec node ${SERVER_NODE_ARGS.join(' ')}`,
    url: `${environment.baseURL}/health`,
    env: serverEnvironment(environment),
    reuseExistingServer: false,
    timeout: 120_000,
    stdout: 'pipe',
    stderr: 'pipe',
    // SIGTERM lets the server drain, close its pool and stop the embedded database.
    gracefulShutdown: { signal: 'SIGTERM', timeout: 15_000 },
  },
});
