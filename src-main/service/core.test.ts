import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiError, AppInfo, Document, DocumentSummary, FillResult, ModelInfo } from '../common/api';
import type { ApiEvent, Method, Params } from '../common/api';
import { createCore, type Core, type CoreOptions } from './core';
import { Engine } from '../engine/engine';
import { appRoot } from '../platform/paths';
import { rejection as rejectionOf } from '../platform/test-support';

const FIXTURE = join(appRoot(), 'models', 'fixtures', 'tiny-fixture');

let dir: string;
/** A models folder holding only the test model, so these tests do not depend on what else is installed. */
let models: string;
const cores: Core[] = [];

beforeEach(() => {
  if (!existsSync(join(FIXTURE, 'manifest.json'))) throw new Error(`the test model ${FIXTURE} is missing`);
  dir = mkdtempSync(join(tmpdir(), 'lacuna-core-'));
  models = join(dir, 'models');
  mkdirSync(models);
  symlinkSync(FIXTURE, join(models, 'tiny-fixture'));
});

afterEach(async () => {
  for (const c of cores.splice(0)) await c.close();
  rmSync(dir, { recursive: true, force: true });
});

function make(overrides: Partial<CoreOptions> = {}): Core {
  const core = createCore({
    dataDir: join(dir, 'data'),
    modelDirs: [models],
    defaultModel: 'tiny-fixture',
    front: 'test',
    version: '9.9.9',
    // In-process: these tests are about the core, not the process boundary (web-main.test.ts
    // runs the default EngineClient through the built web mode).
    engine: new Engine({ threads: 1 }),
    ...overrides,
  });
  cores.push(core);
  return core;
}

function rejection<M extends Method>(c: Core, method: M, params: Params<M>): Promise<ApiError> {
  return rejectionOf(c.call(method, params));
}

