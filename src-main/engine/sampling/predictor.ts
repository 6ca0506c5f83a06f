/**
 * The general SEDD sampler (sedd.md §3; official sampling.py: get_pc_sampler with EulerPredictor or
 * AnalyticPredictor and the Denoiser; like the official code it runs no corrector): absorbing and uniform graphs, any noise schedule, Euler and
 * analytic (Tweedie τ-leaping) predictors, final denoise step.
 *
 *   t_k = linspace(1, ε, steps + 1), ε = 1e-5, Δt = (1 − ε)/steps
 *   for k = 0 … steps−1:  x ← clamp(x);  x ← predictor step at t_k (Δt)
 *   x ← clamp(x);  x ← denoise at t = ε (dσ = σ̄(ε); absorb: MASK column dropped);  x ← clamp(x)
 *
 *   Euler:    p = onehot(x) + Δt·σ̄'(t)·Q̄(x, s)                 (graph.ts reverseRate)
 *   analytic: p = staggered(s, dσ) ⊙ Pᵀ(x, dσ),  dσ = σ̄(t) − σ̄(t − Δt)
 *   draw:     argmax_j p_j / E_j, E ~ Exp(1)  (the first index wins a tie, as torch.argmax)
 *
 * This is the dense implementation: every generated position gets a full-vocabulary row, computed
 * in float64 in the same order of operations as models/sedd/sampling.py, so that fed the same
 * network outputs and Exp(1) noise both draw the same tokens (predictor.test.ts replays
 * models/fixtures/tiny-fixture/sampling-goldens.json). analytic.ts and fused.ts hold the fast exact
 * path for absorb + log-linear; choice.ts says which one a model needs.
 *
 * Infilling: the template holds the known tokens; positions to generate hold UNKNOWN (−1) or, for
 * the absorbing graph, MASK. Known tokens are written back before every network call and at the
 * end, for both graphs (the uniform graph conditions exactly like the absorbing one). Generated
 * positions start from the limit distribution: all MASK (absorb), or for the uniform graph a
 * uniform draw, argmax_j 1/E_j with the Exp(1) draws of call steps + 1 (width dim) unless `initial`
 * is given.
 *
 * Under the absorbing graph a real token never changes, so only masked positions are drawn and a
 * step with no masked position skips its network call; the uniform graph calls the network on
 * every step (steps + 1 calls).
 */
import { type Graph, reverseRate } from './graph';
import type { Noise } from './noise';
import { SAMPLING_EPS, linspace, type ExpNoise, type SampleResult, type ScoreFn } from './analytic';

/** Marks a template position to generate (any graph). */
export const UNKNOWN = -1;

// Exp(1) draws and the score function share analytic.ts's contracts. Here ExpNoise.fill's call is
// step k (0 … steps−1), steps for the denoise (width dim − 1 for absorb, dim for uniform), and
// steps + 1 for the uniform limit draw (width dim); position = b·L + i.
export type { ExpNoise, ScoreFn };

export type Predictor = 'analytic' | 'euler';

export interface GeneralSamplerOptions {
  /** Known tokens [batch × L]; UNKNOWN (−1), or MASK for the absorbing graph, at every position to generate. Never modified. */
  template: Int32Array;
  /** Rows sampled together (default 1). */
  batch?: number;
  /** Positions (flat) that keep their template value even when it is MASK/UNKNOWN… (absorb: context MASK not generated here). */
  fixed?: Uint8Array;
  graph: Graph;
  noise: Noise;
  steps: number;
  predictor: Predictor;
  exp: ExpNoise;
  score: ScoreFn;
  /** The state at t = 1 of the generated positions (flat, like template); default: the limit draw (see the header). */
  initial?: Int32Array;
  /** Also draw known positions (they are re-clamped anyway; for replaying the reference's trajectories). Default false. */
  updateKnown?: boolean;
  /** After step k = 1 … steps: positions still MASK (always 0 for the uniform graph); k = steps after the denoise. */
  onStep?: (step: number, masked: number) => void;
  /** x after the update of call k = 0 … steps (steps = the denoise), before re-clamping (the reference's on_step). */
  onUpdate?: (call: number, x: Readonly<Int32Array>) => void;
  /** Called at the start of every step and after every network evaluation; throw to stop. */
  checkpoint?: () => void;
  eps?: number;
  /** Skip the final denoise step (default false; the official default denoises). */
  noDenoise?: boolean;
  /**
   * Tokens a flat position may not take (joins.ts; 1 = banned): their probability is set to 0 in
   * every draw at that position (moves to them, and the uniform graph's starting draw), so the
   * position's chain stays on the allowed tokens.
   */
  banned?: (position: number) => Uint8Array | undefined;
}

