import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError } from '../../common/api';
import { cpuThreads } from './providers';
import { ScoreModel } from './score-model';
import { fixtureFile, fixtureJson } from '../test-fixture';

interface ParityCase {
  name: string;
  indices: number[][];
  sigma: number[];
  shape: [number, number, number];
  positions: [number, number][];
  values: number[][];
  max_abs: number;
  sum: number;
  /** The fused draw at every MASK position (flat), from PyTorch (models/sedd/export.py draw_case). */
  draw?: { positions: number[]; uniforms: number[]; token: number[]; log_norm: number[] };
}
interface Parity {
  tolerance: number;
  mask_id: number;
  cases: ParityCase[];
}

const parity = fixtureJson<Parity>('parity.json');
const manifest = fixtureJson<{ vocab_size: number }>('manifest.json');

describe('ScoreModel on the fixture network (onnxruntime-node, CPU)', () => {
  let model: ScoreModel;
  beforeAll(async () => {
    model = await ScoreModel.load(fixtureFile('model.onnx'), manifest.vocab_size);
  });
  afterAll(async () => {
    await model.release();
  });

  it('reports the CPU device and a sane thread count', () => {
    expect(model.device).toBe('cpu');
    expect(cpuThreads()).toBeGreaterThanOrEqual(1);
  });

  it.each(parity.cases.map((c) => [c.name, c] as const))('matches PyTorch within tolerance: %s', async (_name, c) => {
    const [B, L, V] = c.shape;
    expect(V).toBe(manifest.vocab_size);
    const indices = BigInt64Array.from(c.indices.flat(), (v) => BigInt(v));
    const out = await model.run(indices, Float32Array.from(c.sigma), B, L);
    expect(out.length).toBe(B * L * V);
    let diff = 0;
    c.positions.forEach(([b, l], r) => {
      const row = c.values[r]!;
      expect(row.length).toBe(V);
      for (let v = 0; v < V; v++) diff = Math.max(diff, Math.abs(out[(b * L + l) * V + v]! - row[v]!));
    });
    expect(diff).toBeLessThanOrEqual(parity.tolerance);
    // Whole-output statistics catch errors at positions the sample does not hold.
    let maxAbs = 0;
    let sum = 0;
    for (const x of out) {
      maxAbs = Math.max(maxAbs, Math.abs(x));
      sum += x;
    }
    expect(Math.abs(maxAbs - c.max_abs)).toBeLessThanOrEqual(parity.tolerance);
    expect(Math.abs(sum - c.sum) / out.length).toBeLessThanOrEqual(parity.tolerance);
    // The network writes 0 at each input token ("no change" has score 1).
    for (let b = 0; b < B; b++) for (let l = 0; l < L; l++) expect(out[(b * L + l) * V + c.indices[b]![l]!]).toBe(0);
  });

  it('has the fused draw (network I/O 2)', () => {
    expect(model.gathered).toBe(true);
    expect(model.fusedDraw).toBe(true);
  });

  const drawCases = parity.cases.filter((c) => c.draw);
  it('parity data covers the fused draw', () => expect(drawCases.length).toBeGreaterThanOrEqual(4));
  it.each(drawCases.map((c) => [c.name, c] as const))('draws the same tokens as PyTorch at the masked positions: %s', async (_name, c) => {
    const d = c.draw!;
    const [B] = c.shape;
    const got = await model.maskedDraw(
      Int32Array.from(c.indices.flat()),
      Float32Array.from(c.sigma),
      B,
      Int32Array.from(d.positions),
      Float32Array.from(d.uniforms),
    );
    expect(Array.from(got.tokens)).toEqual(d.token);
    for (let k = 0; k < d.positions.length; k++) expect(Math.abs(got.logNorm[k]! - d.log_norm[k]!)).toBeLessThanOrEqual(parity.tolerance);
  });

  it('draws by inverse CDF: stratified uniforms reproduce softmax over the tokens', async () => {
    // One all-MASK position, 4096 uniforms (k + 0.5)/4096 at the same position: each token j must
    // be drawn ≈ 4096·p_j times (within 1 of it: stratified draws), p = softmax of the row without MASK.
    const L = 8;
    const tokens = new Int32Array(L).fill(parity.mask_id);
    const sigma = 0.9;
    const row = (await model.score(tokens, sigma)).subarray(3 * manifest.vocab_size, 4 * manifest.vocab_size);
    const V1 = manifest.vocab_size - 1;
    let max = -Infinity;
    for (let j = 0; j < V1; j++) max = Math.max(max, row[j]!);
    let total = 0;
    for (let j = 0; j < V1; j++) total += Math.exp(row[j]! - max);
    const n = 4096;
    const got = await model.maskedDraw(
      tokens,
      sigma,
      1,
      new Int32Array(n).fill(3),
      Float32Array.from({ length: n }, (_, k) => (k + 0.5) / n),
    );
    const counts = new Float64Array(V1);
    for (const t of got.tokens) counts[t]!++;
    let worst = 0;
    for (let j = 0; j < V1; j++) worst = Math.max(worst, Math.abs(counts[j]! - (n * Math.exp(row[j]! - max)) / total));
    expect(worst).toBeLessThanOrEqual(1.0001);
    expect(Math.abs(got.logNorm[0]! - (max + Math.log(total)))).toBeLessThanOrEqual(1e-5);
  });

  it('rejects a position outside the tokens', async () => {
    await expect(model.maskedDraw(new Int32Array(4).fill(parity.mask_id), 1, 1, Int32Array.of(4), Float32Array.of(0.5))).rejects.toThrow(RangeError);
  });

  it('scores one sequence through score() like run() with batch 1', async () => {
    const c = parity.cases.find((x) => x.shape[0] === 1 && x.shape[1] > 1)!;
    const a = await model.score(c.indices[0]!, c.sigma[0]!);
    const b = await model.run(BigInt64Array.from(c.indices[0]!, BigInt), Float32Array.of(c.sigma[0]!), 1, c.shape[1]);
    expect(Array.from(a)).toEqual(Array.from(b));
  });

  it('rejects inputs of the wrong size', async () => {
    await expect(model.run(new BigInt64Array(3), Float32Array.of(1), 1, 4)).rejects.toThrow(RangeError);
  });
});

