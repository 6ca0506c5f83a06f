/**
 * The walking skeleton end to end, in headless Chromium against the real web mode: write a draft
 * with a blank, fill it with the bundled model, see it saved, reload, find it again; type during a
 * fill: the edit is kept and the fill lands on its blank. Also: the API refuses requests without the token.
 *
 * To observe the running fill without racing it, the tests hold back the HTTP answer of fill.run
 * (the fill itself runs normally in web mode and streams its progress events) until they are done
 * looking, then let it through. The interception is installed before the page loads, so no request
 * can slip past it; a test only switches it on.
 */
import type { Route } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { newDocument, screenshot, useApp, type AppPage } from './app';
import { editorText } from './helpers';

const BEFORE = 'The keeper climbed the stairs to the lamp room and ';
const AFTER = ' before the storm reached the rocks.';
const TITLE = 'The lighthouse';
/** Anything that would mean a blank survived the fill. */
const LEFTOVER_BLANK = /_{4,}|\{\{\s*\d+\s*\}\}|MASK/;
const STEP = /^Step (\d+) of (\d+)$/;

const lacuna = useApp();

function api(path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(new URL(path, lacuna.web.origin), init);
}

async function listTitles(): Promise<string[]> {
  const res = await api('api/documents.list', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${lacuna.web.token}` },
    body: '{}',
  });
  const body = (await res.json()) as { ok: boolean; result: { title: string }[] };
  expect(body.ok).toBe(true);
  return body.result.map((d) => d.title).sort();
}

type RouteHandler = (route: Route) => Promise<void>;

interface App extends AppPage {
  /** Set to take over the page's fill.run / fill.cancel requests; null lets them through. */
  intercept: { 'fill.run': RouteHandler | null; 'fill.cancel': RouteHandler | null };
}

/** A fresh browser context on the app, its fill.run and fill.cancel routed through `intercept`. */
async function openApp(): Promise<App> {
  const intercept: App['intercept'] = { 'fill.run': null, 'fill.cancel': null };
  const app = await lacuna.open({
    beforeLoad: async (page) => {
      for (const method of ['fill.run', 'fill.cancel'] as const) {
        await page.route(`**/api/${method}`, (route) => (intercept[method] ?? ((r: Route) => r.continue()))(route));
      }
    },
  });
  return { ...app, intercept };
}

/** Hold back fill.run's answer until release() (the fill itself runs; only its reply waits). */
function holdFillAnswer(app: App): { release: () => void } {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  app.intercept['fill.run'] = async (route) => {
    const response = await route.fetch({ timeout: 150_000 });
    await released;
    await route.fulfill({ response });
  };
  return {
    release: () => {
      app.intercept['fill.run'] = null;
      release();
    },
  };
}

describe('web mode API', () => {
  it('answers 401 without the right token', async () => {
    const json = { 'Content-Type': 'application/json' };
    const none = await api('api/documents.list', { method: 'POST', headers: json, body: '{}' });
    expect(none.status).toBe(401);
    const wrong = await api('api/documents.list', {
      method: 'POST',
      headers: { ...json, Authorization: `Bearer ${'0'.repeat(lacuna.web.token.length)}` },
      body: '{}',
    });
    expect(wrong.status).toBe(401);
    const events = await api('api/events');
    expect(events.status).toBe(401);
    await events.body?.cancel();

    // The same request with the token works, so the 401s above are about the token.
    const ok = await api('api/documents.list', { method: 'POST', headers: { ...json, Authorization: `Bearer ${lacuna.web.token}` }, body: '{}' });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ ok: true, result: [] });
  });
});

describe('writing and filling in the browser', () => {
  it('fills a blank, saves, and keeps the text across a reload', async () => {
    const app = await openApp();
    const { page, problems } = app;
    // The token leaves the address bar (it stays in sessionStorage for reloads).
    expect(page.url()).not.toContain('token');

    await newDocument(page, TITLE);
    const title = page.getByRole('textbox', { name: 'Title', exact: true });
    const body = page.getByRole('textbox', { name: 'Text', exact: true });
    await page.keyboard.type(BEFORE);
    await page.keyboard.press('Control+Shift+KeyB'); // Insert blank (Cmd+Shift+B on macOS)
    await page.keyboard.type(AFTER);
    expect(await editorText(page)).toBe(`${BEFORE}____${AFTER}`);
    const saveStatus = page.getByRole('status', { name: 'Save status' });
    await saveStatus.filter({ hasText: /^Saved$/ }).waitFor();
    expect(await page.getByText('1 blank', { exact: true }).count()).toBe(1);

    // Fill, and watch it run: progress "Step k of N" and a Cancel button.
    const hold = holdFillAnswer(app);
    await page.getByRole('button', { name: 'Fill blanks' }).click();
    const steps = page.getByText(STEP);
    await steps.waitFor();
    const [, k, n] = STEP.exec((await steps.textContent()) ?? '')!;
    expect(Number(k)).toBeGreaterThanOrEqual(1);
    expect(Number(k)).toBeLessThanOrEqual(Number(n));
    expect(await page.getByRole('progressbar', { name: /Filling 1 blank/ }).count()).toBe(1);
    expect(await page.getByRole('button', { name: 'Cancel', exact: true }).isVisible()).toBe(true);
    expect(await editorText(page)).toBe(`${BEFORE}____${AFTER}`); // untouched until the answer lands
    hold.release();

    // The blank now holds the fill's alternatives, the first on display; accepting it puts its text in.
    await page.getByRole('status', { name: 'Fill status' }).filter({ hasText: 'Filled 1 blank.' }).waitFor({ timeout: 150_000 });
    expect(await page.getByText(STEP).count()).toBe(0); // the progress line is gone
    await page.getByRole('img', { name: /^Filled blank, alternative 1 of 3: / }).waitFor();
    await page.getByRole('button', { name: 'Accept', exact: true }).click();
    await page.getByRole('status', { name: 'Fill status' }).filter({ hasText: 'Accepted the fill.' }).waitFor();
    await expect.poll(() => editorText(page), { timeout: 150_000, interval: 250 }).not.toContain('____');
    const filled = await editorText(page);
    expect(filled.startsWith(BEFORE)).toBe(true);
    expect(filled.endsWith(AFTER)).toBe(true);
    const fill = filled.slice(BEFORE.length, filled.length - AFTER.length);
    expect(fill.length).toBeGreaterThan(0);
    expect(filled).not.toMatch(LEFTOVER_BLANK);

    // Saved after the fill (the status is not "Saved" between the fill landing and its save).
    await saveStatus.filter({ hasText: /^Saved$/ }).waitFor();
    expect(await page.getByText('0 blanks', { exact: true }).count()).toBe(1);
    await body.blur();
    await screenshot(page, 'filled-editor');

    // Reload: the token survives in sessionStorage, the document in the library.
    await page.reload();
    const entry = page.getByRole('navigation', { name: 'Documents' }).getByRole('button', { name: new RegExp(`^${TITLE}`) });
    await entry.waitFor();
    await entry.click();
    await expect.poll(() => editorText(page)).toBe(filled);
    expect(await title.inputValue()).toBe(TITLE);
    await saveStatus.filter({ hasText: /^Saved$/ }).waitFor();

    // And the core agrees, independently of the page.
    expect(await listTitles()).toEqual([TITLE]);
    // The text as it was before the fill is kept as a revision the writer can restore.
    const docs = (await lacuna.call<{ id: string; title: string }[]>('documents.list')).filter((d) => d.title === TITLE);
    expect(docs).toHaveLength(1);
    const revisions = await lacuna.call<{ reason: string; revisionId: number }[]>('revisions.list', { id: docs[0]!.id });
    const beforeFill = revisions.filter((r) => r.reason === 'before-fill');
    expect(beforeFill).toHaveLength(1);
    const snapshot = await lacuna.call<{ body: string }>('revisions.get', { revisionId: beforeFill[0]!.revisionId });
    expect(snapshot.body).toBe(`${BEFORE}____${AFTER}`);
    // The fill's provenance is recorded, with the alternative the editor applied marked as kept.
    await expect
      .poll(async () =>
        (await lacuna.call<{ accepted: number | null; model: string; preview: string }[]>('generations.list', { id: docs[0]!.id })).map((g) => [
          g.accepted,
          g.model,
        ]),
      )
      .toEqual([[0, 'lacuna-mini']]);
    expect(problems).toEqual([]);
  });

  it('keeps what the writer types during a fill, and the fill lands on its blank', async () => {
    const app = await openApp();
    const { page, problems } = app;
    await newDocument(page, 'Typed meanwhile');
    const body = page.getByRole('textbox', { name: 'Text', exact: true });
    await page.keyboard.type('Rain ');
    await page.getByRole('button', { name: 'Insert blank' }).click(); // the button works too
    await page.keyboard.type(' all night.');
    expect(await editorText(page)).toBe('Rain ____ all night.');

    const hold = holdFillAnswer(app);
    const answer = page.waitForResponse((r) => r.url().endsWith('/api/fill.run'), { timeout: 150_000 });
    await page.keyboard.press('Control+Enter'); // Fill blanks
    await page.getByText(STEP).waitFor();
    await body.press('End');
    await page.keyboard.type(' The end.');
    await body.press('Control+Home');
    await page.keyboard.type('Then ');
    hold.release();
    const result = ((await answer.then((r) => r.json())) as { result: { alternatives: { fills: string[] }[] } }).result;

    // The fill landed on its blank, moved by the typing before it; the typing is all there.
    const fill = result.alternatives[0]!.fills[0]!;
    await page.getByRole('img', { name: `Filled blank, alternative 1 of 3: ${fill}` }).waitFor();
    await page.getByRole('status', { name: 'Fill status' }).filter({ hasText: 'Filled 1 blank.' }).waitFor();
    expect(await editorText(page)).toBe('Then Rain ____ all night. The end.');
    expect(await page.getByRole('region', { name: 'The fill was not applied' }).count()).toBe(0);
    await page
      .getByRole('status', { name: 'Save status' })
      .filter({ hasText: /^Saved$/ })
      .waitFor();
    expect(await listTitles()).not.toContain('Typed meanwhile (filled)');
    expect(problems).toEqual([]);
  });

  it('cancels a running fill with Esc and leaves the text alone', async () => {
    const app = await openApp();
    const { page, problems } = app;
    await newDocument(page, 'Cancelled');
    const body = page.getByRole('textbox', { name: 'Text', exact: true });
    expect(await body.getAttribute('aria-multiline')).toBe('true');
    await page.keyboard.type('Wind ____ rain.'); // typing the syntax works as well as the shortcut
    expect(await page.getByRole('img', { name: 'Blank, auto length' }).count()).toBe(1);
    await page
      .getByRole('status', { name: 'Save status' })
      .filter({ hasText: /^Saved$/ })
      .waitFor();

    // This one does not reach the engine: the page's fill.run is held and answered as the core
    // answers a cancelled fill, once the page has sent fill.cancel (which does go to web mode).
    const ids: { run?: string; cancel?: string } = {};
    let cancelled!: () => void;
    const cancelSent = new Promise<void>((r) => (cancelled = r));
    app.intercept['fill.run'] = async (route) => {
      ids.run = (route.request().postDataJSON() as { requestId: string }).requestId;
      await cancelSent;
      await route.fulfill({
        status: 409,
        contentType: 'application/json',
        body: JSON.stringify({ ok: false, error: { code: 'cancelled', message: 'the fill was cancelled' } }),
      });
    };
    app.intercept['fill.cancel'] = async (route) => {
      ids.cancel = (route.request().postDataJSON() as { requestId: string }).requestId;
      await route.continue();
      cancelled();
    };

    await page.getByRole('button', { name: 'Fill blanks' }).click();
    const cancel = page.getByRole('button', { name: 'Cancel', exact: true });
    await cancel.waitFor();
    expect(await cancel.getAttribute('aria-keyshortcuts')).toBe('Escape');
    await page.keyboard.press('Escape');
    await page.getByRole('status', { name: 'Fill status' }).filter({ hasText: 'Fill cancelled.' }).waitFor();
    await cancel.waitFor({ state: 'detached' });
    expect(ids.run).toBeTruthy();
    expect(ids.cancel).toBe(ids.run);
    expect(await editorText(page)).toBe('Wind ____ rain.');
    await page.getByRole('img', { name: 'Blank, auto length' }).waitFor(); // empty again
    expect(await page.getByRole('alert').textContent()).toBe(''); // a cancel is not an error
    // Chromium logs the 409 of the cancelled request; nothing else may appear.
    expect(problems.filter((p) => !/Failed to load resource: .* 409/.test(p))).toEqual([]);
  });

  it('reports a conflict when the document changed elsewhere, and keeps both versions on request', async () => {
    const a = await openApp();
    await newDocument(a.page, 'Shared');
    await a.page.keyboard.type('First draft.');
    const savedIn = (app: App) =>
      app.page
        .getByRole('status', { name: 'Save status' })
        .filter({ hasText: /^Saved$/ })
        .waitFor();
    await savedIn(a);

    const b = await openApp();
    await b.page
      .getByRole('navigation', { name: 'Documents' })
      .getByRole('button', { name: /^Shared/ })
      .click();
    const bodyB = b.page.getByRole('textbox', { name: 'Text', exact: true });
    await expect.poll(() => editorText(b.page)).toBe('First draft.');

    // A saves a change; B, still on the old revision, edits too.
    await a.page.keyboard.type(' Edited in A.');
    await savedIn(a);
    await bodyB.press('End');
    await b.page.keyboard.type(' Edited in B.');
    await b.page.keyboard.press('Control+KeyS'); // save now
    const conflict = b.page.getByRole('alert').filter({ hasText: 'changed somewhere else' });
    await conflict.waitFor();
    expect(await b.page.getByRole('status', { name: 'Save status' }).textContent()).toMatch(/conflict/);
    expect(await editorText(b.page)).toBe('First draft. Edited in B.'); // nothing lost

    await conflict.getByRole('button', { name: 'Save mine as a new document' }).click();
    await conflict.waitFor({ state: 'detached' });
    await expect.poll(() => editorText(b.page)).toBe('First draft. Edited in A.');
    await savedIn(b);
    expect(await listTitles()).toEqual(expect.arrayContaining(['Shared', 'Shared (my version)']));
    await b.page
      .getByRole('navigation', { name: 'Documents' })
      .getByRole('button', { name: /^Shared \(my version\)/ })
      .click();
    await expect.poll(() => editorText(b.page)).toBe('First draft. Edited in B.');
    expect([...a.problems, ...b.problems].filter((p) => !/Failed to load resource: .* 409/.test(p))).toEqual([]);
  });
});
