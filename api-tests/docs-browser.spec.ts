/**
 * Swagger UI in a real browser: Debian's chromium (`apt-get install -y chromium`), since
 * `npx playwright install` needs a download. Without it this one test is skipped, saying why;
 * under CI=true a missing chromium fails it instead (CI must prove the browser flow).
 */
import { existsSync } from 'node:fs';
import { expect, newCall, test } from './support/fixtures.js';
import { signToken } from './support/tokens.js';

const CHROMIUM = '/usr/bin/chromium';

// What the page scripts below leave on the browser's window.
declare global {
  interface Window {
    cspViolations: string[];
    inlineScriptRan?: boolean;
  }
}

test.use({
  browserName: 'chromium',
  launchOptions: {
    executablePath: CHROMIUM,
    // Root in a container needs --no-sandbox; the rest keeps a closed network quiet.
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-dev-shm-usage',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  },
});

const MISSING = `${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium) to run the browser test`;

test.describe('Swagger UI in a browser', { tag: '@integration' }, () => {
  // Decided before the `page` fixture launches the browser.
  test.skip(!existsSync(CHROMIUM) && !process.env.CI, MISSING);
  test.beforeAll(() => {
    if (!existsSync(CHROMIUM)) throw new Error(`CI=true: ${MISSING}`);
  });

  test('authorize with a dev token, Try it out on GET /calls/{call_id}, see a 200', async ({ api, trackCall, page }, testInfo) => {
    const call = await (await api.post('/calls', newCall())).json();
    trackCall(call.id);

    // Every Content-Security-Policy violation, as the page sees it and as the console reports it.
    const consoleViolations: string[] = [];
    page.on('console', (message) => {
      if (/Content[- ]Security[- ]Policy/i.test(message.text())) consoleViolations.push(message.text());
    });
    await page.addInitScript(() => {
      const seen: string[] = [];
      window.cspViolations = seen;
      document.addEventListener('securitypolicyviolation', (event) => seen.push(`${event.violatedDirective} ${event.blockedURI} ${event.sample}`));
    });
    const violations = () => page.evaluate(() => [...window.cspViolations]);

    const docs = await page.goto('/docs');
    expect(docs?.headers()['content-security-policy'], 'the page carries a CSP').toContain("script-src 'self'");
    await page.locator('.btn.authorize').first().click();
    const dialog = page.locator('.modal-ux');
    // The dialog lists every security scheme; the partner API's is bearerAuth.
    const bearer = dialog.locator('form').filter({ hasText: 'bearerAuth' });
    await bearer.locator('input').fill(signToken());
    await bearer.locator('button.authorize').click();
    await dialog.locator('button.btn-done').first().click();

    const operation = page.locator('#operations-calls-getCall');
    await operation.locator('.opblock-summary').click();
    await operation.locator('button.try-out__btn').click();
    await operation.locator('tr[data-param-name="call_id"] input').fill(call.id);
    await operation.locator('button.execute').click();

    const live = operation.locator('.live-responses-table .response');
    await expect(live.locator('.response-col_status')).toHaveText('200');
    await expect(live.locator('.response-col_description')).toContainText(call.gong_call_id);

    expect(await violations(), 'CSP violations seen by the page').toEqual([]);
    expect(consoleViolations, 'CSP violations in the console').toEqual([]);

    // The policy is enforced and the listeners hear it: an injected inline script is blocked and reported.
    const ran = await page.evaluate(() => {
      const script = document.createElement('script');
      script.textContent = 'window.inlineScriptRan = true';
      document.body.append(script);
      return Boolean(window.inlineScriptRan);
    });
    expect(ran, 'an inline script runs under the CSP').toBe(false);
    await expect.poll(violations, { message: 'the injected inline script is reported' }).toEqual([expect.stringMatching(/^script-src/)]);
    await expect.poll(() => consoleViolations.length, { message: 'and the console reports it' }).toBe(1);

    // Kept in test-results/ (and in the HTML report on CI).
    const screenshot = testInfo.outputPath('swagger-ui-try-it-out.png');
    await page.screenshot({ path: screenshot, fullPage: true });
    await testInfo.attach('swagger-ui-try-it-out', { path: screenshot, contentType: 'image/png' });
  });
});