describe('core', () => {
  it('answers app.info and opens the library only when documents are used', async () => {
    const c = make();
    const info = await c.call('app.info', {});
    expect(AppInfo.parse(info)).toEqual({ version: '9.9.9', dataDir: join(dir, 'data'), defaultModel: 'tiny-fixture', front: 'test' });
    expect(existsSync(join(dir, 'data'))).toBe(false);
    expect(await c.call('documents.list', {})).toEqual([]);
    expect(existsSync(join(dir, 'data', 'lacuna.db'))).toBe(true);
  });

  it("answers bad paths and broken files with a sentence, never Node's text or the file's contents (issue 16)", async () => {
    const c = make();
    await c.call('documents.create', { title: 'a', body: 'b' });
    const nul = await rejection(c, 'library.backup', { file: join(dir, 'a\u0000b.db') });
    expect([nul.code, nul.message]).toEqual(['bad_request', expect.stringMatching(/a path cannot contain a NUL character/)]);
    const long = await rejection(c, 'library.backup', { file: join(dir, `${'n'.repeat(300)}.db`) });
    expect([long.code, long.message]).toEqual(['bad_request', 'a file name or path is too long for this computer']);
    // A checkpoint whose config.json is not JSON: the error says where, never what.
    const ckpt = join(dir, 'ckpt');
    mkdirSync(ckpt);
    writeFileSync(join(ckpt, 'config.json'), 'SECRET-API-KEY-12345 {');
    writeFileSync(join(ckpt, 'model.safetensors'), '');
    const broken = await rejection(c, 'models.import', { dir: ckpt });
    expect(broken.message).toMatch(/config\.json is not valid JSON \(at line 1, column 1\)/);
    expect(broken.message).not.toMatch(/SECRET/);
  });

  it('rejects bad params with bad_request naming the field', async () => {
    const c = make();
    const e1 = await rejection(c, 'documents.open', { id: 'nope' });
    expect(e1.code).toBe('bad_request');
    expect(e1.message).toMatch(/^documents\.open: id: /);
    const e2 = await rejection(c, 'fill.run', { requestId: 'r', text: 'a ____', steps: 0 });
    expect(e2.code).toBe('bad_request');
    expect(e2.message).toContain('steps');
    const e3 = await rejection(c, 'app.info', { extra: 1 } as never);
    expect(e3.code).toBe('bad_request');
    const e4 = await rejection(c, 'documents.list', 'not an object' as never);
    expect(e4.code).toBe('bad_request');
  });

  it('rejects an unknown method with not_found', async () => {
    const e = await rejection(make(), 'nope.nothing' as Method, {} as never);
    expect(e.code).toBe('not_found');
    expect(e.message).toContain('nope.nothing');
  });

  it('creates, lists, opens and saves documents with conflict detection', async () => {
    const c = make();
    const doc = Document.parse(await c.call('documents.create', { title: 'Draft', body: 'The ____ sat.' }));
    expect(doc.revision).toBe(0);
    const list = await c.call('documents.list', {});
    expect(list.map((d) => DocumentSummary.parse(d).id)).toEqual([doc.id]);
    expect(list[0]!.preview).toBe('The ____ sat.');
    expect(await c.call('documents.open', { id: doc.id })).toEqual(doc);
    const saved = await c.call('documents.save', { id: doc.id, title: 'Draft', body: 'The cat sat.', baseRevision: 0 });
    expect(saved.revision).toBe(1);
    const conflict = await rejection(c, 'documents.save', { id: doc.id, title: 'x', body: 'y', baseRevision: 0 });
    expect(conflict.code).toBe('conflict');
    expect((await rejection(c, 'documents.open', { id: '0'.repeat(32) })).code).toBe('not_found');
  });

  it('reports an unusable data folder as storage_error and keeps working otherwise', async () => {
    const blocker = join(dir, 'file');
    writeFileSync(blocker, 'in the way');
    const c = make({ dataDir: join(blocker, 'data') });
    const e = await rejection(c, 'documents.list', {});
    expect(e.code).toBe('storage_error');
    expect((await c.call('app.info', {})).front).toBe('test');
    expect((await c.call('models.list', {})).map((m) => m.id)).toContain('tiny-fixture');
  });

  it('lists the models with the default flagged', async () => {
    const list = await make().call('models.list', {});
    expect(list.map((m) => ModelInfo.parse(m))).toEqual([
      expect.objectContaining({ id: 'tiny-fixture', dir: join(models, 'tiny-fixture'), isDefault: true, graph: 'absorb', vocabSize: 512 }),
    ]);
  });

  it('lists explicit model packages before the scanned folders', async () => {
    const c = make({ modelDirs: [join(dir, 'no-models-here')], modelPackages: [FIXTURE] });
    expect((await c.call('models.list', {})).map((m) => [m.id, m.dir, m.isDefault])).toEqual([['tiny-fixture', FIXTURE, true]]);
    // An explicit package wins an id clash with a scanned one.
    const both = make({ modelPackages: [FIXTURE] });
    expect((await both.call('models.list', {})).map((m) => m.dir)).toEqual([FIXTURE]);
  });

  it('runs a fill with the default model and emits progress events', async () => {
    const c = make();
    const events: ApiEvent[] = [];
    const other: ApiEvent[] = [];
    c.onEvent((e) => events.push(e));
    const off = c.onEvent((e) => other.push(e));
    off();
    c.onEvent(() => {
      throw new Error('a broken listener');
    });
    const text = 'Once upon a time {{12}} and then {{5}} the end.';
    const result = FillResult.parse(await c.call('fill.run', { requestId: 'r1', text, steps: 6, seed: 42 }));
    expect(result).toMatchObject({ requestId: 'r1', model: 'tiny-fixture', steps: 6, seed: 42 });
    expect(result.fills).toHaveLength(2);
    expect(result.text.startsWith('Once upon a time ')).toBe(true);
    expect(result.text.endsWith(' the end.')).toBe(true);
    expect(result.text).not.toContain('{{');

    const mine = events.filter((e) => e.requestId === 'r1').filter((e) => e.type === 'fill.progress');
    expect(mine.map((e) => e.step)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(mine.every((e) => e.type === 'fill.progress' && e.steps === 6)).toBe(true);
    expect(mine.at(-1)!.masked).toBe(0);
    expect(other).toEqual([]);

    // Same seed, same fill.
    const again = await c.call('fill.run', { requestId: 'r2', text, steps: 6, seed: 42 });
    expect(again.text).toBe(result.text);
  });

  it('names the available models when the model is unknown', async () => {
    const e = await rejection(make(), 'fill.run', { requestId: 'r', text: 'a ____', model: 'no-such-model' });
    expect(e.code).toBe('not_found');
    expect(e.message).toContain('no-such-model');
    expect(e.message).toContain('available: tiny-fixture');
    expect(e.message).not.toContain('lacuna-mini'); // only what is in this core's folders
  });

  it('reports a missing default model as not_found', async () => {
    const e = await rejection(make({ modelDirs: [join(dir, 'empty')] }), 'fill.run', { requestId: 'r', text: 'a ____' });
    expect(e.code).toBe('not_found');
    expect(e.message).toMatch(/no model is installed/);
  });

  it('passes engine errors through (no blank → bad_request)', async () => {
    const e = await rejection(make(), 'fill.run', { requestId: 'r', text: 'no blank here' });
    expect(e.code).toBe('bad_request');
  });

  it('cancels a running fill, and refuses a duplicate request id meanwhile', async () => {
    const c = make();
    let resolveFirst!: () => void;
    const firstStep = new Promise<void>((r) => (resolveFirst = r));
    c.onEvent((e) => {
      if (e.requestId === 'long') resolveFirst();
    });
    const running = c.call('fill.run', { requestId: 'long', text: 'a ____ b', steps: 4096, seed: 1 });
    const outcome = running.then(
      () => 'resolved',
      (err: unknown) => (err as ApiError).code,
    );
    await firstStep;
    const dup = await rejection(c, 'fill.run', { requestId: 'long', text: 'a ____ b' });
    expect(dup.code).toBe('bad_request');
    expect(await c.call('fill.cancel', { requestId: 'long' })).toEqual({ ok: true });
    expect(await outcome).toBe('cancelled');
    // Cancelling something unknown is a no-op.
    expect(await c.call('fill.cancel', { requestId: 'never-started' })).toEqual({ ok: true });
  });

  it('cancels a queued score.run by its requestId with fill.cancel', async () => {
    const c = make();
    let resolveFirst!: () => void;
    const firstStep = new Promise<void>((r) => (resolveFirst = r));
    c.onEvent((e) => {
      if (e.requestId === 'busy') resolveFirst();
    });
    // A long fill holds the engine, so the score waits in its queue.
    const fill = c.call('fill.run', { requestId: 'busy', text: 'a ____ b', steps: 4096, seed: 1 }).catch((err: unknown) => (err as ApiError).code);
    await firstStep;
    const score = c.call('score.run', { requestId: 'sc', text: 'The tide came in.', draws: 4, seed: 3 }).then(
      () => 'resolved',
      (err: unknown) => (err as ApiError).code,
    );
    expect(await c.call('fill.cancel', { requestId: 'sc' })).toEqual({ ok: true });
    expect(await c.call('fill.cancel', { requestId: 'busy' })).toEqual({ ok: true });
    expect(await fill).toBe('cancelled');
    expect(await score).toBe('cancelled');
  });

  it('cancels a fill cancelled before the engine has it (while the model is being resolved)', async () => {
    const c = make();
    const events: ApiEvent[] = [];
    c.onEvent((e) => events.push(e));
    const running = c.call('fill.run', { requestId: 'early', text: 'a ____ b', steps: 8 });
    const cancelled = c.call('fill.cancel', { requestId: 'early' });
    await expect(running).rejects.toMatchObject({ code: 'cancelled' });
    expect(await cancelled).toEqual({ ok: true });
    expect(events).toEqual([]);
    // The id is free again.
    expect((await c.call('fill.run', { requestId: 'early', text: 'a ____ b', steps: 2 })).steps).toBe(2);
  });

  it('closes the engine and the database, and refuses calls afterwards', async () => {
    const c = make();
    await c.call('documents.create', {});
    await c.close();
    await c.close();
    expect((await rejection(c, 'app.info', {})).code).toBe('internal');
  });
});
