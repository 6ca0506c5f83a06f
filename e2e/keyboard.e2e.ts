/**
 * Keyboard first (issue 6): the command palette (Ctrl/Cmd+K) lists every action with its shortcut
 * and runs them, filtered as you type; every control has an accessible name and role (checked in
 * Chromium's accessibility tree, with each panel and dialog open); the focus is visible on every Tab
 * stop; and a larger default text size (the browser's, as set by the system) leaves no control cut
 * off. Screenshots in light and dark, and at the larger size.
 */
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { focusedLabel, newDocument, saved, screenshot, useApp, type OpenOptions } from './app';

const lacuna = useApp({
  setup: async (app) => {
    await app.call('documents.create', { title: 'Harbour', body: 'The keeper ____ every night, and the lamp **burned**.' });
  },
});

async function open(options: OpenOptions = {}): Promise<{ page: Page; problems: string[] }> {
  const app = await lacuna.open(options);
  await app.page.getByRole('textbox', { name: 'Text', exact: true }).waitFor();
  return app;
}

const INTERACTIVE = new Set([
  'button',
  'checkbox',
  'combobox',
  'link',
  'listbox',
  'menuitem',
  'option',
  'radio',
  'searchbox',
  'slider',
  'spinbutton',
  'switch',
  'tab',
  'textbox',
  'img',
  'progressbar',
  'region',
  'navigation',
  'complementary',
  'dialog',
  'alertdialog',
]);

/** Controls (and landmarks, dialogs, blanks) in the accessibility tree that have no name. */
async function unnamed(page: Page): Promise<string[]> {
  const cdp = await page.context().newCDPSession(page);
  try {
    const { nodes } = (await cdp.send('Accessibility.getFullAXTree')) as {
      nodes: { ignored: boolean; role?: { value?: string }; name?: { value?: string } }[];
    };
    return nodes.filter((n) => !n.ignored && INTERACTIVE.has(n.role?.value ?? '') && !(n.name?.value ?? '').trim()).map((n) => `${n.role?.value}`);
  } finally {
    await cdp.detach();
  }
}

/** The controls whose content or box is cut off: by their own size, the window, or an ancestor that clips. */
const CLIPPED = `(() => {
  const out = [];
  for (const el of document.querySelectorAll('button, input, select, textarea, [role=option]')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0 || getComputedStyle(el).visibility === 'hidden') continue;
    const name = el.getAttribute('aria-label') || el.textContent.trim().slice(0, 40) || el.tagName;
    const textField = el.tagName === 'INPUT' && !['radio', 'checkbox'].includes(el.type);
    if (!textField && el.tagName !== 'TEXTAREA' && (el.scrollWidth > el.clientWidth + 1 || el.scrollHeight > el.clientHeight + 1)) {
      out.push(name + ': content larger than the control');
    }
    if (r.left < -0.5 || r.right > innerWidth + 0.5) out.push(name + ': outside the window');
    for (let a = el.parentElement; a; a = a.parentElement) {
      const s = getComputedStyle(a);
      if (s.overflowX === 'visible') continue;
      const ar = a.getBoundingClientRect();
      if (r.left < ar.left - 0.5 || r.right > ar.right + 0.5) {
        out.push(name + ': cut off by ' + a.tagName + '.' + a.className);
        break;
      }
    }
  }
  return out;
})()`;

async function tabStopsShowFocus(page: Page, stops: number): Promise<string[]> {
  const bad: string[] = [];
  for (let i = 0; i < stops; i++) {
    await page.keyboard.press('Tab');
    const r = (await page.evaluate(`(() => {
      const el = document.activeElement;
      if (!el || el === document.body) return null;
      const s = getComputedStyle(el);
      const outline = s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0;
      const shadow = s.boxShadow !== 'none';
      return { name: el.getAttribute('aria-label') || el.textContent.trim().slice(0, 30) || el.tagName, visible: outline || shadow };
    })()`)) as { name: string; visible: boolean } | null;
    if (r && !r.visible) bad.push(r.name);
  }
  return bad;
}

