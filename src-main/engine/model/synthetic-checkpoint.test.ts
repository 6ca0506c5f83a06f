import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { appRoot } from '../../platform/paths';
import { afterEach, describe, expect, it } from 'vitest';
import { startFakeHub } from './fake-hub';
import { downloadHubFiles } from './download';
import { expectedTensors, importModel, parseCheckpointConfig } from './import';
import { verifyModelFiles, type ModelPackage } from './package';
import { SafetensorsFile } from './safetensors';
import { ScoreModel } from '../runtime/score-model';
import { TINY_NETWORK, writeSyntheticCheckpoint } from './synthetic-checkpoint';

const ROOT = appRoot();
const FIXTURE = join(ROOT, 'models/tests/import-fixture');

const temps: string[] = [];
afterEach(async () => {
  for (const d of temps.splice(0)) await rm(d, { recursive: true, force: true });
});
/** The package's network runs on a masked sequence and gives finite scores. */
async function runsFinite(pkg: ModelPackage, length = 16): Promise<void> {
  await verifyModelFiles(pkg);
  const m = pkg.manifest;
  const model = await ScoreModel.load(pkg.networkPath, m.vocab_size, { threads: 1, device: 'cpu' });
  try {
    const ids = BigInt64Array.from({ length }, (_, i) => BigInt(i % 2 ? m.mask_id! : i % 100));
    const out = await model.run(ids, Float32Array.from([1.5]), 1, length);
    expect(out.length).toBe(length * m.vocab_size);
    expect(out.every((v) => Number.isFinite(v))).toBe(true);
  } finally {
    await model.release();
  }
}

async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'lacuna-synthetic-'));
  temps.push(d);
  return d;
}

describe('synthetic checkpoint', () => {
  it('has the official config format and every tensor of the configuration, in state-dict order', async () => {
    const dir = await tempDir();
    const ck = await writeSyntheticCheckpoint(dir, { network: TINY_NETWORK, name: 'tiny', length: 128, tokenizer: join(FIXTURE, 'checkpoint/tokenizer.json') });
    expect(ck.files).toEqual(['config.json', 'model.safetensors', 'tokenizer.json']);
    const config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    const official = JSON.parse(await readFile(join(FIXTURE, 'checkpoint/config.json'), 'utf8')) as Record<string, unknown>;
    expect(Object.keys(config).sort()).toEqual(Object.keys(official).sort());
    expect(Object.keys(config.model as object).sort()).toEqual(Object.keys(official.model as object).sort());
    expect(parseCheckpointConfig(config)).toMatchObject({ network: TINY_NETWORK, tokens: 511, length: 128, name: 'tiny' });

    const file = await SafetensorsFile.open(join(dir, 'model.safetensors'));
    try {
      const expected = expectedTensors(TINY_NETWORK);
      expect([...file.tensors.keys()]).toEqual([...expected.keys()]);
      for (const [name, shape] of expected) expect(file.tensors.get(name)).toMatchObject({ dtype: 'F32', shape });
      expect(file.metadata).toEqual({ format: 'pt' });
    } finally {
      await file.close();
    }
  });

  it('is deterministic for a seed', async () => {
    const a = await tempDir();
    const b = await tempDir();
    await writeSyntheticCheckpoint(a, { network: TINY_NETWORK, seed: 7 });
    await writeSyntheticCheckpoint(b, { network: TINY_NETWORK, seed: 7 });
    expect((await readFile(join(a, 'model.safetensors'))).equals(await readFile(join(b, 'model.safetensors')))).toBe(true);
  });

  it('downloads from the fake hub and imports as a model package', async () => {
    const src = await tempDir();
    await writeSyntheticCheckpoint(src, { network: TINY_NETWORK, name: 'tiny-download', length: 128, tokenizer: join(FIXTURE, 'checkpoint/tokenizer.json') });
    const files = ['config.json', 'model.safetensors', 'tokenizer.json'];
    const hub = await startFakeHub({ repos: { 'test/sedd-tiny': { files: Object.fromEntries(files.map((f) => [f, { path: join(src, f) }])) } } });
    try {
      const staging = join(await tempDir(), 'staging');
      const got = await downloadHubFiles({ repo: 'test/sedd-tiny', files, stagingDir: staging, env: { HF_ENDPOINT: hub.endpoint } });
      expect(got.files.map((f) => f.sha256)).toEqual(files.map((f) => hub.sha256Of('test/sedd-tiny', f)));
      const pkg = await importModel(staging, { templateDirs: [join(FIXTURE, 'templates')], modelsDir: join(await tempDir(), 'models') });
      expect(pkg.manifest.id).toBe('sedd-tiny-download');
      await runsFinite(pkg);
    } finally {
      await hub.close();
    }
  });
});
