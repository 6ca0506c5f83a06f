/**
 * No keystroke is lost on reload or close (issue: edits typed 0.1–0.4 s before a reload were lost
 * every time): the page sends the unsaved text as it goes away (pagehide, beforeunload,
 * visibilitychange) in a request that outlives it (fetch keepalive), without waiting for the
 * debounced autosave or a save in flight.
 */
import { describe, expect, it } from 'vitest';
import { newDocument, saved, useApp } from './app';
import { editorText } from './helpers';

const lacuna = useApp();
const REPETITIONS = 10;

async function storedBody(title: string): Promise<string> {
  const list = await lacuna.call<{ id: string; title: string }[]>('documents.list');
  const doc = list.find((d) => d.title === title);
  expect(doc, `no document titled ${title}`).toBeDefined();
  return (await lacuna.call<{ body: string }>('documents.open', { id: doc!.id })).body;
}

describe('reload right after typing', () => {
  it(`keeps every keystroke, ${REPETITIONS} times out of ${REPETITIONS}`, async () => {
    const { page, problems } = await lacuna.open();
    await newDocument(page, 'Reloaded');
    await page.keyboard.type('Start.');
    await saved(page);
    let expected = 'Start.';
    const text = page.getByRole('textbox', { name: 'Text', exact: true });
    const kept: boolean[] = [];
    for (let i = 0; i < REPETITIONS; i++) {
      const words = ` Word ${i} typed just before the reload.`;
      await page.keyboard.type(words);
      expected += words;
      // 0.1 to 0.4 s after the last keystroke: before the autosave (0.5 s after it) went out.
      await page.waitForTimeout(100 + Math.round((300 * i) / (REPETITIONS - 1)));
      await page.reload();
      // The app opens the most recently edited document by itself.
      await expect.poll(() => editorText(page).catch(() => '')).not.toBe('');
      const shown = await editorText(page);
      const stored = await storedBody('Reloaded');
      kept.push(shown === expected && stored === expected);
      expect({ repetition: i, shown, stored }).toEqual({ repetition: i, shown: expected, stored: expected });
      await text.click();
      await page.keyboard.press('Control+End');
    }
    expect(kept.filter(Boolean).length).toBe(REPETITIONS);
    expect(problems).toEqual([]);
  });

  it('keeps what was typed right before the tab was closed', async () => {
    const { page, problems } = await lacuna.open();
    await newDocument(page, 'Closed');
    await page.keyboard.type('Typed, then the tab closed at once.');
    await page.waitForTimeout(150);
    expect(problems).toEqual([]);
    await page.close({ runBeforeUnload: true });
    await expect.poll(() => storedBody('Closed')).toBe('Typed, then the tab closed at once.');
  });
});