describe('command palette', () => {
  it('lists every action with its shortcut, filters, and runs the chosen one', async () => {
    for (const scheme of ['light', 'dark'] as const) {
      const { page, problems } = await open({ colorScheme: scheme });
      await page.getByRole('textbox', { name: 'Text', exact: true }).click();
      await page.keyboard.press('Control+KeyK');
      const dialog = page.getByRole('dialog', { name: 'Commands' });
      await dialog.waitFor();
      const input = dialog.getByRole('combobox', { name: 'Find a command' });
      expect(await focusedLabel(page)).toBe('Find a command');
      const options = dialog.getByRole('listbox', { name: 'Commands' }).getByRole('option');
      const all = await options.count();
      expect(all).toBeGreaterThan(30);
      // Every action has a shortcut, shown and in aria-keyshortcuts, and each shortcut is one action's.
      const keys = await options.evaluateAll((els) => els.map((e) => [e.getAttribute('aria-keyshortcuts'), e.querySelector('kbd')?.textContent]));
      expect(keys.every(([aria, shown]) => !!aria && !!shown)).toBe(true);
      expect(new Set(keys.map(([aria]) => aria)).size).toBe(keys.length);
      for (const label of [
        'Fill blanks',
        'New document',
        'Search documents',
        'Show or hide revisions',
        'Fill settings…',
        'Models and devices…',
        'Back up library…',
        'Show or hide the surprise view',
        'Move this document to the trash',
        'Bold',
        'Undo',
      ]) {
        expect(await options.filter({ hasText: label }).count(), label).toBeGreaterThanOrEqual(1);
      }
      await screenshot(page, `palette-${scheme}`);

      // Filtered as you type; arrows move; Enter runs.
      await input.fill('revis');
      await expect.poll(() => options.count()).toBeLessThan(all);
      expect(await options.allTextContents()).toEqual(expect.arrayContaining([expect.stringContaining('Show or hide revisions')]));
      const active = () => input.getAttribute('aria-activedescendant');
      const first = await active();
      await page.keyboard.press('ArrowDown');
      if ((await options.count()) > 1) expect(await active()).not.toBe(first);
      await input.fill('show or hide revisions');
      await expect.poll(() => options.count()).toBe(1);
      await page.keyboard.press('Enter');
      await dialog.waitFor({ state: 'hidden' });
      await page.getByRole('complementary', { name: 'Revisions' }).waitFor();

      // A command that acts on the text: Bold, on the selected word.
      await page.getByRole('textbox', { name: 'Text', exact: true }).dblclick({ position: { x: 10, y: 10 } });
      await page.keyboard.press('Control+KeyK');
      await dialog.getByRole('combobox', { name: 'Find a command' }).fill('bold');
      await page.keyboard.press('Enter');
      await dialog.waitFor({ state: 'hidden' });
      await expect.poll(() => page.getByRole('button', { name: 'Bold', exact: true }).getAttribute('aria-pressed')).toBe('true');
      // Esc closes it and gives the focus back.
      await page.keyboard.press('Control+KeyK');
      await dialog.waitFor();
      await page.keyboard.press('Escape');
      await dialog.waitFor({ state: 'hidden' });
      expect(await focusedLabel(page)).toBe('Text');
      await page.keyboard.press('Control+KeyZ'); // the bold, for the next run
      expect(problems).toEqual([]);
    }
  });
});

describe('accessible names and visible focus', () => {
  it('names every control and landmark, in every panel and dialog', async () => {
    const { page, problems } = await open();
    const text = page.getByRole('textbox', { name: 'Text', exact: true });
    expect(await unnamed(page)).toEqual([]);
    // A blank's panel, the revisions, the trash, search results.
    await text.click();
    await page.keyboard.press('End');
    for (let i = 0; i < ' every night, and the lamp burned.'.length; i++) await page.keyboard.press('ArrowLeft');
    await page.getByRole('region', { name: 'Blank' }).waitFor();
    expect(await unnamed(page)).toEqual([]);
    await page.keyboard.press('Control+Shift+KeyS'); // a revision to look at
    await page.getByRole('status', { name: 'Revision status' }).filter({ hasText: 'Kept as a revision.' }).waitFor();
    await page.keyboard.press('Control+Shift+KeyH');
    await page.getByRole('complementary', { name: 'Revisions' }).getByRole('list').getByRole('button').first().click();
    await page.getByRole('region', { name: 'Changes from this revision to now' }).waitFor();
    expect(await unnamed(page)).toEqual([]);
    await page.keyboard.press('Control+Shift+KeyX');
    await page.getByRole('region', { name: 'Trash' }).waitFor();
    expect(await unnamed(page)).toEqual([]);
    await page.keyboard.press('Control+Shift+KeyF');
    await page.keyboard.type('keeper');
    await page.getByRole('navigation', { name: 'Search results' }).getByRole('button').first().waitFor();
    expect(await unnamed(page)).toEqual([]);
    // Each dialog, from its shortcut.
    for (const [key, name] of [
      ['Control+KeyK', 'Commands'],
      ['Control+Comma', 'Fill settings'],
      ['Control+Shift+KeyM', 'Models and devices'],
      ['Control+Alt+KeyB', 'Back up library'],
    ] as const) {
      await page.keyboard.press(key);
      const dialog = page.getByRole('dialog', { name });
      await dialog.waitFor();
      if (name === 'Models and devices') await dialog.getByRole('list', { name: 'Devices' }).waitFor();
      expect(await unnamed(page), name).toEqual([]);
      await page.keyboard.press('Escape');
      await dialog.waitFor({ state: 'hidden' });
    }
    expect(problems).toEqual([]);
  });

  it('shows where the focus is on every Tab stop', async () => {
    // Wide enough for the library, the text and the revisions side by side (in a narrower window
    // the revisions take the library's place while they are open).
    const { page, problems } = await open({ viewport: { width: 1600, height: 900 } });
    await page.keyboard.press('Control+Shift+KeyH');
    await page.getByRole('complementary', { name: 'Revisions' }).waitFor();
    await page.getByRole('searchbox', { name: 'Search documents' }).focus();
    expect(await tabStopsShowFocus(page, 45)).toEqual([]);
    await page.keyboard.press('Control+Comma');
    await page.getByRole('dialog', { name: 'Fill settings' }).waitFor();
    expect(await tabStopsShowFocus(page, 20)).toEqual([]);
    expect(problems).toEqual([]);
  });
});

