/**
 * What the e2e tests of the library, revisions, models, settings and keyboard flows share: calling
 * the API, opening the app in a browser context, making a document, screenshots. (helpers.ts has
 * what the benchmark shares too, so it stays free of vitest.)
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { expect, onTestFailed } from 'vitest';
import { ARTIFACTS, type WebMode } from './helpers';

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

/**
 * A fresh browser context on the app, in a colour scheme; on a failed test, a screenshot and what
 * the page and web mode said. Resolves once the app shell is up.
 */
export async function openAppPage(
  browser: Browser,
  web: WebMode,
  options: { colorScheme?: 'light' | 'dark'; viewport?: { width: number; height: number } } = {},
): Promise<AppPage> {
  const context = await browser.newContext({ viewport: options.viewport ?? { width: 1280, height: 820 }, colorScheme: options.colorScheme ?? 'light' });
  const page = await context.newPage();
  const app: AppPage = { page, context, problems: [] };
  page.on('pageerror', (e) => app.problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') app.problems.push(`console error: ${m.text()}`);
  });
  onTestFailed(async ({ task }) => {
    mkdirSync(ARTIFACTS, { recursive: true });
    const name = task.name.replace(/[^a-z0-9]+/gi, '-').toLowerCase();
    await page.screenshot({ path: join(ARTIFACTS, `failed-${name}.png`) }).catch(() => {});
    console.error(`problems: ${app.problems.join('\n')}\nweb mode stderr:\n${web.stderr()}`);
  });
  await page.goto(web.url);
  await page.getByRole('button', { name: 'New document', exact: true }).waitFor();
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
  return page.getByRole('status', { name: 'Save status' }).filter({ hasText: /^Saved$/ }).waitFor();
}

/** A screenshot in e2e/artifacts/ (git-ignored). */
export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`) });
}
