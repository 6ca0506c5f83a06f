import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError, ModelInfo } from '../../common/api';
import { loadModelPackage, readModelPackage, verifyModelFiles } from './package';
import { listModels, ModelRegistry, readModelInfo } from './registry';
import { FIXTURE_DIR } from '../test-fixture';
import { Tokenizer } from './tokenizer';

let tmp: string;
let n = 0;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'lacuna-pkg-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A fresh copy of the fixture package (manifest, tokenizer, network) in the temp folder. */
function copyFixture(parent = tmp, name = `pkg${n++}`): string {
  const dir = join(parent, name);
  mkdirSync(dir, { recursive: true });
  for (const f of ['manifest.json', 'tokenizer.json', 'model.onnx']) cpSync(join(FIXTURE_DIR, f), join(dir, f));
  return dir;
}

function editManifest(dir: string, edit: (m: Record<string, unknown>) => void): void {
  const path = join(dir, 'manifest.json');
  const m = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  edit(m);
  writeFileSync(path, JSON.stringify(m));
}

async function errorOf(p: Promise<unknown>): Promise<ApiError> {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  expect(e, 'expected a rejection').toBeInstanceOf(ApiError);
  expect((e as ApiError).code).toBe('model_error');
  return e as ApiError;
}

describe('model packages', () => {
  it('loads and verifies the fixture', async () => {
    const pkg = await loadModelPackage(FIXTURE_DIR);
    expect(pkg.manifest.id).toBe('tiny-fixture');
    expect(pkg.manifest.graph.type).toBe('absorb');
    expect(pkg.manifest.mask_id).toBe(pkg.manifest.vocab_size - 1);
    expect(pkg.networkPath).toBe(join(FIXTURE_DIR, 'model.onnx'));
    expect(pkg.tokenizerPath).toBe(join(FIXTURE_DIR, 'tokenizer.json'));
  });

  it('reports a missing manifest', async () => {
    const dir = join(tmp, 'empty');
    mkdirSync(dir);
    const e = await errorOf(readModelPackage(dir));
    expect(e.message).toContain(dir);
    expect(e.message).toContain('manifest.json is missing');
  });

  it('reports bad JSON', async () => {
    const dir = copyFixture();
    writeFileSync(join(dir, 'manifest.json'), '{ "format": "lacuna-model/1", ');
    const e = await errorOf(readModelPackage(dir));
    expect(e.message).toContain(dir);
    expect(e.message).toMatch(/manifest\.json is not valid JSON/);
  });

  it('reports an unknown format', async () => {
    const dir = copyFixture();
    editManifest(dir, (m) => (m.format = 'lacuna-model/9'));
    expect((await errorOf(readModelPackage(dir))).message).toMatch(/unknown format "lacuna-model\/9".*reads "lacuna-model\/1"/);
    editManifest(dir, (m) => delete m.format);
    expect((await errorOf(readModelPackage(dir))).message).toMatch(/no "format" field/);
  });

  it('names an invalid field', async () => {
    const dir = copyFixture();
    editManifest(dir, (m) => (m.vocab_size = 'big'));
    expect((await errorOf(readModelPackage(dir))).message).toMatch(/field "vocab_size"/);
    editManifest(dir, (m) => {
      m.vocab_size = 512;
      m.mask_id = 3;
    });
    expect((await errorOf(readModelPackage(dir))).message).toMatch(/field "mask_id": must be vocab_size − 1 = 511/);
    editManifest(dir, (m) => {
      m.mask_id = 511;
      (m.noise as Record<string, unknown>).type = 'cosine';
    });
    expect((await errorOf(readModelPackage(dir))).message).toMatch(/field "noise.type"/);
    editManifest(dir, (m) => {
      (m.noise as Record<string, unknown>).type = 'loglinear';
      m.sampling = { default_steps: 16, temperature: 5 };
    });
    expect((await errorOf(readModelPackage(dir))).message).toMatch(/field "sampling.temperature"/);
    editManifest(dir, (m) => {
      m.graph = { type: 'uniform' };
      m.mask_id = null;
      m.sampling = { temperature: 0.7 };
    });
    expect((await errorOf(readModelPackage(dir))).message).toMatch(/field "sampling.temperature": a temperature other than 1 needs the absorbing graph/);
  });

  it('refuses sizes and values beyond sane limits before parsing, naming the limit (issue 16)', async () => {
    const dir = copyFixture();
    editManifest(dir, (m) => (m.vocab_size = 1e9));
    expect((await errorOf(readModelPackage(dir))).message).toMatch(/field "vocab_size"/);
    editManifest(dir, (m) => {
      m.vocab_size = 512;
      m.length = 1e7;
    });
    expect((await errorOf(readModelPackage(dir))).message).toMatch(/field "length"/);
    // A manifest padded to 2 MB: refused by its size, not parsed.
    const manifest = readFileSync(join(dir, 'manifest.json'), 'utf8');
    writeFileSync(join(dir, 'manifest.json'), manifest + ' '.repeat(2 << 20));
    expect((await errorOf(readModelPackage(dir))).message).toMatch(/manifest\.json is [\d.]+ MB; a model's manifest\.json may be at most [\d.]+ MB/);
    // A 65 MB tokenizer.json (sparse: nothing is written) is refused by its size before it is read.
    const big = join(dir, 'tokenizer.json');
    truncateSync(big, 65 << 20);
    await expect(Tokenizer.fromFile(big)).rejects.toThrow(/tokenizer\.json is [\d.]+ MB; a model's tokenizer\.json may be at most [\d.]+ MB/);
  });

  it('reports a missing file', async () => {
    const dir = copyFixture();
    unlinkSync(join(dir, 'tokenizer.json'));
    const e = await errorOf(readModelPackage(dir));
    expect(e.message).toContain(dir);
    expect(e.message).toContain('model file tokenizer.json is missing');
  });

  it('reports a truncated network by its size', async () => {
    const dir = copyFixture();
    const onnx = readFileSync(join(dir, 'model.onnx'));
    writeFileSync(join(dir, 'model.onnx'), onnx.subarray(0, onnx.length - 1000));
    expect((await errorOf(readModelPackage(dir))).message).toMatch(/model file model\.onnx is corrupt \(size mismatch/);
  });

  it('reports changed bytes by their sha256', async () => {
    const dir = copyFixture();
    const onnx = readFileSync(join(dir, 'model.onnx'));
    const k = onnx.length >> 1;
    onnx[k] = onnx[k]! ^ 0xff;
    writeFileSync(join(dir, 'model.onnx'), onnx);
    const pkg = await readModelPackage(dir); // sizes still match
    const e = await errorOf(verifyModelFiles(pkg));
    expect(e.message).toContain('model file model.onnx is corrupt (sha256 mismatch)');
    expect(e.message).toContain(dir);
    await errorOf(loadModelPackage(dir));
  });

  it('refuses paths that leave the package folder', async () => {
    const dir = copyFixture();
    editManifest(dir, (m) => {
      (m.network as Record<string, unknown>).file = '../model.onnx';
      (m.files as Record<string, unknown>)['../model.onnx'] = { bytes: 1, sha256: '0'.repeat(64) };
    });
    expect((await errorOf(readModelPackage(dir))).message).toMatch(/relative path inside the package folder/);

    const dir2 = copyFixture();
    editManifest(dir2, (m) => ((m.tokenizer as Record<string, unknown>).file = '/etc/passwd'));
    expect((await errorOf(readModelPackage(dir2))).message).toMatch(/field "tokenizer.file"/);

    const dir3 = copyFixture();
    const outside = join(tmp, 'outside.json');
    cpSync(join(dir3, 'tokenizer.json'), outside);
    unlinkSync(join(dir3, 'tokenizer.json'));
    symlinkSync(outside, join(dir3, 'tokenizer.json'));
    expect((await errorOf(readModelPackage(dir3))).message).toMatch(/links outside the package folder/);
  });

  it('requires every file the engine reads to be listed', async () => {
    const dir = copyFixture();
    editManifest(dir, (m) => delete (m.files as Record<string, unknown>)['model.onnx']);
    expect((await errorOf(readModelPackage(dir))).message).toMatch(/field "network.file": "model.onnx" has no entry in files/);
  });
});

describe('ModelRegistry', () => {
  let bundled: string;
  let imported: string;
  beforeAll(() => {
    bundled = join(tmp, 'reg-bundled');
    imported = join(tmp, 'reg-imported');
    copyFixture(bundled, 'tiny-fixture');
    const broken = copyFixture(bundled, 'broken');
    writeFileSync(join(broken, 'manifest.json'), 'not json');
    mkdirSync(join(bundled, 'notes')); // no manifest: not a package
    copyFixture(bundled, '.hidden');
    copyFixture(imported, 'tiny-copy'); // same id as the bundled one
    const other = copyFixture(imported, 'other');
    editManifest(other, (m) => (m.id = 'other'));
  });

  it('lists working packages and reports broken ones', async () => {
    const reg = new ModelRegistry([bundled, imported, join(tmp, 'does-not-exist')]);
    const { models, broken } = await reg.scan();
    expect(models.map((m) => m.manifest.id)).toEqual(['tiny-fixture', 'other']);
    expect(broken.map((b) => b.dir).sort()).toEqual([join(bundled, 'broken'), join(imported, 'tiny-copy')].sort());
    expect(broken.find((b) => b.dir.endsWith('broken'))!.error).toMatch(/not valid JSON/);
    expect(broken.find((b) => b.dir.endsWith('tiny-copy'))!.error).toMatch(/already used by/);
  });

  it('gives API ModelInfo with the default flagged', async () => {
    const infos = await listModels([bundled, imported]);
    for (const info of infos) expect(ModelInfo.parse(info)).toEqual(info);
    expect(infos.find((i) => i.isDefault)?.id).toBe('tiny-fixture');
    expect(infos[0]).toMatchObject({ vocabSize: 512, length: 128, graph: 'absorb', noise: 'loglinear', dir: join(bundled, 'tiny-fixture') });
    // The fixture's manifest: sampling.default_steps 16, no temperature.
    expect(infos[0]).toMatchObject({ defaultSteps: 16, defaultTemperature: 1, temperatureSupported: true });
    // Without the default id installed, the first model found is the default.
    expect((await listModels([imported], 'lacuna-mini')).filter((i) => i.isDefault).map((i) => i.id)).toEqual(['other']);
  });

  it('finds by id, the default when none is given', async () => {
    const reg = new ModelRegistry([bundled, imported]);
    expect((await reg.find('other')).dir).toBe(join(imported, 'other'));
    expect((await reg.find()).manifest.id).toBe('tiny-fixture');
    const missing = await reg.find('nope').catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(ApiError);
    expect((missing as ApiError).code).toBe('not_found');
    const broken = (await reg.find('broken').catch((e: unknown) => e)) as ApiError;
    expect(broken.message).toMatch(/not installed: .*not valid JSON/);
    const none = (await new ModelRegistry([join(tmp, 'nothing')]).find().catch((e: unknown) => e)) as ApiError;
    expect(none.code).toBe('not_found');
  });

  it('reads one folder as ModelInfo', async () => {
    const info = await readModelInfo(join(bundled, 'tiny-fixture'));
    expect(info).toMatchObject({ id: 'tiny-fixture', isDefault: false }); // the default is lacuna-mini
    expect(await readModelInfo(join(bundled, 'tiny-fixture'), 'tiny-fixture')).toMatchObject({ id: 'tiny-fixture', isDefault: true });
  });
});
