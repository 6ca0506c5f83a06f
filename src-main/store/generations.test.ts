/** Generation records (store/generations.ts) through the core, with the real tiny fixture model. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FillResult, Generation, GenerationSummary } from '../common/api';
import type { ApiError } from '../common/api';
import { createCore, type Core } from '../service/core';
import { Engine } from '../engine/engine';
import { appRoot } from '../platform/paths';
import { closeDatabase, openDatabase } from './database';

const FIXTURE = join(appRoot(), 'models', 'fixtures', 'tiny-fixture');

let dir: string;
let core: Core;

beforeEach(() => {
  if (!existsSync(join(FIXTURE, 'manifest.json'))) throw new Error(`the test model ${FIXTURE} is missing`);
  dir = mkdtempSync(join(tmpdir(), 'lacuna-generations-'));
  mkdirSync(join(dir, 'models'));
  symlinkSync(FIXTURE, join(dir, 'models', 'tiny-fixture'));
  core = createCore({
    dataDir: join(dir, 'data'),
    modelDirs: [join(dir, 'models')],
    defaultModel: 'tiny-fixture',
    front: 'test',
    version: '0.0.0',
    engine: new Engine({ threads: 1 }),
  });
});

afterEach(async () => {
  await core.close();
  rmSync(dir, { recursive: true, force: true });
});

const TEXT = 'The lighthouse ____ and the {{4}} sea.';

describe('generation records', () => {
  it('records a fill for a document with its settings, input and every alternative', async () => {
    const doc = await core.call('documents.create', { title: 'Sea', body: TEXT });
    const before = Date.now();
    const result = FillResult.parse(
      await core.call('fill.run', {
        requestId: 'g1',
        text: TEXT,
        steps: 3,
        seed: 7,
        alternatives: 3,
        mode: 'fast',
        temperature: 0.8,
        topP: 0.9,
        unmasking: 'confident',
        documentId: doc.id,
      }),
    );
    expect(result.temperature).toBe(0.8);
    expect(result.generationId).toBeGreaterThan(0);
    const g = Generation.parse(await core.call('generations.get', { generationId: result.generationId! }));
    expect(g).toMatchObject({
      generationId: result.generationId,
      documentId: doc.id,
      model: 'tiny-fixture',
      seed: 7,
      steps: 3,
      sampler: 'analytic',
      temperature: 0.8,
      topP: 0.9,
      unmasking: 'confident',
      device: result.device,
      mode: 'fast',
      durationMs: result.durationMs,
      networkCalls: result.networkCalls,
      inputText: TEXT,
      alternativeCount: 3,
      accepted: null,
    });
    expect(g.createdAt).toBeGreaterThanOrEqual(before);
    expect(g.alternatives).toEqual(result.alternatives);
    expect(g.alternatives).toHaveLength(3);
    // Ranked and with the lengths each blank got (the auto blank's chosen, the {{4}} exact).
    expect(g.alternatives.every((a) => Number.isFinite(a.nll) && a.lengths?.[1] === 4 && [4, 8, 16, 32].includes(a.lengths[0]!))).toBe(true);
    expect(g.alternatives.every((a) => a.fills.length === 2)).toBe(true);

    // A second fill (default mode), listed first; summaries carry no texts beyond the preview.
    const second = await core.call('fill.run', { requestId: 'g2', text: TEXT, steps: 2, seed: 8, documentId: doc.id });
    const list = (await core.call('generations.list', { id: doc.id })).map((s) => GenerationSummary.parse(s));
    expect(list.map((s) => s.generationId)).toEqual([second.generationId, result.generationId]);
    expect(list[0]).toMatchObject({ mode: 'exact', alternativeCount: 1, preview: TEXT, seed: 8, topP: 1, unmasking: 'random' });
    expect(list[0]).not.toHaveProperty('alternatives');

    // Accepting an alternative.
    expect(await core.call('generations.accept', { generationId: result.generationId!, alternative: 2 })).toMatchObject({ accepted: 2 });
    expect((await core.call('generations.get', { generationId: result.generationId! })).accepted).toBe(2);
    await expect(core.call('generations.accept', { generationId: second.generationId!, alternative: 1 })).rejects.toMatchObject({
      code: 'bad_request',
    });
    await expect(core.call('generations.get', { generationId: 999_999 })).rejects.toMatchObject({ code: 'not_found' });
    await expect(core.call('generations.list', { id: 'f'.repeat(32) })).rejects.toMatchObject({ code: 'not_found' });
  });

  it('records nothing for a fill without a document, and refuses an unknown document before filling', async () => {
    const plain = await core.call('fill.run', { requestId: 'p', text: TEXT, steps: 2 });
    expect(plain.generationId).toBeUndefined();
    const e = await core.call('fill.run', { requestId: 'u', text: TEXT, steps: 2, documentId: 'e'.repeat(32) }).catch((err: ApiError) => err);
    expect(e).toMatchObject({ code: 'not_found' });
  });

  it('records nothing for a cancelled or failed fill', async () => {
    const doc = await core.call('documents.create', { title: 'c', body: '' });
    let first!: () => void;
    const started = new Promise<void>((r) => (first = r));
    core.onEvent((ev) => {
      if (ev.requestId === 'long') first();
    });
    const running = core.call('fill.run', { requestId: 'long', text: 'a ____ b', steps: 4096, seed: 1, documentId: doc.id });
    const outcome = running.then(
      () => 'resolved',
      (err: ApiError) => err.code,
    );
    await started;
    await core.call('fill.cancel', { requestId: 'long' });
    expect(await outcome).toBe('cancelled');
    // Cancelled before the engine had it.
    const early = core.call('fill.run', { requestId: 'early', text: 'a ____ b', steps: 4, documentId: doc.id });
    await core.call('fill.cancel', { requestId: 'early' });
    await expect(early).rejects.toMatchObject({ code: 'cancelled' });
    // Failed (no blank).
    await expect(core.call('fill.run', { requestId: 'bad', text: 'no blank', documentId: doc.id })).rejects.toMatchObject({ code: 'bad_request' });
    expect(await core.call('generations.list', { id: doc.id })).toEqual([]);
  });

  it('deletes a document’s records with it when the trash is emptied', async () => {
    const keep = await core.call('documents.create', { title: 'keep', body: TEXT });
    const gone = await core.call('documents.create', { title: 'gone', body: TEXT });
    const k = await core.call('fill.run', { requestId: 'k', text: TEXT, steps: 2, documentId: keep.id });
    const g = await core.call('fill.run', { requestId: 'g', text: TEXT, steps: 2, alternatives: 2, documentId: gone.id });
    await core.call('documents.trash', { id: gone.id });
    // Trashed, not deleted: the records stay.
    expect((await core.call('generations.get', { generationId: g.generationId! })).documentId).toBe(gone.id);
    expect(await core.call('documents.emptyTrash', {})).toEqual({ deleted: 1 });
    await expect(core.call('generations.get', { generationId: g.generationId! })).rejects.toMatchObject({ code: 'not_found' });
    expect((await core.call('generations.list', { id: keep.id })).map((s) => s.generationId)).toEqual([k.generationId]);
    await core.close();
    const db = openDatabase({ dataDir: join(dir, 'data') });
    try {
      expect(db.prepare('SELECT document_id FROM generations').all()).toEqual([{ document_id: keep.id }]);
    } finally {
      closeDatabase(db);
    }
  });
});
