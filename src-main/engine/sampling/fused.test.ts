/**
 * The fused sampler (fused.ts sampleAnalyticAbsorbingFused): the same Markov chain as the
 * exponential-race sampler, with the token draw done by the network graph (ONNX I/O 2).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AbsorbingGraph } from './graph';
import { LogLinearNoise } from './noise';
import { Random } from '../random';
import { sampleAnalyticAbsorbing, streamExpNoise, temperedDraw, type ScoreFn, type UnmaskedToken } from './analytic';
import { sampleAnalyticAbsorbingFused, type MaskedDrawFn, type MaskedScoresFn } from './fused';
import { ScoreModel } from '../runtime/score-model';
import { fixtureFile, fixtureJson } from '../test-fixture';

const manifest = fixtureJson<{ vocab_size: number; mask_id: number; noise: { eps: number } }>('manifest.json');

/**
 * An independent implementation of the fused draw on full log-score rows (float64): softmax over
 * j ≠ MASK, inverse CDF (first j whose cumulative weight exceeds u·S), log-normaliser.
 */
function drawFromRows(score: ScoreFn, V: number): MaskedDrawFn {
  return async (tokens, sigma, batch, positions, uniforms) => {
    const out = await score(tokens, sigma, batch);
    const ids = new Int32Array(positions.length);
    const logNorm = new Float32Array(positions.length);
    positions.forEach((p, k) => {
      const row = out.subarray(p * V, (p + 1) * V);
      let max = -Infinity;
      for (let j = 0; j < V - 1; j++) max = Math.max(max, row[j]!);
      let S = 0;
      for (let j = 0; j < V - 1; j++) S += Math.exp(row[j]! - max);
      const target = uniforms[k]! * S;
      let c = 0;
      let j = 0;
      for (; j < V - 2; j++) {
        c += Math.exp(row[j]! - max);
        if (c > target) break;
      }
      ids[k] = j;
      logNorm[k] = max + Math.log(S);
    });
    return { tokens: ids, logNorm };
  };
}

