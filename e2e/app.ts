/**
 * What the e2e tests share: the per-file fixture (web mode, Chromium, the contexts opened), calling
 * the API, opening the app in a browser context, making a document, screenshots. (helpers.ts has
 * what the benchmark shares too, so it stays free of vitest.)
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, onTestFailed } from 'vitest';
import { ARTIFACTS, launchChromium, requireBuild, startWebMode, type WebMode, type WebModeOptions } from './helpers';

/** Calls web mode's API directly (with the token), independently of the page; fails the test on an error. */
export async function apiCall<T>(web: WebMode, method: string, params: object = {}): Promise<T> {
  const res = await fetch(new URL(`api/${method}`, web.origin), {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${web.token}` },
    body: JSON.stringify(params),
  });
  const body = (await res.json()) as { ok: boolean; result: T; error?: { message: string } };
  expect(body.ok, body.error?.message).toBe(true);
  return body.result;
}

export interface AppPage {
  page: Page;
  context: BrowserContext;
  /** Page errors and console errors (CSP violations land there too). */
  problems: string[];
}

/** Where the app is served: web mode as startWebMode gives it, or one a test started itself. */
export type AppServer = Pick<WebMode, 'url' | 'stderr'>;

export interface OpenOptions {
  colorScheme?: 'light' | 'dark';
  viewport?: { width: number; height: number };
  /** Runs on the new page before it loads the app (e.g. to route requests). */
  beforeLoad?: (page: Page) => Promise<void>;
}

/** The live regions and text fields with their text, for a failure report. */
const PAGE_STATE =
  `[...document.querySelectorAll('[role=status],[role=alert],[role=textbox],textarea')]` +
  `.map((e) => (e.getAttribute('aria-label') ?? e.getAttribute('role')) + ': ' + (e.value ?? e.textContent)).join('\\n')`;

/**
 * A fresh browser context on the app, in a colour scheme; on a failed test, a screenshot, the
 * page's state and what the page and web mode said. Resolves once the app shell is up.
 */
export async function openAppPage(browser: Browser, web: AppServer, options: OpenOptions = {}): Promise<AppPage> {
  const context = await browser.newContext({ viewport: options.viewport ?? { width: 1280, height: 820 }, colorScheme: options.colorScheme ?? 'light' });
  const page = await context.newPage();
  const app: AppPage = { page, context, problems: [] };
  page.on('pageerror', (e) => app.problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') app.problems.push(`console error: ${m.text()}`);
  });
  await options.beforeLoad?.(page);
  onTestFailed(async ({ task }) => {
    mkdirSync(ARTIFACTS, { recursive: true });
    const name = task.name.replace(/[^a-z0-9]+/gi, '-').toLowerCase();
    await page.screenshot({ path: join(ARTIFACTS, `failed-${name}.png`) }).catch(() => {});
    const state = await page.evaluate(PAGE_STATE).catch((e: unknown) => String(e));
    console.error(`page state:\n${String(state)}\nproblems: ${app.problems.join('\n')}\nweb mode stderr:\n${web.stderr()}`);
  });
  await page.goto(web.url);
  await page.getByRole('button', { name: 'New document', exact: true }).waitFor();
  return app;
}

function started<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`e2e: ${what} is not started yet (use it in a test or a hook after the fixture's beforeAll)`);
  return value;
}

/** Chromium and the contexts opened on it, without the hooks. */
function chromiumSession() {
  let browser: Browser | undefined;
  const contexts: BrowserContext[] = [];
  const session = {
    get browser(): Browser {
      return started(browser, 'Chromium');
    },
    async launch(): Promise<void> {
      requireBuild();
      browser = await launchChromium();
    },
    async open(web: AppServer, options?: OpenOptions): Promise<AppPage> {
      const app = await openAppPage(session.browser, web, options);
      contexts.push(app.context);
      return app;
    },
    async closeContexts(): Promise<void> {
      for (const c of contexts.splice(0)) await c.close().catch(() => {});
    },
    async close(): Promise<void> {
      await session.closeContexts();
      await browser?.close();
    },
  };
  return session;
}

export interface BrowserFixture {
  /** Chromium (after beforeAll). */
  readonly browser: Browser;
  /** openAppPage on `web`; its context is closed in afterAll, or earlier by closeContexts. */
  open(web: AppServer, options?: OpenOptions): Promise<AppPage>;
  /** Closes the contexts opened so far. */
  closeContexts(): Promise<void>;
}

/**
 * For test files that start web mode themselves: launches Chromium in beforeAll; closes the
 * contexts opened through it, then Chromium, in afterAll.
 */
export function useBrowser(): BrowserFixture {
  const session = chromiumSession();
  beforeAll(() => session.launch());
  afterAll(() => session.close());
  return session;
}

export interface AppFixture {
  /** Web mode (after beforeAll). */
  readonly web: WebMode;
  /** Chromium (after beforeAll). */
  readonly browser: Browser;
  /** apiCall on this file's web mode. */
  call<T>(method: string, params?: object): Promise<T>;
  /** openAppPage on this file's web mode; its context is closed in afterAll. */
  open(options?: OpenOptions): Promise<AppPage>;
}

/**
 * The usual e2e test file's fixture: in beforeAll, starts web mode (with `webMode`'s options),
 * launches Chromium and runs `setup`; in afterAll, closes the contexts opened, Chromium and web mode.
 */
export function useApp(options: { webMode?: WebModeOptions; setup?: (app: AppFixture) => Promise<void> } = {}): AppFixture {
  let web: WebMode | undefined;
  const chromium = chromiumSession();
  const app: AppFixture = {
    get web(): WebMode {
      return started(web, 'Web mode');
    },
    get browser(): Browser {
      return chromium.browser;
    },
    call: <T>(method: string, params: object = {}) => apiCall<T>(app.web, method, params),
    open: (openOptions?: OpenOptions) => chromium.open(app.web, openOptions),
  };
  beforeAll(async () => {
    web = await startWebMode(options.webMode);
    await chromium.launch();
    await options.setup?.(app);
  });
  afterAll(async () => {
    await chromium.close();
    await web?.stop();
  });
  return app;
}

/** The accessible label of the focused element (aria-label), as the page sees it. */
export function focusedLabel(page: Page): Promise<unknown> {
  return page.evaluate('document.activeElement?.getAttribute("aria-label")');
}

/** "New document", a title, Enter: the text has the focus. */
export async function newDocument(page: Page, title: string): Promise<void> {
  await page.getByRole('button', { name: 'New document', exact: true }).click();
  await expect.poll(() => focusedLabel(page)).toBe('Title');
  await page.keyboard.type(title);
  await page.keyboard.press('Enter');
  await expect.poll(() => focusedLabel(page)).toBe('Text');
}

export function saved(page: Page): Promise<void> {
  return page
    .getByRole('status', { name: 'Save status' })
    .filter({ hasText: /^Saved$/ })
    .waitFor();
}

/** A screenshot in e2e/artifacts/ (git-ignored). */
export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`) });
}
