import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Revision, RevisionSummary, SearchHit, TrashedSummary } from '../common/api';
import { closeDatabase, openDatabase, type Database } from './database';
import { DocumentStore } from './documents';
import { DAY_MS, HOUR_MS, revisionsToKeep } from './revisions';
import { searchTokens, snippetOf, toFtsQuery } from './search';
import { caught } from '../platform/test-support';

let dir: string;
let db: Database;
let t: number;
const T0 = Date.UTC(2030, 0, 1);

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'lacuna-rev-'));
  db = openDatabase({ dataDir: dir });
  t = T0;
});

afterEach(() => {
  closeDatabase(db);
  rmSync(dir, { recursive: true, force: true });
});

function store(opts: ConstructorParameters<typeof DocumentStore>[1] = {}): DocumentStore {
  return new DocumentStore(db, { now: () => t, ...opts });
}

describe('revisions', () => {
  it('snapshots on the 5-minute rhythm and on request, inside the save', () => {
    const docs = store();
    const d = docs.create({ title: 'T', body: 'v0' });
    expect(docs.listRevisions(d.id)).toEqual([]);
    docs.save({ id: d.id, title: 'T', body: 'v1' }); // first save: no snapshot yet → one
    t += 60_000;
    docs.save({ id: d.id, title: 'T', body: 'v2' }); // 1 min later: none
    t += 4 * 60_000;
    docs.save({ id: d.id, title: 'T', body: 'v3' }); // 5 min after the first snapshot: one
    t += 1_000;
    docs.save({ id: d.id, title: 'T', body: 'v4 ____', snapshot: 'before-fill' });
    const list = docs.listRevisions(d.id);
    for (const r of list) expect(RevisionSummary.parse(r)).toEqual(r);
    expect(list.map((r) => [r.preview, r.reason, r.revision])).toEqual([
      ['v4 ____', 'before-fill', 4],
      ['v3', 'autosave-rhythm', 3],
      ['v1', 'autosave-rhythm', 1],
    ]);
    expect(list[0]!.createdAt).toBe(T0 + 5 * 60_000 + 1_000);
    const full = docs.getRevision(list[1]!.revisionId);
    expect(Revision.parse(full)).toEqual(full);
    expect(full).toMatchObject({ documentId: d.id, title: 'T', body: 'v3', revision: 3 });
    expect(caught(() => docs.getRevision(999_999)).code).toBe('not_found');
    expect(caught(() => docs.listRevisions('f'.repeat(32))).code).toBe('not_found');
  });

  it('honours a configurable interval (0: every save)', () => {
    const docs = store({ snapshotIntervalMs: 0 });
    const d = docs.create();
    for (let i = 1; i <= 5; i++) docs.save({ id: d.id, title: '', body: `v${i}` });
    expect(docs.listRevisions(d.id)).toHaveLength(5);
  });

  it('a failed save leaves no snapshot (same transaction)', () => {
    const docs = store({ snapshotIntervalMs: 0 });
    const d = docs.create({ body: 'small' });
    const pages = db.pragma('page_count', { simple: true }) as number;
    db.pragma(`max_page_count = ${pages + 2}`);
    expect(caught(() => docs.save({ id: d.id, title: '', body: 'y'.repeat(1_000_000) })).code).toBe('storage_error');
    expect(docs.listRevisions(d.id)).toEqual([]);
    expect(docs.open(d.id).body).toBe('small');
  });

  it('restores a snapshot as a new revision, and the restore is undoable', () => {
    const docs = store({ snapshotIntervalMs: 0 });
    const d = docs.create({ title: 'A', body: 'first' });
    const s1 = docs.save({ id: d.id, title: 'A', body: 'first draft' });
    docs.save({ id: d.id, title: 'B', body: 'second draft' });
    const firstSnap = docs.listRevisions(d.id).find((r) => r.revision === s1.revision)!;
    expect(caught(() => docs.restoreRevision(firstSnap.revisionId, 0)).code).toBe('conflict');
    t += 1_000;
    const restored = docs.restoreRevision(firstSnap.revisionId, 2);
    expect(restored).toMatchObject({ title: 'A', body: 'first draft', revision: 3 });
    expect(docs.open(d.id)).toEqual(restored);
    const undo = docs.listRevisions(d.id)[0]!;
    expect(undo).toMatchObject({ reason: 'restore', preview: 'second draft', revision: 2 });
    expect(docs.restoreRevision(undo.revisionId)).toMatchObject({ title: 'B', body: 'second draft', revision: 4 });
  });

  it('keeps odd Unicode and 10 MB bodies exactly', () => {
    const docs = store({ snapshotIntervalMs: 0 });
    const odd = 'NUL\u0000 😀👩🏽‍💻 שלום e\u0301 ____ \\____ {{7}}';
    const big = odd.repeat(Math.ceil(10_000_000 / odd.length));
    const d = docs.create();
    docs.save({ id: d.id, title: odd, body: big });
    const [r] = docs.listRevisions(d.id);
    expect(r!.chars).toBe(big.length);
    expect(r!.preview).not.toContain('\u0000');
    const full = docs.getRevision(r!.revisionId);
    expect(full.body === big).toBe(true);
    expect(full.title).toBe(odd);
  });
});