describe('fused sampler with the fixture network', () => {
  let model: ScoreModel;
  const graph = new AbsorbingGraph(manifest.vocab_size);
  const noise = new LogLinearNoise(manifest.noise.eps);
  beforeAll(async () => {
    model = await ScoreModel.load(fixtureFile('model.onnx'), manifest.vocab_size);
  });
  afterAll(async () => {
    await model.release();
  });

  /** Two rows of 48 tokens, a 12-token blank in each, plus a fixed (context) MASK. */
  function template(): { template: Int32Array; fixed: Uint8Array } {
    const rng = new Random(3);
    const t = Int32Array.from({ length: 96 }, () => Math.floor(rng.uniform() * (manifest.vocab_size - 2)));
    t.fill(manifest.mask_id, 10, 22);
    t.fill(manifest.mask_id, 48 + 30, 48 + 42);
    t[60] = manifest.mask_id;
    const fixed = new Uint8Array(96);
    fixed[60] = 1;
    return { template: t, fixed };
  }

  async function run(draw: MaskedDrawFn, reuse: 'never' | 'exact', seed: number) {
    const rngs = [new Random(seed), new Random(seed + 1)];
    const events: UnmaskedToken[][] = [];
    const r = await sampleAnalyticAbsorbingFused({
      ...template(),
      batch: 2,
      graph,
      noise,
      steps: 24,
      reuse,
      uniform: (row) => rngs[row]!.uniform(),
      draw,
      onStep: (_step, _masked, unmasked) => events.push(unmasked),
    });
    return { ...r, events };
  }

  it('gives the same tokens with the in-graph draw as with the draw done in JavaScript on full rows', async () => {
    const inGraph: MaskedDrawFn = (tokens, sigma, batch, positions, uniforms) => model.maskedDraw(tokens, sigma, batch, positions, uniforms);
    const inJs = drawFromRows((tokens, sigma, batch) => model.scoreBatch(tokens, sigma, batch), manifest.vocab_size);
    for (const reuse of ['never', 'exact'] as const) {
      const a = await run(inGraph, reuse, 11);
      const b = await run(inJs, reuse, 11);
      expect(Array.from(a.tokens)).toEqual(Array.from(b.tokens));
      expect(a.networkCalls).toBe(b.networkCalls);
      expect(a.events).toEqual(b.events);
    }
  });

  it('fills every blank, keeps context and fixed MASKs, and reports each unmasking once', async () => {
    const { template: t, fixed } = template();
    const r = await run((tokens, sigma, batch, positions, uniforms) => model.maskedDraw(tokens, sigma, batch, positions, uniforms), 'exact', 5);
    for (let i = 0; i < t.length; i++) {
      if (fixed[i]) expect(r.tokens[i]).toBe(manifest.mask_id);
      else if (t[i] !== manifest.mask_id) expect(r.tokens[i]).toBe(t[i]);
      else expect(r.tokens[i]).toBeLessThan(manifest.mask_id);
    }
    const reported = r.events.flat();
    expect(reported).toHaveLength(24);
    expect(new Set(reported.map((u) => `${u.row}:${u.position}`)).size).toBe(24);
    for (const u of reported) expect(r.tokens[u.row * 48 + u.position]).toBe(u.token);
    // Exact reuse: fewer calls than steps + 1 (24 tokens over 24 steps leave some steps empty).
    expect(r.networkCalls).toBeLessThan(25);
  });

  it('draws the same tokens from the fetched rows at temperature 1 as the graph does (maskedScores + temperedDraw)', async () => {
    const { template: t } = template();
    const positions = Int32Array.from(Array.from(t).flatMap((v, i) => (v === manifest.mask_id && i !== 60 ? [i] : [])));
    const rng = new Random(17);
    for (const sigma of [0.05, 1.3, 6]) {
      const uniforms = Float32Array.from(positions, () => Math.floor(rng.uniform() * 2 ** 24) / 2 ** 24);
      const graphDraw = await model.maskedDraw(t, sigma, 2, positions, uniforms);
      const rows = await model.maskedScores(t, sigma, 2, positions);
      const V = manifest.vocab_size;
      const jsTokens = Array.from(positions, (_p, k) => temperedDraw(rows.scores.subarray(k * V, (k + 1) * V), manifest.mask_id, 1, uniforms[k]!));
      expect(jsTokens).toEqual(Array.from(graphDraw.tokens));
      expect(Array.from(rows.logNorm)).toEqual(Array.from(graphDraw.logNorm));
    }
  });

  it('samples at a temperature through the fetched rows, filling every blank', async () => {
    const { template: t, fixed } = template();
    const rngs = [new Random(4), new Random(5)];
    let rowCalls = 0;
    const r = await sampleAnalyticAbsorbingFused({
      template: t,
      fixed,
      batch: 2,
      graph,
      noise,
      steps: 24,
      reuse: 'exact',
      temperature: 0.5,
      uniform: (row) => rngs[row]!.uniform(),
      draw: () => Promise.reject(new Error('the in-graph draw is for temperature 1')),
      scores: (tokens, sigma, batch, positions) => {
        rowCalls++;
        return model.maskedScores(tokens, sigma, batch, positions);
      },
    });
    expect(rowCalls).toBe(r.networkCalls);
    for (let i = 0; i < t.length; i++) {
      if (fixed[i]) expect(r.tokens[i]).toBe(manifest.mask_id);
      else if (t[i] !== manifest.mask_id) expect(r.tokens[i]).toBe(t[i]);
      else expect(r.tokens[i]).toBeLessThan(manifest.mask_id);
    }
  });

  it('is reproducible for a seed and differs between seeds', async () => {
    const draw: MaskedDrawFn = (tokens, sigma, batch, positions, uniforms) => model.maskedDraw(tokens, sigma, batch, positions, uniforms);
    const a = await run(draw, 'never', 1);
    const b = await run(draw, 'never', 1);
    const c = await run(draw, 'never', 2);
    expect(Array.from(a.tokens)).toEqual(Array.from(b.tokens));
    expect(Array.from(a.tokens)).not.toEqual(Array.from(c.tokens));
  });
});

