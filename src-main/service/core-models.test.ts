/**
 * The model manager's API through the core: models.list details, models.import / verify / remove,
 * with the synthetic official-layout checkpoint (models/tests/import-fixture) and the tiny fixture.
 */
import { cpSync, mkdirSync, mkdtempSync, openSync, readdirSync, rmSync, symlinkSync, writeSync, closeSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ModelInfo, ModelVerification } from '../common/api';
import { createCore, type Core } from './core';
import { Engine } from '../engine/engine';
import { appRoot } from '../platform/paths';
import { rejection } from '../platform/test-support';

const ROOT = appRoot();
const FIXTURE = join(ROOT, 'models', 'fixtures', 'tiny-fixture');
const IMPORT_FIXTURE = join(ROOT, 'models', 'tests', 'import-fixture');

let dir: string;
let core: Core;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'lacuna-models-api-'));
  const bundled = join(dir, 'bundled');
  mkdirSync(bundled);
  symlinkSync(FIXTURE, join(bundled, 'tiny-fixture'));
  cpSync(join(IMPORT_FIXTURE, 'templates'), join(bundled, 'templates'), { recursive: true });
  const data = join(dir, 'data');
  core = createCore({
    dataDir: data,
    modelDirs: [bundled, join(data, 'models')],
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

describe('models API', () => {
  it('lists size, files and whether a model can be removed', async () => {
    const [m] = await core.call('models.list', {});
    const info = ModelInfo.parse(m);
    expect(info.id).toBe('tiny-fixture');
    expect(info.removable).toBe(false);
    expect(info.timeConditioned).toBe(true);
    expect(info.files.map((f) => f.name).sort()).toEqual(['model.onnx', 'tokenizer.json']);
    expect(info.bytes).toBe(statSync(join(FIXTURE, 'model.onnx')).size + statSync(join(FIXTURE, 'tokenizer.json')).size);
    for (const f of info.files) expect(f.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('verifies an imported model, finds a corrupted byte, and removes it', async () => {
    const imported = await core.call('models.import', { dir: join(IMPORT_FIXTURE, 'checkpoint') });
    expect(imported.removable).toBe(true);
    const good = ModelVerification.parse(await core.call('models.verify', { id: imported.id }));
    expect(good).toMatchObject({ id: imported.id, ok: true, problems: [], bytes: imported.bytes });

    // Same size, one byte changed: only hashing finds it; loading refuses it too.
    const weights = join(imported.dir, 'weights.bin');
    const fd = openSync(weights, 'r+');
    writeSync(fd, Buffer.from([0x5a]), 0, 1, Math.floor(statSync(weights).size / 2));
    closeSync(fd);
    const bad = await core.call('models.verify', { id: imported.id });
    expect(bad.ok).toBe(false);
    expect(bad.problems).toEqual(['weights.bin: sha256 mismatch (the file is corrupt)']);
    const fill = await rejection(core.call('fill.run', { requestId: 'r1', text: 'a ____ b', model: imported.id, steps: 2 }));
    expect(fill.code).toBe('model_error');
    expect(fill.message).toMatch(/weights\.bin is corrupt/);

    await core.call('models.remove', { id: imported.id });
    expect((await core.call('models.list', {})).map((m) => m.id)).toEqual(['tiny-fixture']);
    expect(readdirSync(join(dir, 'data', 'models'))).toEqual([]);

    // Imported again, it fills (the engine loads the new files, not its cached view of the old ones).
    const again = await core.call('models.import', { dir: join(IMPORT_FIXTURE, 'checkpoint') });
    const ok = await core.call('fill.run', { requestId: 'r2', text: 'a ____ b', model: again.id, steps: 2, seed: 1 });
    expect(ok.fills).toHaveLength(1);
  });

  it('refuses to remove a bundled model or an unknown one', async () => {
    const e1 = await rejection(core.call('models.remove', { id: 'tiny-fixture' }));
    expect(e1.code).toBe('bad_request');
    expect(e1.message).toBe('model "tiny-fixture" comes with Lacuna and cannot be removed');
    expect((await core.call('models.list', {})).map((m) => m.id)).toEqual(['tiny-fixture']);
    const e2 = await rejection(core.call('models.verify', { id: 'nope' }));
    expect(e2.code).toBe('not_found');
    const e3 = await rejection(core.call('models.remove', { id: 'nope' }));
    expect(e3.code).toBe('not_found');
  });
});
