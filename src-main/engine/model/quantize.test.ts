import { cp, readFile, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ApiError } from '../../common/api';
import { appRoot } from '../../platform/paths';
import { DATA_TYPE, GRAPH, MODEL, ProtoError, readFields, readNode, readTensor, writeFields } from './onnx-proto';
import {
  int8Problem,
  MS_DOMAIN,
  QUANTIZED_OP,
  SMALL_ALIGNMENT,
  WEIGHTS_ALIGNMENT,
  quantizeMatrix,
  quantizeOnnx,
  quantizePackage,
  weightRangeForThisCpu,
} from './quantize';
import { importModel } from './import';
import { readModelPackage, verifyModelFiles } from './package';
import { tempDirs } from './import-test-support';
import { ScoreModel } from '../runtime/score-model';

const ROOT = appRoot();
const TINY = join(ROOT, 'models/fixtures/tiny-fixture');
const MINI = join(ROOT, 'models/lacuna-mini');
const CHECKPOINT = join(ROOT, 'models/tests/import-fixture/checkpoint');
const TEMPLATES = join(ROOT, 'models/tests/import-fixture/templates');
const tempDir = tempDirs('lacuna-quantize-');

/** The graph's nodes and initializers as the quantiser reads them. */
async function graphOf(path: string): Promise<{ ops: string[]; inits: ReturnType<typeof readTensor>[]; opsets: string[] }> {
  const model = readFields(await readFile(path));
  const graph = readFields(model.find((f) => f.no === MODEL.graph)!.value as Uint8Array);
  const nodes = graph.filter((f) => f.no === GRAPH.node).map((f) => readNode(f.value as Uint8Array));
  const inits = graph.filter((f) => f.no === GRAPH.initializer).map((f) => readTensor(f.value as Uint8Array));
  const opsets = model
    .filter((f) => f.no === MODEL.opsetImport)
    .map((f) => new TextDecoder().decode(readFields(f.value as Uint8Array).find((x) => x.no === 1)?.value as Uint8Array));
  return { ops: nodes.map((n) => `${n.domain ? `${n.domain}.` : ''}${n.opType}`), inits, opsets };
}

/** Every position masked but a few, σ = 1: the log-score rows of two networks side by side. */
async function compare(a: string, b: string, vocab: number, length: number): Promise<{ worst: number; scale: number; sameArgmax: number }> {
  const x = await ScoreModel.load(a, vocab, { threads: 1, device: 'cpu' });
  const y = await ScoreModel.load(b, vocab, { threads: 1, device: 'cpu' });
  try {
    const idx = BigInt64Array.from({ length }, (_, i) => BigInt(i % 3 === 0 ? vocab - 1 : (i * 7919) % (vocab - 1)));
    const ra = await x.run(idx, Float32Array.from([1]), 1, length);
    const rb = await y.run(idx, Float32Array.from([1]), 1, length);
    let worst = 0;
    let scale = 0;
    let sameArgmax = 0;
    for (let l = 0; l < length; l++) {
      let ia = 0;
      let ib = 0;
      for (let j = 0; j < vocab - 1; j++) {
        const u = ra[l * vocab + j]!;
        const v = rb[l * vocab + j]!;
        if (u > -1e5) {
          worst = Math.max(worst, Math.abs(u - v));
          scale = Math.max(scale, Math.abs(u));
        }
        if (u > ra[l * vocab + ia]!) ia = j;
        if (v > rb[l * vocab + ib]!) ib = j;
      }
      if (ia === ib) sameArgmax++;
    }
    return { worst, scale, sameArgmax: sameArgmax / length };
  } finally {
    await x.release();
    await y.release();
  }
}

