/**
 * A full disk or a read-only library on every write path that came after the first save path:
 * revisions (snapshot, restore), trash, generation records. Each must fail with storage_error
 * naming the cause and leave what was stored untouched.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { caught } from '../platform/test-support';
import { closeDatabase, databasePath, openDatabase, type Database } from './database';
import { DocumentStore } from './documents';
import { GenerationLog, type GenerationInput } from './generations';

let dir: string;
const open: Database[] = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'lacuna-store-fail-'));
});
afterEach(() => {
  for (const db of open.splice(0)) closeDatabase(db);
  rmSync(dir, { recursive: true, force: true });
});

function db(): Database {
  const d = openDatabase({ dataDir: dir });
  open.push(d);
  return d;
}

const generation = (documentId: string): GenerationInput => ({
  documentId,
  model: 'tiny-fixture',
  seed: 1,
  steps: 4,
  sampler: 'analytic',
  device: 'cpu',
  mode: 'exact',
  durationMs: 12,
  networkCalls: 4,
  inputText: 'a ____ b',
  alternatives: [{ text: 'a x'.repeat(20_000) + ' b', fills: ['x'.repeat(60_000)] }],
});

/** Cap the file at its current size: the next page SQLite needs fails exactly like ENOSPC. */
function fill(d: Database): void {
  d.pragma(`max_page_count = ${d.pragma('page_count', { simple: true }) as number}`);
}

describe('a full disk', () => {
  it('fails snapshots, restores, trash and generation records with storage_error and keeps the data', () => {
    const d = db();
    const docs = new DocumentStore(d, { snapshotIntervalMs: 0 });
    const gens = new GenerationLog(d);
    const doc = docs.create({ title: 't', body: 'first' });
    const saved = docs.save({ id: doc.id, title: 't', body: 'second', baseRevision: doc.revision });
    const revisions = docs.listRevisions(doc.id);
    const trashedBefore = docs.create({ title: 'old', body: 'to trash' });
    docs.trash(trashedBefore.id);
    fill(d);

    const big = 'z'.repeat(2_000_000);
    const e1 = caught(() => docs.save({ id: doc.id, title: 't', body: big, baseRevision: saved.revision, snapshot: 'before-fill' }));
    expect([e1.code, e1.message]).toEqual(['storage_error', expect.stringMatching(/the disk is full/)]);
    const e2 = caught(() => gens.record(generation(doc.id)));
    expect([e2.code, e2.message]).toEqual(['storage_error', expect.stringMatching(/could not record the generation: the disk is full/)]);
    expect(gens.list(doc.id)).toEqual([]);

    expect(docs.open(doc.id)).toEqual(saved);
    expect(docs.listRevisions(doc.id)).toEqual(revisions);
    expect(docs.listTrash().map((t) => t.id)).toEqual([trashedBefore.id]);
  });
});

describe('a read-only library', () => {
  it('fails every write with storage_error saying so, and still reads', () => {
    const d = db();
    const docs = new DocumentStore(d, { snapshotIntervalMs: 0 });
    const doc = docs.create({ title: 't', body: 'first' });
    const saved = docs.save({ id: doc.id, title: 't', body: 'second', baseRevision: doc.revision });
    const revisions = docs.listRevisions(doc.id);
    const oldest = revisions.at(-1)!;
    const gid = new GenerationLog(d).record(generation(doc.id));

    const ro = new BetterSqlite3(databasePath(dir), { readonly: true });
    open.push(ro);
    const rdocs = new DocumentStore(ro, { snapshotIntervalMs: 0 });
    const rgens = new GenerationLog(ro);
    const writes: [string, () => unknown][] = [
      ['restore a revision', () => rdocs.restoreRevision(oldest.revisionId, saved.revision)],
      ['trash', () => rdocs.trash(doc.id)],
      ['empty the trash', () => rdocs.emptyTrash()],
      ['record a generation', () => rgens.record(generation(doc.id))],
      ['accept a generation', () => rgens.accept(gid, 0)],
    ];
    for (const [what, write] of writes) {
      const e = caught(write);
      expect([what, e.code, e.message]).toEqual([what, 'storage_error', expect.stringMatching(/read-only/)]);
    }
    expect(rdocs.open(doc.id)).toEqual(saved);
    expect(rdocs.listRevisions(doc.id)).toEqual(revisions);
    expect(rgens.get(gid).accepted).toBeNull();
  });
});