describe('retention', () => {
  const stamp = (revisionId: number, createdAt: number) => ({ revisionId, createdAt });
  const policy = { keepAllMs: DAY_MS, hourlyUntilMs: 7 * DAY_MS, maxPerDocument: 1_000 };

  it('keeps all of the last 24 h, one per hour to 7 days, one per day after, at most N', () => {
    const now = T0 + 30 * DAY_MS;
    const revs = [];
    let id = 0;
    // Every 10 minutes for 30 days.
    for (let at = T0; at <= now; at += 10 * 60_000) revs.push(stamp(++id, at));
    const keep = revisionsToKeep(revs, now, policy);
    const kept = revs.filter((r) => keep.has(r.revisionId));
    const age = (r: { createdAt: number }) => now - r.createdAt;
    expect(kept.filter((r) => age(r) < DAY_MS)).toHaveLength(revs.filter((r) => age(r) < DAY_MS).length); // all 144
    const hourly = kept.filter((r) => age(r) >= DAY_MS && age(r) < 7 * DAY_MS);
    expect(new Set(hourly.map((r) => Math.floor(r.createdAt / HOUR_MS))).size).toBe(hourly.length);
    expect(hourly.length).toBeGreaterThanOrEqual(6 * 24 - 1);
    expect(hourly.length).toBeLessThanOrEqual(6 * 24 + 1);
    // The newest of each hour is the one kept (except in the hour cut by the 24 h line).
    for (const r of hourly.slice(0, -1)) expect((r.createdAt % HOUR_MS) / 60_000).toBeGreaterThanOrEqual(50);
    const daily = kept.filter((r) => age(r) >= 7 * DAY_MS);
    expect(new Set(daily.map((r) => Math.floor(r.createdAt / DAY_MS))).size).toBe(daily.length);
    expect(daily.length).toBeGreaterThanOrEqual(23);
    expect(daily.length).toBeLessThanOrEqual(24);

    const capped = revisionsToKeep(revs, now, { ...policy, maxPerDocument: 10 });
    expect([...capped].sort((a, b) => a - b)).toEqual(revs.slice(-10).map((r) => r.revisionId));
  });

  it('is applied by the store with a fake clock', () => {
    const docs = store({ snapshotIntervalMs: 0, retention: { maxPerDocument: 50 } });
    const d = docs.create();
    // Three saves an hour for 3 days.
    for (let i = 0; i < 3 * 24 * 3; i++) {
      docs.save({ id: d.id, title: '', body: `v${i}` });
      t += 20 * 60_000;
    }
    const list = docs.listRevisions(d.id);
    const now = t - 20 * 60_000;
    expect(list.length).toBeLessThanOrEqual(50);
    expect(list[0]!.preview).toBe(`v${3 * 24 * 3 - 1}`);
    // The last 24 h (72 snapshots) exceed the cap of 50: the newest 50 are kept.
    expect(list.every((r) => now - r.createdAt < DAY_MS)).toBe(true);
    const loose = store({ snapshotIntervalMs: 0 });
    loose.save({ id: d.id, title: '', body: 'later' });
    const after = loose.listRevisions(d.id);
    expect(after).toHaveLength(51);
  });
});

