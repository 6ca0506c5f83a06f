/**
 * Every migration from every earlier version: build a library at version k with the migrations as
 * they were up to k, fill it with data the way that version could hold it, open it with the
 * current code (which migrates it), and check nothing was lost and everything new works on it.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { closeDatabase, databasePath, openDatabase } from './database';
import { migrate, migrations, schemaVersion } from './migrations';
import { DocumentStore } from './documents';
import { indexDocument } from './search';
import { GenerationLog } from './generations';
import { caught } from '../platform/test-support';
import { previewOf, writerText } from '../common/writer-text';

let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'lacuna-migrate-'));
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const ODD = 'NUL\u0000 emoji 😀👩🏽‍💻 RTL שלום مرحبا combining e\u0301 ____ {{3}} \\____';
const IDS = ['a'.repeat(32), 'b'.repeat(32), 'c'.repeat(32)];
/** A rich text as the editor stores it (v6). */
const RICH = JSON.stringify({ type: 'doc', content: [{ type: 'paragraph', content: [{ type: 'text', text: ODD.replace('\u0000', '') }] }] });
/** From v6: a document with a filled blank not yet accepted, and a line break (as the editor writes them). */
const FILLED_ID = 'd'.repeat(32);
const FILLED_BODY = 'The keeper {{16}} every night.\\\nThe ships passed.';
function filledRich(alternative: string): string {
  return JSON.stringify({
    type: 'doc',
    content: [
      {
        type: 'paragraph',
        content: [
          { type: 'text', text: 'The keeper ' },
          { type: 'blank', attrs: { tokens: 16, status: 'filled', alternatives: [alternative, 'slept'], chosen: 0, ranked: true, generationId: null } },
          { type: 'text', text: ' every night.' },
          { type: 'hard_break' },
          { type: 'text', text: 'The ships passed.' },
        ],
      },
    ],
  });
}
const FILLED_SHOWN = 'The keeper lit the lamplight every night.\nThe ships passed.';

