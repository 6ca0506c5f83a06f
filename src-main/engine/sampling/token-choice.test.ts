/**
 * Token choice (token-choice.ts): nucleus, bans and temperature change which token an unmasking
 * position takes, never when it unmasks; confident order changes which positions unmask, never how
 * many. Checked on the weights directly and, statistically, through both absorbing samplers on
 * synthetic scores (a fixed, σ-free distribution per position, as in fused.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { AbsorbingGraph } from './graph';
import { LogLinearNoise } from './noise';
import { Random } from '../random';
import { sampleAnalyticAbsorbing, streamExpNoise, temperedDraw, type ScoreFn, type UnmaskedToken } from './analytic';
import { sampleAnalyticAbsorbingFused, type MaskedDrawFn, type MaskedScoresFn } from './fused';
import { choiceWeights, confidentPositions, drawFrom, isPlain, type TokenChoice } from './token-choice';

const choice = (c: Partial<TokenChoice>): TokenChoice => ({ temperature: 1, topP: 1, order: 'random', ...c });

describe('choiceWeights', () => {
  const p = [0.05, 0.1, 0.15, 0.3, 0.4];
  const row = Float32Array.from(p, Math.log);
  const normalised = (c: TokenChoice): number[] => {
    const w = new Float64Array(p.length);
    const { total } = choiceWeights(row, p.length, c, 0, w);
    return Array.from(w, (x) => x / total);
  };

  it('keeps the smallest set of likeliest tokens holding at least p (nucleus), renormalised', () => {
    expect(normalised(choice({ topP: 0.65 }))).toEqual([0, 0, 0, 0.3 / 0.7, 0.4 / 0.7].map((x) => expect.closeTo(x, 6)));
    expect(normalised(choice({ topP: 0.7 }))).toEqual([0, 0, 0, 0.3 / 0.7, 0.4 / 0.7].map((x) => expect.closeTo(x, 6)));
    expect(normalised(choice({ topP: 0.71 }))).toEqual([0, 0, 0.15 / 0.85, 0.3 / 0.85, 0.4 / 0.85].map((x) => expect.closeTo(x, 6)));
    expect(normalised(choice({ topP: 0.1 }))).toEqual([0, 0, 0, 0, 1].map((x) => expect.closeTo(x, 6)));
    expect(normalised(choice({}))).toEqual(p.map((x) => expect.closeTo(x, 6)));
  });

  it('applies the temperature before the nucleus and bans before both', () => {
    // τ = 0.5: p² normalised = [.0025, .01, .0225, .09, .16] / .285
    const sq = p.map((x) => x * x);
    const z = sq.reduce((a, b) => a + b, 0);
    expect(normalised(choice({ temperature: 0.5 }))).toEqual(sq.map((x) => expect.closeTo(x / z, 6)));
    const ban = Uint8Array.of(0, 0, 0, 0, 1);
    // Without token 4 the rest are [.05, .1, .15, .3] / .6; the nucleus 0.7 of that is {3, 2} (.75).
    expect(normalised(choice({ topP: 0.7, banned: () => ban }))).toEqual([0, 0, 0.15 / 0.45, 0.3 / 0.45, 0].map((x) => expect.closeTo(x, 6)));
    // Everything banned: the bans are dropped rather than leave no token.
    expect(normalised(choice({ banned: () => new Uint8Array(5).fill(1) }))).toEqual(p.map((x) => expect.closeTo(x, 6)));
  });

  it('draws by inverse CDF and says the drawn token’s probability', () => {
    const w = Float64Array.of(0, 1, 0, 3);
    expect(drawFrom(w, 4, 4, 0)).toEqual({ token: 1, probability: 0.25 });
    expect(drawFrom(w, 4, 4, 0.2499)).toEqual({ token: 1, probability: 0.25 });
    expect(drawFrom(w, 4, 4, 0.25)).toEqual({ token: 3, probability: 0.75 });
    expect(drawFrom(w, 4, 4, 0.999999)).toEqual({ token: 3, probability: 0.75 });
    expect(drawFrom(new Float64Array(4), 4, 0, 0.5)).toEqual({ token: 0, probability: 0 });
  });
});

describe('confidentPositions', () => {
  it('keeps each row’s count and takes its most confident positions', () => {
    // Row length 4: positions 0–3 are row 0, 4–7 row 1.
    const masked = [0, 1, 2, 5, 6, 7];
    const unmask = [true, false, false, false, true, true];
    const confidence = [0.1, 0.9, 0.5, 0.8, 0.2, 0.8];
    expect([...confidentPositions(masked, unmask, confidence, 4)].sort((a, b) => a - b)).toEqual([1, 5, 7]);
    // Ties: the lower position first.
    expect([...confidentPositions([3, 1], [true, false], [0.5, 0.5], 4)]).toEqual([1]);
  });
});

describe('the samplers with a token choice (synthetic scores)', () => {
  const V = 5; // MASK = 4
  const graph = new AbsorbingGraph(V);
  const noise = new LogLinearNoise(1e-3);
  const steps = 4;
  /** Per position, a fixed distribution over the four tokens; the output has the scale_by_sigma shape. */
  const scoreFor =
    (dists: number[][]): ScoreFn =>
    async (tokens, sigma) => {
      const out = new Float32Array(tokens.length * V);
      const shift = Math.log(Math.expm1(Math.fround(sigma)));
      for (let i = 0; i < tokens.length; i++) {
        const p = dists[i % dists.length]!;
        for (let j = 0; j < V - 1; j++) out[i * V + j] = Math.log(p[j]!) - shift;
        out[i * V + tokens[i]!] = 0;
      }
      return out;
    };
  const scoresFor =
    (score: ScoreFn): MaskedScoresFn =>
    async (tokens, sigma, batch, positions) => {
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
  /** The in-graph draw, done on the rows (only the plain choice uses it). */
  const drawFor =
    (scores: MaskedScoresFn, c: TokenChoice): MaskedDrawFn =>
    async (tokens, sigma, batch, positions, uniforms) => {
      expect(isPlain(c)).toBe(true);
      const rows = await scores(tokens, sigma, batch, positions);
      return {
        tokens: Int32Array.from(positions, (_, k) => temperedDraw(rows.scores.subarray(k * V, (k + 1) * V), V - 1, 1, uniforms[k]!)),
        logNorm: rows.logNorm,
      };
    };

  /** Per run: for each position, the step it unmasked at (1 … steps) and its token. */
  async function runs(sampler: 'fused' | 'race', n: number, c: TokenChoice, dists: number[][], salt: number): Promise<{ step: number[]; token: number[] }[]> {
    const score = scoreFor(dists);
    const L = dists.length;
    const out: { step: number[]; token: number[] }[] = [];
    for (let s = 0; s < n; s++) {
      const step = new Array<number>(L).fill(-1);
      const onStep = (k: number, _m: number, unmasked: UnmaskedToken[]): void => {
        for (const u of unmasked) if (step[u.position] === -1) step[u.position] = k;
      };
      const common = { template: new Int32Array(L).fill(V - 1), graph, noise, steps, reuse: 'exact' as const, onStep, choice: c };
      const rng = new Random(104_729 * salt + 7 * s + (sampler === 'fused' ? 1 : 2));
      const r =
        sampler === 'fused'
          ? await sampleAnalyticAbsorbingFused({ ...common, uniform: () => rng.uniform(), draw: drawFor(scoresFor(score), c), scores: scoresFor(score) })
          : await sampleAnalyticAbsorbing({ ...common, exp: streamExpNoise(rng), score });
      out.push({ step, token: Array.from(r.tokens) });
    }
    return out;
  }
  const within = (count: number, n: number, q: number): void => {
    expect(Math.abs(count / n - q)).toBeLessThanOrEqual(5 * Math.sqrt((q * (1 - q)) / n) + 1e-9);
  };

  it('bans that look at the neighbours hold in the finished text, in both samplers and both orders', async () => {
    // Token 0 stands for a line break the model loves (0.85 everywhere); no three in a row allowed.
    const dists = Array.from({ length: 6 }, () => [0.85, 0.05, 0.05, 0.05]);
    const ban = Uint8Array.of(1, 0, 0, 0);
    const none = new Uint8Array(4);
    const run = (tokens: Int32Array, i: number, dir: number): number => {
      let k = 0;
      for (let j = i + dir; j >= 0 && j < tokens.length && tokens[j] === 0; j += dir) k++;
      return k;
    };
    const banned = (position: number, tokens?: Int32Array): Uint8Array | undefined =>
      tokens && run(tokens, position, -1) + run(tokens, position, 1) >= 2 ? ban : none;
    for (const order of ['random', 'confident'] as const) {
      for (const sampler of ['fused', 'race'] as const) {
        const rs = await runs(sampler, 200, choice({ order, banned }), dists, order === 'random' ? 11 : 13);
        for (const r of rs) expect(r.token.join(''), `${sampler}, ${order}`).not.toMatch(/000/);
        // The ban bites (without it most runs have a run of three) and leaves line breaks possible.
        expect(rs.filter((r) => r.token.join('').includes('00')).length).toBeGreaterThan(100);
      }
    }
  });

  it('nucleus and bans: tokens follow the restricted distribution in both samplers, and when a position unmasks does not change', async () => {
    const p = [0.1, 0.2, 0.3, 0.4];
    const n = 4000;
    const c = choice({ topP: 0.8, banned: () => Uint8Array.of(0, 0, 0, 1) });
    // Token 3 banned: [.1, .2, .3] / .6 = [1/6, 1/3, 1/2]; nucleus 0.8 of that: {2, 1} (5/6), renormalised [0, .4, .6].
    const q = [0, 0.4, 0.6, 0];
    for (const sampler of ['fused', 'race'] as const) {
      const got = await runs(sampler, n, c, [p], sampler === 'fused' ? 1 : 2);
      const plain = await runs(sampler, n, choice({}), [p], 3);
      for (let j = 0; j < 4; j++) within(got.filter((r) => r.token[0] === j).length, n, q[j]!);
      for (let k = 1; k <= steps; k++) {
        const a = got.filter((r) => r.step[0] === k).length;
        const b = plain.filter((r) => r.step[0] === k).length;
        const r = (a + b) / (2 * n);
        expect(Math.abs(a - b), `${sampler}: unmasking at step ${k}`).toBeLessThanOrEqual(5 * Math.sqrt(2 * r * (1 - r) * n) + 1);
      }
    }
  });

  it('confident order: the surer position is written first, and as many positions unmask per step as in random order', async () => {
    // Position 0 is sure of token 0; position 1 hesitates among all four.
    const dists = [
      [0.97, 0.01, 0.01, 0.01],
      [0.25, 0.25, 0.25, 0.25],
    ];
    const n = 3000;
    for (const sampler of ['fused', 'race'] as const) {
      const conf = await runs(sampler, n, choice({ order: 'confident' }), dists, 5);
      const rand = await runs(sampler, n, choice({}), dists, 7);
      const firstIs = (rs: typeof conf, pos: number): number => rs.filter((r) => r.step[pos]! < r.step[1 - pos]!).length;
      // Random order: either position is first about equally often; confident: the sure one almost always.
      const sureFirst = firstIs(conf, 0);
      const unsureFirst = firstIs(conf, 1);
      expect(sureFirst, sampler).toBeGreaterThan(20 * Math.max(1, unsureFirst));
      const r0 = firstIs(rand, 0);
      const r1 = firstIs(rand, 1);
      expect(Math.abs(r0 - r1), sampler).toBeLessThanOrEqual(5 * Math.sqrt(r0 + r1) + 1);
      // Positions unmasked by step k: the same distribution (per step, the count of runs with one and with two).
      for (let k = 1; k <= steps; k++) {
        for (const m of [1, 2]) {
          const a = conf.filter((r) => r.step.filter((s) => s <= k).length === m).length;
          const b = rand.filter((r) => r.step.filter((s) => s <= k).length === m).length;
          const q = (a + b) / (2 * n);
          expect(Math.abs(a - b), `${sampler}: ${m} unmasked by step ${k}`).toBeLessThanOrEqual(5 * Math.sqrt(2 * q * (1 - q) * n) + 1);
        }
      }
      // A position whose draw was unlikely waits and draws again later, so confident order sharpens
      // the choice (the known effect of MaskGIT-style ordering): the sure position takes its likely
      // token at least as often as in random order; the undecided one stays uniform.
      within(rand.filter((r) => r.token[0] === 0).length, n, 0.97);
      expect(conf.filter((r) => r.token[0] === 0).length).toBeGreaterThanOrEqual(rand.filter((r) => r.token[0] === 0).length - 5 * Math.sqrt(0.03 * n));
      within(conf.filter((r) => r.token[1] === 2).length, n, 0.25);
    }
  });
});
