import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../lib/logger.ts';
import { SANDBOX_CUSTOMERS } from '../../sandboxes/manifest.ts';
import { startPlatform, type RunningPlatform } from '../../scripts/platform.ts';
import { scaled } from '../support/time.ts';

/**
 * The explorer in a real browser: Debian's chromium driven by playwright-core, against the whole
 * platform (sandboxes, subgraphs, gateway) on free ports, with every request that would leave
 * the machine blocked and counted (the test fails on any). A partner developer's first session:
 * the page loads offline, a token comes from the sandbox panel in one click, the dashboard example
 * runs and shows data, the docs and the Requirements panel show what a field needs (consent
 * included), and an operation the token cannot run is flagged before it is sent.
 *
 * Screenshots are kept in test-artifacts/explorer/ (git-ignored). Skipped, saying why, only where
 * no chromium is installed (`apt-get install chromium`; .ci/run installs it).
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const haveBrowser = existsSync(CHROMIUM);
if (!haveBrowser)
  console.warn(
    `explorer browser test skipped: no browser at ${CHROMIUM} (install Debian's chromium: apt-get install -y chromium, or set CHROMIUM_PATH)`,
  );

const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/explorer/', import.meta.url));
const LOCAL_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

let platform: RunningPlatform;
let context: BrowserContext;
let page: Page;
let profileDir: string;
const leftTheMachine: string[] = [];
const sentOperations: string[] = [];

/**
 * What the test reads of the page's globals (inside page.evaluate; the project type-checks without the DOM library).
 */
interface PageGlobals {
  document: { querySelector(selector: string): unknown };
  localStorage: Record<string, string>;
}

/** Runs in the page: the text of the CodeMirror editor inside `selector`. */
function codeMirrorText(selector: string): string {
  const element = (globalThis as unknown as PageGlobals).document.querySelector(`${selector} .CodeMirror`) as {
    CodeMirror?: { getValue(): string };
  } | null;
  return element?.CodeMirror?.getValue() ?? '';
}

/** Runs in the page: replaces the query editor's text, as typing would. */
function setQueryText(text: string): void {
  const element = (globalThis as unknown as PageGlobals).document.querySelector(
    '.graphiql-query-editor .CodeMirror',
  ) as { CodeMirror: { setValue(v: string): void } };
  element.CodeMirror.setValue(text);
}

/** Runs in the page: whether the response editor shows `text`. */
function responseShows(text: string): boolean {
  const element = (globalThis as unknown as PageGlobals).document.querySelector('.graphiql-response .CodeMirror') as {
    CodeMirror?: { getValue(): string };
  } | null;
  return (element?.CodeMirror?.getValue() ?? '').includes(text);
}

async function mintInPanel(clientId: string, customer: string): Promise<void> {
  const toggle = page.locator('.graphiql-sidebar button[aria-label$=" Sandbox token"]');
  if ((await toggle.getAttribute('aria-label')) === 'Show Sandbox token') await toggle.click();
  await page.selectOption('select[aria-label="Client app"]', clientId);
  await page.selectOption(
    'select[aria-label="Customer"]',
    SANDBOX_CUSTOMERS.find((c) => c.displayName === customer)!.customerId,
  );
  await page.getByRole('button', { name: 'Get token' }).click();
  await page.locator('[data-testid=explorer-minted]', { hasText: `Token for ${customer} via ${clientId}` }).waitFor();
}