export async function samplePc(o: GeneralSamplerOptions): Promise<SampleResult> {
  const { template, graph, noise, steps } = o;
  const eps = o.eps ?? SAMPLING_EPS;
  const batch = o.batch ?? 1;
  if (!Number.isInteger(steps) || steps < 1) throw new RangeError(`steps must be a positive integer, got ${steps}`);
  if (o.predictor !== 'analytic' && o.predictor !== 'euler') throw new RangeError(`unknown predictor ${String(o.predictor)}`);
  if (!Number.isInteger(batch) || batch < 1 || template.length % batch !== 0) throw new RangeError(`batch ${batch} does not divide ${template.length} tokens`);
  const V = graph.dim;
  const N = template.length;
  const mask = graph.absorb ? V - 1 : -2;
  const known = new Uint8Array(N);
  for (let i = 0; i < N; i++) {
    const v = template[i]!;
    if (!Number.isInteger(v) || v < UNKNOWN || v >= V) throw new RangeError(`token ${v} at position ${i} is outside the vocabulary 0…${V - 1}`);
    known[i] = (v !== UNKNOWN && v !== mask) || (o.fixed?.[i] ?? 0) ? 1 : 0;
    if (known[i] && v === UNKNOWN) throw new RangeError(`fixed position ${i} has no token`);
  }
  const x = new Int32Array(N);
  const buf = new Float64Array(V);
  for (let i = 0; i < N; i++) {
    if (known[i]) x[i] = template[i]!;
    else if (o.initial) x[i] = o.initial[i]!;
    else if (graph.absorb) x[i] = mask;
    else {
      o.exp.fill(steps + 1, i, buf);
      const ban = o.banned?.(i);
      let best = -1;
      for (let j = 0; j < V; j++) if (!(ban && ban[j]) && (best < 0 || 1 / buf[j]! > 1 / buf[best]!)) best = j;
      x[i] = best < 0 ? 0 : best;
    }
    if (!(x[i]! >= 0 && x[i]! < V)) throw new RangeError(`initial token ${x[i]} at position ${i} is outside the vocabulary`);
  }
  const clamp = (): void => {
    for (let i = 0; i < N; i++) if (known[i]) x[i] = template[i]!;
  };
  const active = (i: number): boolean => (o.updateKnown || !known[i]) && (!graph.absorb || x[i] === mask);
  const countMasked = (): number => {
    let n = 0;
    if (graph.absorb) for (let i = 0; i < N; i++) if (x[i] === mask && !known[i]) n++;
    return n;
  };
  let networkCalls = 0;
  const evaluate = async (t: number): Promise<Float32Array> => {
    const out = await o.score(x, noise.total(t), batch);
    o.checkpoint?.();
    networkCalls++;
    if (out.length !== N * V) throw new Error(`the network returned ${out.length} scores; expected ${N} × ${V}`);
    return out;
  };
  const grid = linspace(1, eps, steps + 1);
  const dt = (1 - eps) / steps;
  const score = new Float64Array(V);

  const run = async (call: number, t: number, width: number, probs: (xi: number, s: Float64Array) => Float64Array): Promise<void> => {
    const positions: number[] = [];
    for (let i = 0; i < N; i++) if (active(i)) positions.push(i);
    if (positions.length === 0) return;
    const out = await evaluate(t);
    const next = x.slice();
    const e = new Float64Array(width);
    for (const i of positions) {
      const row = out.subarray(i * V, (i + 1) * V);
      for (let j = 0; j < V; j++) score[j] = Math.exp(row[j]!);
      const p = probs(x[i]!, score);
      const ban = o.banned?.(i);
      if (ban) for (let j = 0; j < Math.min(ban.length, p.length); j++) if (ban[j] && j !== x[i]) p[j] = 0;
      o.exp.fill(call, i, e);
      next[i] = categorical(p, e, width);
    }
    x.set(next);
  };

  for (let k = 0; k < steps; k++) {
    o.checkpoint?.();
    clamp();
    const t = grid[k]!;
    if (o.predictor === 'euler') {
      const scale = dt * noise.rate(t);
      await run(k, t, V, (xi, s) => {
        const p = reverseRate(graph, xi, s);
        for (let j = 0; j < V; j++) p[j] = p[j]! * scale;
        p[xi] = p[xi]! + 1; // onehot(x) + rate
        return p;
      });
    } else {
      const dsigma = noise.total(t) - noise.total(t - dt);
      await run(k, t, V, (xi, s) => analytic(graph, xi, s, dsigma));
    }
    o.onUpdate?.(k, x);
    if (k < steps - 1) o.onStep?.(k + 1, countMasked());
  }
  if (!o.noDenoise) {
    o.checkpoint?.();
    clamp();
    const sigma = noise.total(eps);
    await run(steps, eps, graph.absorb ? V - 1 : V, (xi, s) => analytic(graph, xi, s, sigma));
    o.onUpdate?.(steps, x);
  }
  clamp();
  o.onStep?.(steps, countMasked());
  return { tokens: x, networkCalls };
}

/** p = staggeredScore(s, dσ) ⊙ Pᵀ(x, dσ). */
function analytic(graph: Graph, x: number, s: Float64Array, dsigma: number): Float64Array {
  const stag = graph.staggeredScore(s, dsigma);
  const trans = graph.transpTransition(x, dsigma);
  for (let j = 0; j < stag.length; j++) stag[j] = stag[j]! * trans[j]!;
  return stag;
}

/** argmax_{j < width} p_j / E_j (the first index wins a tie, like torch.argmax; NaN never wins). */
export function categorical(p: ArrayLike<number>, e: ArrayLike<number>, width: number): number {
  let best = 0;
  let bestKey = -Infinity;
  for (let j = 0; j < width; j++) {
    const key = p[j]! / e[j]!;
    if (key > bestKey) {
      bestKey = key;
      best = j;
    }
  }
  return best;
}
