/**
 * The library end to end (issue 6): ranked search with highlighted snippets (text, never markup),
 * previews without Markdown syntax, sorting that persists, and the trash (move, restore, empty with
 * a confirmation), in headless Chromium against the real web mode. Everything is found by its
 * accessible role and name; screenshots in light and dark go to e2e/artifacts/.
 */
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { newDocument, saved, screenshot, useApp } from './app';
import { editorText } from './helpers';

interface Summary {
  id: string;
  title: string;
  createdAt: number;
}

const DOCS = [
  { title: 'Harbour notes', body: '# Harbour\n\nThe **lamp** keeper walked the *harbour* wall.\n\n- first lamp\n- second lamp' },
  { title: 'A storm', body: 'Rain all night. The lamp went out twice, and the keeper lit the lamp again.' },
  { title: 'Markup test', body: 'Angle brackets: <img src=x onerror="document.title=\'pwned\'"> near the lamp.' },
  { title: 'Zebra crossing', body: 'Nothing about lights here.' },
];

const lacuna = useApp({
  setup: async (app) => {
    // Created in this order, a moment apart, so "recently created" has an order to show.
    for (const d of DOCS) {
      await app.call('documents.create', d);
      await new Promise((r) => setTimeout(r, 15));
    }
  },
});

const documents = (page: Page) => page.getByRole('navigation', { name: 'Documents' });
const entryTitles = async (page: Page): Promise<string[]> => (await documents(page).locator('.doc-title').allTextContents()).map((t) => t.trim());

