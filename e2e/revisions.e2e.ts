/**
 * The revisions panel end to end (issue 6): each revision with a clear reason (timed snapshot,
 * before a fill, saved by hand, before a restore), a word diff from it to the text now, restoring
 * it, and undoing a restore, both by restoring the revision the restore kept and with Ctrl+Z in the
 * editor. Headless Chromium against the real web mode; screenshots in light and dark.
 */
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { newDocument, saved, screenshot, useApp } from './app';
import { editorText } from './helpers';

const lacuna = useApp();

const FIRST = 'First version of the text.';
const SECOND = ' A second sentence came later.';

async function stored(title: string): Promise<{ id: string; body: string }> {
  const list = await lacuna.call<{ id: string; title: string }[]>('documents.list');
  const doc = list.find((d) => d.title === title);
  expect(doc, `no document titled ${title}`).toBeDefined();
  return lacuna.call('documents.open', { id: doc!.id });
}

const panelOf = (page: Page) => page.getByRole('complementary', { name: 'Revisions' });
const revisionButtons = (page: Page) => panelOf(page).getByRole('list', { name: 'Revisions of this document' }).getByRole('button');

async function reasons(page: Page): Promise<string[]> {
  return (await revisionButtons(page).locator('.reason').allTextContents()).map((t) => t.trim());
}

describe('revisions', () => {
  it('lists revisions with their reason, previews a word diff, restores one, and undoes the restore', async () => {
    const { page, problems } = await lacuna.open();
    await newDocument(page, 'Revised');
    await page.keyboard.type(FIRST);
    await saved(page);

    await page.keyboard.press('Control+Shift+KeyH');
    const panel = panelOf(page);
    await panel.waitFor();
    expect(await page.getByRole('button', { name: 'Revisions', exact: true }).getAttribute('aria-pressed')).toBe('true');
    // The first save keeps a timed snapshot.
    await expect.poll(() => reasons(page)).toEqual(['Timed snapshot']);

    // Saved by hand, from the keyboard in the text.
    await page.getByRole('textbox', { name: 'Text', exact: true }).click();
    await page.keyboard.press('Control+Shift+KeyS');
    await page.getByRole('status', { name: 'Revision status' }).filter({ hasText: 'Kept as a revision.' }).waitFor();
    await panel.getByRole('button', { name: 'Save a revision' }).click();
    await panel.getByRole('status').filter({ hasText: 'Kept the text as it is now as a revision.' }).waitFor();
    await expect.poll(() => reasons(page)).toEqual(['Saved by you', 'Saved by you', 'Timed snapshot']);

    // A fill keeps the text before it.
    await page.getByRole('textbox', { name: 'Text', exact: true }).press('End');
    await page.keyboard.type(SECOND);
    await page.keyboard.press('Control+Shift+KeyB');
    await page.keyboard.press('Control+Enter');
    await page.getByRole('status', { name: 'Fill status' }).filter({ hasText: 'Filled 1 blank.' }).waitFor({ timeout: 150_000 });
    await page.getByRole('button', { name: 'Reject', exact: true }).click();
    await page.keyboard.press('Backspace'); // the blank goes
    await expect.poll(() => editorText(page)).toBe(FIRST + SECOND);
    await saved(page);
    await expect.poll(() => reasons(page), { timeout: 20_000 }).toContain('Before a fill');

    // The diff from the hand-saved revision to now: the second sentence was written since.
    await revisionButtons(page).filter({ hasText: 'Saved by you' }).first().click();
    const diff = panel.getByRole('region', { name: 'Changes from this revision to now' });
    await diff.waitFor();
    expect((await diff.locator('ins').allTextContents()).join('')).toContain('A second sentence came later.');
    expect(await diff.locator('del').count()).toBe(0);
    await screenshot(page, 'revisions-light');

    await panel.getByRole('button', { name: 'Restore this revision' }).click();
    await panel
      .getByRole('status')
      .filter({ hasText: /^Restored the revision of / })
      .waitFor();
    await expect.poll(() => editorText(page)).toBe(FIRST);
    await saved(page);
    expect((await stored('Revised')).body).toBe(FIRST);
    // The text the restore replaced is a revision of its own.
    await expect.poll(async () => (await reasons(page))[0]).toBe('Before a restore');

    // Restoring that one undoes the restore.
    await revisionButtons(page).filter({ hasText: 'Before a restore' }).first().click();
    await diff.waitFor();
    expect((await diff.locator('del').allTextContents()).join('')).toContain('A second sentence came later.');
    await panel.getByRole('button', { name: 'Restore this revision' }).click();
    await expect.poll(() => editorText(page)).toBe(FIRST + SECOND);
    await saved(page);
    expect((await stored('Revised')).body).toBe(FIRST + SECOND);

    // In the editor a restore is one undo step.
    await page.getByRole('textbox', { name: 'Text', exact: true }).click();
    await page.keyboard.press('Control+KeyZ');
    await expect.poll(() => editorText(page)).toBe(FIRST);
    await saved(page);
    expect((await stored('Revised')).body).toBe(FIRST);
    await page.keyboard.press('Control+KeyY');
    await expect.poll(() => editorText(page)).toBe(FIRST + SECOND);

    // The keyboard closes the panel and gives the text the focus back.
    await page.keyboard.press('Control+Shift+KeyH');
    await panel.waitFor({ state: 'detached' });
    expect(problems).toEqual([]);
  });

  it('looks right in the dark', async () => {
    const { page, problems } = await lacuna.open({ colorScheme: 'dark' });
    await page
      .getByRole('navigation', { name: 'Documents' })
      .getByRole('button', { name: /^Revised/ })
      .click();
    await expect.poll(() => editorText(page)).toBe(FIRST + SECOND);
    await page.getByRole('button', { name: 'Revisions', exact: true }).click();
    await revisionButtons(page).filter({ hasText: 'Before a fill' }).first().click();
    await panelOf(page).getByRole('region', { name: 'Changes from this revision to now' }).waitFor();
    await screenshot(page, 'revisions-dark');
    expect(problems).toEqual([]);
  });
});
