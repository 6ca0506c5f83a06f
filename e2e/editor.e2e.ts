/**
 * The rich editor end to end (issue 6), in headless Chromium against the real web mode and the
 * bundled model: blanks by shortcut and by typing the syntax, their length, live denoising while a
 * fill runs, alternatives, accept as one undo step, reject, regenerate, continue, Esc, generated
 * text, Markdown formatting across a reload, and the light and dark themes.
 *
 * Everything is found by its accessible role and name. A fill's alternatives are read from the
 * fill.run answer the page received, so the test knows what the editor must show.
 */
import type { Page, Response } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { AUTO_BLANK_LENGTHS, parseBlanks } from '../src-main/common/blanks';
import { newDocument, saved, screenshot, useApp } from './app';
import { editorText } from './helpers';

const STEP = /^Step (\d+) of (\d+)$/;
const LONG = 150_000;

const lacuna = useApp();

function fillStatus(page: Page, text: string | RegExp): Promise<void> {
  return page.getByRole('status', { name: 'Fill status' }).filter({ hasText: text }).waitFor({ timeout: LONG });
}

/** The document the page has open, as the library keeps it. */
async function stored(title: string): Promise<{ id: string; body: string; richText?: string }> {
  const list = await lacuna.call<{ id: string; title: string }[]>('documents.list');
  const doc = list.find((d) => d.title === title);
  expect(doc, `no document titled ${title}`).toBeDefined();
  return lacuna.call('documents.open', { id: doc!.id });
}

interface FillAnswer {
  request: { text: string; alternatives?: number };
  result: { alternatives: { text: string; fills: string[]; nll?: number; lengths?: number[] }[]; generationId?: number };
}

/** Wait for the page's next fill.run answer (call before starting the fill). */
function nextFill(page: Page): Promise<FillAnswer> {
  return page
    .waitForResponse((r: Response) => r.url().endsWith('/api/fill.run'), { timeout: LONG })
    .then(async (r) => {
      const body = (await r.json()) as { ok: boolean; result: FillAnswer['result'] };
      expect(body.ok).toBe(true);
      return { request: r.request().postDataJSON() as FillAnswer['request'], result: body.result };
    });
}

const blankImage = (page: Page, name: string | RegExp) => page.getByRole('img', { name });

/**
 * Generated text as the editor puts it into the document: a line break the model wrote (\n, \r\n
 * or \r) is a line break, and NUL, which the text form cannot hold, is U+FFFD.
 */
function asText(fill: string): string {
  return fill.replace(/\r\n?/g, '\n').replace(/\0/g, '\uFFFD');
}

/** A computed style property of the first element matching `selector`. */
async function styleOf(page: Page, selector: string, property: string): Promise<string> {
  return (await page.evaluate(`getComputedStyle(document.querySelector(${JSON.stringify(selector)})).${property}`)) as string;
}