describe('search', () => {
  it('ranks documents, highlights the matched words as text, and never renders the snippet as markup', async () => {
    const { page, problems } = await lacuna.open();
    // The list previews show the words, not the Markdown.
    const harbour = documents(page).getByRole('button', { name: /^Harbour notes/ });
    await harbour.waitFor();
    const preview = (await harbour.locator('.preview').textContent()) ?? '';
    expect(preview).toContain('Harbour The lamp keeper walked the harbour wall. first lamp');
    expect(preview).not.toMatch(/[#*]/);

    await page.keyboard.press('Control+Shift+KeyF');
    const search = page.getByRole('searchbox', { name: 'Search documents' });
    await expect.poll(() => search.evaluate((e) => e === document.activeElement)).toBe(true);
    await page.keyboard.type('lamp');
    const results = page.getByRole('navigation', { name: 'Search results' });
    await results.getByRole('status').filter({ hasText: '3 documents match.' }).waitFor();
    // Best first, as the store ranks them.
    const hits = await lacuna.call<{ title: string }[]>('documents.search', { query: 'lamp', limit: 50 });
    expect(await results.locator('.doc-title').allTextContents()).toEqual(hits.map((h) => h.title));
    // Every highlight is the matched word; no Markdown in the snippets.
    const marks = await results.locator('mark').allTextContents();
    expect(marks.length).toBeGreaterThanOrEqual(3);
    expect(marks.every((m) => /^lamp$/i.test(m))).toBe(true);
    const snippets = await results.locator('.snippet').allTextContents();
    expect(snippets.join(' ')).not.toMatch(/\*\*|^#/);
    // The markup in a document is shown as the text it is, and nothing ran.
    const markup = results.getByRole('button', { name: /^Markup test/ });
    expect(await markup.textContent()).toContain('<img src=x onerror=');
    expect(await results.locator('img').count()).toBe(0);
    expect(await page.title()).toBe('Lacuna');

    // Opening a hit opens the document; Escape in the box goes back to the list.
    await results.getByRole('button', { name: /^A storm/ }).click();
    await expect.poll(() => editorText(page)).toBe('Rain all night. The lamp went out twice, and the keeper lit the lamp again.');
    await search.focus();
    await page.keyboard.type(' zzznothing');
    await results.getByRole('status').filter({ hasText: 'No documents match.' }).waitFor();
    await page.keyboard.press('Escape');
    await documents(page).waitFor();
    expect(await search.inputValue()).toBe('');

    await search.fill('keeper');
    await results.locator('mark').first().waitFor();
    await screenshot(page, 'library-search-light');
    await page.emulateMedia({ colorScheme: 'dark' });
    await screenshot(page, 'library-search-dark');
    expect(problems).toEqual([]);
  });
});

describe('sorting', () => {
  it('sorts by recent edit, title or creation, and keeps the choice', async () => {
    const { page, problems } = await lacuna.open();
    const list = await lacuna.call<Summary[]>('documents.list');
    const sort = page.getByRole('combobox', { name: 'Sort by' });
    await documents(page).getByRole('button').first().waitFor();

    await sort.selectOption({ label: 'Title' });
    await expect.poll(() => entryTitles(page)).toEqual(list.map((d) => d.title).sort((a, b) => a.localeCompare(b)));
    await sort.selectOption({ label: 'Recently created' });
    await expect.poll(() => entryTitles(page)).toEqual(list.toSorted((a, b) => b.createdAt - a.createdAt).map((d) => d.title));
    expect((await entryTitles(page))[0]).toBe('Zebra crossing');

    // Editing one moves it to the top of "recently edited".
    await sort.selectOption({ label: 'Title' });
    await page.reload();
    await expect.poll(() => sort.inputValue()).toBe('title');
    await expect.poll(() => entryTitles(page)).toEqual(list.map((d) => d.title).sort((a, b) => a.localeCompare(b)));
    await documents(page)
      .getByRole('button', { name: /^Markup test/ })
      .click();
    await page.getByRole('textbox', { name: 'Text', exact: true }).press('End');
    await page.keyboard.type(' Edited.');
    await saved(page);
    await sort.selectOption({ label: 'Recently edited' });
    await expect.poll(async () => (await entryTitles(page))[0]).toBe('Markup test');
    expect(problems).toEqual([]);
  });
});

describe('trash', () => {
  it('moves documents to the trash, restores one, and empties the trash after a confirmation', async () => {
    for (const scheme of ['light', 'dark'] as const) {
      const { page, problems } = await lacuna.open({ colorScheme: scheme });
      await newDocument(page, `Draft to trash ${scheme}`);
      await page.keyboard.type('Short lived.');
      await saved(page);
      const status = page.getByRole('status').filter({ hasText: /trash/ });

      // The open document, from the keyboard: it leaves the list, another one opens.
      await page.keyboard.press('Control+Shift+Backspace');
      await status.filter({ hasText: `Moved “Draft to trash ${scheme}” to the trash.` }).waitFor();
      await expect
        .poll(() =>
          documents(page)
            .getByRole('button', { name: new RegExp(`^Draft to trash ${scheme}`) })
            .count(),
        )
        .toBe(0);
      await expect.poll(() => page.getByRole('textbox', { name: 'Title', exact: true }).inputValue()).not.toBe(`Draft to trash ${scheme}`);

      // Another one with its own button in the list.
      const zebra = documents(page).getByRole('button', { name: 'Move “Zebra crossing” to the trash' });
      if (scheme === 'light') {
        await zebra.click();
        await status.filter({ hasText: 'Moved “Zebra crossing” to the trash.' }).waitFor();
      }

      await page.getByRole('button', { name: 'Trash', exact: true }).click();
      const trash = page.getByRole('region', { name: 'Trash' });
      const trashed = trash.getByRole('list', { name: 'Trashed documents' }).getByRole('listitem');
      await expect.poll(() => trashed.count()).toBe(scheme === 'light' ? 2 : 2);
      expect(await lacuna.call<unknown[]>('documents.listTrash')).toHaveLength(2);
      await screenshot(page, `library-trash-${scheme}`);

      if (scheme === 'light') {
        await trash.getByRole('button', { name: 'Restore “Zebra crossing”' }).click();
        await trash.getByRole('status').filter({ hasText: 'Restored “Zebra crossing”.' }).waitFor();
        await expect.poll(() => trashed.count()).toBe(1);
        await trash.getByRole('button', { name: 'Back to documents' }).click();
        await documents(page)
          .getByRole('button', { name: /^Zebra crossing/ })
          .waitFor();
        expect((await lacuna.call<Summary[]>('documents.list')).map((d) => d.title)).toContain('Zebra crossing');
        // Leave one in the trash for the dark run to find next to its own.
        await page.keyboard.press('Control+Shift+KeyX');
        await trash.waitFor();
        await expect.poll(() => trashed.count()).toBe(1);
      } else {
        // Emptying asks first; "Keep them" keeps them.
        await trash.getByRole('button', { name: 'Empty trash…' }).click();
        const confirm = page.getByRole('alertdialog', { name: 'Empty the trash?' });
        await confirm.waitFor();
        expect(await confirm.textContent()).toContain('2 documents in the trash will be deleted for good');
        await confirm.getByRole('button', { name: 'Keep them' }).click();
        await confirm.waitFor({ state: 'hidden' });
        expect(await lacuna.call<unknown[]>('documents.listTrash')).toHaveLength(2);
        await trash.getByRole('button', { name: 'Empty trash…' }).click();
        await confirm.getByRole('button', { name: 'Delete for good' }).click();
        await trash.getByRole('status').filter({ hasText: 'Deleted 2 documents for good.' }).waitFor();
        await trash.getByText('The trash is empty.').waitFor();
        expect(await lacuna.call<unknown[]>('documents.listTrash')).toEqual([]);
      }
      expect(problems).toEqual([]);
    }
  });
});

describe('undo of the trash', () => {
  it('offers Undo after a document moves to the trash: it comes back from the trash and opens', async () => {
    const { page, problems } = await lacuna.open();
    await newDocument(page, 'Second thoughts');
    await page.keyboard.type('Kept after all.');
    await saved(page);
    await page.keyboard.press('Control+Shift+Backspace');
    await page.getByRole('status').filter({ hasText: 'Moved “Second thoughts” to the trash.' }).waitFor();
    expect((await lacuna.call<{ title: string }[]>('documents.listTrash')).map((d) => d.title)).toContain('Second thoughts');

    const undo = page.getByRole('button', { name: 'Undo: restore “Second thoughts” from the trash' });
    await undo.click();
    await page.getByRole('status').filter({ hasText: 'Restored “Second thoughts” from the trash.' }).waitFor();
    await expect.poll(() => page.getByRole('textbox', { name: 'Title', exact: true }).inputValue()).toBe('Second thoughts');
    await documents(page)
      .getByRole('button', { name: /^Second thoughts/ })
      .waitFor();
    expect((await lacuna.call<{ title: string }[]>('documents.listTrash')).map((d) => d.title)).not.toContain('Second thoughts');
    expect(await undo.count()).toBe(0);
    expect(problems).toEqual([]);
  });
});

describe('a long manuscript', () => {
  it('saves as you type from a worker, off the page’s main thread, and keeps every word', async () => {
    const paragraphs = Array.from({ length: 300 }, (_, p) => `Paragraph ${p + 1}: ${'the keeper walked along the harbour wall '.repeat(12).trim()}.`);
    await lacuna.call('documents.create', { title: 'Long manuscript', body: paragraphs.join('\n\n') });
    const { page, problems } = await lacuna.open();
    await documents(page)
      .getByRole('button', { name: /^Long manuscript/ })
      .click();
    const text = page.getByRole('textbox', { name: 'Text', exact: true });
    await expect.poll(async () => (await editorText(page)).split('\n').length).toBe(300);
    await text.press('Control+End');
    await page.keyboard.type(' The end.');
    // New blocks far down a long document take the caret at once (a heading by its Markdown, a paragraph).
    await page.keyboard.press('Enter');
    await page.keyboard.type('# Coda');
    await page.keyboard.press('Enter');
    await page.keyboard.type('Last words.');
    await text.getByRole('heading', { level: 1, name: 'Coda' }).waitFor();
    await page.keyboard.press('Control+Home');
    await page.keyboard.type('Title. ');
    await expect.poll(async () => (await editorText(page)).split('\n').slice(-3)).toEqual([`${paragraphs.at(-1)} The end.`, 'Coda', 'Last words.']);
    expect((await editorText(page)).startsWith('Title. Paragraph 1: ')).toBe(true);
    await saved(page);
    // documents.save went through the worker (api-worker.ts).
    expect(page.workers().some((w) => /api-worker/.test(w.url()))).toBe(true);
    const list = await lacuna.call<{ id: string; title: string }[]>('documents.list');
    const stored = await lacuna.call<{ body: string; richText?: string }>('documents.open', { id: list.find((d) => d.title === 'Long manuscript')!.id });
    const written = `Title. ${paragraphs.join('\n\n')} The end.\n\n# Coda\n\nLast words.`;
    expect(stored.body).toBe(written);
    expect(stored.richText).toBeDefined();

    await page.reload();
    await documents(page)
      .getByRole('button', { name: /^Long manuscript/ })
      .click();
    await expect.poll(async () => (await editorText(page)).endsWith('Last words.')).toBe(true);
    expect((await editorText(page)).split('\n')).toEqual([
      `Title. ${paragraphs[0]}`,
      ...paragraphs.slice(1, -1),
      `${paragraphs.at(-1)} The end.`,
      'Coda',
      'Last words.',
    ]);
    expect(problems).toEqual([]);
  });
});