describe('search', () => {
  it('sanitises user input into quoted terms', () => {
    expect(toFtsQuery('hello world')).toBe('"hello" "world"*');
    expect(toFtsQuery('"unbalanced (paren NEAR AND OR* ^x col:y')).toBe('"unbalanced" "(paren" "NEAR" "AND" "OR*" "^x" "col:y"*');
    expect(toFtsQuery('  ... !!! ')).toBeUndefined();
    expect(toFtsQuery('a\u0000b')).toBe('"a" "b"*');
  });

  it('ranks with bm25, title above body, and never throws on odd queries', () => {
    const docs = store();
    const inBody = docs.create({ title: 'notes', body: 'the lighthouse keeper slept. '.repeat(3) + 'x '.repeat(200) });
    const inTitle = docs.create({ title: 'The Lighthouse', body: 'a story about the sea' });
    const dense = docs.create({ title: 'log', body: 'lighthouse lighthouse lighthouse lighthouse' });
    docs.create({ title: 'other', body: 'nothing to see' });
    const hits = docs.search('lighthouse');
    for (const h of hits) expect(SearchHit.parse(h)).toEqual(h);
    expect(hits.map((h) => h.id)).toEqual([inTitle.id, dense.id, inBody.id]);
    expect(hits[0]!.score).toBeLessThan(hits[2]!.score);
    // Prefix on the last term, AND across terms.
    expect(
      docs
        .search('lightho')
        .map((h) => h.id)
        .sort(),
    ).toEqual([inTitle.id, dense.id, inBody.id].sort());
    expect(docs.search('lighthouse keeper').map((h) => h.id)).toEqual([inBody.id]);
    for (const q of ['"', '(', 'AND', 'NOT x', 'a*b', 'col:x', '^', 'NEAR(a b)', '\u0000', '', '   ', '😀', '-x', "'; DROP TABLE documents; --"]) {
      expect(() => docs.search(q)).not.toThrow();
    }
  });

  it('returns plain-text snippets with highlight ranges', () => {
    const docs = store();
    docs.create({ title: 't', body: 'Before <b>the</b>\n\tharbour & after.' });
    const [hit] = docs.search('harbour');
    expect(hit!.snippet).not.toMatch(/[\uFDD0\uFDD1\n\t]/);
    expect(hit!.highlights).toHaveLength(1);
    const { start, end } = hit!.highlights[0]!;
    expect(hit!.snippet.slice(start, end)).toBe('harbour');
    expect(hit!.snippet).toContain('<b>the</b>'); // as text; the UI escapes it
    // Words as FTS5's unicode61 tokenizer (remove_diacritics 2) sees them; the last term a prefix.
    expect(searchTokens('Café  NAÏVE-Straße 42')).toEqual(['cafe', 'naive', 'straße', '42']);
    const cut = snippetOf("One. The harbour lamps were lit at the Harbourmaster's word.", [['harbour']]);
    expect(cut.highlights.map((h) => cut.snippet.slice(h.start, h.end))).toEqual(['harbour', 'Harbourmaster']);
    const long = snippetOf(`${'word '.repeat(100)}lamp ${'word '.repeat(100)}`, [['lamp']]);
    expect(long.snippet).toMatch(/^….*lamp.*…$/);
    expect(long.snippet.split(' ').length).toBeLessThan(20);
  });

  it('stays in sync after save, trash and delete', () => {
    const docs = store();
    const d = docs.create({ title: 'draft', body: 'walrus' });
    expect(docs.search('walrus').map((h) => h.id)).toEqual([d.id]);
    docs.save({ id: d.id, title: 'draft', body: 'penguin' });
    expect(docs.search('walrus')).toEqual([]);
    expect(docs.search('penguin').map((h) => h.id)).toEqual([d.id]);
    docs.trash(d.id);
    expect(docs.search('penguin')).toEqual([]);
    docs.untrash(d.id);
    expect(docs.search('penguin').map((h) => h.id)).toEqual([d.id]);
    docs.trash(d.id);
    expect(docs.emptyTrash()).toBe(1);
    expect(docs.search('penguin')).toEqual([]);
    db.prepare("INSERT INTO search_fts (search_fts) VALUES ('integrity-check')").run();
  });

  it('finds odd Unicode and words in 10 MB bodies', () => {
    const docs = store();
    const odd = docs.create({ title: 'שלום עולם', body: 'café e\u0301t\u00e9 😀 NUL\u0000here مرحبا' });
    const unit = 'filler words for a long document. ';
    const big = docs.create({ title: 'big', body: unit.repeat(Math.ceil(10_000_000 / unit.length)) + 'needle' });
    expect(docs.search('שלום').map((h) => h.id)).toEqual([odd.id]);
    expect(docs.search('cafe').map((h) => h.id)).toEqual([odd.id]);
    expect(docs.search('مرحبا').map((h) => h.id)).toEqual([odd.id]);
    expect(docs.search('here').map((h) => h.id)).toEqual([odd.id]);
    const [hit] = docs.search('needle');
    expect(hit!.id).toBe(big.id);
    expect(hit!.snippet.length).toBeLessThan(1_000);
  });
});

describe('trash', () => {
  it('hides trashed documents from list and search until restored; emptying deletes them and their revisions', () => {
    const docs = store({ snapshotIntervalMs: 0 });
    const keep = docs.create({ title: 'keep', body: 'k' });
    const gone = docs.create({ title: 'gone', body: 'g' });
    docs.save({ id: gone.id, title: 'gone', body: 'g2' });
    t += 1_000;
    docs.trash(gone.id);
    docs.trash(gone.id); // idempotent
    expect(docs.list().map((d) => d.id)).toEqual([keep.id]);
    const trash = docs.listTrash();
    for (const s of trash) expect(TrashedSummary.parse(s)).toEqual(s);
    expect(trash).toMatchObject([{ id: gone.id, trashedAt: T0 + 1_000 }]);
    expect(docs.open(gone.id).body).toBe('g2'); // still openable from the trash
    expect(docs.untrash(gone.id).id).toBe(gone.id);
    expect(docs.listTrash()).toEqual([]);
    expect(
      docs
        .list()
        .map((d) => d.id)
        .sort(),
    ).toEqual([keep.id, gone.id].sort());
    docs.trash(gone.id);
    expect(docs.emptyTrash()).toBe(1);
    expect(docs.emptyTrash()).toBe(0);
    expect(caught(() => docs.open(gone.id)).code).toBe('not_found');
    expect(db.prepare('SELECT count(*) AS n FROM revisions WHERE document_id = ?').get(gone.id)).toEqual({ n: 0 });
    expect(caught(() => docs.trash('f'.repeat(32))).code).toBe('not_found');
    expect(caught(() => docs.untrash('f'.repeat(32))).code).toBe('not_found');
  });
});