describe('blanks in the rich editor', () => {
  it('inserts blanks by shortcut and by typing the syntax, and sets their length', async () => {
    const { page, problems } = await lacuna.open();
    await newDocument(page, 'Blanks');
    await page.keyboard.type('A ');
    await page.keyboard.press('Control+Shift+KeyB');
    await page.keyboard.type(' b ____ c {{8}} d \\____ e');
    // Two auto blanks (shortcut, typed: the model chooses their length), one of 8 tokens; the escaped one stayed text.
    await expect.poll(() => blankImage(page, 'Blank, auto length').count()).toBe(2);
    expect(await blankImage(page, 'Blank, 8 tokens').count()).toBe(1);
    // Its length in words as well as tokens.
    expect(await blankImage(page, 'Blank, 8 tokens (about 6 words)').count()).toBe(1);
    expect(await editorText(page)).toBe('A ____ b ____ c {{8}} d ____ e');
    expect(await page.getByText('3 blanks', { exact: true }).count()).toBe(1);
    await saved(page);
    const doc = await stored('Blanks');
    expect(doc.body).toBe('A ____ b ____ c {{8}} d \\_\\_\\_\\_ e');
    expect(
      parseBlanks(doc.body)
        .filter((s) => s.kind === 'blank')
        .map((s) => (s.kind === 'blank' ? s.tokens : 0)),
    ).toEqual(['auto', 'auto', 8]);
    expect(doc.richText).toBeDefined();

    // A blank moves and deletes like one character: Backspace right after it removes it whole.
    await page.keyboard.press('End');
    for (let i = 0; i < ' d ____ e'.length; i++) await page.keyboard.press('ArrowLeft');
    // The cursor is right after the {{8}} blank: the panel for it is shown.
    const panel = page.getByRole('region', { name: 'Blank' });
    await panel.waitFor();
    expect(await panel.getByRole('button', { name: 'Medium', exact: true }).getAttribute('aria-pressed')).toBe('false');
    expect(await panel.getByRole('button', { name: 'Short', exact: true }).getAttribute('aria-pressed')).toBe('true');
    // Auto comes first (Alt+0): the model chooses the length; the exact field then shows none.
    expect(await panel.getByRole('button').first().textContent()).toBe('Auto');
    await page.keyboard.press('Alt+Digit0');
    await expect.poll(() => blankImage(page, 'Blank, auto length').count()).toBe(3);
    expect(await panel.getByRole('button', { name: 'Auto', exact: true }).getAttribute('aria-pressed')).toBe('true');
    expect(await panel.getByRole('spinbutton', { name: 'Tokens' }).inputValue()).toBe('');
    expect(await panel.getByRole('spinbutton', { name: 'Tokens' }).getAttribute('placeholder')).toBe('auto');
    await panel.getByRole('button', { name: 'Long', exact: true }).click();
    await blankImage(page, 'Blank, 48 tokens').waitFor();
    expect(await panel.getByRole('button', { name: 'Long', exact: true }).getAttribute('aria-pressed')).toBe('true');
    await page.keyboard.press('Alt+Digit1'); // Short, from the keyboard
    await blankImage(page, 'Blank, 8 tokens').waitFor();
    await page.keyboard.press('Alt+KeyL'); // the exact length field
    await expect.poll(() => page.evaluate('document.activeElement?.getAttribute("aria-keyshortcuts")')).toBe('Alt+L');
    const tokens = panel.getByRole('spinbutton', { name: 'Tokens' });
    await tokens.fill('20');
    await tokens.press('Enter');
    await blankImage(page, 'Blank, 20 tokens').waitFor();
    // Enter gave the focus back to the text, after the blank; Backspace deletes the blank whole.
    await expect.poll(() => page.evaluate('document.activeElement?.getAttribute("aria-label")')).toBe('Text');
    await page.keyboard.press('Backspace');
    await expect.poll(() => editorText(page)).toBe('A ____ b ____ c  d ____ e');
    await page.keyboard.press('Control+KeyZ');
    await expect.poll(() => editorText(page)).toBe('A ____ b ____ c {{20}} d ____ e');
    await saved(page);
    expect((await stored('Blanks')).body).toBe('A ____ b ____ c {{20}} d \\_\\_\\_\\_ e');

    // Copied, a blank is its blank syntax as plain text; pasted, a blank again.
    await page.context().grantPermissions(['clipboard-read', 'clipboard-write']);
    await blankImage(page, 'Blank, 20 tokens').click();
    await page.keyboard.press('Control+KeyC');
    expect(await page.evaluate('navigator.clipboard.readText()')).toBe('{{20}}');
    await page.keyboard.press('Control+End');
    await page.keyboard.press('Control+KeyV');
    await expect.poll(() => blankImage(page, 'Blank, 20 tokens').count()).toBe(2);
    expect(await editorText(page)).toBe('A ____ b ____ c {{20}} d ____ e{{20}}');
    // Plain text with the blank syntax, from elsewhere, pastes as blanks too.
    await page.evaluate('navigator.clipboard.writeText("X ____ and {{3}} and \\\\____.")');
    await page.keyboard.press('Control+KeyV');
    await expect.poll(() => editorText(page)).toBe('A ____ b ____ c {{20}} d ____ e{{20}}X ____ and {{3}} and ____.');
    expect(await blankImage(page, 'Blank, 3 tokens').count()).toBe(1);
    expect(await blankImage(page, 'Blank, auto length').count()).toBe(3); // the escaped one stayed text
    expect(problems).toEqual([]);
  });

  it('shows the blank resolving token by token while a fill runs, outside the document', async () => {
    const { page, problems } = await lacuna.open();
    await newDocument(page, 'Live');
    // An exact length (an auto blank tries several: the next test).
    await page.keyboard.type('The keeper {{16}} every night.');
    await saved(page);

    // Hold back fill.run's answer: the fill runs and streams its progress; the page waits for the result.
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    await page.route('**/api/fill.run', async (route) => {
      const response = await route.fetch({ timeout: LONG });
      await released;
      await route.fulfill({ response });
    });
    const answer = nextFill(page);
    await page.keyboard.press('Control+Enter');
    await page.getByText(STEP).waitFor();
    // Tokens appear in the blank as they unmask, until all 16 are there; the blank stays a blank.
    const live = blankImage(page, /^Blank being filled, (\d+) of 16 tokens so far$/);
    await live.waitFor();
    await expect.poll(async () => Number(/(\d+) of/.exec((await live.getAttribute('aria-label')) ?? '')?.[1]), { timeout: LONG }).toBe(16);
    expect(await editorText(page)).toBe('The keeper {{16}} every night.');
    expect((await stored('Live')).body).toBe('The keeper {{16}} every night.');
    expect(await page.getByRole('button', { name: 'Cancel', exact: true }).isVisible()).toBe(true);
    release();
    const { result } = await answer;
    await fillStatus(page, 'Filled 1 blank.');
    const first = result.alternatives[0]!.fills[0]!;
    await blankImage(page, `Filled blank, alternative 1 of 3: ${first}`).waitFor();
    expect(await page.getByText(STEP).count()).toBe(0);
    await page.unroute('**/api/fill.run');
    expect(problems).toEqual([]);
  });

  it('fills an auto blank: the model tries lengths live and offers the most natural fill first', async () => {
    const { page, problems } = await lacuna.open();
    await newDocument(page, 'Auto');
    await page.keyboard.type('The keeper ____ every night. Then ____ came.');
    await expect.poll(() => blankImage(page, 'Blank, auto length').count()).toBe(2);
    await saved(page);
    // The lengths the live display tries, in the order it shows them.
    await page.evaluate(`(() => {
      window.__tried = [];
      const root = document.querySelector('[role=textbox][aria-label=Text]');
      new MutationObserver(() => {
        for (const el of root.querySelectorAll('[data-blank]')) {
          const m = /^Blank being filled, auto length, trying (\\d+) tokens?: (\\d+) so far$/.exec(el.getAttribute('aria-label') ?? '');
          if (m && window.__tried.at(-1) !== Number(m[1])) window.__tried.push(Number(m[1]));
        }
      }).observe(root, { subtree: true, childList: true, attributes: true, attributeFilter: ['aria-label'] });
    })()`);

    // Only the first blank, from its panel.
    await blankImage(page, 'Blank, auto length').first().click();
    const panel = page.getByRole('region', { name: 'Blank' });
    expect(await panel.getByRole('button', { name: 'Auto', exact: true }).getAttribute('aria-pressed')).toBe('true');
    const answer = nextFill(page);
    await panel.getByRole('button', { name: 'Fill this blank', exact: true }).click();
    const { request, result } = await answer;
    expect(request.text).toBe('The keeper ____ every night. Then  came.');
    await fillStatus(page, 'Filled 1 blank.');
    // The bundled model tried more than one length, one after another, each shown as it denoised.
    const tried = (await page.evaluate('window.__tried')) as number[];
    expect(tried.length).toBeGreaterThan(1);
    for (const n of tried) expect(AUTO_BLANK_LENGTHS).toContain(n);
    // Each alternative says the length it got and how natural it reads; best first.
    const alternatives = result.alternatives;
    expect(alternatives).toHaveLength(3);
    for (const a of alternatives) {
      expect(AUTO_BLANK_LENGTHS).toContain(a.lengths?.[0]);
      expect(typeof a.nll).toBe('number');
    }
    const nll = alternatives.map((a) => a.nll!);
    expect(nll).toEqual([...nll].sort((x, y) => x - y));

    // The first, the most natural, is on display, and says so quietly; the others do not.
    const first = alternatives[0]!.fills[0]!;
    await blankImage(page, `Filled blank, alternative 1 of 3: ${first}`).waitFor();
    const which = page.getByRole('status', { name: 'Alternative' });
    await which.filter({ hasText: 'Alternative 1 of 3 · most natural' }).waitFor();
    await screenshot(page, 'auto-blank-filled');
    await page.keyboard.press('Alt+BracketRight');
    await which.filter({ hasText: /^\s*Alternative 2 of 3\s*$/ }).waitFor();
    await page.keyboard.press('Alt+BracketLeft');
    await which.filter({ hasText: 'most natural' }).waitFor();
    // The other blank is still an empty auto blank; the document keeps both as ____.
    expect(await blankImage(page, 'Blank, auto length').count()).toBe(1);
    await saved(page);
    expect((await stored('Auto')).body).toBe('The keeper ____ every night. Then ____ came.');
    await page.keyboard.press('Alt+Enter'); // Accept
    await expect.poll(() => editorText(page)).toBe(`The keeper ${asText(first)} every night. Then ____ came.`);
    expect(problems).toEqual([]);
  });

  it('cycles the alternatives and accepts one as a single undo step', async () => {
    const { page, problems } = await lacuna.open();
    await newDocument(page, 'Alternatives');
    // On the test model: its fills stay on one line, which the mouse-driven edit below relies on
    // (the default model's may break lines).
    await page.route('**/api/fill.run', async (route) => {
      const params = route.request().postDataJSON() as Record<string, unknown>;
      await route.continue({ postData: JSON.stringify({ ...params, model: 'tiny-fixture' }) });
    });
    await page.keyboard.type('Before ');
    await page.keyboard.press('Control+Shift+KeyB');
    await page.keyboard.type(' after.');
    await saved(page);

    const answer = nextFill(page);
    await page.getByRole('button', { name: 'Fill blanks', exact: true }).click();
    const { request, result } = await answer;
    expect(request.alternatives).toBe(3);
    expect(request.text).toBe('Before ____ after.');
    await fillStatus(page, 'Filled 1 blank.');
    const fills = result.alternatives.map((a) => a.fills[0]!);
    expect(fills).toHaveLength(3);

    const which = page.getByRole('status', { name: 'Alternative' });
    await which.filter({ hasText: 'Alternative 1 of 3' }).waitFor();
    await blankImage(page, `Filled blank, alternative 1 of 3: ${fills[0]}`).waitFor();
    await page.keyboard.press('Alt+BracketRight');
    await which.filter({ hasText: 'Alternative 2 of 3' }).waitFor();
    await blankImage(page, `Filled blank, alternative 2 of 3: ${fills[1]}`).waitFor();
    await page.keyboard.press('Alt+BracketLeft');
    await page.keyboard.press('Alt+BracketLeft'); // wraps around
    await which.filter({ hasText: 'Alternative 3 of 3' }).waitFor();
    await page.getByRole('button', { name: 'Next alternative', exact: true }).click();
    await which.filter({ hasText: 'Alternative 1 of 3' }).waitFor();
    await page.getByRole('button', { name: 'Next alternative', exact: true }).click();
    await blankImage(page, `Filled blank, alternative 2 of 3: ${fills[1]}`).waitFor();
    // Nothing generated is in the text yet.
    await saved(page);
    expect((await stored('Alternatives')).body).toBe('Before ____ after.');

    await page.keyboard.press('Alt+Enter'); // Accept
    await expect.poll(() => editorText(page)).toBe(`Before ${asText(fills[1]!)} after.`);
    const status = page.getByRole('status', { name: 'Fill status' });
    await fillStatus(page, 'Accepted the fill.');
    expect(await page.getByText('0 blanks', { exact: true }).count()).toBe(1);
    // The accepted text is marked as generated, highlighted until switched off.
    const generated = page.locator('[data-generated]');
    // (line breaks inside a fill become hard breaks or paragraphs: compare without whitespace)
    const squash = (t: string): string => t.replace(/\s+/g, '');
    expect(squash((await generated.allTextContents()).join(''))).toBe(squash(asText(fills[1]!)));
    const highlight = page.getByRole('button', { name: 'Highlight generated text', exact: true });
    expect(await highlight.getAttribute('aria-pressed')).toBe('true');
    const background = () => styleOf(page, '[data-generated]', 'backgroundColor');
    const highlighted = await background();
    await highlight.click();
    expect(await highlight.getAttribute('aria-pressed')).toBe('false');
    expect(await background()).not.toBe(highlighted);
    await page.keyboard.press('Control+Alt+KeyG');
    expect(await highlight.getAttribute('aria-pressed')).toBe('true');
    // The kept alternative is recorded with the fill.
    const doc = await stored('Alternatives');
    await expect.poll(async () => (await lacuna.call<{ accepted: number | null }[]>('generations.list', { id: doc.id })).map((g) => g.accepted)).toEqual([1]);

    // One undo brings the filled blank back, with its alternatives; redo accepts again.
    await page.keyboard.press('Control+KeyZ');
    await expect.poll(() => editorText(page)).toBe('Before ____ after.');
    await blankImage(page, `Filled blank, alternative 2 of 3: ${fills[1]}`).waitFor();
    // The status line no longer says what the undo took back.
    await expect.poll(() => status.filter({ hasText: 'Accepted' }).count()).toBe(0);
    await page.keyboard.press('Control+KeyY');
    await expect.poll(() => editorText(page)).toBe(`Before ${asText(fills[1]!)} after.`);
    // Editing the generated text makes it the writer's own: the mark goes.
    // (caret by keyboard, one character inside the fill's end: a click's target depends on where the
    // random fill happens to wrap)
    await page.keyboard.press('Control+End');
    for (let i = 0; i <= ' after.'.length; i++) await page.keyboard.press('ArrowLeft');
    await page.keyboard.type('Q');
    await expect.poll(() => generated.count()).toBe(0);
    expect(problems).toEqual([]);
  });

  it('rejects back to the empty blank, and regenerates new alternatives', async () => {
    const { page, problems } = await lacuna.open();
    await newDocument(page, 'Reject');
    await page.keyboard.type('One ____ two.');
    await saved(page);
    let answer = nextFill(page);
    await page.keyboard.press('Control+Enter');
    const first = (await answer).result.alternatives.map((a) => a.fills[0]!);
    await fillStatus(page, 'Filled 1 blank.');
    await blankImage(page, `Filled blank, alternative 1 of 3: ${first[0]}`).waitFor();

    answer = nextFill(page);
    await page.getByRole('button', { name: 'Regenerate', exact: true }).click();
    const again = await answer;
    expect(again.request.text).toBe('One ____ two.');
    const second = again.result.alternatives.map((a) => a.fills[0]!);
    await blankImage(page, `Filled blank, alternative 1 of 3: ${second[0]}`).waitFor();
    // Regenerating is an undo step too: undo shows the previous alternatives.
    await page.keyboard.press('Control+KeyZ');
    await blankImage(page, `Filled blank, alternative 1 of 3: ${first[0]}`).waitFor();
    await page.keyboard.press('Control+KeyY');
    await blankImage(page, `Filled blank, alternative 1 of 3: ${second[0]}`).waitFor();

    await page.getByRole('button', { name: 'Reject', exact: true }).click();
    await blankImage(page, 'Blank, auto length').waitFor();
    expect(await page.getByRole('button', { name: 'Fill this blank', exact: true }).isVisible()).toBe(true);
    expect(await editorText(page)).toBe('One ____ two.');
    await page.keyboard.press('Control+KeyZ');
    await blankImage(page, `Filled blank, alternative 1 of 3: ${second[0]}`).waitFor();
    await page.keyboard.press('Alt+Backspace'); // Reject from the keyboard
    await blankImage(page, 'Blank, auto length').waitFor();
    await saved(page);
    expect((await stored('Reject')).body).toBe('One ____ two.');
    expect(problems).toEqual([]);
  });

  it('continues the text from the cursor', async () => {
    const { page, problems } = await lacuna.open();
    await newDocument(page, 'Continue');
    await page.keyboard.type('The sea was calm that night.');
    await saved(page);
    const answer = nextFill(page);
    await page.getByRole('button', { name: 'Continue', exact: true }).click();
    const { request, result } = await answer;
    expect(request.text).toBe('The sea was calm that night.{{48}}');
    await fillStatus(page, 'Filled 1 blank.');
    const fill = result.alternatives[0]!.fills[0]!;
    await blankImage(page, `Filled blank, alternative 1 of 3: ${fill}`).waitFor();
    await page.getByRole('button', { name: 'Accept', exact: true }).click();
    await expect.poll(() => editorText(page)).toBe(`The sea was calm that night.${asText(fill)}`);
    expect(problems).toEqual([]);
  });

  it('cancels a running fill with Esc; the blank is empty again and typing went on meanwhile', async () => {
    const { page, problems } = await lacuna.open();
    await newDocument(page, 'Esc');
    await page.keyboard.type('Wind ____ rain.');
    await saved(page);
    // A long fill, so it is still running when Esc comes: 4096 steps on the σ-conditioned test model
    // (the default model skips the network on steps that unmask nothing).
    await page.route('**/api/fill.run', async (route) => {
      const params = route.request().postDataJSON() as Record<string, unknown>;
      await route.continue({ postData: JSON.stringify({ ...params, steps: 4096, model: 'tiny-fixture' }) });
    });
    await page.keyboard.press('Control+Enter');
    const steps = page.getByText(STEP);
    await steps.waitFor();
    await blankImage(page, /^Blank being filled/).waitFor();
    await page.keyboard.press('End');
    await page.keyboard.type(' More.');
    expect(await editorText(page)).toBe('Wind ____ rain. More.');
    const [, k, n] = STEP.exec((await steps.textContent()) ?? '')!;
    expect(Number(k)).toBeLessThan(Number(n));
    await page.keyboard.press('Escape');
    await fillStatus(page, 'Fill cancelled.');
    await blankImage(page, 'Blank, auto length').waitFor();
    expect(await page.getByText(STEP).count()).toBe(0);
    expect(await editorText(page)).toBe('Wind ____ rain. More.');
    await saved(page);
    expect((await stored('Esc')).body).toBe('Wind ____ rain. More.');
    expect(problems.filter((p) => !/Failed to load resource: .* 409/.test(p))).toEqual([]);
  });
});