/** A library at version k, with three documents (and a snapshot where the schema has them). */
function buildAt(k: number): void {
  const raw = new BetterSqlite3(databasePath(dir));
  raw.pragma('journal_mode = WAL');
  migrate(raw, migrations.slice(0, k));
  expect(schemaVersion(raw)).toBe(k);
  if (k >= 1) {
    const insert = raw.prepare('INSERT INTO documents (id, title, body, created_at, updated_at, revision) VALUES (?, ?, ?, ?, ?, ?)');
    IDS.forEach((id, i) => insert.run(id, `title ${i} zebra${i}`, `${ODD} body${i} xylophone`, 1_000 + i, 2_000 + i, i));
    // Delete and re-insert one, so rowids have a gap (the rebuild in v2 must keep them).
    raw.prepare('DELETE FROM documents WHERE id = ?').run(IDS[1]);
    insert.run(IDS[1], 'title 1 zebra1', `${ODD} body1 xylophone`, 1_001, 2_001, 1);
  }
  if (k >= 3) {
    raw
      .prepare('INSERT INTO revisions (document_id, revision, title, body, chars, created_at, reason) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(IDS[0], 0, 'old title', 'old body', 8, 1_500, 'manual');
  }
  if (k >= 5) {
    raw
      .prepare(
        `INSERT INTO generations (document_id, created_at, model, seed, steps, sampler, device, mode, duration_ms, network_calls,
                                  input_text, alternatives_json, accepted) VALUES (?, 1600, 'm', 1, 2, 'analytic', 'cpu', 'exact', 1.5, 2, ?, ?, 0)`,
      )
      .run(IDS[0], 'old ____', JSON.stringify([{ text: 'old fill', fills: ['fill'] }]));
  }
  if (k >= 6) {
    raw.prepare('UPDATE documents SET rich_text = ? WHERE id = ?').run(RICH, IDS[2]);
    raw
      .prepare('INSERT INTO documents (id, title, body, rich_text, created_at, updated_at, revision) VALUES (?, ?, ?, ?, 500, 500, 0)')
      .run(FILLED_ID, 'Keeper', FILLED_BODY, filledRich('lit the lamplight'));
  }
  if (k >= 7) {
    raw.prepare('UPDATE revisions SET rich_text = ? WHERE document_id = ?').run(RICH, IDS[0]);
    raw
      .prepare('INSERT INTO revisions (document_id, revision, title, body, rich_text, chars, created_at, reason) VALUES (?, 0, ?, ?, ?, ?, 400, ?)')
      .run(FILLED_ID, 'Keeper', FILLED_BODY, filledRich('lit the lamplight'), FILLED_BODY.length, 'manual');
  }
  if (k >= 10) {
    // From v10 a writer keeps `shown` (and a revision its preview) with every row, as the store does.
    for (const r of raw.prepare<[], { id: string; body: string; rich_text: string | null }>('SELECT id, body, rich_text FROM documents').all()) {
      raw.prepare('UPDATE documents SET shown = ? WHERE id = ?').run(writerText(r.body, r.rich_text), r.id);
    }
    for (const r of raw
      .prepare<[], { revision_id: number; body: string; rich_text: string | null }>('SELECT revision_id, body, rich_text FROM revisions')
      .all()) {
      raw.prepare('UPDATE revisions SET preview = ? WHERE revision_id = ?').run(previewOf(r.body, r.rich_text), r.revision_id);
    }
  }
  if (k >= 11) {
    // From v11 a writer keeps the search passages of every document (store/search.ts indexDocument).
    for (const r of raw.prepare<[], { seq: number; title: string; shown: string }>('SELECT seq, title, shown FROM documents').all()) {
      indexDocument(raw, r.seq, r.title, r.shown);
    }
  }
  raw.close();
}

describe('migrations', () => {
  it('are numbered 1, 2, 3, … in order', () => {
    migrations.forEach((m, i) => expect(m.version).toBe(i + 1));
  });

  // k = migrations.length: a current library reopens unchanged (and its newest tables' data is checked).
  for (let k = 0; k <= migrations.length; k++) {
    it(`upgrade a library at version ${k} to ${migrations.length} keeping its data`, () => {
      buildAt(k);
      const db = openDatabase({ dataDir: dir });
      try {
        expect(schemaVersion(db)).toBe(migrations.length);
        expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
        expect(db.pragma('foreign_key_check')).toEqual([]);
        db.prepare("INSERT INTO search_fts (search_fts) VALUES ('integrity-check')").run();
        let t = 10_000;
        const docs = new DocumentStore(db, { now: () => t });
        if (k >= 1) {
          IDS.forEach((id, i) => expect(docs.open(id)).toMatchObject({ title: `title ${i} zebra${i}`, body: `${ODD} body${i} xylophone`, revision: i }));
          // Order: updated_at DESC, then the (kept) rowid.
          expect(docs.list().map((d) => d.id)).toEqual([IDS[2], IDS[1], IDS[0], ...(k >= 6 ? [FILLED_ID] : [])]);
          // The search index covers rows that existed before it did.
          expect(
            docs
              .search('xylophone')
              .map((h) => h.id)
              .sort(),
          ).toEqual([...IDS].sort());
          expect(docs.search('zebra1').map((h) => h.id)).toEqual([IDS[1]]);
          // Rich text (v6): none for documents from before it; kept where one was stored.
          expect(docs.open(IDS[0]!)).not.toHaveProperty('richText');
          if (k >= 6) expect(docs.open(IDS[2]!).richText).toBe(RICH);
          else expect(docs.open(IDS[2]!)).not.toHaveProperty('richText');
          // v10: search, snippets and previews read the text as the writer sees it, also for rows from
          // before it (a filled blank as the alternative on screen, a line break as a line break).
          expect(docs.search('zebra1').map((h) => h.snippet)).toEqual([expect.not.stringMatching(/\\|\{\{/)]);
          for (const d of docs.list()) expect(d.preview).not.toMatch(/\\|\{\{/);
        }
        if (k >= 6) {
          expect(docs.shown(FILLED_ID)).toMatchObject({ title: 'Keeper', shown: FILLED_SHOWN });
          const [hit] = docs.search('lamplight');
          expect(hit).toMatchObject({ id: FILLED_ID, snippet: 'The keeper lit the lamplight every night. The ships passed.' });
          expect(docs.search('16')).toEqual([]);
          expect(docs.list().find((d) => d.id === FILLED_ID)!.preview).toBe('The keeper lit the lamplight every night. The ships passed.');
        }
        if (k >= 7) {
          expect(docs.listRevisions(FILLED_ID).map((r) => r.preview)).toEqual(['The keeper lit the lamplight every night. The ships passed.']);
        }
        if (k >= 3) expect(docs.listRevisions(IDS[0]!).map((r) => r.preview)).toEqual(['old body']);
        // A snapshot from before v7 restores without rich text; one with it (k ≥ 7) restores it.
        if (k >= 3) {
          const old = docs.listRevisions(IDS[0]!)[0]!;
          const restored = docs.restoreRevision(old.revisionId);
          expect(restored.body).toBe('old body');
          if (k >= 7) expect(restored.richText).toBe(RICH);
          else expect(restored).not.toHaveProperty('richText');
        }
        const gens = new GenerationLog(db, { now: () => t });
        if (k >= 5) {
          // Fills recorded before v8 sampled at temperature 1; before v9, with top-p 1 in random order.
          expect(gens.list(IDS[0]!).map((g) => [g.preview, g.alternativeCount, g.accepted, g.temperature, g.topP, g.unmasking])).toEqual([
            ['old ____', 1, 0, 1, 1, 'random'],
          ]);
        }
        // Everything new works on the upgraded file.
        const d = docs.create({ title: 'new', body: 'fresh aardvark' });
        t = 20_000;
        docs.save({ id: d.id, title: 'new', body: 'fresher aardvark', baseRevision: 0 });
        expect(docs.search('aardvark').map((h) => h.id)).toEqual([d.id]);
        expect(docs.listRevisions(d.id)).toHaveLength(1);
        // Rich text (v6) is stored and read back on the upgraded file, and a save without it drops it.
        const rich = docs.save({ id: d.id, title: 'new', body: 'richer aardvark', richText: RICH, baseRevision: 1 });
        expect(docs.open(d.id)).toEqual(rich);
        expect(rich.richText).toBe(RICH);
        expect(docs.save({ id: d.id, title: 'new', body: 'plain aardvark', baseRevision: 2 })).not.toHaveProperty('richText');
        expect(docs.search('aardvark').map((h) => h.id)).toEqual([d.id]);
        // What the writer sees (v10) follows every save: the alternative on screen is found, the markup is not.
        const filled = docs.save({ id: d.id, title: 'new', body: FILLED_BODY, richText: filledRich('fed the aardvark'), baseRevision: 3 });
        expect(docs.search('aardvark')).toMatchObject([{ id: d.id, snippet: 'The keeper fed the aardvark every night. The ships passed.' }]);
        expect(docs.list().find((x) => x.id === d.id)!.preview).toBe('The keeper fed the aardvark every night. The ships passed.');
        docs.save({ id: d.id, title: 'new', body: 'plain aardvark', baseRevision: filled.revision });
        expect(docs.search('keeper').map((h) => h.id)).toEqual(k >= 6 ? [FILLED_ID] : []);
        // Revisions keep the rich text (v7): restoring the snapshot taken with it brings it back.
        docs.save({ id: d.id, title: 'new', body: 'richest aardvark', richText: RICH, baseRevision: 5, snapshot: 'manual' });
        const withRich = docs.listRevisions(d.id).find((r) => r.reason === 'manual')!;
        docs.save({ id: d.id, title: 'new', body: 'plainest aardvark', baseRevision: 6 });
        expect(docs.restoreRevision(withRich.revisionId)).toMatchObject({ body: 'richest aardvark', richText: RICH });
        // Generation records (v5) work on the upgraded file, and go with their document.
        const g = gens.record({
          documentId: d.id,
          model: 'tiny-fixture',
          seed: 3,
          steps: 4,
          sampler: 'analytic',
          temperature: 0.7,
          topP: 0.9,
          unmasking: 'confident',
          device: 'cpu',
          mode: 'exact',
          durationMs: 12.5,
          networkCalls: 4,
          inputText: 'fresh ____',
          alternatives: [{ text: `fresh ${ODD}`, fills: [ODD], nll: 3.25, lengths: [8] }],
        });
        expect(gens.get(g)).toMatchObject({
          documentId: d.id,
          temperature: 0.7,
          topP: 0.9,
          unmasking: 'confident',
          inputText: 'fresh ____',
          alternatives: [{ text: `fresh ${ODD}`, fills: [ODD], nll: 3.25, lengths: [8] }],
        });
        // The order is one of two (a CHECK in the file, not only in the code).
        expect(() => db.prepare("UPDATE generations SET unmasking = 'surest' WHERE id = ?").run(g)).toThrow(/CHECK constraint failed/);
        docs.trash(d.id);
        docs.emptyTrash();
        expect(() => gens.get(g)).toThrow(/no generation/);
        expect(db.pragma('foreign_key_check')).toEqual([]);
        db.prepare("INSERT INTO search_fts (search_fts) VALUES ('integrity-check')").run();
      } finally {
        closeDatabase(db);
      }
    });
  }
});

describe('opening a damaged library', () => {
  it('moves a file that is not a database aside and says where', () => {
    writeFileSync(databasePath(dir), 'not sqlite at all; '.repeat(100));
    const err = caught(() => openDatabase({ dataDir: dir }));
    expect(err.code).toBe('storage_error');
    const aside = readdirSync(dir).find((f) => f.startsWith('lacuna.db.damaged-'));
    expect(aside).toBeDefined();
    expect(err.message).toContain(join(dir, aside!));
    expect(existsSync(databasePath(dir))).toBe(false);
    // The next open starts an empty library.
    const db = openDatabase({ dataDir: dir });
    expect(new DocumentStore(db).list()).toEqual([]);
    closeDatabase(db);
  });

  it('moves a library failing quick_check aside', () => {
    const db = openDatabase({ dataDir: dir });
    const docs = new DocumentStore(db);
    for (let i = 0; i < 50; i++) docs.create({ title: `t${i}`, body: 'x'.repeat(3_000) });
    db.pragma('wal_checkpoint(TRUNCATE)');
    closeDatabase(db);
    // Scribble over a page in the middle of the file (not the header).
    const raw = new BetterSqlite3(databasePath(dir));
    const pageSize = raw.pragma('page_size', { simple: true }) as number;
    const pages = raw.pragma('page_count', { simple: true }) as number;
    raw.close();
    const fd = openSync(databasePath(dir), 'r+');
    writeSync(fd, Buffer.alloc(pageSize, 0xa5), 0, pageSize, pageSize * Math.floor(pages / 2));
    writeSync(fd, Buffer.alloc(pageSize, 0x5a), 0, pageSize, pageSize * 2);
    closeSync(fd);
    const err = caught(() => openDatabase({ dataDir: dir }));
    expect(err.code).toBe('storage_error');
    expect(err.message).toMatch(/damaged.*moved to .*lacuna\.db\.damaged-/);
    expect(readdirSync(dir).some((f) => f.startsWith('lacuna.db.damaged-'))).toBe(true);
  });
});
