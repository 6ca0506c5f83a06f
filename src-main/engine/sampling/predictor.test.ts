import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { AbsorbingGraph, UniformGraph, reverseRate } from './graph';
import { GeometricNoise, LogLinearNoise, noiseFromSpec, type NoiseSpec } from './noise';
import { Random } from '../random';
import { sampleAnalyticAbsorbing, streamExpNoise } from './analytic';
import { UNKNOWN, categorical, samplePc, type ExpNoise, type ScoreFn } from './predictor';
import { chooseSampler } from './choice';
import { ScoreModel } from '../runtime/score-model';
import { ROOT, fixtureFile, fixtureJson } from '../test-fixture';

interface GoldenRun {
  name: string;
  package: 'tiny-fixture' | 'tiny-uniform';
  graph: 'absorb' | 'uniform';
  noise: NoiseSpec;
  predictor: 'analytic' | 'euler';
  length: number;
  steps: number;
  salt: number;
  template: number[];
  initial: number[];
  trajectory: number[][];
  result: number[];
}
interface Goldens {
  eps: number;
  runs: GoldenRun[];
}

/** sampling-goldens.json "exp_noise": the hash of make_fixture.py, batch 1; width V, V − 1 for the absorbing denoise. */
function hashExpNoise(salt: number, L: number, steps: number, V: number, absorb: boolean): ExpNoise {
  const splitmix32 = (x: number): number => {
    x = (x + 0x9e3779b9) >>> 0;
    x = Math.imul(x ^ (x >>> 16), 0x21f0aaad) >>> 0;
    x = Math.imul(x ^ (x >>> 15), 0x735a2d97) >>> 0;
    return (x ^ (x >>> 15)) >>> 0;
  };
  return {
    fill(call, l, out) {
      const width = call === steps && absorb ? V - 1 : V;
      expect(out.length).toBe(width);
      const base = (Math.imul(salt, 0x9e3779b1) + Math.imul(call, 0x85ebca77)) >>> 0;
      for (let j = 0; j < width; j++) {
        const h = splitmix32((base + l * width + j) >>> 0);
        out[j] = -Math.log((h + 0.5) / 4294967296);
      }
    },
  };
}

const goldens = fixtureJson<Goldens>('sampling-goldens.json');
const UNIFORM_DIR = join(ROOT, 'models', 'fixtures', 'tiny-uniform');

describe('general samplers replay the PyTorch reference (sampling-goldens.json, real ONNX networks)', () => {
  const models = new Map<string, ScoreModel>();
  beforeAll(async () => {
    models.set('tiny-fixture', await ScoreModel.load(fixtureFile('model.onnx'), 512));
    models.set('tiny-uniform', await ScoreModel.load(join(UNIFORM_DIR, 'model.onnx'), 511));
  });
  afterAll(async () => {
    for (const m of models.values()) await m.release();
  });

  it('covers every graph / noise / predictor combination of the issue', () => {
    const combos = new Set(goldens.runs.map((r) => `${r.graph}-${r.noise.type}-${r.predictor}`));
    expect([...combos].sort()).toEqual(
      [
        'absorb-geometric-analytic',
        'absorb-loglinear-analytic',
        'absorb-loglinear-euler',
        'uniform-geometric-analytic',
        'uniform-geometric-euler',
        'uniform-loglinear-euler',
      ].sort(),
    );
  });

  it.each(goldens.runs.map((r) => [r.name, r] as const))('%s: token for token, every step', async (_name, run) => {
    const model = models.get(run.package)!;
    const V = model.vocabSize;
    const graph = run.graph === 'absorb' ? new AbsorbingGraph(V) : new UniformGraph(V);
    const fn: ScoreFn = (tokens, sigma) => model.score(tokens, sigma);
    const common = {
      template: Int32Array.from(run.template),
      graph,
      noise: noiseFromSpec(run.noise),
      steps: run.steps,
      predictor: run.predictor,
      score: fn,
      eps: goldens.eps,
    };
    // 1. Dense replay (known positions drawn too) with the default limit draw: the full trajectory.
    const trajectory: number[][] = [];
    const full = await samplePc({
      ...common,
      exp: hashExpNoise(run.salt, run.length, run.steps, V, run.graph === 'absorb'),
      updateKnown: true,
      onUpdate: (_c, x) => trajectory.push(Array.from(x)),
    });
    expect(trajectory).toEqual(run.trajectory);
    expect(Array.from(full.tokens)).toEqual(run.result);
    // 2. The app's way (known positions not drawn): same generated tokens, same result.
    const partial: number[][] = [];
    const fast = await samplePc({
      ...common,
      initial: Int32Array.from(run.initial),
      exp: hashExpNoise(run.salt, run.length, run.steps, V, run.graph === 'absorb'),
      onUpdate: (_c, x) => partial.push(Array.from(x)),
    });
    expect(Array.from(fast.tokens)).toEqual(run.result);
    const unknown = run.template.map((v) => v === UNKNOWN);
    expect(partial.map((x) => x.filter((_, i) => unknown[i]))).toEqual(run.trajectory.map((x) => x.filter((_, i) => unknown[i])));
    expect(fast.networkCalls).toBeLessThanOrEqual(run.steps + 1);
    if (run.graph === 'uniform') expect(fast.networkCalls).toBe(run.steps + 1);
  });

  it('absorb + log-linear analytic agrees with the fast exact sampler (analytic.ts) on the same noise', async () => {
    const model = models.get('tiny-fixture')!;
    const graph = new AbsorbingGraph(512);
    const noise = new LogLinearNoise(1e-3);
    const template = Int32Array.from([285, 294, 72, 343, 511, 511, 511, 511, 511, 511, 324, 270]);
    const noiseFor = (): ExpNoise => hashExpNoise(7, template.length, 6, 512, true);
    const score: ScoreFn = (tokens, sigma) => model.score(tokens, sigma);
    const general = await samplePc({ template, graph, noise, steps: 6, predictor: 'analytic', exp: noiseFor(), score });
    const exact = await sampleAnalyticAbsorbing({ template, graph, noise, steps: 6, exp: noiseFor(), score });
    expect(Array.from(general.tokens)).toEqual(Array.from(exact.tokens));
  });

  it('uniform graph: fills unknown positions with real tokens, keeps known ones, is seed-deterministic', async () => {
    const model = models.get('tiny-uniform')!;
    const template = Int32Array.from([5, 6, UNKNOWN, UNKNOWN, UNKNOWN, 9]);
    const run = (seed: number) =>
      samplePc({
        template,
        graph: new UniformGraph(511),
        noise: new GeometricNoise(),
        steps: 4,
        predictor: 'analytic',
        exp: streamExpNoise(new Random(seed)),
        score: (t, s) => model.score(t, s),
      });
    const a = await run(3);
    const b = await run(3);
    expect(Array.from(a.tokens)).toEqual(Array.from(b.tokens));
    expect([a.tokens[0], a.tokens[1], a.tokens[5]]).toEqual([5, 6, 9]);
    for (const t of a.tokens) expect(t >= 0 && t < 511).toBe(true);
  });
});