describe.skipIf(!haveBrowser)(`the explorer in chromium (${CHROMIUM})`, () => {
  beforeAll(async () => {
    platform = await startPlatform({
      ports: 'free',
      env: { PGLITE_DIR: 'memory://', DATABASE_URL: undefined },
      logger: createLogger('explorer-browser', 'silent'),
    });
    mkdirSync(ARTIFACTS, { recursive: true });
    profileDir = mkdtempSync(join(tmpdir(), 'explorer-chromium-'));
    // A fresh profile (--user-data-dir) and nothing that talks to Google on the side.
    context = await chromium.launchPersistentContext(profileDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
      viewport: { width: 1440, height: 900 },
    });
    await context.route('**/*', async (route) => {
      const url = new URL(route.request().url());
      if (LOCAL_HOSTS.has(url.hostname)) return route.continue();
      leftTheMachine.push(url.href);
      return route.abort('blockedbyclient');
    });
    context.setDefaultTimeout(scaled(30_000));
    page = context.pages()[0] ?? (await context.newPage());
    page.on('request', (request) => {
      if (request.method() === 'POST' && new URL(request.url()).pathname === '/graphql')
        sentOperations.push(request.postData() ?? '');
    });
  }, scaled(120_000));

  afterAll(async () => {
    await context?.close();
    if (profileDir) rmSync(profileDir, { recursive: true, force: true });
    await platform?.close();
  });

  it(
    'loads from the gateway alone, gets a token in one click, and runs the dashboard example with data',
    async () => {
      await page.goto(platform.gatewayUrl.replace(/\/graphql$/, '/'));
      // Opened on the token panel, with the dashboard example in the first tab.
      await page.locator('select[aria-label="Client app"]').waitFor();
      expect(await page.evaluate(codeMirrorText, '.graphiql-query-editor')).toContain('query CustomerDashboard');
      await page
        .locator('[data-testid=explorer-verdict]', {
          hasText: /This token cannot run this operation .* needs an access token/,
        })
        .waitFor();

      await mintInPanel('web-app', 'Alice');
      // The token's scopes are read at once; its caller kind comes from the gateway's client registry.
      await page
        .locator('[data-testid=explorer-token]', {
          hasText:
            /^Token of web-app \(first-party customer\) · for cus_u57fz5zj7ojayz6np3d6x6kon4 · scopes: accounts:read .*pii:read/,
        })
        .waitFor();
      expect(await page.locator('[data-testid=explorer-verdict]').textContent()).toBe(
        '✓ This token meets every requirement of the 49 fields checked before execution; per-object checks are made by the gateway.',
      );

      await page.locator('.graphiql-execute-button').click();
      await page.waitForFunction(responseShows, '"accounts"', { timeout: scaled(30_000) });
      const answer = JSON.parse(await page.evaluate(codeMirrorText, '.graphiql-response')) as {
        data?: { me: { displayName: string; accounts: { transactions: { edges: unknown[] } }[] } };
        errors?: unknown;
      };
      expect(answer.errors).toBeUndefined();
      expect(answer.data!.me.displayName).toBe('Alice');
      expect(answer.data!.me.accounts.length).toBeGreaterThan(1);
      expect(answer.data!.me.accounts[0]!.transactions.edges).toHaveLength(20);
      await page.screenshot({ path: join(ARTIFACTS, 'dashboard.png') });
    },
    scaled(120_000),
  );

  it(
    'shows what a field needs, consent included, in the docs and in the Requirements panel',
    async () => {
      await page.locator('.graphiql-sidebar button[aria-label="Show Documentation Explorer"]').click();
      await page
        .locator('.graphiql-doc-explorer-type-name', { hasText: /^Account$/ })
        .first()
        .click();
      await page
        .locator('.graphiql-doc-explorer-field-name', { hasText: /^currentBalance$/ })
        .first()
        .click();
      await page
        .locator('.graphiql-doc-explorer', {
          hasText:
            'Requires: authentication; scopes balances:read; callers customer, thirdParty; thirdParty consent BALANCES per account',
        })
        .waitFor();

      await page.locator('.graphiql-sidebar button[aria-label="Show Requirements"]').click();
      const card = page.locator('.graphiql-plugin [data-coordinate="Account.currentBalance"]');
      await card.waitFor();
      expect(await card.textContent()).toContain(
        'Third party: an authorised consent granting BALANCES, checked for the very account of each object.',
      );
      expect(await card.textContent()).toContain('met');
      await page.fill('input[aria-label="Look up a field"]', 'Customer.email');
      const email = page.locator('.graphiql-plugin .explorer-card[data-coordinate="Customer.email"]').first();
      await email.waitFor();
      expect(await email.textContent()).toMatch(
        /Scopes: identity:read, pii:read\..*Third party: an authorised consent granting IDENTITY\..*Personal data \(PII\)\./,
      );
    },
    scaled(60_000),
  );

  it(
    'flags an operation the token cannot run before it is sent, and the gateway then refuses the same fields',
    async () => {
      // TaxPal may read identity (scopes identity:read, pii:read), but Alice revoked its consent.
      await mintInPanel('taxpal', 'Alice');
      const sentBefore = sentOperations.length;
      await page.evaluate(setQueryText, 'query TaxpalProfile {\n  me {\n    displayName\n    email\n  }\n}\n');
      await page.locator('[data-testid=explorer-token]', { hasText: 'Token of taxpal (third-party)' }).waitFor();
      const verdict = page.locator('[data-testid=explorer-verdict] .explorer-check-blocked', {
        hasText: 'me.email (Customer.email)',
      });
      await verdict.waitFor();
      expect(await verdict.textContent()).toBe(
        '✗ This token cannot run this operation (2 of 3 fields): me.displayName (Customer.displayName), me.email (Customer.email) needs an authorised consent granting IDENTITY',
      );
      expect(await page.locator('[data-testid=explorer-token]').textContent()).toMatch(
        /^Token of taxpal \(third-party\) · for cus_u57fz5zj7ojayz6np3d6x6kon4 · scopes: .*identity:read pii:read.* · consents grant: nothing yet · expires/,
      );
      // The editor underlines the fields themselves.
      await page.locator('.graphiql-query-editor .CodeMirror-lint-mark-error').first().waitFor();
      await page.screenshot({ path: join(ARTIFACTS, 'flagged-before-sending.png') });
      expect(sentOperations.slice(sentBefore).filter((body) => body.includes('TaxpalProfile'))).toEqual([]);

      await page.locator('.graphiql-execute-button').click();
      await page.waitForFunction(responseShows, 'FORBIDDEN', { timeout: scaled(30_000) });
      const refusal = JSON.parse(await page.evaluate(codeMirrorText, '.graphiql-response')) as {
        errors: { extensions: { code: string; fields: string[] } }[];
      };
      expect(refusal.errors[0]!.extensions).toMatchObject({
        code: 'FORBIDDEN',
        fields: ['Customer.displayName', 'Customer.email'],
      });
    },
    scaled(60_000),
  );

  it('kept every request on the machine, and no access token in the browser storage', async () => {
    expect(leftTheMachine).toEqual([]);
    const stored = await page.evaluate(() =>
      JSON.stringify({ ...(globalThis as unknown as PageGlobals).localStorage }),
    );
    expect(stored).toContain('TaxpalProfile');
    expect(stored).not.toMatch(/Bearer\s+ey/);
  });
});
