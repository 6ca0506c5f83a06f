/**
 * The surprise view end to end (issue 6): score.run on the document's text, each token tinted by
 * its nats as decorations (not in the document or its undo history), a legend and the perplexity
 * bound; cleared when the text changes; cancellable (fill.cancel with the scoring's requestId).
 */
import type { Page, Route } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { newDocument, saved, screenshot, useApp } from './app';
import { editorText } from './helpers';

const lacuna = useApp();

interface Score {
  tokens: number;
  perplexityBound: number;
  perToken: { start: number; end: number; text: string; nll: number }[];
}

const toggle = (page: Page) => page.getByRole('button', { name: 'Surprise', exact: true });
const surpriseStatus = (page: Page) => page.getByRole('status', { name: 'Surprise status' });

describe('surprise view', () => {
  it('tints the text by surprise, outside the document and its history, and clears when the text changes', async () => {
    for (const scheme of ['light', 'dark'] as const) {
      const { page, problems } = await lacuna.open({ colorScheme: scheme });
      await newDocument(page, `Surprise ${scheme}`);
      await page.keyboard.type('The lamp keeper walked along the harbour wall.');
      await page.keyboard.press('Enter');
      await page.keyboard.type('Boats came slowly home');
      await saved(page);
      const before = await editorText(page);

      const answer = page.waitForResponse((r) => r.url().endsWith('/api/score.run'), { timeout: 150_000 });
      await page.keyboard.press('Control+Shift+KeyU');
      const response = await answer;
      const request = response.request().postDataJSON() as { text: string; requestId: string };
      expect(request.text).toBe('The lamp keeper walked along the harbour wall.\n\nBoats came slowly home');
      expect(request.requestId).toBeTruthy();
      const score = ((await response.json()) as { result: Score }).result;

      const bar = page.getByRole('region', { name: 'Surprise' });
      await bar.waitFor();
      expect(await toggle(page).getAttribute('aria-pressed')).toBe('true');
      const legend = bar.getByRole('list', { name: 'How surprising the model finds each word' });
      expect(await legend.getByRole('listitem').count()).toBe(5);
      // Explained in words: "nats" only in the tooltips that keep the numbers.
      expect(await bar.textContent()).not.toMatch(/nats/);
      expect(await legend.getByRole('listitem').first().getAttribute('title')).toMatch(/ nats$/);
      expect(await bar.textContent()).toContain(`Perplexity ≤ ${score.perplexityBound.toFixed(1)}`);
      await surpriseStatus(page)
        .filter({ hasText: `Scored ${score.tokens} tokens.` })
        .waitFor();

      // Every token's text is tinted, with its nats in the title; the text itself is unchanged.
      const text = page.getByRole('textbox', { name: 'Text', exact: true });
      const tinted = text.locator('.surprise');
      expect((await tinted.allTextContents()).join('')).toBe(request.text.replace(/\n/g, ''));
      const titles = await tinted.evaluateAll((els) => els.map((e) => e.getAttribute('title')));
      const nats = new Set(score.perToken.map((t) => `${t.nll.toFixed(2)} nats`));
      expect(titles.every((t) => t !== null && nats.has(t))).toBe(true);
      expect(await editorText(page)).toBe(before);
      await saved(page);
      const list = await lacuna.call<{ id: string; title: string }[]>('documents.list');
      const stored = await lacuna.call<{ body: string; richText?: string }>('documents.open', { id: list.find((d) => d.title === `Surprise ${scheme}`)!.id });
      expect(stored.body).toBe('The lamp keeper walked along the harbour wall.\n\nBoats came slowly home');
      expect(stored.richText).not.toContain('surprise');
      await screenshot(page, `surprise-${scheme}`);

      if (scheme === 'light') {
        // Not an undo step: the first undo takes back typing, which also clears the view.
        await text.click();
        await page.keyboard.press('Control+End');
        await page.keyboard.press('Control+KeyZ');
        await expect.poll(() => editorText(page)).not.toBe(before);
        await expect.poll(() => tinted.count()).toBe(0);
        expect(await toggle(page).getAttribute('aria-pressed')).toBe('false');
        await page.keyboard.press('Control+KeyY');
        await expect.poll(() => editorText(page)).toBe(before);
      } else {
        // Typing clears it.
        await text.press('End');
        await page.keyboard.type(' again');
        await expect.poll(() => tinted.count()).toBe(0);
        await surpriseStatus(page).filter({ hasText: 'The surprise view was cleared: the text changed.' }).waitFor();
        expect(await toggle(page).getAttribute('aria-pressed')).toBe('false');
        expect(await bar.count()).toBe(0);
      }
      expect(problems).toEqual([]);
    }
  });

  it('cancels a scoring with fill.cancel and its requestId', async () => {
    const { page, problems } = await lacuna.open();
    await newDocument(page, 'Cancelled scoring');
    await page.keyboard.type('Wind and rain all night.');
    await saved(page);
    // Held until the page cancels, then answered as the core answers a cancelled request.
    const ids: { score?: string; cancel?: string } = {};
    let cancelled!: () => void;
    const cancelSent = new Promise<void>((r) => (cancelled = r));
    await page.route('**/api/score.run', async (route: Route) => {
      ids.score = (route.request().postDataJSON() as { requestId: string }).requestId;
      await cancelSent;
      await route.fulfill({
        status: 409,
        contentType: 'application/json',
        body: JSON.stringify({ ok: false, error: { code: 'cancelled', message: 'scoring was cancelled' } }),
      });
    });
    await page.route('**/api/fill.cancel', async (route: Route) => {
      ids.cancel = (route.request().postDataJSON() as { requestId: string }).requestId;
      await route.continue();
      cancelled();
    });
    await toggle(page).click();
    const cancel = page.getByRole('button', { name: 'Cancel scoring' });
    await cancel.waitFor();
    expect(await page.getByRole('progressbar', { name: 'Scoring the text' }).count()).toBe(1);
    await cancel.click();
    await surpriseStatus(page).filter({ hasText: 'Scoring cancelled.' }).waitFor();
    expect(ids.score).toBeTruthy();
    expect(ids.cancel).toBe(ids.score);
    expect(await toggle(page).getAttribute('aria-pressed')).toBe('false');
    expect(await page.getByRole('textbox', { name: 'Text', exact: true }).locator('.surprise').count()).toBe(0);
    expect(await page.getByRole('alert').textContent()).toBe(''); // a cancel is not an error
    expect(problems.filter((p) => !/Failed to load resource: .* 409/.test(p))).toEqual([]);
  });
});