describe('graph pieces', () => {
  it('uniform: staggered ⊙ Pᵀ sums to Σ s e^{dσ}·… and Pᵀ(x) is a distribution', () => {
    const g = new UniformGraph(7);
    const p = g.transpTransition(2, 0.4);
    expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 14);
    expect(p[2]).toBeCloseTo(1 - (6 * (1 - Math.exp(-0.4))) / 7, 14);
    const s = [0.5, 2, 1, 0.1, 3, 0.7, 1.2];
    const st = g.staggeredScore(s, 0.3);
    const sum = s.reduce((a, b) => a + b, 0);
    for (let j = 0; j < 7; j++) expect(st[j]).toBeCloseTo(s[j]! * Math.exp(0.3) + ((1 - Math.exp(0.3)) / 7) * sum, 12);
  });

  it('reverse rate rows sum to zero; absorbing real tokens have none', () => {
    const s = [0.5, 2, 1, 0.1, 3, 0.7, 1];
    for (const g of [new UniformGraph(7), new AbsorbingGraph(7)]) {
      const x = g.absorb ? 6 : 3;
      const r = reverseRate(g, x, s);
      expect(r.reduce((a, b) => a + b, 0)).toBeCloseTo(0, 12);
    }
    expect(Array.from(reverseRate(new AbsorbingGraph(7), 2, s)).every((v) => v === 0)).toBe(true);
    expect(reverseRate(new AbsorbingGraph(7), 6, s)[0]).toBe(0.5);
    expect(reverseRate(new UniformGraph(7), 3, s)[0]).toBeCloseTo(0.5 / 7, 15);
  });

  it('categorical: argmax p/E, first index on a tie, negative weights never win', () => {
    expect(categorical([1, 2, 2], [1, 1, 1], 3)).toBe(1);
    expect(categorical([-5, 0.1, 0], [1, 1, 1], 3)).toBe(1);
    expect(categorical([1, 2, 9], [1, 1, 1], 2)).toBe(1);
  });

  it('chooseSampler follows the manifest', () => {
    const base = { vocab_size: 10 };
    expect(chooseSampler({ ...base, graph: { type: 'absorb' }, noise: { type: 'loglinear', eps: 1e-3 } })).toMatchObject({ predictor: 'analytic', fast: true });
    const u = chooseSampler({
      ...base,
      graph: { type: 'uniform' },
      noise: { type: 'geometric', sigma_min: 1e-4, sigma_max: 20 },
      sampling: { sampler: 'euler' },
    });
    expect(u).toMatchObject({ predictor: 'euler', fast: false });
    expect(u.graph).toBeInstanceOf(UniformGraph);
    expect(u.noise).toBeInstanceOf(GeometricNoise);
    expect(() => chooseSampler({ ...base, graph: { type: 'absorb' }, noise: { type: 'loglinear', eps: 1e-3 }, sampling: { sampler: 'ddpm' } })).toThrow(
      /unknown sampler/,
    );
  });
});
