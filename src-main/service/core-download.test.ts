/**
 * models.catalogue / models.download / models.discardDownload through the core, against a local
 * server that behaves like the Hugging Face Hub (engine/fake-hub.ts: resolve URLs, a redirect to a
 * "CDN" port, LFS headers, Range, faults), with a synthetic checkpoint in the official layout: a
 * tiny network with GPT-2's vocabulary, whose graph template lives in
 * models/fixtures/templates/sedd-hub-tiny (made by models/tools/make_templates.py --config from
 * the same configuration). Real files, a real SQLite library, the real in-process engine.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError, type ApiEvent } from '../common/api';
import { createCore, type Core } from './core';
import { Engine } from '../engine/engine';
import { startFakeHub, type FakeHub } from '../engine/model/fake-hub';
import { writeSyntheticCheckpoint, HUB_TINY_NETWORK } from '../engine/model/synthetic-checkpoint';
import { appRoot } from '../platform/paths';

const ROOT = appRoot();
/** The network of models/fixtures/templates/sedd-hub-tiny. */
const HUB_TINY = HUB_TINY_NETWORK;

let hub: FakeHub;
let checkpoint: string;
const temps: string[] = [];

function temp(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  temps.push(d);
  return d;
}

function makeCore(env: NodeJS.ProcessEnv = { HF_ENDPOINT: hub.endpoint }): { core: Core; dataDir: string } {
  const dataDir = temp('lacuna-download-');
  const core = createCore({
    dataDir,
    modelDirs: [join(ROOT, 'models'), join(dataDir, 'models'), join(ROOT, 'models', 'fixtures')],
    front: 'test',
    version: '0.0.0',
    engine: new Engine(),
    env,
  });
  return { core, dataDir };
}

async function failure(p: Promise<unknown>): Promise<ApiError> {
  try {
    await p;
  } catch (err) {
    return ApiError.from(err);
  }
  throw new Error('expected a failure');
}

beforeAll(async () => {
  checkpoint = temp('lacuna-hub-tiny-');
  await writeSyntheticCheckpoint(checkpoint, { network: HUB_TINY, name: 'hub-tiny', length: 128 });
  const files = { 'config.json': { path: join(checkpoint, 'config.json') }, 'model.safetensors': { path: join(checkpoint, 'model.safetensors') } };
  hub = await startFakeHub({
    repos: {
      'louaaron/sedd-small': { files },
      'louaaron/sedd-medium': { files: { ...files, 'model.safetensors': { ...files['model.safetensors'], fault: { corrupt: true } } } },
    },
  });
});

afterAll(async () => {
  await hub?.close();
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});

