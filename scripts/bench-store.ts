/**
 * `npm run bench:store` (also run by `npm run bench`): the store's latencies on this machine, with
 * the real SQLite settings (WAL, synchronous=FULL: every save is an fsync'd commit).
 *
 *  - save latency p50/p99 for a 1,000-word and a 100,000-word document: the writer changes a few
 *    words between saves, as autosave does; each save also maintains the FTS index and, on the
 *    5-minute rhythm, a revision; and the same with the editor's JSON saved alongside (as the app
 *    does since the rich editor);
 *  - search latency p50/p99 over 10,000 documents of ~300 words (FTS5, bm25, snippets);
 *  - a library of ten 20 M-character documents, through the core as the app uses it (searches on
 *    the search worker): search latency p50/p99 over common words, prefixes and rare words (target
 *    p99 < 100 ms), and the latency of other calls (open a small document, save it, list) made
 *    while searches run back to back (target: every one within 50 ms). `--huge-docs N` changes
 *    the ten (LACUNA_BENCH_HUGE_DOCS too).
 *
 * Text is pseudo-English from a fixed word list and a seeded PRNG, so runs are comparable. Output:
 * a table on stdout and JSON at $LACUNA_BENCH_STORE_OUT (default bench/store-results.json).
 */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Random } from '../src-main/engine/random';
import { appRoot } from '../src-main/platform/paths';
import { closeDatabase, openDatabase } from '../src-main/store/database';
import { createCore } from '../src-main/service/core';
import { MAX_BODY_CHARS } from '../src-main/common/api';
import { DocumentStore } from '../src-main/store/documents';

const ROOT = appRoot();
const OUT = process.env.LACUNA_BENCH_STORE_OUT ?? join(ROOT, 'bench', 'store-results.json');
const WORDS = (
  'the of and to a in that it was he his her she with as for had you not be but at on they which ' +
  'have from this by were all one we there said would when their been so an what no if who more ' +
  'into out them up then some could like time my me only than its over now any very other about ' +
  'lighthouse keeper harbour evening letter window garden morning silence river winter lantern ' +
  'stair thought voice memory answer quiet shadow distance promise journey candle orchard'
).split(' ');

