/// <reference lib="dom" />
/**
 * `npm run bench:ui`: the editor's responsiveness in web mode, measured in Debian Chromium
 * (the e2e setup: e2e/helpers.ts; needs `npx electron-vite build` first, as the e2e tests do).
 * Timing claims live here, never in tests.
 *
 *   npm run bench:ui [-- --runs N --keys N --words N]
 *
 * Bundled into .bench-ui/ (one level below the repository root, where e2e/helpers.ts expects to
 * find out/ and e2e/artifacts/ relative to itself).
 *
 * Reported (stdout table + JSON at $LACUNA_BENCH_UI_OUT, default bench/ui-results.json):
 *  - launch: from spawning web mode (node out/main/web.js, a fresh data folder) to (a) the app
 *    shell being interactive (the "New document" button visible) and (b) an editor taking text
 *    (after "New document": the "Text" textbox visible, focused and echoing a typed character).
 *    The browser is already running (as a writer's is); median and worst of --runs launches.
 *  - first fill (warm start): web mode started with the warm start on, and off
 *    (LACUNA_WARM_START=0: the engine process starts and loads the model at the first fill, as
 *    before it existed). As soon as the app shell is interactive (a writer pressing Ctrl+Enter at
 *    once), a fill of a 16-token blank (the default model, 64 steps) is asked for: time from
 *    launch to its first progress event (read from /api/events), the first fill's time from
 *    request to result, and a second, identical fill's; median and worst of --runs launches each.
 *  - typing: a document of --words words (default 100,000: 1,000 paragraphs of 100 words) opened
 *    in the editor; --keys keystrokes typed at its end and at its start, 40 ms apart. Latency of a
 *    keystroke = from the keydown event's timestamp to the first task after the next animation
 *    frame (the frame that shows the character): p50, p95 and max. Then, once the page says
 *    "Saved", the length of the body the library holds (every key typed must be in it).
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Browser, Page } from 'playwright-core';
import { ROOT, launchChromium, startWebMode, type WebMode } from '../e2e/helpers';

const args = process.argv.slice(2);
const value = (name: string, fallback: number): number => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const RUNS = value('--runs', 5);
const KEYS = value('--keys', 60);
const WORDS = value('--words', 100_000);
const OUT = process.env.LACUNA_BENCH_UI_OUT ?? join(ROOT, 'bench', 'ui-results.json');

const WORD_LIST = 'the lamp keeper walked along harbour wall while evening light faded over grey water and boats came slowly home'.split(' ');

function manuscript(words: number): string {
  const paragraphs: string[] = [];
  let n = 0;
  for (let p = 0; n < words; p++) {
    const len = Math.min(100, words - n);
    const w = Array.from({ length: len }, (_, i) => WORD_LIST[(p * 7 + i * 3) % WORD_LIST.length]!);
    w[0] = w[0]!.charAt(0).toUpperCase() + w[0]!.slice(1);
    paragraphs.push(`${w.join(' ')}.`);
    n += len;
  }
  return paragraphs.join('\n\n');
}

async function call<T>(web: WebMode, method: string, params: object): Promise<T> {
  const res = await fetch(new URL(`api/${method}`, web.origin), {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${web.token}` },
    body: JSON.stringify(params),
  });
  const body = (await res.json()) as { ok: boolean; result: T; error?: { message: string } };
  if (!body.ok) throw new Error(`${method}: ${body.error?.message}`);
  return body.result;
}

const quantile = (xs: number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
};
const median = (xs: number[]): number => quantile(xs, 0.5);
const fmt = (n: number): string => n.toFixed(1);

async function launchOnce(browser: Browser): Promise<{ shellMs: number; editorMs: number; serverMs: number }> {
  const context = await browser.newContext();
  const page = await context.newPage();
  const t0 = performance.now();
  const web = await startWebMode();
  try {
    const serverMs = performance.now() - t0;
    await page.goto(web.url);
    await page.getByRole('button', { name: 'New document', exact: true }).waitFor();
    const shellMs = performance.now() - t0;
    await page.getByRole('button', { name: 'New document', exact: true }).click();
    const text = page.getByRole('textbox', { name: 'Text', exact: true });
    await text.waitFor();
    await text.click();
    await page.keyboard.type('x');
    await page.waitForFunction(() => document.querySelector('[aria-label="Text"]')?.textContent?.includes('x') ?? false);
    const editorMs = performance.now() - t0;
    return { shellMs, editorMs, serverMs };
  } finally {
    await context.close();
    await web.stop();
  }
}

interface FirstFill {
  /** Spawn of web mode → first fill.progress event of the first fill. */
  launchToProgressMs: number;
  firstFillMs: number;
  secondFillMs: number;
}

