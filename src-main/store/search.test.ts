/**
 * Search by passages (store/search.ts, migration 11) and the search worker (search-service.ts):
 * passages cut within bounds, re-indexing only what changed, a query's work bounded per document,
 * and searches answered from a worker thread that can fail and come back.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closeDatabase, databasePath, openDatabase, type Database } from './database';
import { DocumentStore, wellFormed } from './documents';
import { PART_BLOCK, PASSAGE_CHARS, SEARCH_LIMIT, passagesOf, searchDocuments } from './search';
import { SearchService } from './search-service';
import { rejection } from '../platform/test-support';

let dir: string;
let db: Database;
let docs: DocumentStore;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'lacuna-search-'));
  db = openDatabase({ dataDir: dir });
  docs = new DocumentStore(db);
});

afterEach(() => {
  closeDatabase(db);
  rmSync(dir, { recursive: true, force: true });
});

/** Paragraphs of ~300 characters, numbered, each with the word "lantern". */
function paragraphs(n: number, tag = 'p'): string {
  return Array.from({ length: n }, (_, i) => `${tag}${i} the keeper lit the lantern at dusk and ${'walked the long stair '.repeat(12)}`).join('\n');
}

function parts(seq: number): Array<{ part_id: number; text: string; title: string }> {
  return db
    .prepare<[number], { part_id: number; text: string; title: string }>('SELECT part_id, text, title FROM search_parts WHERE doc_seq = ? ORDER BY part_id')
    .all(seq);
}

function seqOf(id: string): number {
  return db.prepare<[string], number>('SELECT seq FROM documents WHERE id = ?').pluck().get(id)!;
}

describe('passagesOf', () => {
  it('cuts at line breaks past half the limit, else at spaces, else at the limit, and loses nothing', () => {
    const text = paragraphs(40);
    const ps = passagesOf(text);
    expect(ps.join('')).toBe(text);
    for (const p of ps) expect(p.length).toBeLessThanOrEqual(PASSAGE_CHARS);
    // every passage but the last ends a line
    for (const p of ps.slice(0, -1)) expect(p.endsWith('\n')).toBe(true);
    const noBreaks = 'word '.repeat(2_000);
    const q = passagesOf(noBreaks);
    expect(q.join('')).toBe(noBreaks);
    for (const p of q.slice(0, -1)) expect(p.endsWith(' ')).toBe(true);
    // no spaces at all: cut at the limit, never inside a surrogate pair
    const emoji = '😀'.repeat(3_000);
    const e = passagesOf(emoji);
    expect(e.join('')).toBe(emoji);
    for (const p of e) {
      expect(p.length).toBeLessThanOrEqual(PASSAGE_CHARS);
      expect(p).toBe(wellFormed(p));
    }
    expect(passagesOf('')).toEqual([]);
  });
});