function prose(rng: Random, words: number): string {
  const out: string[] = [];
  for (let i = 0; i < words; i++) {
    let w = WORDS[Math.floor(rng.uniform() * WORDS.length)]!;
    if (i % 14 === 0) w = w[0]!.toUpperCase() + w.slice(1);
    out.push(w);
    if (i % 14 === 13) out[out.length - 1] += '.';
    if (i % 140 === 139) out.push('\n\n');
  }
  return out.join(' ');
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function summarise(samples: number[]): { n: number; p50: number; p99: number; max: number } {
  const s = [...samples].sort((a, b) => a - b);
  return { n: s.length, p50: percentile(s, 50), p99: percentile(s, 99), max: s[s.length - 1]! };
}

/** The editor's structured form of a body (ProseMirror JSON, one paragraph node per paragraph), as the app saves it next to the Markdown. */
function richTextOf(body: string): string {
  const content = body.split('\n\n').map((p) => ({ type: 'paragraph', content: p.trim() ? [{ type: 'text', text: p.trim() }] : [] }));
  return JSON.stringify({ type: 'doc', content });
}

function benchSaves(store: DocumentStore, rng: Random, words: number, saves: number, rich = false) {
  let doc = store.create({ title: `${words} words`, body: prose(rng, words) });
  let body = doc.body;
  const times: number[] = [];
  for (let i = 0; i < saves; i++) {
    // A few words typed somewhere in the text.
    const at = Math.floor(rng.uniform() * body.length);
    body = `${body.slice(0, at)} ${prose(rng, 3)} ${body.slice(at)}`;
    const richText = rich ? richTextOf(body) : undefined;
    const t0 = performance.now();
    doc = store.save({ id: doc.id, title: doc.title, body, ...(richText ? { richText } : {}), baseRevision: doc.revision });
    times.push(performance.now() - t0);
  }
  return summarise(times);
}

/** ~`chars` characters of prose in paragraphs. */
function proseChars(rng: Random, chars: number): string {
  const parts: string[] = [];
  let n = 0;
  while (n < chars) {
    const p = prose(rng, 2_000);
    parts.push(p);
    n += p.length + 2;
  }
  return parts.join('\n\n').slice(0, chars);
}

/** Ten 20 M-character documents (and a small one) through the core: search and, meanwhile, the rest. */
async function benchHugeLibrary(rng: Random, docsCount: number) {
  const dir = mkdtempSync(join(tmpdir(), 'lacuna-bench-huge-'));
  const core = createCore({ dataDir: dir, modelDirs: [], front: 'test', version: 'bench' });
  try {
    const t0 = performance.now();
    const base = proseChars(rng, MAX_BODY_CHARS - 10_000);
    for (let i = 0; i < docsCount; i++) {
      // Each document differs (a marker word per document and a rotation of the text).
      const at = Math.floor(rng.uniform() * base.length);
      const body = `marker${i} ${base.slice(at)}\n\n${base.slice(0, at)}`.slice(0, MAX_BODY_CHARS);
      await core.call('documents.create', { title: `Huge ${i}`, body });
    }
    const insertMs = performance.now() - t0;
    const small = await core.call('documents.create', { title: 'Small', body: 'A short note about the lighthouse.' });
    const queries = ['the', 'word', 'wo', 'lantern', 'the keeper', 'lighthouse keeper', 'marker3', 'xyzzy', 'quiet river evening', 'l'];
    // The first search starts the search worker and opens its connection: timed apart.
    const f0 = performance.now();
    await core.call('documents.search', { query: 'lighthouse' });
    const firstSearchMs = performance.now() - f0;
    // Searches back to back, alone.
    const searchTimes: number[] = [];
    for (let i = 0; i < 100; i++) {
      const s = performance.now();
      await core.call('documents.search', { query: queries[i % queries.length]! });
      searchTimes.push(performance.now() - s);
    }
    // Other calls while searches keep running.
    let searching = true;
    let searchesDuring = 0;
    const loop = (async () => {
      for (let i = 0; searching; i++) {
        await core.call('documents.search', { query: queries[i % queries.length]! });
        searchesDuring++;
      }
    })();
    const open: number[] = [];
    const save: number[] = [];
    const list: number[] = [];
    let doc = small;
    for (let i = 0; i < 60; i++) {
      let s = performance.now();
      doc = await core.call('documents.open', { id: small.id });
      open.push(performance.now() - s);
      s = performance.now();
      doc = await core.call('documents.save', { id: doc.id, title: doc.title, body: `${doc.body} x`, baseRevision: doc.revision });
      save.push(performance.now() - s);
      s = performance.now();
      await core.call('documents.list', {});
      list.push(performance.now() - s);
      await new Promise((r) => setTimeout(r, 5));
    }
    searching = false;
    await loop;
    return {
      documents: docsCount,
      charsEach: MAX_BODY_CHARS,
      insertMs,
      firstSearchMs,
      search: summarise(searchTimes),
      whileSearching: { open: summarise(open), save: summarise(save), list: summarise(list), searchesDuring },
    };
  } finally {
    await core.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function hugeDocsArg(): number {
  const i = process.argv.indexOf('--huge-docs');
  const raw = i >= 0 ? process.argv[i + 1] : process.env.LACUNA_BENCH_HUGE_DOCS;
  const n = raw === undefined ? 10 : Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--huge-docs must be a whole number, not ${raw}`);
  return n;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'lacuna-bench-store-'));
  const rng = new Random(20261128);
  try {
    const db = openDatabase({ dataDir: dir });
    const store = new DocumentStore(db);
    const save1k = benchSaves(store, rng, 1_000, 200);
    const save100k = benchSaves(store, rng, 100_000, 60);
    const save1kRich = benchSaves(store, rng, 1_000, 200, true);
    const save100kRich = benchSaves(store, rng, 100_000, 60, true);

    const N = 10_000;
    const t0 = performance.now();
    for (let i = 0; i < N; i++) store.create({ title: `Note ${i}: ${prose(rng, 4)}`, body: prose(rng, 300) });
    const fillMs = performance.now() - t0;
    const queries = ['lighthouse keeper', 'winter lantern', 'promise', 'quiet river evening', 'orchard candle', 'memory answer'];
    const times: number[] = [];
    let hits = 0;
    for (let i = 0; i < 120; i++) {
      const q = queries[i % queries.length]!;
      const s = performance.now();
      hits += store.search(q).length;
      times.push(performance.now() - s);
    }
    const search = summarise(times);
    closeDatabase(db);
    const hugeDocs = hugeDocsArg();
    const huge = hugeDocs > 0 ? await benchHugeLibrary(rng, hugeDocs) : undefined;

    const rows = [
      ['save, 1,000 words', save1k],
      ['save, 100,000 words', save100k],
      ['save, 1,000 words + editor JSON', save1kRich],
      ['save, 100,000 words + editor JSON', save100kRich],
      [`search, ${N.toLocaleString('en')} documents`, search],
      ...(huge
        ? ([
            [`search, ${huge.documents} documents of 20 M characters (target p99 < 100)`, huge.search],
            ['open a small document while searches run (target max < 50)', huge.whileSearching.open],
            ['save it while searches run (target max < 50)', huge.whileSearching.save],
            ['list the library while searches run (target max < 50)', huge.whileSearching.list],
          ] as const)
        : []),
    ] as const;
    console.log('| operation | n | p50 ms | p99 ms | max ms |');
    console.log('|---|---|---|---|---|');
    for (const [name, r] of rows) console.log(`| ${name} | ${r.n} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.max.toFixed(2)} |`);
    console.log(`(inserting ${N} documents took ${(fillMs / 1000).toFixed(1)} s; ${hits} search hits in total)`);
    if (huge)
      console.log(
        `(the ${huge.documents} documents of 20 M characters took ${(huge.insertMs / 1000).toFixed(1)} s to create; ` +
          `the first search, which starts the search worker, ${huge.firstSearchMs.toFixed(0)} ms; ` +
          `${huge.whileSearching.searchesDuring} searches ran during the other calls)`,
      );
    mkdirSync(dirname(OUT), { recursive: true });
    const report = { date: new Date().toISOString(), save1k, save100k, save1kRich, save100kRich, search, documents: N, insertMs: fillMs, huge };
    writeFileSync(OUT, `${JSON.stringify(report, null, 2)}\n`);
    console.log(`wrote ${OUT}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
