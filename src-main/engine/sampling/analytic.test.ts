import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AbsorbingGraph } from './graph';
import { LogLinearNoise } from './noise';
import { Random } from '../random';
import { drawMasked, linspace, sampleAnalyticAbsorbing, streamExpNoise, type ExpNoise, type ScoreFn } from './analytic';
import { ScoreModel } from '../runtime/score-model';
import { fixtureFile, fixtureJson } from '../test-fixture';

interface SamplingRun {
  name: string;
  batch: number;
  length: number;
  steps: number;
  salt: number;
  known_ids: number[][];
  known_mask: boolean[][];
  /** x after each call k = 0 … steps, [steps + 1][B][L]. */
  trajectory?: number[][][];
  result: number[][];
}
interface SamplingCases {
  eps: number;
  noise: { type: 'loglinear'; eps: number };
  runs: SamplingRun[];
}

const manifest = fixtureJson<{ vocab_size: number; mask_id: number; noise: { eps: number } }>('manifest.json');
const V = manifest.vocab_size;
const MASK = manifest.mask_id;

/** The reference's hash-generated Exp(1) noise (sampling-cases.json "exp_noise"), for batch row b. */
function hashExpNoise(salt: number, b: number, L: number, steps: number): ExpNoise {
  const splitmix32 = (x: number): number => {
    x = (x + 0x9e3779b9) >>> 0;
    x = Math.imul(x ^ (x >>> 16), 0x21f0aaad) >>> 0;
    x = Math.imul(x ^ (x >>> 15), 0x735a2d97) >>> 0;
    return (x ^ (x >>> 15)) >>> 0;
  };
  return {
    fill(call, l, out) {
      const width = call === steps ? V - 1 : V;
      expect(out.length).toBe(width);
      const base = (Math.imul(salt, 0x9e3779b1) + Math.imul(call, 0x85ebca77)) >>> 0;
      for (let j = 0; j < width; j++) {
        const flat = (b * L + l) * width + j;
        const h = splitmix32((base + flat) >>> 0);
        out[j] = -Math.log((h + 0.5) / 4294967296);
      }
    },
  };
}