describe('model download', () => {
  it('lists the catalogue without touching the network', async () => {
    const { core } = makeCore();
    try {
      const seen = hub.requests.length;
      const entries = await core.call('models.catalogue', {});
      expect(entries.map((e) => e.id)).toEqual(['sedd-small', 'sedd-medium', 'mdlm-owt']);
      for (const e of entries) {
        expect(e.host).toBe(new URL(hub.endpoint).host);
        expect(e).toMatchObject({ installed: [], revision: 'main' });
        expect(e.partial).toBeUndefined();
        expect(e.downloadBytes).toBeGreaterThan(600_000_000);
      }
      expect(hub.requests.length).toBe(seen);
      // Without HF_ENDPOINT the host is the Hub's.
      const plain = makeCore({});
      expect((await plain.core.call('models.catalogue', {}))[0]!.host).toBe('huggingface.co');
      await plain.core.close();
    } finally {
      await core.close();
    }
  });

  it('downloads with progress, cancels keeping what arrived, resumes with Range, installs, and fills', async () => {
    const { core, dataDir } = makeCore();
    const events: Extract<ApiEvent, { type: 'download.progress' }>[] = [];
    core.onEvent((e) => {
      if (e.type === 'download.progress') events.push(e);
    });
    try {
      hub.setFault('louaaron/sedd-small', 'model.safetensors', { throttleBytesPerSecond: 2_000_000 });
      const first = core.call('models.download', { requestId: 'dl-1', id: 'sedd-small' });
      // Cancel once a good part of the weights arrived.
      await expect
        .poll(() => events.some((e) => e.requestId === 'dl-1' && e.phase === 'downloading' && e.bytesDone > 1_500_000), { timeout: 30_000, interval: 50 })
        .toBe(true);
      expect((await core.call('models.catalogue', {}))[0]!.running).toBe('dl-1');
      await core.call('fill.cancel', { requestId: 'dl-1' });
      expect((await failure(first)).code).toBe('cancelled');

      // Nothing installed, nothing half-written among the models; what arrived is kept.
      expect((await core.call('models.list', {})).map((m) => m.id)).not.toContain('sedd-small');
      expect(existsSync(join(dataDir, 'models', 'sedd-small'))).toBe(false);
      const paused = (await core.call('models.catalogue', {}))[0]!;
      expect(paused.running).toBeUndefined();
      expect(paused.partial!.bytesDone).toBeGreaterThan(1_500_000);
      expect(paused.partial!.bytesTotal).toBe(hub.sizeOf('louaaron/sedd-small', 'model.safetensors') + hub.sizeOf('louaaron/sedd-small', 'config.json'));

      // Resume: the weights continue from where they stopped.
      hub.setFault('louaaron/sedd-small', 'model.safetensors', undefined);
      const before = hub.requests.length;
      const info = await core.call('models.download', { requestId: 'dl-2', id: 'sedd-small' });
      const ranges = hub.requests
        .slice(before)
        .filter((r) => r.server === 'cdn' && r.method === 'GET')
        .map((r) => r.range);
      expect(ranges).toHaveLength(1);
      expect(Number(/^bytes=(\d+)-$/.exec(ranges[0] ?? '')?.[1])).toBeGreaterThanOrEqual(paused.partial!.bytesDone - 1_000_000);
      // No GPU here: the default precision is int8 (precision.ts), installed as sedd-small-int8.
      expect(info).toMatchObject({ id: 'sedd-small-int8', removable: true, demo: false, vocabSize: 50258 });

      // Progress: checking, then downloading with growing bytes, then installing.
      const mine = events.filter((e) => e.requestId === 'dl-2');
      expect(mine[0]!.phase).toBe('checking');
      expect(mine.at(-1)!.phase).toBe('installing');
      const bytes = mine.filter((e) => e.phase === 'downloading').map((e) => e.bytesDone);
      expect(bytes.length).toBeGreaterThan(0);
      expect(bytes).toEqual([...bytes].sort((a, b) => a - b));
      expect(bytes.at(-1)).toBe(paused.partial!.bytesTotal);

      // Installed, the staging folder gone, and it fills.
      const entry = (await core.call('models.catalogue', {}))[0]!;
      expect(entry.installed).toEqual(['sedd-small-int8']);
      expect(entry.partial).toBeUndefined();
      expect(readdirSync(join(dataDir, 'downloads'))).toEqual([]);
      expect((await core.call('models.verify', { id: 'sedd-small-int8' })).ok).toBe(true);
      const fill = await core.call('fill.run', { requestId: 'f-1', text: 'The keeper {{4}} the lamp.', model: 'sedd-small-int8', steps: 4, seed: 1 });
      expect(fill.fills).toHaveLength(1);
      expect(fill.model).toBe('sedd-small-int8');

      // A second download of an installed model is refused; another precision is not.
      expect((await failure(core.call('models.download', { requestId: 'dl-3', id: 'sedd-small' }))).message).toBe('sedd-small-int8 is already installed');
      const fp32 = await core.call('models.download', { requestId: 'dl-4', id: 'sedd-small', precision: 'fp32' });
      expect(fp32.id).toBe('sedd-small');
      expect((await core.call('models.catalogue', {}))[0]!.installed).toEqual(['sedd-small-int8', 'sedd-small']);
    } finally {
      await core.close();
    }
  });

  it('refuses a damaged download and leaves the library as it was', async () => {
    const { core, dataDir } = makeCore();
    try {
      const err = await failure(core.call('models.download', { requestId: 'dl-bad', id: 'sedd-medium' }));
      expect(err.code).toBe('model_error');
      expect(err.message).toMatch(/SHA-256/);
      expect((await core.call('models.list', {})).map((m) => m.id)).not.toContain('sedd-medium');
      expect(existsSync(join(dataDir, 'models', 'sedd-medium'))).toBe(false);
      // The damaged file is not kept for a resume.
      expect((await core.call('models.catalogue', {}))[1]!.partial).toBeUndefined();
    } finally {
      await core.close();
    }
  });

  it('says in one sentence why a download cannot start: unknown entry, missing repository, offline', async () => {
    const { core } = makeCore();
    try {
      expect(await failure(core.call('models.download', { requestId: 'x-1', id: 'gpt-5' }))).toMatchObject({ code: 'not_found' });
      const missing = await failure(core.call('models.download', { requestId: 'x-2', id: 'mdlm-owt' }));
      expect(missing.code).toBe('not_found');
      expect(missing.message).toMatch(/kuleshov-group\/mdlm-owt/);
      const offline = makeCore({ HF_ENDPOINT: 'http://127.0.0.1:9' });
      const err = await failure(offline.core.call('models.download', { requestId: 'x-3', id: 'sedd-small' }));
      expect(err.code).toBe('network_error');
      expect(err.message.split('. ').length).toBeLessThanOrEqual(2);
      await offline.core.close();
      expect(await failure(core.call('models.download', { requestId: 'x-4', id: 'sedd-small', precision: 'fp8' as 'fp32' }))).toMatchObject({
        code: 'bad_request',
      });
    } finally {
      await core.close();
    }
  });

  it('discards a paused download', async () => {
    const { core, dataDir } = makeCore();
    const events: ApiEvent[] = [];
    core.onEvent((e) => events.push(e));
    try {
      hub.setFault('louaaron/sedd-small', 'model.safetensors', { throttleBytesPerSecond: 1_000_000 });
      const run = core.call('models.download', { requestId: 'dl-d', id: 'sedd-small' });
      await expect.poll(() => events.some((e) => e.type === 'download.progress' && e.bytesDone > 200_000), { timeout: 30_000, interval: 50 }).toBe(true);
      expect((await failure(core.call('models.discardDownload', { id: 'sedd-small' }))).code).toBe('conflict');
      await core.call('fill.cancel', { requestId: 'dl-d' });
      await failure(run);
      expect((await core.call('models.catalogue', {}))[0]!.partial).toBeDefined();
      await core.call('models.discardDownload', { id: 'sedd-small' });
      expect((await core.call('models.catalogue', {}))[0]!.partial).toBeUndefined();
      expect(existsSync(join(dataDir, 'downloads', 'sedd-small'))).toBe(false);
    } finally {
      hub.setFault('louaaron/sedd-small', 'model.safetensors', undefined);
      await core.close();
    }
  });
});