describe('typing during a fill', () => {
  /** On the test model, with many steps: the fill takes a while, and its answer waits for release(). */
  async function longFill(page: Page): Promise<{ release: () => void; answer: Promise<FillAnswer> }> {
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    await page.route('**/api/fill.run', async (route) => {
      const params = route.request().postDataJSON() as Record<string, unknown>;
      const response = await route.fetch({ postData: JSON.stringify({ ...params, steps: 512, model: 'tiny-fixture' }), timeout: LONG });
      await released;
      await route.fulfill({ response });
    });
    return { release, answer: nextFill(page) };
  }

  it('lands the fill on its blank while the writer types in another paragraph; undo takes them apart', async () => {
    const { page, problems } = await lacuna.open();
    await newDocument(page, 'Typing meanwhile');
    await page.keyboard.type('First paragraph.');
    await page.keyboard.press('Enter');
    await page.keyboard.type('The keeper {{16}} every night.');
    await saved(page);
    const { release, answer } = await longFill(page);
    await page.keyboard.press('Control+Enter');
    await page.getByText(STEP).waitFor();
    await blankImage(page, /^Blank being filled/).waitFor();
    // The writer goes on in the first paragraph (before the blank: it moves) and adds a new one.
    await page.keyboard.press('Control+Home');
    await page.keyboard.press('End');
    await page.keyboard.type(' More words here.');
    await page.keyboard.press('Enter');
    await page.keyboard.type('A new paragraph.');
    // Still filling while the writer typed: the answer is held until release(), so the blank is still
    // the one being filled (the engine's own steps may all be done by now on a fast machine).
    expect(await blankImage(page, /^Blank being filled/).count()).toBe(1);
    release();
    const { result } = await answer;
    await fillStatus(page, 'Filled 1 blank.');
    const fills = result.alternatives.map((a) => a.fills[0]!);
    await blankImage(page, `Filled blank, alternative 1 of 3: ${fills[0]}`).waitFor();
    expect(await editorText(page)).toBe('First paragraph. More words here.\nA new paragraph.\nThe keeper {{16}} every night.');
    expect(await page.getByRole('region', { name: 'The fill was not applied' }).count()).toBe(0);
    // The cursor stayed where the writer was typing.
    await page.keyboard.type(' Still mine.');
    await expect.poll(() => editorText(page)).toBe('First paragraph. More words here.\nA new paragraph. Still mine.\nThe keeper {{16}} every night.');
    await saved(page);
    expect((await stored('Typing meanwhile')).body).toBe('First paragraph. More words here.\n\nA new paragraph. Still mine.\n\nThe keeper {{16}} every night.');

    // Undo: first the typing after the landing, then the landing alone (the blank is empty again,
    // the typing during the fill stays the writer's); redo brings the fill back.
    await page.keyboard.press('Control+KeyZ');
    await expect.poll(() => editorText(page)).toBe('First paragraph. More words here.\nA new paragraph.\nThe keeper {{16}} every night.');
    await blankImage(page, `Filled blank, alternative 1 of 3: ${fills[0]}`).waitFor();
    await page.keyboard.press('Control+KeyZ');
    await blankImage(page, 'Blank, 16 tokens').waitFor();
    expect(await editorText(page)).toBe('First paragraph. More words here.\nA new paragraph.\nThe keeper {{16}} every night.');
    await page.keyboard.press('Control+KeyY');
    await blankImage(page, `Filled blank, alternative 1 of 3: ${fills[0]}`).waitFor();
    expect(await editorText(page)).toBe('First paragraph. More words here.\nA new paragraph.\nThe keeper {{16}} every night.');
    await page.unroute('**/api/fill.run');
    expect(problems).toEqual([]);
  });

  it('offers every alternative when the blank itself was deleted during the fill', async () => {
    const { page, problems } = await lacuna.open();
    await newDocument(page, 'Deleted meanwhile');
    await page.keyboard.type('Wind and {{16}}');
    await saved(page);
    const { release, answer } = await longFill(page);
    await page.keyboard.press('Control+Enter');
    await page.getByText(STEP).waitFor();
    await blankImage(page, /^Blank being filled/).waitFor();
    await page.keyboard.press('End');
    await page.keyboard.press('Backspace'); // the blank goes, whole
    await page.keyboard.type('rain.');
    expect(await editorText(page)).toBe('Wind and rain.');
    release();
    const { result } = await answer;
    const fills = result.alternatives.map((a) => a.fills[0]!);
    expect(fills).toHaveLength(3);

    const notice = page.getByRole('region', { name: 'The fill was not applied' });
    await notice.waitFor();
    await fillStatus(page, 'Fill not applied: the blank changed meanwhile.');
    expect(await editorText(page)).toBe('Wind and rain.');
    // Every alternative, not only the first.
    const offered = notice.getByRole('list', { name: 'Alternatives not applied' }).getByRole('listitem');
    expect(await offered.allTextContents()).toEqual(fills.map((f) => f.trim()));
    await screenshot(page, 'fill-not-applied');

    // Saved as a new document: the text as it was, the blank filled with every alternative to review.
    await notice.getByRole('button', { name: 'Save as a new document' }).click();
    await notice.waitFor({ state: 'detached' });
    const entry = page.getByRole('navigation', { name: 'Documents' }).getByRole('button', { name: /^Deleted meanwhile \(filled\)/ });
    await entry.waitFor();
    expect(await editorText(page)).toBe('Wind and rain.');
    await saved(page);
    expect((await stored('Deleted meanwhile')).body).toBe('Wind and rain.');
    await entry.click();
    await blankImage(page, `Filled blank, alternative 1 of 3: ${fills[0]}`).waitFor();
    await blankImage(page, /^Filled blank/).click();
    await page.keyboard.press('Alt+BracketRight');
    await blankImage(page, `Filled blank, alternative 2 of 3: ${fills[1]}`).waitFor();
    await page.keyboard.press('Alt+BracketRight');
    await blankImage(page, `Filled blank, alternative 3 of 3: ${fills[2]}`).waitFor();
    await page.unroute('**/api/fill.run');
    expect(problems).toEqual([]);
  });
});