describe('fused sampler against the exponential-race sampler (synthetic scores)', () => {
  // V = 5 (MASK = 4), one masked position, a fixed σ-free distribution p over the four tokens;
  // the network output is log p − log(e^σ − 1) − log(V − 1)·0 (the scale_by_sigma shape), so the
  // chain is the time-independent one. Both samplers must give the same joint distribution of
  // (step at which the position unmasks, token).
  const V = 5;
  const graph = new AbsorbingGraph(V);
  const noise = new LogLinearNoise(1e-3);
  const p = [0.1, 0.2, 0.3, 0.4];
  const steps = 4;
  const score: ScoreFn = async (tokens, sigma, batch) => {
    const out = new Float32Array(tokens.length * V);
    const shift = Math.log(Math.expm1(Math.fround(sigma)));
    for (let i = 0; i < tokens.length; i++) {
      for (let j = 0; j < V - 1; j++) out[i * V + j] = Math.log(p[j]!) - shift;
      out[i * V + tokens[i]!] = 0;
    }
    expect(batch).toBe(1);
    return out;
  };
  const cell = (step: number, token: number): number => step * (V - 1) + token;

  const scores: MaskedScoresFn = async (tokens, sigma, batch, positions) => {
    const out = await score(tokens, sigma, batch);
    const rows = new Float32Array(positions.length * V);
    const logNorm = new Float32Array(positions.length);
    positions.forEach((pos, k) => {
      rows.set(out.subarray(pos * V, (pos + 1) * V), k * V);
      let S = 0;
      for (let j = 0; j < V - 1; j++) S += Math.exp(out[pos * V + j]!);
      logNorm[k] = Math.log(S);
    });
    return { scores: rows, logNorm };
  };

  async function histogram(sampler: 'fused' | 'race', runs: number, temperature = 1): Promise<Float64Array> {
    const h = new Float64Array((steps + 1) * (V - 1));
    for (let s = 0; s < runs; s++) {
      let at = -1;
      const onStep = (step: number, _m: number, unmasked: UnmaskedToken[]): void => {
        if (unmasked.length > 0) at = step;
      };
      const common = { template: Int32Array.of(V - 1), graph, noise, steps, reuse: 'exact' as const, onStep, temperature };
      const rng = new Random(1_000_003 * (sampler === 'fused' ? 1 : 2) + 7919 * temperature + s);
      const r =
        sampler === 'fused'
          ? await sampleAnalyticAbsorbingFused({ ...common, uniform: () => rng.uniform(), draw: drawFromRows(score, V), scores })
          : await sampleAnalyticAbsorbing({ ...common, exp: streamExpNoise(rng), score });
      h[cell(at - 1, r.tokens[0]!)]!++;
    }
    return h;
  }

  it('has the same distribution over (unmasking step, token)', async () => {
    const runs = 6000;
    const a = await histogram('fused', runs);
    const b = await histogram('race', runs);
    // Per cell, the difference of two independent binomial counts; 5 standard errors.
    let cells = 0;
    for (let c = 0; c < a.length; c++) {
      const q = (a[c]! + b[c]!) / (2 * runs);
      const se = Math.sqrt((2 * q * (1 - q)) / runs) * runs;
      expect(Math.abs(a[c]! - b[c]!)).toBeLessThanOrEqual(5 * se + 1);
      if (q > 0.01) cells++;
    }
    expect(cells).toBeGreaterThanOrEqual(12); // the test sees most of the joint distribution
    // Marginal over tokens: p, for both.
    for (const h of [a, b]) {
      for (let j = 0; j < V - 1; j++) {
        let n = 0;
        for (let k = 0; k <= steps; k++) n += h[cell(k, j)]!;
        expect(Math.abs(n / runs - p[j]!)).toBeLessThanOrEqual(5 * Math.sqrt((p[j]! * (1 - p[j]!)) / runs));
      }
    }
  });

  it('at a temperature: both samplers agree, tokens follow softmax(log p / τ), and when a position unmasks does not change', async () => {
    const runs = 6000;
    const tau = 0.5;
    const a = await histogram('fused', runs, tau);
    const b = await histogram('race', runs, tau);
    const plain = await histogram('race', runs, 1);
    for (let c = 0; c < a.length; c++) {
      const q = (a[c]! + b[c]!) / (2 * runs);
      const se = Math.sqrt((2 * q * (1 - q)) / runs) * runs;
      expect(Math.abs(a[c]! - b[c]!)).toBeLessThanOrEqual(5 * se + 1);
    }
    // p^(1/τ), normalised: [0.1, 0.2, 0.3, 0.4]² / 0.3 = [1/30, 4/30, 9/30, 16/30].
    const z = p.reduce((n, x) => n + x ** (1 / tau), 0);
    const q = p.map((x) => x ** (1 / tau) / z);
    for (const h of [a, b]) {
      for (let j = 0; j < V - 1; j++) {
        let n = 0;
        for (let k = 0; k <= steps; k++) n += h[cell(k, j)]!;
        expect(Math.abs(n / runs - q[j]!)).toBeLessThanOrEqual(5 * Math.sqrt((q[j]! * (1 - q[j]!)) / runs));
      }
    }
    // The step at which the position unmasks: same marginal as at τ = 1.
    for (let k = 0; k <= steps; k++) {
      let n = 0;
      let m = 0;
      for (let j = 0; j < V - 1; j++) {
        n += a[cell(k, j)]!;
        m += plain[cell(k, j)]!;
      }
      const r = (n + m) / (2 * runs);
      expect(Math.abs(n - m)).toBeLessThanOrEqual(5 * Math.sqrt((2 * r * (1 - r)) / runs) * runs + 1);
    }
  });
});
