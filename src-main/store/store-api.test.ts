/** The store's API methods through the core's dispatch (validation on the way in and out). */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCore, type Core } from '../service/core';
import { rejection } from '../platform/test-support';

let dir: string;
let core: Core;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'lacuna-store-api-'));
  // The default engine starts no process until a fill; these calls never fill.
  core = createCore({ dataDir: join(dir, 'data'), modelDirs: [], front: 'test', version: '0.0.0' });
});

afterEach(async () => {
  await core.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('store API', () => {
  it('revisions: list, get, restore; save with snapshot', async () => {
    const d = await core.call('documents.create', { title: 'T', body: 'one' });
    await core.call('documents.save', { id: d.id, title: 'T', body: 'two', baseRevision: 0 });
    await core.call('documents.save', { id: d.id, title: 'T', body: 'three ____', baseRevision: 1, snapshot: 'before-fill' });
    const list = await core.call('revisions.list', { id: d.id });
    expect(list.map((r) => [r.reason, r.preview])).toEqual([
      ['before-fill', 'three ____'],
      ['autosave-rhythm', 'two'],
    ]);
    expect(await core.call('revisions.get', { revisionId: list[1]!.revisionId })).toMatchObject({ body: 'two', documentId: d.id });
    const restored = await core.call('revisions.restore', { revisionId: list[1]!.revisionId, baseRevision: 2 });
    expect(restored).toMatchObject({ body: 'two', revision: 3 });
    expect((await rejection(core.call('revisions.restore', { revisionId: list[1]!.revisionId, baseRevision: 2 }))).code).toBe('conflict');
    expect((await rejection(core.call('revisions.get', { revisionId: 0 }))).code).toBe('bad_request');
    expect((await rejection(core.call('documents.save', { id: d.id, title: '', body: '', snapshot: 'restore' as never }))).code).toBe('bad_request');
  });

  it('revisions.diff: a word-level diff from a revision to the current text', async () => {
    const d = await core.call('documents.create', { title: 'T', body: 'The keeper climbed the stairs.' });
    const saved = await core.call('documents.save', { id: d.id, title: 'T2', body: 'The keeper ____ the stairs.', baseRevision: 0, snapshot: 'manual' });
    await core.call('documents.save', { id: d.id, title: 'T2', body: 'The keeper descended the stairs.', baseRevision: saved.revision });
    const list = await core.call('revisions.list', { id: d.id });
    const manual = list.find((r) => r.reason === 'manual')!;
    const diff = await core.call('revisions.diff', { revisionId: manual.revisionId });
    expect(diff).toEqual({
      revisionId: manual.revisionId,
      currentRevision: 2,
      titleChanged: false,
      ops: [
        { op: 'equal', text: 'The keeper ' },
        { op: 'delete', text: '____' },
        { op: 'insert', text: 'descended' },
        { op: 'equal', text: ' the stairs.' },
      ],
    });
    expect((await rejection(core.call('revisions.diff', { revisionId: 999 }))).code).toBe('not_found');
  });

  it('revisions.diff compares the text as the writer sees it: the alternative on screen, line breaks, no markup', async () => {
    // One stored body, three times: the filled blank shows another alternative each time.
    const body = 'The keeper {{16}} every night.\\\nThe ships passed.';
    const rich = (chosen: number) =>
      JSON.stringify({
        type: 'doc',
        content: [
          {
            type: 'paragraph',
            content: [
              { type: 'text', text: 'The keeper ' },
              { type: 'blank', attrs: { tokens: 16, status: 'filled', alternatives: ['lit the lamp', 'slept'], chosen, ranked: true, generationId: null } },
              { type: 'text', text: ' every night.' },
              { type: 'hard_break' },
              { type: 'text', text: 'The ships passed.' },
            ],
          },
        ],
      });
    const d = await core.call('documents.create', { title: 'K', body, richText: rich(0) });
    await core.call('documents.save', { id: d.id, title: 'K', body, richText: rich(0), baseRevision: 0, snapshot: 'manual' });
    await core.call('documents.save', { id: d.id, title: 'K', body, richText: rich(1), baseRevision: 1, snapshot: 'manual' });
    const [now, before] = await core.call('revisions.list', { id: d.id });
    expect([now!.preview, before!.preview]).toEqual([
      'The keeper slept every night. The ships passed.',
      'The keeper lit the lamp every night. The ships passed.',
    ]);
    const diff = await core.call('revisions.diff', { revisionId: before!.revisionId });
    expect(diff.ops).toEqual([
      { op: 'equal', text: 'The keeper ' },
      { op: 'delete', text: 'lit the lamp' },
      { op: 'insert', text: 'slept' },
      { op: 'equal', text: ' every night.\nThe ships passed.' },
    ]);
    // The same stored markup, but not the same text: only the newest revision is the text now.
    expect((await core.call('revisions.diff', { revisionId: now!.revisionId })).ops.every((o) => o.op === 'equal')).toBe(true);
  });

  it('documents carry the optional rich text through create, save and open', async () => {
    const rich = JSON.stringify({ type: 'doc', content: [{ type: 'paragraph' }] });
    const plain = await core.call('documents.create', { title: 'T', body: 'one' });
    expect(plain).not.toHaveProperty('richText');
    const d = await core.call('documents.create', { title: 'T', body: '', richText: rich });
    expect(d.richText).toBe(rich);
    expect(await core.call('documents.open', { id: d.id })).toEqual(d);
    const saved = await core.call('documents.save', { id: d.id, title: 'T', body: 'two', richText: rich, baseRevision: 0 });
    expect(saved).toMatchObject({ body: 'two', richText: rich, revision: 1 });
    const bare = await core.call('documents.save', { id: d.id, title: 'T', body: 'three', baseRevision: 1 });
    expect(bare).not.toHaveProperty('richText');
    expect((await rejection(core.call('documents.save', { id: d.id, title: 'T', body: '', richText: 5 as never }))).code).toBe('bad_request');
  });

  it('search and trash', async () => {
    const d = await core.call('documents.create', { title: 'Harbour', body: 'boats & <script>alert(1)</script>' });
    const hits = await core.call('documents.search', { query: 'script "(' });
    expect(hits.map((h) => h.id)).toEqual([d.id]);
    expect(await core.call('documents.search', { query: 'NEAR(' })).toEqual([]);
    expect(await core.call('documents.trash', { id: d.id })).toEqual({ ok: true });
    expect(await core.call('documents.list', {})).toEqual([]);
    expect(await core.call('documents.search', { query: 'harbour' })).toEqual([]);
    expect((await core.call('documents.listTrash', {})).map((t) => t.id)).toEqual([d.id]);
    expect((await core.call('documents.restore', { id: d.id })).id).toBe(d.id);
    await core.call('documents.trash', { id: d.id });
    expect(await core.call('documents.emptyTrash', {})).toEqual({ deleted: 1 });
    expect((await rejection(core.call('documents.open', { id: d.id }))).code).toBe('not_found');
  });
});