describe('the review panel', () => {
  /** Boxes on the page, in CSS pixels. */
  interface Box {
    top: number;
    bottom: number;
    left: number;
    right: number;
  }
  const overlaps = (a: Box, b: Box): boolean => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;

  /** The filled blank's boxes (one per line), the text after it to the paragraph's end, and the panel's. */
  async function boxes(page: Page): Promise<{ blank: Box[]; after: Box[]; panel: Box; scroller: Box }> {
    return (await page.evaluate(`(() => {
      const box = (r) => ({ top: r.top, bottom: r.bottom, left: r.left, right: r.right });
      const blank = document.querySelector('[data-blank][aria-label^="Filled blank"]');
      const range = document.createRange();
      range.setStartAfter(blank);
      range.setEndAfter(blank.closest('p').lastChild);
      return {
        blank: [...blank.getClientRects()].map(box),
        after: [...range.getClientRects()].filter((r) => r.width > 0).map(box),
        panel: box(document.querySelector('.blank-panel').getBoundingClientRect()),
        scroller: box(document.querySelector('.scroller').getBoundingClientRect()),
      };
    })()`)) as { blank: Box[]; after: Box[]; panel: Box; scroller: Box };
  }

  for (const width of [1280, 800]) {
    it(`never covers the fill or the lines after it, and is reached by keyboard (${width} px wide)`, async () => {
      const { page, problems } = await lacuna.open({ viewport: { width, height: 800 } });
      await newDocument(page, `Review ${width}`);
      await page.route('**/api/fill.run', async (route) => {
        const params = route.request().postDataJSON() as Record<string, unknown>;
        await route.continue({ postData: JSON.stringify({ ...params, model: 'tiny-fixture' }) });
      });
      // Enough text before the blank that it sits low in the window, and lines after it.
      for (let i = 0; i < 6; i++) {
        await page.keyboard.type(`Paragraph ${i + 1} of the opening, long enough to wrap onto a second line in a narrow window.`);
        await page.keyboard.press('Enter');
      }
      await page.keyboard.type(
        'The harbour was quiet in the early morning, and the boats rocked against the pier. The keeper {{32}} as he did every night, ' +
          'then walked down to the water. Nobody else was awake yet, and the town lay still under a thin grey mist.',
      );
      await saved(page);
      const answer = nextFill(page);
      await page.keyboard.press('Control+Enter');
      await answer;
      await fillStatus(page, 'Filled 1 blank.');
      const panel = page.getByRole('region', { name: 'Filled blank' });
      await panel.waitFor();
      await expect
        .poll(async () => {
          const b = await boxes(page);
          return {
            // The panel is docked under the text, outside it: it overlaps neither the fill nor what follows.
            docked: b.panel.top >= b.scroller.bottom - 1,
            coversFill: b.blank.some((r) => overlaps(r, b.panel)),
            // (lines scrolled out of the text's view are hidden by the scroller, not by the panel)
            coversAfter: b.after.filter((r) => r.top < b.scroller.bottom).some((r) => overlaps(r, b.panel)),
            // The text right after the fill, on its last line, is in sight too.
            afterInSight: b.after.length > 0 && b.after[0]!.bottom <= b.scroller.bottom,
            // The whole fill is in sight, above the panel.
            fillInSight: b.blank.every((r) => r.top >= b.scroller.top && r.bottom <= b.scroller.bottom),
          };
        })
        .toEqual({ docked: true, coversFill: false, coversAfter: false, afterInSight: true, fillInSight: true });
      await screenshot(page, `review-panel-${width}`);

      // Its keys work from the text, and Tab reaches its buttons.
      const which = page.getByRole('status', { name: 'Alternative' });
      await page.keyboard.press('Alt+BracketRight');
      await which.filter({ hasText: 'Alternative 2 of 3' }).waitFor();
      await page.keyboard.press('Tab');
      expect(await page.evaluate('document.activeElement?.getAttribute("aria-label")')).toBe('Previous alternative');
      await page.keyboard.press('Enter');
      await which.filter({ hasText: 'Alternative 1 of 3' }).waitFor();
      await page.keyboard.press('Alt+Backspace'); // reject, from the panel
      await panel.waitFor({ state: 'detached' });
      await blankImage(page, 'Blank, 32 tokens').waitFor();
      await page.unroute('**/api/fill.run');
      expect(problems).toEqual([]);
    });
  }
});