describe('ScoreModel errors', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'lacuna-score-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('turns a truncated network file into a model_error naming it', async () => {
    const bytes = readFileSync(fixtureFile('model.onnx'));
    const path = join(dir, 'truncated.onnx');
    writeFileSync(path, bytes.subarray(0, Math.floor(bytes.length / 3)));
    const err = await ScoreModel.load(path, manifest.vocab_size).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).code).toBe('model_error');
    expect((err as ApiError).message).toContain('truncated.onnx');
  });

  it('rejects output of the wrong vocabulary size', async () => {
    const model = await ScoreModel.load(fixtureFile('model.onnx'), manifest.vocab_size + 1);
    try {
      await expect(model.score([1, 2, 3], 1)).rejects.toThrow(/expected float32 \[1, 3, 513\]/);
    } finally {
      await model.release();
    }
  });
});

describe('the shipped default model (models/lacuna-mini) against PyTorch', () => {
  const dir = fixtureFile('../../lacuna-mini/manifest.json').replace(/manifest\.json$/, '');
  const mini = JSON.parse(readFileSync(`${dir}parity.json`, 'utf8')) as Parity;
  const m = JSON.parse(readFileSync(`${dir}manifest.json`, 'utf8')) as { vocab_size: number; network: { file: string } };
  let model: ScoreModel;
  beforeAll(async () => {
    model = await ScoreModel.load(`${dir}${m.network.file}`, m.vocab_size);
  });
  afterAll(async () => {
    await model.release();
  });

  it.each(mini.cases.map((c) => [c.name, c] as const))('log-scores and fused draws match: %s', async (_name, c) => {
    const [B, L, V] = c.shape;
    const out = await model.run(
      BigInt64Array.from(c.indices.flat(), (v) => BigInt(v)),
      Float32Array.from(c.sigma),
      B,
      L,
    );
    let diff = 0;
    c.positions.forEach(([b, l], r) => {
      for (let v = 0; v < V; v++) diff = Math.max(diff, Math.abs(out[(b * L + l) * V + v]! - c.values[r]![v]!));
    });
    expect(diff).toBeLessThanOrEqual(mini.tolerance);
    const d = c.draw!;
    const got = await model.maskedDraw(
      Int32Array.from(c.indices.flat()),
      Float32Array.from(c.sigma),
      B,
      Int32Array.from(d.positions),
      Float32Array.from(d.uniforms),
    );
    expect(Array.from(got.tokens)).toEqual(d.token);
  });
});