const FILL_TEXT = 'The lighthouse keeper climbed the stairs at dusk, and {{16}} before the storm reached the harbour.';

/** Waits for the first fill.progress event of `requestId` on web mode's event stream. */
async function firstProgress(web: WebMode, requestId: string, signal: AbortSignal): Promise<number> {
  const res = await fetch(new URL(`api/events?token=${web.token}`, web.origin), { signal });
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffered = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error('the event stream ended before the first progress event');
    buffered += decoder.decode(value, { stream: true });
    for (let i = buffered.indexOf('\n'); i >= 0; i = buffered.indexOf('\n')) {
      const line = buffered.slice(0, i);
      buffered = buffered.slice(i + 1);
      if (line.startsWith('data:') && line.includes('"fill.progress"') && line.includes(`"${requestId}"`)) return performance.now();
    }
  }
}

async function firstFillOnce(browser: Browser, warm: boolean): Promise<FirstFill> {
  const context = await browser.newContext();
  const page = await context.newPage();
  const t0 = performance.now();
  const web = await startWebMode({ env: { LACUNA_WARM_START: warm ? '1' : '0' } });
  const events = new AbortController();
  try {
    await page.goto(web.url);
    await page.getByRole('button', { name: 'New document', exact: true }).waitFor();
    const progress = firstProgress(web, 'bench-first', events.signal);
    const asked = performance.now();
    await call(web, 'fill.run', { requestId: 'bench-first', text: FILL_TEXT, steps: 64, seed: 1 });
    const firstFillMs = performance.now() - asked;
    const launchToProgressMs = (await progress) - t0;
    const again = performance.now();
    await call(web, 'fill.run', { requestId: 'bench-second', text: FILL_TEXT, steps: 64, seed: 1 });
    return { launchToProgressMs, firstFillMs, secondFillMs: performance.now() - again };
  } finally {
    events.abort();
    await context.close();
    await web.stop();
  }
}

async function typingLatencies(page: Page, keys: number): Promise<number[]> {
  await page.evaluate(() => {
    const w = window as unknown as { __latencies: number[]; __listening?: boolean };
    w.__latencies = [];
    if (w.__listening) return;
    w.__listening = true;
    document.addEventListener(
      'keydown',
      (e) => {
        const start = e.timeStamp;
        requestAnimationFrame(() => setTimeout(() => w.__latencies.push(performance.now() - start), 0));
      },
      { capture: true },
    );
  });
  const letters = 'the quick brown fox jumps over the lazy dog ';
  for (let i = 0; i < keys; i++) {
    await page.keyboard.press(letters[i % letters.length] === ' ' ? 'Space' : letters[i % letters.length]!);
    await page.waitForTimeout(40);
  }
  await page.waitForTimeout(200);
  return page.evaluate(() => {
    const w = window as unknown as { __latencies: number[] };
    const out = w.__latencies;
    w.__latencies = [];
    return out;
  });
}