describe('formatting and themes', () => {
  it('keeps Markdown formatting and a filled blank’s alternatives across a reload', async () => {
    const { page, problems } = await lacuna.open();
    await newDocument(page, 'Formatted');
    await page.keyboard.type('# Harbour');
    await page.keyboard.press('Enter');
    await page.keyboard.type('Some ');
    await page.keyboard.press('Control+KeyB');
    await page.keyboard.type('bold');
    await page.keyboard.press('Control+KeyB');
    await page.keyboard.type(' and *italic* words.');
    await page.keyboard.press('Enter');
    await page.keyboard.type('- first item');
    await page.keyboard.press('Enter');
    await page.keyboard.type('second item');
    await page.keyboard.press('Enter');
    await page.keyboard.press('Enter');
    await page.keyboard.type('> quoted ____');
    await saved(page);
    const answer = nextFill(page);
    await page.keyboard.press('Control+Enter');
    const fills = (await answer).result.alternatives.map((a) => a.fills[0]!);
    await fillStatus(page, 'Filled 1 blank.');
    await page.keyboard.press('Alt+BracketRight');
    await page.getByRole('status', { name: 'Alternative' }).filter({ hasText: 'Alternative 2 of 3' }).waitFor();
    await saved(page);
    const doc = await stored('Formatted');
    expect(doc.body).toBe('# Harbour\n\nSome **bold** and *italic* words.\n\n- first item\n- second item\n\n> quoted ____');

    await page.reload();
    const entry = page.getByRole('navigation', { name: 'Documents' }).getByRole('button', { name: /^Formatted/ });
    await entry.waitFor();
    await entry.click();
    const text = page.getByRole('textbox', { name: 'Text', exact: true });
    await text.getByRole('heading', { level: 1, name: 'Harbour' }).waitFor();
    expect(await text.getByRole('strong').textContent()).toBe('bold');
    expect(await text.getByRole('emphasis').textContent()).toBe('italic');
    expect(await text.getByRole('list').getByRole('listitem').allTextContents()).toEqual(['first item', 'second item']);
    expect(await text.getByRole('blockquote').count()).toBe(1);
    await blankImage(page, `Filled blank, alternative 2 of 3: ${fills[1]}`).waitFor();
    // The toolbar says what formatting the cursor is in.
    await text.getByRole('heading', { level: 1 }).click();
    await expect.poll(() => page.getByRole('button', { name: 'Heading 1', exact: true }).getAttribute('aria-pressed')).toBe('true');
    expect(await page.getByRole('button', { name: 'Bold', exact: true }).getAttribute('aria-pressed')).toBe('false');
    expect(problems).toEqual([]);
  });

  it('follows the system light and dark scheme, with visible focus', async () => {
    const shots: Record<string, string> = {};
    for (const scheme of ['light', 'dark'] as const) {
      const { page, problems } = await lacuna.open({ colorScheme: scheme });
      await newDocument(page, `Theme ${scheme}`);
      await page.keyboard.type('A draft with ');
      await page.keyboard.press('Control+Shift+KeyB');
      await page.keyboard.type(' and a ');
      await page.keyboard.press('Control+Shift+KeyB');
      await page.keyboard.press('Control+Enter');
      await fillStatus(page, 'Filled 2 blanks.');
      await page.getByRole('button', { name: 'Accept all', exact: true }).waitFor();
      // The focused text shows it (an accent rule in the margin), and so does a button reached by Tab.
      expect(await page.evaluate('document.activeElement?.getAttribute("aria-label")')).toBe('Text');
      expect(await styleOf(page, '[role=textbox][aria-label=Text]', 'boxShadow')).not.toBe('none');
      await page.getByRole('textbox', { name: 'Title', exact: true }).focus();
      await page.keyboard.press('Shift+Tab');
      expect(await page.evaluate('document.activeElement?.textContent?.trim()')).toBe('Accept all');
      expect(await page.evaluate('getComputedStyle(document.activeElement).outlineStyle')).toBe('solid');
      shots[scheme] = (await page.evaluate('getComputedStyle(document.body).backgroundColor')) as string;
      await screenshot(page, `editor-${scheme}`);
      // Emulating the other scheme on the same page switches the theme at once.
      await page.emulateMedia({ colorScheme: scheme === 'light' ? 'dark' : 'light' });
      expect(await page.evaluate('getComputedStyle(document.body).backgroundColor')).not.toBe(shots[scheme]);
      expect(problems).toEqual([]);
    }
    expect(shots.light).not.toBe(shots.dark);
  });
});