/**
 * WCAG contrast ratios of the first empty blank, measured in the page: its length label against the
 * blank's background (text: AA 4.5:1) and its dashed edge against the paper around it and the
 * blank's own background (the shape that says "a blank is here": 3:1, WCAG 1.4.11).
 */
const BLANK_CONTRAST = `(() => {
  const rgb = (c) => c.match(/[\\d.]+/g).slice(0, 4).map(Number);
  const lum = (c) => {
    const [r, g, b] = rgb(c).map((v) => v / 255).map((v) => (v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4));
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const ratio = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = getComputedStyle(e).backgroundColor;
      const v = rgb(c);
      if (v.length < 4 || v[3] > 0) return c;
    }
    return 'rgb(255, 255, 255)';
  };
  const blank = document.querySelector('.text .blank-empty');
  const label = blank.querySelector('.blank-length');
  return {
    label: ratio(getComputedStyle(label).color, background(label)),
    edge: Math.min(
      ratio(getComputedStyle(blank).borderBottomColor, background(blank.parentElement)),
      ratio(getComputedStyle(blank).borderBottomColor, background(blank)),
    ),
  };
})()`;

describe('contrast', () => {
  it('shows empty blanks with enough contrast in light and dark (WCAG AA)', async () => {
    const { page, problems } = await open();
    await page
      .getByRole('button', { name: /^Harbour/ })
      .first()
      .click();
    await expect.poll(() => page.getByRole('textbox', { name: 'Title', exact: true }).inputValue()).toBe('Harbour');
    for (const colorScheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme });
      const { label, edge } = (await page.evaluate(BLANK_CONTRAST)) as { label: number; edge: number };
      expect(label, `${colorScheme}: the length label of an empty blank`).toBeGreaterThanOrEqual(4.5);
      expect(edge, `${colorScheme}: the edge of an empty blank`).toBeGreaterThanOrEqual(3);
      await screenshot(page, `blank-contrast-${colorScheme}`);
    }
    expect(problems).toEqual([]);
  });
});

describe('larger text', () => {
  it('follows the browser’s default text size and cuts no control off', async () => {
    const { page, problems } = await open();
    // The default font size the system and browser settings give pages (Chromium: 16 px).
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Page.setFontSizes', { fontSizes: { standard: 24, fixed: 20 } });
    await page.reload();
    await page.getByRole('textbox', { name: 'Text', exact: true }).waitFor();
    expect(await page.evaluate('getComputedStyle(document.documentElement).fontSize')).toBe('24px');
    expect(await page.evaluate('getComputedStyle(document.querySelector("[aria-label=Text]")).fontSize')).toBe('28.5px'); // 1.1875rem
    expect(await page.evaluate(CLIPPED)).toEqual([]);

    await newDocument(page, 'Large text');
    await page.keyboard.type('A line with a ');
    await page.keyboard.press('Control+Shift+KeyB');
    await saved(page);
    await page.keyboard.press('ArrowLeft');
    await page.getByRole('region', { name: 'Blank' }).waitFor();
    await page.keyboard.press('Control+Shift+KeyH');
    await page.getByRole('complementary', { name: 'Revisions' }).waitFor();
    expect(await page.evaluate(CLIPPED)).toEqual([]);
    await screenshot(page, 'large-text');
    for (const [key, name] of [
      ['Control+Comma', 'Fill settings'],
      ['Control+Shift+KeyM', 'Models and devices'],
      ['Control+Alt+KeyB', 'Back up library'],
      ['Control+KeyK', 'Commands'],
    ] as const) {
      await page.keyboard.press(key);
      await page.getByRole('dialog', { name }).waitFor();
      expect(await page.evaluate(CLIPPED), name).toEqual([]);
      if (name === 'Fill settings') await screenshot(page, 'large-text-settings');
      await page.keyboard.press('Escape');
      await page.getByRole('dialog', { name }).waitFor({ state: 'hidden' });
    }
    await cdp.detach();
    expect(problems).toEqual([]);
  });
});