async function main(): Promise<void> {
  const browser = await launchChromium();
  const launches: { shellMs: number; editorMs: number; serverMs: number }[] = [];
  try {
    await launchOnce(browser); // warm the file cache once
    for (let r = 0; r < RUNS; r++) launches.push(await launchOnce(browser));
    const fills: Record<'cold' | 'warm', FirstFill[]> = { cold: [], warm: [] };
    for (let r = 0; r < RUNS; r++) {
      fills.cold.push(await firstFillOnce(browser, false));
      fills.warm.push(await firstFillOnce(browser, true));
    }

    const web = await startWebMode();
    const context = await browser.newContext();
    try {
      const body = manuscript(WORDS);
      const doc = await call<{ id: string }>(web, 'documents.create', { title: 'Long manuscript', body });
      const page = await context.newPage();
      await page.goto(web.url);
      const entry = page.getByRole('navigation', { name: 'Documents' }).getByRole('button', { name: /^Long manuscript/ });
      await entry.click();
      const text = page.getByRole('textbox', { name: 'Text', exact: true });
      await text.waitFor();
      await page.waitForFunction((n) => (document.querySelector('[aria-label="Text"]')?.textContent?.length ?? 0) >= n, Math.floor(body.length * 0.9), {
        timeout: 120_000,
      });
      await text.click();
      await page.keyboard.press('Control+End');
      await page.waitForTimeout(300);
      const atEnd = await typingLatencies(page, KEYS);
      await page.keyboard.press('Control+Home');
      await page.waitForTimeout(300);
      const atStart = await typingLatencies(page, KEYS);
      // Everything typed is saved (autosave: within 0.7 s of the last key).
      await page
        .getByRole('status', { name: 'Save status' })
        .filter({ hasText: /^Saved$/ })
        .waitFor({ timeout: 30_000 });
      const saved = await call<{ body: string }>(web, 'documents.open', { id: doc.id }).catch(() => ({ body: '' }));

      const rows = [
        ['launch → app shell interactive (ms)', median(launches.map((l) => l.shellMs)), Math.max(...launches.map((l) => l.shellMs))],
        ['launch → editor takes text (ms)', median(launches.map((l) => l.editorMs)), Math.max(...launches.map((l) => l.editorMs))],
        ['  of which web mode start (ms)', median(launches.map((l) => l.serverMs)), Math.max(...launches.map((l) => l.serverMs))],
      ] as const;
      console.log(`\nLaunch in web mode (${RUNS} runs): median, worst`);
      for (const [name, med, worst] of rows) console.log(`  ${name.padEnd(40)} ${fmt(med).padStart(8)} ${fmt(worst).padStart(8)}`);
      console.log(`\nFirst fill, asked for as soon as the app shell is interactive (${RUNS} launches each): median, worst (ms)`);
      for (const kind of ['cold', 'warm'] as const) {
        const label = kind === 'cold' ? 'warm start off (before)' : 'warm start on (after)';
        console.log(`  ${label}`);
        for (const [name, key] of [
          ['launch → first progress event', 'launchToProgressMs'],
          ['first fill, request → result', 'firstFillMs'],
          ['second fill, request → result', 'secondFillMs'],
        ] as const) {
          const xs = fills[kind].map((f) => f[key]);
          console.log(`    ${name.padEnd(36)} ${fmt(median(xs)).padStart(8)} ${fmt(Math.max(...xs)).padStart(8)}`);
        }
      }
      console.log(
        `\nTyping in a ${WORDS.toLocaleString('en')}-word document (${body.length.toLocaleString('en')} characters), ${KEYS} keys each: p50, p95, max (ms)`,
      );
      for (const [name, xs] of [
        ['at the end', atEnd],
        ['at the start', atStart],
      ] as const) {
        console.log(
          `  ${name.padEnd(14)} ${fmt(quantile(xs, 0.5)).padStart(7)} ${fmt(quantile(xs, 0.95)).padStart(7)} ${fmt(Math.max(...xs)).padStart(7)}   ` +
            `(${xs.length} keystrokes measured)`,
        );
      }
      console.log(
        `  autosaved body after typing: ${saved.body.length.toLocaleString('en')} characters (typed: ${(body.length + 2 * KEYS).toLocaleString('en')})`,
      );
      mkdirSync(dirname(OUT), { recursive: true });
      const typing = { words: WORDS, characters: body.length, keys: KEYS, atEnd, atStart };
      const report = { date: new Date().toISOString(), runs: RUNS, launches, firstFill: fills, typing };
      writeFileSync(OUT, `${JSON.stringify(report, null, 2)}\n`);
      console.log(`\nwrote ${OUT}`);
    } finally {
      await context.close();
      await web.stop();
    }
  } finally {
    await browser.close();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