describe('analytic sampler with the fixture network', () => {
  let model: ScoreModel;
  const graph = new AbsorbingGraph(V);
  const noise = new LogLinearNoise(manifest.noise.eps);
  const score: ScoreFn = (tokens, sigma) => model.score(tokens, sigma);
  beforeAll(async () => {
    model = await ScoreModel.load(fixtureFile('model.onnx'), V);
  });
  afterAll(async () => {
    await model.release();
  });

  const cases = fixtureJson<SamplingCases>('sampling-cases.json');
  const rows = cases.runs.flatMap((run) => run.result.map((_, b) => [`${run.name} row ${b}`, run, b] as const));
  it.each(rows)('reproduces the PyTorch reference sampler token for token: %s', async (_name, run, b) => {
    const template = Int32Array.from(run.known_ids[b]!, (id, l) => (run.known_mask[b]![l] ? id : MASK));
    const trajectory: number[][] = [];
    const { tokens } = await sampleAnalyticAbsorbing({
      onUpdate: (_call, x) => trajectory.push(Array.from(x)),
      template,
      graph,
      noise: new LogLinearNoise(cases.noise.eps),
      steps: run.steps,
      exp: hashExpNoise(run.salt, b, run.length, run.steps),
      score,
      eps: cases.eps,
    });
    expect(Array.from(tokens)).toEqual(run.result[b]);
    if (run.trajectory) expect(trajectory).toEqual(run.trajectory.map((x) => x[b]));
  });

  const template = Int32Array.from([285, 294, 72, 343, MASK, MASK, MASK, MASK, MASK, MASK, MASK, MASK, 324, 270, MASK, 41]);
  const run = (seed: number, steps = 8, onStep?: (step: number, masked: number) => void) =>
    sampleAnalyticAbsorbing({ template, graph, noise, steps, exp: streamExpNoise(new Random(seed)), score, onStep });

  it('fills every MASK, leaves known tokens alone and calls the network at most steps + 1 times', async () => {
    const { tokens, networkCalls } = await run(1);
    expect(tokens.length).toBe(template.length);
    for (let i = 0; i < template.length; i++) {
      expect(tokens[i]).not.toBe(MASK);
      expect(tokens[i]).toBeGreaterThanOrEqual(0);
      expect(tokens[i]).toBeLessThan(MASK);
      if (template[i] !== MASK) expect(tokens[i]).toBe(template[i]);
    }
    expect(networkCalls).toBeGreaterThanOrEqual(1);
    expect(networkCalls).toBeLessThanOrEqual(9);
    expect(Array.from(template).filter((t) => t === MASK).length).toBe(9); // the template is not modified
  });

  it('is deterministic for a seed and varies between seeds', async () => {
    const a = await run(1234);
    const b = await run(1234);
    expect(Array.from(a.tokens)).toEqual(Array.from(b.tokens));
    expect(a.networkCalls).toBe(b.networkCalls);
    const others = await Promise.all([1235, 1236, 1237].map((s) => run(s)));
    for (const o of others) expect(Array.from(o.tokens)).not.toEqual(Array.from(a.tokens));
  });

  it('reports progress once per step, ending with nothing masked', async () => {
    const seen: [number, number][] = [];
    await run(3, 6, (step, masked) => seen.push([step, masked]));
    expect(seen.map(([s]) => s)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(seen.at(-1)![1]).toBe(0);
    for (let i = 1; i < seen.length; i++) expect(seen[i]![1]).toBeLessThanOrEqual(seen[i - 1]![1]);
    expect(seen[0]![1]).toBeLessThanOrEqual(9);
  });
});

describe('analytic sampler with synthetic scores', () => {
  const graph = new AbsorbingGraph(5);
  const noise = new LogLinearNoise(1e-3);
  const q = [0.1, 0.2, 0.3, 0.4]; // the data distribution of every position

  /** Exact scores of a model whose data is i.i.d. q per position: s_j = q_j / (e^σ̄ − 1) at a masked position. */
  const exactScore: ScoreFn = async (tokens, sigma) => {
    const out = new Float32Array(tokens.length * graph.dim);
    for (let i = 0; i < tokens.length; i++) {
      for (let j = 0; j < graph.dim; j++) {
        out[i * graph.dim + j] = j === graph.mask ? 0 : Math.log(q[j]!) - Math.log(Math.expm1(sigma));
      }
      out[i * graph.dim + tokens[i]!] = 0;
    }
    return out;
  };

  it('draws from the model distribution', async () => {
    const counts = [0, 0, 0, 0];
    const n = 4000;
    const template = Int32Array.from([graph.mask, graph.mask, 2, graph.mask]);
    for (let seed = 0; seed < n / 3; seed++) {
      const { tokens } = await sampleAnalyticAbsorbing({ template, graph, noise, steps: 4, exp: streamExpNoise(new Random(seed)), score: exactScore });
      for (const i of [0, 1, 3]) counts[tokens[i]!]!++;
    }
    const total = counts.reduce((a, b) => a + b, 0);
    counts.forEach((c, j) => {
      const p = q[j]!;
      expect(Math.abs(c / total - p)).toBeLessThan(5 * Math.sqrt((p * (1 - p)) / total));
    });
  });

  it('reuses the output after steps that unmask nothing, exactly for a time-independent network', async () => {
    // exactScore is time-independent up to the scale_by_sigma-style shift −log(e^σ − 1).
    const template = Int32Array.from([graph.mask, 3, graph.mask, graph.mask]);
    let saved = 0;
    for (let seed = 0; seed < 20; seed++) {
      const run = (reuse: 'never' | 'exact') =>
        sampleAnalyticAbsorbing({ template, graph, noise, steps: 40, exp: streamExpNoise(new Random(seed)), score: exactScore, reuse });
      const plain = await run('never');
      const cached = await run('exact');
      expect(Array.from(cached.tokens)).toEqual(Array.from(plain.tokens));
      expect(cached.networkCalls).toBeLessThanOrEqual(plain.networkCalls);
      // At most one call per step that unmasks something (3 masked positions), plus the first.
      expect(cached.networkCalls).toBeLessThanOrEqual(4);
      saved += plain.networkCalls - cached.networkCalls;
    }
    expect(saved).toBeGreaterThan(20 * 20);
  });

  it('re-applies the σ shift when it reuses an output', async () => {
    // With reuse, the weights at σ' must equal those from a fresh call at σ'.
    const row = await exactScore(Int32Array.of(graph.mask), Math.fround(noise.total(0.9)), 1);
    const fresh = await exactScore(Int32Array.of(graph.mask), Math.fround(noise.total(0.3)), 1);
    const shift = Math.log(Math.expm1(Math.fround(noise.total(0.9)))) - Math.log(Math.expm1(Math.fround(noise.total(0.3))));
    const dsigma = 0.05;
    const exp = Float64Array.of(0.3, 1.1, 0.7, 2.0, 0.01);
    for (const e of [exp, Float64Array.of(5, 5, 5, 5, 0.001), Float64Array.of(0.2, 9, 9, 9, 3)]) {
      expect(drawMasked(graph, row, dsigma, e, true, shift)).toBe(drawMasked(graph, fresh, dsigma, e, true));
    }
    const a = graph.maskedStep(fresh, dsigma);
    const b = graph.maskedStep(
      Float32Array.from(row, (v, j) => (j === graph.mask ? v : v + shift)),
      dsigma,
    );
    expect(a.pMask).toBeCloseTo(b.pMask, 6);
  });

  it('samples a batch with one stream per row, keeps fixed MASKs and reports every unmasking once', async () => {
    const M = graph.mask;
    const row = Int32Array.from([M, 1, M, M, M]);
    const fixed = Uint8Array.from([0, 0, 0, 0, 1, 0, 0, 0, 0, 1]); // the last position of each row is context
    const template = Int32Array.from([...row, ...row]);
    const streams = [streamExpNoise(new Random(11)), streamExpNoise(new Random(12))];
    const seen: string[] = [];
    const calls: number[] = [];
    const batched = await sampleAnalyticAbsorbing({
      template,
      batch: 2,
      fixed,
      graph,
      noise,
      steps: 6,
      exp: { fill: (call, pos, out) => streams[Math.floor(pos / 5)]!.fill(call, pos % 5, out) },
      score: async (tokens, sigma, batch) => {
        calls.push(batch);
        return exactScore(tokens, sigma, batch);
      },
      onStep: (_step, _masked, unmasked) => {
        for (const u of unmasked) seen.push(`${u.row}:${u.position}:${u.token}`);
      },
    });
    expect(calls.every((b) => b === 2)).toBe(true);
    const tokens = Array.from(batched.tokens);
    expect(tokens[4]).toBe(M);
    expect(tokens[9]).toBe(M);
    expect(tokens.filter((t) => t === M)).toHaveLength(2);
    expect(seen.sort()).toEqual(['0:0', '0:2', '0:3', '1:0', '1:2', '1:3'].map((p) => `${p}:${tokens[Number(p[0]) * 5 + Number(p[2])]}`).sort());
    // Row r alone, with its own stream, draws the same tokens.
    for (const r of [0, 1]) {
      const alone = await sampleAnalyticAbsorbing({
        template: row,
        fixed: fixed.subarray(0, 5),
        graph,
        noise,
        steps: 6,
        exp: streamExpNoise(new Random(11 + r)),
        score: exactScore,
      });
      expect(Array.from(alone.tokens)).toEqual(tokens.slice(r * 5, r * 5 + 5));
    }
  });

  it('skips network calls once nothing is masked', async () => {
    // Scores so large that every masked position unmasks at the first step.
    const eager: ScoreFn = async (tokens) => {
      const out = new Float32Array(tokens.length * graph.dim).fill(50);
      for (let i = 0; i < tokens.length; i++) out[i * graph.dim + tokens[i]!] = 0;
      return out;
    };
    const { tokens, networkCalls } = await sampleAnalyticAbsorbing({
      template: Int32Array.from([graph.mask, 1, graph.mask]),
      graph,
      noise,
      steps: 10,
      exp: streamExpNoise(new Random(1)),
      score: eager,
    });
    expect(networkCalls).toBe(1);
    expect(tokens[1]).toBe(1);
    expect(Array.from(tokens)).not.toContain(graph.mask);
  });

  it('evaluates the network at σ̄(t) on the time grid', async () => {
    const sigmas: number[] = [];
    const spy: ScoreFn = async (tokens, sigma) => {
      sigmas.push(sigma);
      const out = new Float32Array(tokens.length * graph.dim).fill(-100); // nothing unmasks until the denoiser
      for (let i = 0; i < tokens.length; i++) out[i * graph.dim + tokens[i]!] = 0;
      return out;
    };
    await sampleAnalyticAbsorbing({ template: Int32Array.from([graph.mask]), graph, noise, steps: 4, exp: streamExpNoise(new Random(1)), score: spy });
    const grid = linspace(1, 1e-5, 5);
    expect(sigmas).toEqual(Array.from(grid, (t) => noise.total(t)));
  });

  it('stops at a checkpoint that throws', async () => {
    let calls = 0;
    const stop = new Error('stop');
    const result = sampleAnalyticAbsorbing({
      template: Int32Array.from([graph.mask, graph.mask]),
      graph,
      noise,
      steps: 10,
      exp: streamExpNoise(new Random(1)),
      score: exactScore,
      checkpoint: () => {
        if (++calls > 3) throw stop;
      },
    });
    await expect(result).rejects.toBe(stop);
  });

  it('rejects NaN scores and tokens outside the vocabulary', async () => {
    const nan: ScoreFn = async (tokens) => new Float32Array(tokens.length * graph.dim).fill(NaN);
    const base = { graph, noise, steps: 2, exp: streamExpNoise(new Random(1)) };
    await expect(sampleAnalyticAbsorbing({ ...base, template: Int32Array.from([graph.mask]), score: nan })).rejects.toThrow(/NaN/);
    await expect(sampleAnalyticAbsorbing({ ...base, template: Int32Array.from([7]), score: exactScore })).rejects.toThrow(/outside the vocabulary/);
  });
});

describe('linspace', () => {
  it('is exact at both ends and evenly spaced', () => {
    const g = linspace(1, 1e-5, 65);
    expect(g[0]).toBe(1);
    expect(g[64]).toBe(1e-5);
    for (let i = 1; i < g.length; i++) expect(g[i - 1]! - g[i]!).toBeCloseTo((1 - 1e-5) / 64, 14);
  });
});