describe('protocol buffers', () => {
  it('reads and writes a model byte for byte', async () => {
    for (const file of [join(TINY, 'model.onnx'), join(ROOT, 'models/templates/sedd-small/model.onnx')]) {
      const bytes = new Uint8Array(await readFile(file));
      const fields = readFields(bytes);
      expect(Buffer.from(writeFields(fields)).equals(Buffer.from(bytes))).toBe(true);
      const graph = readFields(fields.find((f) => f.no === MODEL.graph)!.value as Uint8Array);
      expect(Buffer.from(writeFields(graph)).equals(Buffer.from(fields.find((f) => f.no === MODEL.graph)!.value as Uint8Array))).toBe(true);
    }
  });

  it('refuses truncated and malformed messages', () => {
    expect(() => readFields(Uint8Array.from([0x0a, 0x05, 1, 2]))).toThrow(ProtoError); // length 5, 2 bytes
    expect(() => readFields(Uint8Array.from([0x08, 0x80]))).toThrow(/truncated varint/);
    expect(() => readFields(Uint8Array.from([0x0b]))).toThrow(/wire type 3/);
    expect(() => readFields(Uint8Array.from([0x00, 0x01]))).toThrow(/field number 0/);
  });
});

describe('int8 weights', () => {
  it('quantises each output channel symmetrically, either layout', () => {
    // W as [K = 2, N = 3]
    const w = Float32Array.from([1.2, -0.5, 0, -2, 0.3, 0]);
    const { q, scale } = quantizeMatrix(w, 2, 3, false, 127);
    expect(Array.from(scale)).toEqual([Math.fround(2 / 127), Math.fround(0.5 / 127), 1]);
    expect(Array.from(q)).toEqual([76, -127, 0, -127, 76, 0]);
    // the same matrix stored [N, K] (nn.Linear's weight)
    const t = Float32Array.from([1.2, -2, -0.5, 0.3, 0, 0]);
    const q2 = quantizeMatrix(t, 2, 3, true, 127);
    expect(Array.from(q2.q)).toEqual(Array.from(q));
    expect(Array.from(q2.scale)).toEqual(Array.from(scale));
    // reduced range
    expect(Array.from(quantizeMatrix(w, 2, 3, false, 63).q)).toEqual([38, -63, 0, -63, 38, 0]);
    expect(() => quantizeMatrix(Float32Array.from([NaN, 1]), 2, 1, false, 127)).toThrow(/NaN/);
    expect(() => quantizeMatrix(Float32Array.from([Infinity, 1]), 2, 1, false, 127)).toThrow(/infinite/);
  });

  it('refuses to run a full-range int8 package on a CPU whose int8 products would saturate', () => {
    expect(int8Problem({ id: 'x-int8', int8_range: 127 }, 63)).toMatch(
      /^x-int8 was made with full-range int8 weights .* make the int8 copy again on this computer/,
    );
    expect(int8Problem({ id: 'x-int8', int8_range: 127 }, 127)).toBeUndefined();
    expect(int8Problem({ id: 'x-int8', int8_range: 63 }, 63)).toBeUndefined();
    expect(int8Problem({ id: 'x' }, 63)).toBeUndefined();
  });

  it('uses full range only where the int8 dot product cannot saturate', () => {
    expect(weightRangeForThisCpu('arm64', '')).toBe(127);
    expect(weightRangeForThisCpu('x64', 'flags\t\t: fpu sse avx2 avx512f avx512_vnni\n')).toBe(127);
    expect(weightRangeForThisCpu('x64', 'flags\t\t: fpu sse avx2 avx_vnni\n')).toBe(127);
    expect(weightRangeForThisCpu('x64', 'flags\t\t: fpu sse avx2 avx512f\n')).toBe(63);
    expect(weightRangeForThisCpu('x64', '')).toBe(63);
  });

  it('rewrites the bundled model (inline weights): int8 products, no weight transposes, close scores', async () => {
    const dir = await tempDir();
    const r = await quantizeOnnx(join(MINI, 'model.onnx'), dir, { model: 'model.onnx', weights: 'weights.bin' }, { qmax: 127 });
    // 4 blocks × (qkv, out, mlp in, mlp out) + the output projection; adaLN (cond 128) stays float32
    expect(r.matrices).toBe(17);
    expect(Object.keys(r.files)).toEqual(['model.onnx']); // inline in, inline out
    const before = await graphOf(join(MINI, 'model.onnx'));
    const after = await graphOf(join(dir, 'model.onnx'));
    expect(after.ops.filter((o) => o === `${MS_DOMAIN}.${QUANTIZED_OP}`)).toHaveLength(17);
    expect(after.ops.filter((o) => o === 'MatMul').length).toBe(before.ops.filter((o) => o === 'MatMul').length - 16);
    expect(after.ops.filter((o) => o === 'Gemm').length).toBe(before.ops.filter((o) => o === 'Gemm').length - 1);
    expect(after.opsets).toContain(MS_DOMAIN);
    // fused: one FastGelu per block for its nine-node tanh GELU (two Adds) and the bias add before
    // it; the MLP's second product takes its bias (attention's have none)
    expect(after.ops.filter((o) => o === `${MS_DOMAIN}.FastGelu`)).toHaveLength(4);
    expect(after.ops.filter((o) => o === 'Tanh')).toHaveLength(before.ops.filter((o) => o === 'Tanh').length - 4);
    expect(after.ops.filter((o) => o === 'Add').length).toBe(before.ops.filter((o) => o === 'Add').length - 4 * 3 - 4);
    const int8 = after.inits.filter((t) => t.dataType === DATA_TYPE.int8);
    expect(int8).toHaveLength(17);
    expect(int8.reduce((a, t) => a + t.dims[0]! * t.dims[1]!, 0)).toBe(r.quantizedElements);
    expect(r.files['model.onnx']!.bytes).toBeLessThan(0.55 * (await readFile(join(MINI, 'model.onnx'))).length);
    const c = await compare(join(MINI, 'model.onnx'), join(dir, 'model.onnx'), 8192, 64);
    console.log(
      `lacuna-mini int8 vs fp32: max |Δ log score| ${c.worst.toFixed(3)} (scores up to ${c.scale.toFixed(1)}), ` +
        `same top token ${(100 * c.sameArgmax).toFixed(0)} %`,
    );
    expect(c.worst).toBeGreaterThan(0);
    expect(c.worst).toBeLessThan(0.05 * c.scale);
    expect(c.sameArgmax).toBeGreaterThanOrEqual(0.9);
  });

  it('fuses the GELU without changing the network beyond float32 rounding', async () => {
    const dir = await tempDir();
    const r = await quantizeOnnx(join(MINI, 'model.onnx'), dir, { model: 'model.onnx', weights: 'weights.bin' }, { quantize: false });
    expect(r.matrices).toBe(0);
    const after = await graphOf(join(dir, 'model.onnx'));
    expect(after.ops.filter((o) => o === `${MS_DOMAIN}.FastGelu`)).toHaveLength(4);
    expect(after.ops.filter((o) => o === 'Tanh')).toHaveLength((await graphOf(join(MINI, 'model.onnx'))).ops.filter((o) => o === 'Tanh').length - 4);
    const c = await compare(join(MINI, 'model.onnx'), join(dir, 'model.onnx'), 8192, 64);
    console.log(`lacuna-mini GELU fused vs as exported: max |Δ log score| ${c.worst.toExponential(2)}`);
    expect(c.worst).toBeLessThanOrEqual(1e-4); // the parity limit of check_parity.cjs
  });

  it('makes an int8 package from an installed one, with external weights, that verifies, loads and draws', async () => {
    const modelsDir = await tempDir();
    const src = (await importModel(CHECKPOINT, { templateDirs: [TEMPLATES], modelsDir, id: 'tiny-fp32' })).dir;
    const dest = await tempDir();
    const r = await quantizePackage(src, dest, { id: 'tiny-int8', options: { qmax: 63 } });
    expect(r.qmax).toBe(63);
    expect(Object.keys(r.files).sort()).toEqual(['model.onnx', 'weights.bin']);
    const pkg = await readModelPackage(dest);
    expect(pkg.manifest).toMatchObject({ id: 'tiny-int8', precision: 'int8', int8_range: 63, name: expect.stringMatching(/\(int8\)$/) });
    await verifyModelFiles(pkg);
    // every tensor is in the new weights file; those of a page or more start on a page (memory-mappable)
    const { inits } = await graphOf(pkg.networkPath);
    const placed = inits.map((t) => (t.data.kind === 'external' ? t.data : { offset: -1, length: 0 }));
    expect(placed.every((d) => d.offset >= 0 && d.offset % (d.length >= WEIGHTS_ALIGNMENT ? WEIGHTS_ALIGNMENT : SMALL_ALIGNMENT) === 0)).toBe(true);
    expect(placed.filter((d) => d.length >= WEIGHTS_ALIGNMENT).length).toBeGreaterThan(4);
    expect(r.files['weights.bin']!.bytes).toBeLessThan((await stat(join(src, 'weights.bin'))).size);
    expect(await readFile(join(dest, 'MODEL_CARD.md'), 'utf8')).toMatch(/## Precision\n\nint8 variant made by Lacuna: \d+ matrix products/);
    const c = await compare(join(src, 'model.onnx'), pkg.networkPath, pkg.manifest.vocab_size, 32);
    expect(c.worst).toBeGreaterThan(0);
    expect(c.worst).toBeLessThan(0.1 * c.scale);
    const model = await ScoreModel.load(pkg.networkPath, pkg.manifest.vocab_size, { threads: 1, device: 'cpu' });
    try {
      const mask = pkg.manifest.vocab_size - 1;
      const drawn = await model.maskedDraw(
        new Int32Array(16).fill(mask),
        1.5,
        1,
        Int32Array.from({ length: 16 }, (_, i) => i),
        new Float32Array(16).fill(0.5),
      );
      expect(Array.from(drawn.tokens).every((t) => t >= 0 && t < mask)).toBe(true);
    } finally {
      await model.release();
    }
    // an int8 package is not quantised again
    await expect(quantizePackage(dest, await tempDir(), { id: 'x' })).rejects.toThrow(/is int8; int8 is made from an fp32 package/);
  });

  it('says what is wrong with a broken graph or cut-off weights, as a model error, and needs a large enough product', async () => {
    // a damaged package is refused before anything is made from it
    const src = await tempDir();
    await cp(TINY, src, { recursive: true });
    const graph = await readFile(join(src, 'model.onnx'));
    graph.writeUInt8(graph.readUInt8(graph.length - 40) ^ 0xff, graph.length - 40);
    await writeFile(join(src, 'model.onnx'), graph);
    const e = await quantizePackage(src, await tempDir(), { id: 'x' }).catch((x: unknown) => x as ApiError);
    expect(e).toBeInstanceOf(ApiError);
    expect((e as ApiError).code).toBe('model_error');
    expect((e as ApiError).message).toMatch(/model\.onnx/);
    // bytes that are not a graph
    const junk = join(await tempDir(), 'model.onnx');
    await writeFile(junk, Buffer.from([0x0b, 0x0b, 0x0b]));
    await expect(quantizeOnnx(junk, await tempDir(), { model: 'model.onnx', weights: 'weights.bin' })).rejects.toThrow(/wire type 3/);

    const modelsDir = await tempDir();
    const cut = (await importModel(CHECKPOINT, { templateDirs: [TEMPLATES], modelsDir, id: 'cut' })).dir;
    await truncate(join(cut, 'weights.bin'), 5000);
    await expect(quantizeOnnx(join(cut, 'model.onnx'), await tempDir(), { model: 'model.onnx', weights: 'weights.bin' }, { minDimension: 32 })).rejects.toThrow(
      /weights\.bin ends before its data/,
    );
    // the tiny network has no product of 256 × 256: nothing to do is an error, not a silent copy
    await expect(quantizeOnnx(join(TINY, 'model.onnx'), await tempDir(), { model: 'model.onnx', weights: 'weights.bin' })).rejects.toThrow(
      /no matrix product with a float32 weight of at least 256 × 256/,
    );
  });
});
