import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Document as DocumentSchema, DocumentSummary as SummarySchema } from '../common/api';
import { closeDatabase, databasePath, openDatabase, type Database } from './database';
import { migrate, migrations, schemaVersion, type Migration } from './migrations';
import { DocumentStore, PREVIEW_CHARS, makePreview } from './documents';
import { caught } from '../platform/test-support';

let dir: string;
const open: Database[] = [];

function openDb(dataDir = dir): Database {
  const db = openDatabase({ dataDir });
  open.push(db);
  return db;
}

function reopen(db: Database): Database {
  closeDatabase(db);
  return openDb();
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'lacuna-store-'));
});

afterEach(() => {
  for (const db of open.splice(0)) if (db.open) db.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('openDatabase', () => {
  it('creates the data folder and lacuna.db with the durability settings', () => {
    const dataDir = join(dir, 'nested', 'deeper');
    const db = openDb(dataDir);
    expect(existsSync(join(dataDir, 'lacuna.db'))).toBe(true);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(db.pragma('synchronous', { simple: true })).toBe(2); // FULL
    expect(db.pragma('busy_timeout', { simple: true })).toBe(5000);
    expect(schemaVersion(db)).toBe(migrations.length);
  });

  it('migrates an existing empty database and re-running is a no-op', () => {
    const raw = new BetterSqlite3(databasePath(dir));
    expect(schemaVersion(raw)).toBe(0);
    raw.close();

    const db = openDb();
    const latest = migrations.length;
    expect(schemaVersion(db)).toBe(latest);
    const cols = (db.prepare('PRAGMA table_info(documents)').all() as Array<{ name: string }>).map((c) => c.name);
    expect(cols).toEqual(['id', 'title', 'body', 'created_at', 'updated_at', 'revision', 'trashed_at', 'seq', 'rich_text', 'shown']);

    const docs = new DocumentStore(db);
    const d = docs.create({ title: 'kept', body: 'across migrations' });
    expect(migrate(db)).toEqual({ from: latest, to: latest, applied: [] });
    const again = reopen(db);
    expect(schemaVersion(again)).toBe(latest);
    expect(new DocumentStore(again).open(d.id).body).toBe('across migrations');
  });

  it('applies each migration in its own transaction and rolls back a failing one', () => {
    const db = openDb();
    const broken: Migration[] = [
      ...migrations,
      {
        version: migrations.length + 1,
        name: 'half done',
        up(d) {
          d.exec('CREATE TABLE half_done (x INTEGER)');
          throw new Error('boom');
        },
      },
    ];
    const err = caught(() => migrate(db, broken));
    expect(err.code).toBe('storage_error');
    expect(err.message).toMatch(/half done.*boom/);
    expect(schemaVersion(db)).toBe(migrations.length);
    expect(db.prepare("SELECT name FROM sqlite_master WHERE name = 'half_done'").get()).toBeUndefined();

    const fixed: Migration[] = [...migrations, { version: migrations.length + 1, name: 'works', up: (d) => d.exec('CREATE TABLE works (x INTEGER)') }];
    expect(migrate(db, fixed).applied).toEqual([migrations.length + 1]);
    expect(migrate(db, fixed).applied).toEqual([]);
  });

  it('refuses a migration list out of order', () => {
    const db = openDb();
    const bad: Migration[] = [{ version: 2, name: 'skips one', up: () => {} }];
    expect(() => migrate(db, bad)).toThrow(/out of order/);
  });

  it('refuses a library from a newer Lacuna', () => {
    const raw = new BetterSqlite3(databasePath(dir));
    raw.pragma('user_version = 99');
    raw.close();
    const err = caught(() => openDb());
    expect(err.code).toBe('storage_error');
    expect(err.message).toMatch(/newer/);
  });

  it('reports a file that is not a database as storage_error', () => {
    writeFileSync(databasePath(dir), 'this is not sqlite, just some text that is long enough to have a header. '.repeat(20));
    const err = caught(() => openDb());
    expect(err.code).toBe('storage_error');
    expect(err.message).toMatch(/damaged|not a Lacuna database/);
  });

  it('reports a data folder blocked by a file as storage_error', () => {
    const blocker = join(dir, 'blocker');
    writeFileSync(blocker, 'x');
    const err = caught(() => openDb(join(blocker, 'data')));
    expect(err.code).toBe('storage_error');
    expect(err.message).toContain(blocker);
  });

  it('reports a missing native binding as storage_error', () => {
    const err = caught(() => openDatabase({ dataDir: dir, nativeBinding: join(dir, 'nope', 'better_sqlite3.node') }));
    expect(err.code).toBe('storage_error');
  });
});

describe('DocumentStore', () => {
  it('creates documents with 32-hex ids at revision 0', () => {
    const docs = new DocumentStore(openDb());
    const a = docs.create({ title: 'A', body: 'alpha' });
    const b = docs.create();
    expect(DocumentSchema.parse(a)).toEqual(a);
    expect(a.id).toMatch(/^[0-9a-f]{32}$/);
    expect(b.id).not.toBe(a.id);
    expect(a.revision).toBe(0);
    expect(b).toMatchObject({ title: '', body: '', revision: 0 });
    expect(docs.open(a.id)).toEqual(a);
  });

  it('persists across close and reopen', () => {
    const db = openDb();
    const docs = new DocumentStore(db);
    const a = docs.create({ title: 'draft', body: 'The ____ sat.' });
    const saved = docs.save({ id: a.id, title: 'draft 2', body: 'The cat sat.', baseRevision: 0 });
    const again = new DocumentStore(reopen(db));
    expect(again.open(a.id)).toEqual(saved);
    expect(again.list().map((d) => d.id)).toEqual([a.id]);
  });

  it('lists newest first with a one-line preview', () => {
    let t = 1_000;
    const docs = new DocumentStore(openDb(), { now: () => t });
    const first = docs.create({ title: 'first', body: 'line one\n\n\tline two  ' });
    t = 2_000;
    const second = docs.create({ title: 'second', body: 'x'.repeat(10_000) });
    t = 3_000;
    docs.save({ id: first.id, title: 'first', body: 'edited\r\nagain' });
    const list = docs.list();
    for (const s of list) expect(SummarySchema.parse(s)).toEqual(s);
    expect(list.map((d) => d.id)).toEqual([first.id, second.id]);
    expect(list[0]).toMatchObject({ preview: 'edited again', createdAt: 1_000, updatedAt: 3_000 });
    expect(Array.from(list[1]!.preview)).toHaveLength(PREVIEW_CHARS);
    expect(list[1]!.preview.endsWith('…')).toBe(true);
  });

  it('lists, searches and snippets the text as the writer sees it: a filled blank as the alternative on screen, no markup', () => {
    let t = 1_000;
    const docs = new DocumentStore(openDb(), { now: () => t, snapshotIntervalMs: 0 });
    // As the editor saves it: the body keeps the blanks' syntax and the hard line break's backslash;
    // the rich text has the first blank filled (not yet accepted), the second still empty.
    const body = 'The *keeper* {{48}}{{16}} every night.\\\nThe ships passed ____.';
    const blank = (tokens: number | 'auto', alternatives: string[]) => ({
      type: 'blank',
      attrs: { tokens, status: alternatives.length ? 'filled' : 'idle', alternatives, chosen: 0, ranked: true, generationId: null },
    });
    const richText = JSON.stringify({
      type: 'doc',
      content: [
        {
          type: 'paragraph',
          content: [
            { type: 'text', text: 'The ' },
            { type: 'text', text: 'keeper', marks: [{ type: 'em' }] },
            { type: 'text', text: ' ' },
            blank(48, ['trimmed the wicks']),
            blank(16, [' and lit the lamp']),
            { type: 'text', text: ' every night.' },
            { type: 'hard_break' },
            { type: 'text', text: 'The ships passed ' },
            blank('auto', []),
            { type: 'text', text: '.' },
          ],
        },
      ],
    });
    const doc = docs.create({ title: 'Keeper', body, richText });
    const seen = 'The keeper trimmed the wicks and lit the lamp every night. The ships passed ____.';
    expect(docs.list()[0]!.preview).toBe(seen);
    expect(docs.shown(doc.id).shown).toBe('The keeper trimmed the wicks and lit the lamp every night.\nThe ships passed ____.');
    // Search finds the words on screen, not the markup; the snippet is what the writer reads.
    const [hit] = docs.search('wicks');
    expect(hit).toMatchObject({ id: doc.id, snippet: seen });
    expect(hit!.snippet.slice(hit!.highlights[0]!.start, hit!.highlights[0]!.end)).toBe('wicks');
    expect(docs.search('48')).toEqual([]);
    // Without its rich text (saved from the CLI, say) the same body reads as the blanks it holds.
    t = 2_000;
    const plain = docs.save({ id: doc.id, title: 'Keeper', body, baseRevision: 0 });
    expect(docs.list()[0]!.preview).toBe('The keeper ________ every night. The ships passed ____.');
    expect(docs.search('wicks')).toEqual([]);
    // Revisions preview the same way; so does the trash.
    t = 3_000;
    docs.save({ id: doc.id, title: 'Keeper', body, richText, baseRevision: plain.revision });
    expect(docs.listRevisions(doc.id).map((r) => r.preview)).toEqual([seen, 'The keeper ________ every night. The ships passed ____.']);
    docs.trash(doc.id);
    expect(docs.listTrash()[0]!.preview).toBe(seen);
  });

  it('does not split characters in the preview', () => {
    const emoji = '👩‍🚀'.repeat(200);
    const p = makePreview(emoji);
    expect(Array.from(p)).toHaveLength(PREVIEW_CHARS);
    expect(p).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/);
  });

  it('increments the revision and detects conflicts', () => {
    const docs = new DocumentStore(openDb());
    const d = docs.create({ title: 't', body: 'v0' });
    const r1 = docs.save({ id: d.id, title: 't', body: 'v1', baseRevision: 0 });
    expect(r1.revision).toBe(1);
    expect(r1.createdAt).toBe(d.createdAt);

    const err = caught(() => docs.save({ id: d.id, title: 't', body: 'stale', baseRevision: 0 }));
    expect(err.code).toBe('conflict');
    expect(err.message).toMatch(/revision 1/);
    expect(docs.open(d.id).body).toBe('v1');

    const forced = docs.save({ id: d.id, title: 't', body: 'forced' });
    expect(forced.revision).toBe(2);
    expect(docs.open(d.id)).toEqual(forced);
  });

  it('detects a conflict between two connections to the same file', () => {
    const a = new DocumentStore(openDb());
    const b = new DocumentStore(openDb());
    const d = a.create({ body: 'shared' });
    a.save({ id: d.id, title: '', body: 'from a', baseRevision: 0 });
    expect(caught(() => b.save({ id: d.id, title: '', body: 'from b', baseRevision: 0 })).code).toBe('conflict');
    expect(b.open(d.id)).toMatchObject({ body: 'from a', revision: 1 });
  });

  it('reports unknown ids as not_found', () => {
    const docs = new DocumentStore(openDb());
    const id = 'f'.repeat(32);
    expect(caught(() => docs.open(id)).code).toBe('not_found');
    expect(caught(() => docs.save({ id, title: '', body: '' })).code).toBe('not_found');
  });

  it('round-trips odd Unicode exactly', () => {
    const db = openDb();
    const odd = [
      'NUL\u0000inside\u0000',
      'emoji 😀👩🏽‍💻🏳️‍🌈 and a flag 🇸🇪',
      'RTL: שלום עולם \u200f مرحبا بالعالم \u202eevil\u202c',
      'combining: e\u0301 a\u0308 Z\u0351\u0352\u0353',
      'BOM \ufeff, nbsp\u00a0, ZWJ\u200d, CRLF\r\n, CR\r, tab\t, LS\u2028PS\u2029',
      'astral: 𝕳𝖊𝖑𝖑𝖔 𐍈 \u{10FFFF}',
      'blank syntax: ____ \\____ {{ 12 }}',
    ].join('\n');
    const docs = new DocumentStore(db);
    const d = docs.create({ title: 'ﬁ😀\u0000שלום', body: odd });
    expect(docs.open(d.id)).toEqual(d);
    const saved = docs.save({ id: d.id, title: d.title + '!', body: odd + odd, baseRevision: 0 });
    const again = new DocumentStore(reopen(db));
    const back = again.open(d.id);
    expect(back.body).toBe(odd + odd);
    expect(back.body.length).toBe(2 * odd.length);
    expect(back.title).toBe('ﬁ😀\u0000שלום!');
    expect(back).toEqual(saved);
    expect(again.list()[0]!.preview).not.toContain('\u0000');
  });

  it('keeps the rich text next to the body, and drops it when a change brings none', () => {
    const db = openDb();
    const docs = new DocumentStore(db, { snapshotIntervalMs: 0 });
    const plain = docs.create({ title: 'plain', body: 'no structure' });
    expect(plain).not.toHaveProperty('richText');
    expect(docs.open(plain.id)).toEqual(plain);

    const rich = JSON.stringify({ type: 'doc', content: [{ type: 'paragraph', content: [{ type: 'text', text: 'emoji 😀 שלום e\u0301' }] }] });
    const d = docs.create({ title: 'rich', body: 'emoji 😀 שלום e\u0301', richText: rich });
    expect(DocumentSchema.parse(d)).toEqual(d);
    expect(d.richText).toBe(rich);
    const saved = docs.save({ id: d.id, title: 'rich', body: '**bold** ____', richText: rich + ' ', baseRevision: 0 });
    expect(saved.richText).toBe(rich + ' ');
    expect(new DocumentStore(reopen(db)).open(d.id)).toEqual(saved);

    // A save without rich text (the CLI, an older client) leaves only the body, which it changed.
    const docs2 = new DocumentStore(openDb(), { snapshotIntervalMs: 0 });
    const bare = docs2.save({ id: d.id, title: 'rich', body: 'changed elsewhere', baseRevision: 1 });
    expect(bare).not.toHaveProperty('richText');
    expect(docs2.open(d.id)).toEqual(bare);

    // Restoring a revision brings back its own body and rich text (never the current text's).
    docs2.save({ id: d.id, title: 'rich', body: 'again', richText: rich, baseRevision: 2 });
    const first = docs2.listRevisions(d.id).find((r) => r.revision === 1)!;
    const restored = docs2.restoreRevision(first.revisionId);
    expect(restored).toMatchObject({ body: '**bold** ____', revision: 4, richText: rich + ' ' });
    expect(docs2.open(d.id)).toEqual(restored);
    // A snapshot without rich text restores without any.
    const bareRevision = docs2.listRevisions(d.id).find((r) => r.revision === 2)!;
    expect(docs2.restoreRevision(bareRevision.revisionId)).not.toHaveProperty('richText');
  });

  it('replaces a lone surrogate with U+FFFD (SQLite stores UTF-8)', () => {
    const docs = new DocumentStore(openDb());
    const d = docs.create({ title: '\uDC00', body: 'a\uD800b 😀 \uDE00' });
    expect(d.body).toBe('a\uFFFDb 😀 \uFFFD');
    expect(docs.open(d.id)).toEqual(d);
  });

  it('stores and reloads a 10 MB body', () => {
    const db = openDb();
    const unit = 'The quick brown fox ____ over the lazy dog. Ça va? 😀\n';
    const body = unit.repeat(Math.ceil(10_000_000 / unit.length));
    expect(body.length).toBeGreaterThanOrEqual(10_000_000);
    const docs = new DocumentStore(db);
    const d = docs.create({ title: 'big', body });
    docs.save({ id: d.id, title: 'big', body: body + 'end', baseRevision: 0 });
    const again = new DocumentStore(reopen(db));
    const back = again.open(d.id);
    expect(back.body.length).toBe(body.length + 3);
    expect(back.body === body + 'end').toBe(true);
    expect(Array.from(again.list()[0]!.preview).length).toBeLessThanOrEqual(PREVIEW_CHARS);
  });

  it('reports a full disk as storage_error and keeps the old revision', () => {
    const db = openDb();
    const docs = new DocumentStore(db);
    const d = docs.create({ body: 'small' });
    // Cap the file at its current size: the next page SQLite needs fails exactly like ENOSPC.
    const pages = db.pragma('page_count', { simple: true }) as number;
    db.pragma(`max_page_count = ${pages}`);
    const err = caught(() => docs.save({ id: d.id, title: '', body: 'y'.repeat(1_000_000), baseRevision: 0 }));
    expect(err.code).toBe('storage_error');
    expect(err.message).toMatch(/could not save the document: the disk is full/);
    expect(docs.open(d.id)).toEqual(d);
  });

  it('reports a read-only library as storage_error', () => {
    const db = openDb();
    const d = new DocumentStore(db).create({ body: 'x' });
    const ro = new BetterSqlite3(databasePath(dir), { readonly: true });
    open.push(ro);
    const docs = new DocumentStore(ro);
    expect(docs.open(d.id).body).toBe('x');
    const err = caught(() => docs.save({ id: d.id, title: '', body: 'y' }));
    expect(err.code).toBe('storage_error');
    expect(err.message).toMatch(/read-only/);
    expect(caught(() => docs.create()).code).toBe('storage_error');
  });
});