describe('the passage index', () => {
  it('re-indexes only the passages an edit touched, and a deleted document takes its passages along', () => {
    const body = paragraphs(400);
    const d = docs.create({ title: 'Log', body });
    const seq = seqOf(d.id);
    const before = parts(seq);
    expect(before[0]).toMatchObject({ part_id: seq * PART_BLOCK, title: 'Log', text: '' });
    expect(before.length).toBe(1 + passagesOf(body).length);
    expect(before.length).toBeGreaterThan(25);
    // a word typed in paragraph 100
    const edited = body.replace('p300 the keeper', 'p300 the old keeper');
    docs.save({ id: d.id, title: 'Log', body: edited, baseRevision: 0 });
    const after = parts(seq);
    const kept = after.filter((p) => before.some((b) => b.part_id === p.part_id));
    expect(after.length - kept.length).toBeLessThanOrEqual(2);
    expect(after.length - kept.length).toBeGreaterThanOrEqual(1);
    expect(
      after
        .slice(1)
        .map((p) => p.text)
        .sort(),
    ).toEqual(passagesOf(edited).sort());
    // a title change touches the title part only (always part 0)
    const texts = db.prepare<[number], number>("SELECT count(*) FROM search_parts WHERE doc_seq = ? AND title = ''").pluck();
    const textsBefore = texts.get(seq);
    docs.save({ id: d.id, title: 'Harbour log', body: edited, baseRevision: 1 });
    const titled = parts(seq);
    expect(titled[0]).toMatchObject({ part_id: seq * PART_BLOCK, title: 'Harbour log', text: '' });
    expect(titled.slice(1)).toEqual(after.slice(1));
    expect(texts.get(seq)).toBe(textsBefore);
    expect(searchDocuments(db, 'harbour').map((h) => h.id)).toEqual([d.id]);
    docs.trash(d.id);
    docs.emptyTrash();
    expect(parts(seq)).toEqual([]);
    db.prepare("INSERT INTO search_fts (search_fts) VALUES ('integrity-check')").run();
    expect(searchDocuments(db, 'lantern')).toEqual([]);
  });

  it('finds every document however often a word repeats in one of them, and bounds the work per document', () => {
    // One big document where every passage matches, written first and last, around small ones.
    const big1 = docs.create({ title: 'Big one', body: paragraphs(2_000, 'a') });
    const small = Array.from({ length: 5 }, (_, i) => docs.create({ title: `Small ${i}`, body: `a lantern by the window ${i}` }));
    const big2 = docs.create({ title: 'Big two', body: paragraphs(2_000, 'b') });
    const hits = searchDocuments(db, 'lantern');
    expect(hits.map((h) => h.id).sort()).toEqual([big1, big2, ...small].map((d) => d.id).sort());
    for (const h of hits) {
      expect(h.snippet).toMatch(/lantern/);
      expect(h.highlights.length).toBeGreaterThan(0);
      expect(h.snippet.length).toBeLessThan(400);
    }
    // How many passages a query reads (one each for the documents it scores, whatever the matches).
    let read = 0;
    const real = db.prepare.bind(db);
    const spy = ((sql: string) => {
      const st = real(sql);
      if (!sql.startsWith('SELECT text FROM search_parts')) return st;
      const get = st.get.bind(st);
      return Object.assign(st, {
        get: (...args: unknown[]) => {
          read++;
          return get(...(args as [number]));
        },
      });
    }) as typeof db.prepare;
    const many = Array.from({ length: 300 }, (_, i) => docs.create({ title: `Note ${i}`, body: `the lantern ${i}` }));
    const wide = searchDocuments(Object.assign(Object.create(db), { prepare: spy }) as Database, 'lantern');
    expect(wide).toHaveLength(SEARCH_LIMIT);
    expect(read).toBeLessThanOrEqual(4 * SEARCH_LIMIT);
    // the big documents (most matching passages) come before the notes that mention it once
    expect(
      wide
        .slice(0, 2)
        .map((h) => h.id)
        .sort(),
    ).toEqual([big1.id, big2.id].sort());
    expect(many.length).toBe(300);
  });

  it('a title-only match shows the start of the text; trashed documents are not found', () => {
    const d = docs.create({ title: 'Lighthouse', body: 'The keeper climbed the stair.' });
    const [hit] = searchDocuments(db, 'lighthouse');
    expect(hit).toMatchObject({ id: d.id, snippet: 'The keeper climbed the stair.', highlights: [] });
    docs.trash(d.id);
    expect(searchDocuments(db, 'lighthouse')).toEqual([]);
  });
});

describe('SearchService (worker thread)', () => {
  it('answers from a worker, survives the worker dying, and stops a search that takes too long', async () => {
    const d = docs.create({ title: 'Night', body: 'the lantern burned all night' });
    const service = new SearchService({ file: databasePath(dir) });
    try {
      expect((await service.search('lantern')).map((h) => h.id)).toEqual([d.id]);
      // the worker reads a consistent, current view: a document saved after the first search
      const e = docs.create({ title: 'Dawn', body: 'the lantern went out at dawn' });
      expect((await service.search('lantern')).map((h) => h.id).sort()).toEqual([d.id, e.id].sort());
      // kill the worker: the search in flight fails in words, the next one starts a new worker
      const worker = (service as unknown as { worker: { terminate(): Promise<number> } }).worker;
      const inFlight = service.search('lantern');
      await worker.terminate();
      // it may have been answered just before the worker went
      expect(
        await inFlight.then(
          () => 'answered',
          (e: { code?: string }) => e.code,
        ),
      ).toMatch(/^(answered|storage_error)$/);
      expect((await service.search('dawn')).map((h) => h.id)).toEqual([e.id]);
    } finally {
      await service.close();
    }
    expect((await rejection(service.search('lantern'))).code).toBe('internal');
    const impatient = new SearchService({ file: databasePath(dir), timeoutMs: 0 });
    try {
      const err = await rejection(impatient.search('lantern'));
      expect(err.code).toBe('storage_error');
      expect(err.message).toMatch(/took too long/);
    } finally {
      await impatient.close();
    }
  });

  it('says when the worker has not been built', async () => {
    const service = new SearchService({ file: databasePath(dir), workerPath: join(dir, 'missing.js') });
    const err = await rejection(service.search('x'));
    expect(err).toMatchObject({ code: 'internal' });
    expect(err.message).toMatch(/search worker .* is missing; build it first/);
    await service.close();
  });
});
