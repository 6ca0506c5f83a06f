/**
 * The revisions panel shows the text as the writer sees it (issue 16, item 5): a filled blank whose
 * alternatives are not yet accepted reads as the alternative on screen, a line break as a line
 * break, never the stored markup (`{{16}}`, `\`, `____`); "The same text as now" only when it is;
 * Esc closes the panel; opening it does not squeeze the editor's toolbar into more rows (1280×800
 * and 800 px).
 */
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { screenshot, useApp } from './app';
import { editorText } from './helpers';

const lacuna = useApp();

/** The stored body: an exact blank and a hard line break, as the editor writes them. */
const BODY = 'The keeper {{16}} every night.\\\nThe ships passed safely.';

/** The editor's rich text of BODY, its blank filled with two alternatives, `chosen` on screen. */
function richText(chosen: number): string {
  return JSON.stringify({
    type: 'doc',
    content: [
      {
        type: 'paragraph',
        content: [
          { type: 'text', text: 'The keeper ' },
          {
            type: 'blank',
            attrs: { tokens: 16, status: 'filled', alternatives: ['lit the great lamp', 'slept soundly'], chosen, ranked: true, generationId: null },
          },
          { type: 'text', text: ' every night.' },
          { type: 'hard_break' },
          { type: 'text', text: 'The ships passed safely.' },
        ],
      },
    ],
  });
}

const panelOf = (page: Page) => page.getByRole('complementary', { name: 'Revisions' });
const revisionButtons = (page: Page) => panelOf(page).getByRole('list', { name: 'Revisions of this document' }).getByRole('button');

/** How many rows the editor's toolbar lays its controls out on. */
async function toolbarRows(page: Page): Promise<number> {
  const tops: unknown = await page.evaluate(`(() => {
    const bar = document.querySelector('.editor .toolbar');
    const controls = [...bar.querySelectorAll('button, [role=status]')].filter((e) => e.getClientRects().length > 0);
    return controls.map((e) => Math.round(e.getBoundingClientRect().top + e.getBoundingClientRect().height / 2));
  })()`);
  const rows: number[] = [];
  for (const t of tops as number[]) if (!rows.some((r) => Math.abs(r - t) <= 8)) rows.push(t);
  return rows.length;
}

async function openKeeper(page: Page): Promise<void> {
  await page
    .getByRole('navigation', { name: 'Documents' })
    .getByRole('button', { name: /^Keeper/ })
    .click();
  await expect.poll(() => editorText(page)).toContain('The ships passed safely.');
}

describe('revisions panel: the text as the writer sees it', () => {
  it('diffs what is on screen, says "the same text" only when it is, closes with Esc, leaves the toolbar as it was', async () => {
    // Two saves of one stored body: the blank shows "lit the great lamp", then "slept soundly" (kept
    // as revisions), and the document is left at the second.
    const doc = await lacuna.call<{ id: string }>('documents.create', { title: 'Keeper', body: BODY, richText: richText(0) });
    await lacuna.call('documents.save', { id: doc.id, title: 'Keeper', body: BODY, richText: richText(0), baseRevision: 0, snapshot: 'manual' });
    await lacuna.call('documents.save', { id: doc.id, title: 'Keeper', body: BODY, richText: richText(1), baseRevision: 1, snapshot: 'manual' });

    const { page, problems } = await lacuna.open({ viewport: { width: 1280, height: 800 } });
    await openKeeper(page);
    const rows = await toolbarRows(page);
    await page.keyboard.press('Control+Shift+KeyH');
    const panel = panelOf(page);
    await panel.waitFor();
    await expect.poll(() => revisionButtons(page).count()).toBe(2);
    // Opening the panel does not squeeze the toolbar into more rows.
    expect(await toolbarRows(page)).toBe(rows);

    // The previews read as the screen does: the alternative, no markup.
    const previews = (await revisionButtons(page).locator('.preview').allTextContents()).join('\n');
    expect(previews).toContain('slept soundly');
    expect(previews).not.toMatch(/\{\{|\\|____/);

    // The oldest kept revision showed the other alternative: the diff says so, in words.
    await revisionButtons(page).last().click();
    const diff = panel.getByRole('region', { name: 'Changes from this revision to now' });
    await diff.waitFor();
    await screenshot(page, 'revisions-after');
    const text = (await diff.textContent()) ?? '';
    expect(text).not.toMatch(/\{\{|\\|____/);
    expect(text).toContain('every night.\nThe ships passed safely.');
    expect((await diff.locator('del').allTextContents()).join(' ')).toMatch(/lit the great lamp|lit|great|lamp/);
    expect((await diff.locator('ins').allTextContents()).join(' ')).toMatch(/slept soundly|slept|soundly/);
    await expect.poll(() => panel.getByText('The same text as now.').count()).toBe(0);

    // The newest revision is the text on screen now.
    await revisionButtons(page).first().click();
    await panel.getByText('The same text as now.').waitFor();
    expect(await diff.locator('ins, del').count()).toBe(0);

    // Esc closes the panel and gives the text the focus back.
    await revisionButtons(page).first().focus();
    await page.keyboard.press('Escape');
    await panel.waitFor({ state: 'detached' });
    await expect.poll(() => page.evaluate('document.activeElement?.getAttribute("aria-label")')).toBe('Text');
    expect(await page.getByRole('textbox', { name: 'Text', exact: true }).textContent()).toContain('slept soundly');

    // At this width the revisions take the library's place while open; asking for the library
    // (search, here) gives it back.
    await page.keyboard.press('Control+Shift+KeyH');
    await panel.waitFor();
    await page.keyboard.press('Control+Shift+KeyF');
    await panel.waitFor({ state: 'detached' });
    await expect.poll(() => page.evaluate('document.activeElement?.getAttribute("aria-label")')).toBe('Search documents');

    // A narrow window (800 px): the panel covers the side of the text, the toolbar stays one row.
    await page.setViewportSize({ width: 800, height: 800 });
    const narrowRows = await toolbarRows(page);
    await page.getByRole('button', { name: 'Revisions', exact: true }).click();
    await panel.waitFor();
    expect(await toolbarRows(page)).toBe(narrowRows);
    await revisionButtons(page).last().click();
    await diff.waitFor();
    await screenshot(page, 'revisions-after-800');
    await page.keyboard.press('Escape');
    await panel.waitFor({ state: 'detached' });
    expect(problems).toEqual([]);
  });
});
